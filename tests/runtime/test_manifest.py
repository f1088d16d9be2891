"""Manifest v1: the golden manifest loads and round-trips byte for byte; corrupt or
inconsistent manifests are rejected with the field named."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.errors import LayerswapRuntimeError, ManifestError
from runtime.manifest import (
    Manifest,
    load_manifest,
    manifest_from_dict,
    manifest_to_json,
    write_manifest,
)

GOLDEN = Path(__file__).resolve().parents[1] / "expected" / "manifest_v1_golden.json"
# stand-in segment files: the manifest checks existence and digests, not ONNX content
FILES = {f"segments/gan.i{i}.s{k}.onnx": f"gan instance {i} segment {k}\n".encode()
         for i, k in [(0, 0), (0, 1), (0, 2), (1, 0)]}
FILES.update({f"segments/det.i{i}.s0.onnx": f"det instance {i}\n".encode() for i in (0, 1)})


def _materialise(tmp_path: Path, doc: dict | None = None) -> Path:
    for rel, data in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    text = GOLDEN.read_text() if doc is None else json.dumps(doc, indent=2)
    (tmp_path / "manifest.json").write_text(text)
    return tmp_path / "manifest.json"


def _golden() -> dict:
    return json.loads(GOLDEN.read_text())


def test_golden_file_digests_match_the_stand_in_files():
    doc = _golden()
    for seg in doc["segments"]:
        assert seg["sha256"] == hashlib.sha256(FILES[seg["file"]]).hexdigest()


def test_golden_manifest_loads_and_round_trips_byte_identical(tmp_path):
    path = _materialise(tmp_path)
    m = load_manifest(path)
    assert isinstance(m, Manifest)
    assert m.frames_per_round == 2 and m.objective == "throughput"
    assert [s.id for s in m.segments_of("gan", 0)] == ["gan#0/0", "gan#0/1", "gan#0/2"]
    skip = m.segment("gan#0/2").inputs[1]
    assert (skip.source.segment, skip.source.output) == ("gan#0/0", "enc1")
    assert m.segment("gan#0/1").dla_core == 0 and m.segment("gan#0/1").engine.dla_core == 0
    assert manifest_to_json(m) == GOLDEN.read_text()
    # a directory works as well as the file
    assert load_manifest(tmp_path) == m


def test_write_manifest_is_atomic_and_validates(tmp_path):
    m = load_manifest(_materialise(tmp_path))
    out = tmp_path / "copy"
    for rel, data in FILES.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    path = write_manifest(m, out)
    assert path.read_text() == GOLDEN.read_text()
    (out / "segments" / "det.i1.s0.onnx").unlink()
    with pytest.raises(ManifestError, match="segments"):
        write_manifest(m, out)
    assert not (out / "manifest.json").exists()


def _reject(tmp_path: Path, doc: dict, field: str, *words: str) -> ManifestError:
    path = _materialise(tmp_path, doc)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    err = info.value
    assert err.field == field, str(err)
    assert str(err).startswith(f"{path}: {field}: "), str(err)
    for w in words:
        assert w in str(err), str(err)
    assert isinstance(err, LayerswapRuntimeError)
    return err


def _seg(doc: dict, sid: str) -> dict:
    return next(s for s in doc["segments"] if s["id"] == sid)


def test_missing_segment_file_is_named(tmp_path):
    _materialise(tmp_path)
    (tmp_path / "segments" / "gan.i0.s1.onnx").unlink()
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "manifest.json")
    assert info.value.field == "segments[1].file"
    assert "gan.i0.s1.onnx" in str(info.value)


def test_changed_segment_file_fails_its_digest(tmp_path):
    _materialise(tmp_path)
    (tmp_path / "segments" / "gan.i0.s2.onnx").write_bytes(b"tampered\n")
    with pytest.raises(ManifestError) as info:
        load_manifest(tmp_path / "manifest.json")
    assert info.value.field == "segments[2].sha256"


def test_missing_manifest_file(tmp_path):
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path / "manifest.json")


def test_not_json(tmp_path):
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path / "manifest.json")


def test_wrong_shape_at_a_handoff(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/2")["inputs"][1]["shape"] = [1, 4, 32, 32]
    _reject(tmp_path, doc, "segments[2].inputs[1].shape", "[1, 4, 32, 32]", "enc1")


def test_wrong_dtype_at_a_handoff(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/1")["inputs"][0]["dtype"] = "float16"
    _reject(tmp_path, doc, "segments[1].inputs[0].dtype", "float16")


def test_wrong_shape_of_a_model_input(tmp_path):
    doc = _golden()
    _seg(doc, "det#1/0")["inputs"][0]["shape"] = [1, 3, 64, 65]
    _reject(tmp_path, doc, "segments[5].inputs[0].shape", "model input")


def test_unknown_device_in_a_segment(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/1")["device"] = "DLA2"
    _reject(tmp_path, doc, "segments[1].device", "DLA2")


def test_unknown_device_in_the_order(tmp_path):
    doc = _golden()
    doc["device_order"]["NPU"] = []
    _reject(tmp_path, doc, "device_order", "NPU")


def test_bad_from_segment(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/2")["inputs"][0]["from"]["segment"] = "gan#0/7"
    _reject(tmp_path, doc, "segments[2].inputs[0].from.segment", "'gan#0/7' is not a segment")


def test_from_another_instance_is_refused(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/2")["inputs"][0]["from"]["segment"] = "gan#1/0"
    _reject(tmp_path, doc, "segments[2].inputs[0].from.segment", "gan#1")


def test_bad_from_output(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/2")["inputs"][1]["from"]["output"] = "enc9"
    _reject(tmp_path, doc, "segments[2].inputs[1].from.output", "enc9")


def test_malformed_from(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/2")["inputs"][1]["from"] = {"segment": "gan#0/0"}
    _reject(tmp_path, doc, "segments[2].inputs[1].from", "model_input")


def test_cycle_in_precedence_plus_device_order(tmp_path):
    doc = _golden()
    # GPU runs gan#0/2 before det#0/0, fine; putting gan#0/2 before gan#0/0 on the GPU
    # makes gan#0/0 wait for gan#0/2, which waits (through the DLA) for gan#0/0
    order = doc["device_order"]["GPU"]
    order.remove("gan#0/2")
    order.insert(0, "gan#0/2")
    err = _reject(tmp_path, doc, "device_order", "cycle", "gan#0/0", "gan#0/2")
    assert "deadlock" in str(err)


def test_segment_missing_from_the_order(tmp_path):
    doc = _golden()
    doc["device_order"]["DLA1"].remove("gan#1/0")
    _reject(tmp_path, doc, "device_order.DLA1", "gan#1/0")


def test_segment_under_the_wrong_device(tmp_path):
    doc = _golden()
    doc["device_order"]["DLA1"].remove("gan#1/0")
    doc["device_order"]["DLA0"].append("gan#1/0")
    _reject(tmp_path, doc, "device_order.DLA0[1]", "runs on DLA1")


def test_model_output_produced_twice(tmp_path):
    doc = _golden()
    seg = _seg(doc, "gan#0/1")
    seg["outputs"].append({"name": "y", "shape": [1, 1, 64, 64], "dtype": "float32",
                           "model_output": True})
    seg["engine"]["output_formats"].append("fp16:chw16")
    _reject(tmp_path, doc, "segments[2].outputs[0].name", "produced twice")


def test_model_output_never_produced(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/2")["outputs"][0]["model_output"] = False
    _reject(tmp_path, doc, "models[0].outputs", "'y'", "gan#0")


def test_handoff_must_list_the_tensors(tmp_path):
    doc = _golden()
    doc["handoffs"][1]["tensors"] = ["dla_out"]
    _reject(tmp_path, doc, "handoffs[1].tensors", "enc1")


def test_missing_handoff(tmp_path):
    doc = _golden()
    del doc["handoffs"][0]
    _reject(tmp_path, doc, "handoffs", "gan#0/0 -> gan#0/1")


def test_dla_core_must_match_the_device(tmp_path):
    doc = _golden()
    _seg(doc, "gan#0/1")["engine"]["dla_core"] = 1
    _reject(tmp_path, doc, "segments[1].engine.dla_core", "DLA0")


def test_wrong_version_and_unknown_field(tmp_path):
    doc = _golden()
    doc["version"] = 2
    _reject(tmp_path, doc, "version", "not supported")
    doc = _golden()
    doc["segments"][0]["colour"] = "red"
    _reject(tmp_path, doc, "segments[0]", "colour")


def test_path_outside_the_directory(tmp_path):
    doc = _golden()
    doc["segments"][0]["file"] = "../escape.onnx"
    (tmp_path.parent / "escape.onnx").write_bytes(b"x")
    _reject(tmp_path, doc, "segments[0].file", "outside")


def test_id_must_match_model_instance_index(tmp_path):
    doc = _golden()
    _seg(doc, "det#1/0")["instance"] = 0
    _reject(tmp_path, doc, "segments[5].id", "det#0/0")


def test_schema_only_check_without_files():
    m = manifest_from_dict(_golden())
    assert m.root is None and len(m.segments) == 6
    bad = copy.deepcopy(_golden())
    bad["frames_per_round"] = 0
    with pytest.raises(ManifestError) as info:
        manifest_from_dict(bad)
    assert info.value.field == "frames_per_round"


def test_runtime_imports_nothing_else_of_ours():
    code = ("import sys, runtime, runtime.manifest, runtime.errors\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('profiles', 'solvers', 'export', 'optimizer')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_schema_is_a_valid_draft_2020_12_schema():
    import jsonschema

    from runtime.manifest import manifest_schema

    schema = manifest_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["version"] == {"const": 1}
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

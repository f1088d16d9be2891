"""The smaller items of issue 24 (item 6), each as the issue ran it: the message or output
a careless user saw, and what it says now."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import onnx
import pytest
from cli_helpers import run_json

from optimizer.cli import main
from optimizer.medical import MedicalRun
from optimizer.text import signed_pct

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from dag_models import MODELS

from profiles.synthetic import synthetic_onnx_table


def _dla_doc(refused: int) -> dict:
    entry = {"nodes": 40, "eligible": 40 - refused, "refused_ops": ["ConvTranspose"],
             "refused": [{"name": f"dec{i}/convT", "op": "ConvTranspose",
                          "reasons": ["padding must be 0"]} for i in range(refused)],
             "islands": [], "loadables": {"per_instance": 1, "limit_per_core": 16,
                                          "within_limit": True}}
    return {"variants": ["original", "rewritten"],
            "dla": {"gan_original": entry, "gan_rewritten": {**entry, "refused": []},
                    "yolo": {**entry, "refused": []}}}


def test_refused_nodes_count_never_says_first_12_of_8():
    from optimizer.medical_report import _md_dla

    text = "\n".join(_md_dla(_dla_doc(8)))
    assert "(all 8)" in text and "first 12 of 8" not in text
    assert text.count("- `dec") == 8
    text = "\n".join(_md_dla(_dla_doc(15)))
    assert "(first 12 of 15)" in text and text.count("- `dec") == 12


@pytest.mark.parametrize(("value", "text"), [(-0.04, "0.0 %"), (0.0, "0.0 %"), (-0.0, "0.0 %"),
                                             (0.04, "0.0 %"), (-0.06, "-0.1 %"),
                                             (12.34, "+12.3 %"), (None, "–"),
                                             (float("nan"), "–")])
def test_signed_pct_has_no_negative_zero(value, text):
    assert signed_pct(value) == text


def test_medical_summary_prints_no_negative_zero_gain(capsys, tmp_path):
    from optimizer.cli.example import _print_summary

    row = {"name": "rewritten-gan_yolo-latency", "status": "optimal", "objective_ms": 3.2,
           "throughput_fps": None, "gain_pct": -0.01, "best_baseline": "herald_like",
           "balanced": None, "run_ok": True}
    _print_summary(MedicalRun(out_dir=tmp_path, report={}), [row])
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if "rewritten-gan" in ln]
    assert "-0.0" not in line and "0.0 % (herald_like)" in line


def test_export_names_a_missing_schedule_before_asking_for_onnx(capsys, tmp_path):
    code, doc = run_json(capsys, "export", str(tmp_path / "nope.json"), "-o", str(tmp_path / "o"))
    assert code == 1 and "nope.json" in doc["error"] and "--onnx" not in doc["error"]


def test_an_unknown_onnx_model_is_named_before_the_solve(capsys, tmp_path):
    path = tmp_path / "unet.onnx"
    onnx.save(MODELS["unet"](), path)
    table = synthetic_onnx_table(path, 4, seed=1, name="unet", platform="orin-agx")
    csv = table.to_csv(tmp_path / "unet.csv")
    code, doc = run_json(capsys, "solve", str(csv), "--platform", "orin-agx", "--export",
                         str(tmp_path / "o"), "--onnx", f"unet={path}", "--onnx",
                         f"zzz={path}")
    assert code == 1 and "zzz" in doc["error"] and "not a model" in doc["error"]
    assert not (tmp_path / "o").exists()


def test_ingest_on_a_json_object_says_what_it_is(capsys, tmp_path):
    path = tmp_path / "e.json"
    path.write_text("{}")
    code, doc = run_json(capsys, "ingest", str(path), "--platform", "orin-agx")
    assert code == 1 and doc["error"].startswith(f"{path}: a JSON object, not a trtexec profile")
    assert "=== Profile" not in doc["error"] and "--layer-info" in doc["error"]


def test_estimate_on_an_empty_file_names_the_file(capsys, tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    code, doc = run_json(capsys, "estimate", str(path), "--platform", "orin-agx")
    assert code == 1 and doc["error"].startswith(str(path)) and "ModelProto" not in doc["error"]


def test_example_medical_workers_has_help(capsys):
    with pytest.raises(SystemExit):
        main(["example", "medical", "--help"])
    text = capsys.readouterr().out
    assert re.search(r"^\s+--workers N\s+solver threads", text, flags=re.M), text


def test_the_default_pairs_placeholder_transition_costs_are_said_in_the_output(capsys):
    """Before: only the README said AlexNet's transition costs are placeholders."""
    code, doc = run_json(capsys, "solve", "--no-plot", "--time-limit", "5")
    assert code == 0
    said = [w for w in doc["warnings"] if "placeholder" in w]
    assert len(said) == 1 and "alexnet" in said[0] and "gpu_to_dla_ms" in said[0]
    code, doc = run_json(capsys, "tables")
    by_name = {t["name"]: t for t in doc["tables"]}
    assert by_name["alexnet_xavier"]["placeholder_columns"] == ["gpu_to_dla_ms",
                                                               "dla_to_gpu_ms"]
    assert by_name["googlenet_xavier"]["placeholder_columns"] == []

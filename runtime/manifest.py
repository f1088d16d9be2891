"""The layerswap manifest (format ``layerswap-manifest``, version 1): typed, validated, loaded.

The exporter writes ``DIR/manifest.json``; the runtime reads only this file (all paths in it
are relative to ``DIR``). The JSON Schema ``runtime/manifest.schema.json`` fixes the shape;
`load_manifest` validates against it with ``jsonschema`` and then checks the semantics the
schema cannot express, in this order, stopping at the first problem:

1. models: unique names, unique input/output names per model;
   segments: unique ids, ``id == f"{model}#{instance}/{index}"``, a known model, ``instance <
   frames_per_round`` (latency: ``frames_per_round == 1``), indices ``0..n-1`` per
   (model, instance) with contiguous groups from 0, ``engine.dla_core`` matching the device;
2. files: every ``file`` (and ``engine.onnx``) is a relative path inside ``DIR``, exists, and
   the segment file's SHA-256 equals ``sha256`` (``check_files=False`` skips this step, for
   tools that read a manifest without its directory);
3. data flow: every input ``from`` resolves, within the same model and instance, to a model
   input or to an output of an *earlier* segment, with equal shape and dtype; every model
   output is produced exactly once per instance (``model_output: true``) with the model's
   shape and dtype; an output marked ``model_output`` is a model output;
4. hand-offs: exactly one per (producer, consumer) pair that exchanges tensors, listing
   exactly those tensors, with ``direction`` ``"SRC->DST"`` from the segments' devices;
5. device order: ``device_order`` lists every segment exactly once, under its own device,
   and only devices of the manifest's segments or empty lists;
6. no cycle in precedence (segment k-1 -> k of an instance, producer -> consumer) plus
   device order (consecutive entries of each device's list): a cycle would deadlock the
   runtime within a round.

Every failure is a `ManifestError` whose message starts with the file and the field path,
e.g. ``manifest.json: segments[3].inputs[0].from.segment: 'gan#0/7' is not a segment``.

Semantics of execution (recorded here because the runtime implements them): instance ``i``
of a model is job ``model#i`` of the solved problem (latency: only instance 0). Streaming:
frame ``f`` of model ``m`` is processed by instance ``f % F`` in round ``f // F``. Every
device worker runs its ``device_order`` list once per round, round after round; a segment
runs when its inputs of that frame are there. Model outputs are collected per frame.

This module imports nothing else of layerswap (the runtime ships alone).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from runtime.errors import ManifestError
from runtime.fileio import atomic_write_bytes

FORMAT = "layerswap-manifest"
VERSION = 1
DEVICES = ("GPU", "DLA0", "DLA1")
SCHEMA_FILE = Path(__file__).with_name("manifest.schema.json")


# ---------------------------------------------------------------------- value types
@dataclass(frozen=True)
class TensorSpec:
    """A tensor at a model's or segment's boundary: name, static shape, dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int | None:
        width = _DTYPE_BYTES.get(self.dtype)
        return None if width is None else math.prod(self.shape) * width

    @cached_property
    def numpy_dtype(self) -> Any:
        """``numpy.dtype(self.dtype)`` (numpy imported here: reading a manifest needs none).

        Raises ``TypeError`` for a dtype numpy lacks (``bfloat16`` unless ``ml_dtypes`` is
        loaded); the execution plan reports it with the field path."""
        import numpy as np

        return np.dtype(self.dtype)


@dataclass(frozen=True)
class TensorSource:
    """Where a segment input comes from: a model input, or an earlier segment's output."""

    model_input: str | None = None
    segment: str | None = None
    output: str | None = None

    @property
    def is_model_input(self) -> bool:
        return self.model_input is not None

    def to_dict(self) -> dict[str, str]:
        if self.model_input is not None:
            return {"model_input": self.model_input}
        return {"segment": str(self.segment), "output": str(self.output)}


@dataclass(frozen=True)
class SegmentInput(TensorSpec):
    """An input of a segment's sub-model and its source (JSON key ``from``)."""

    source: TensorSource = field(default_factory=TensorSource)


@dataclass(frozen=True)
class SegmentOutput(TensorSpec):
    """An output of a segment's sub-model; ``model_output`` when it is a model output."""

    model_output: bool = False


@dataclass(frozen=True)
class EngineSpec:
    """The TensorRT engine built for a segment (by ``build_engines.sh`` or the Python API).

    ``onnx`` is the ONNX the engine is built from when it differs from the segment's file
    (TensorRT 11.x: an fp16 copy); ``input_formats``/``output_formats`` are the engine's I/O
    formats (``"fp16:chw16"``) in the order of the segment's inputs/outputs (empty: default
    linear formats of the ONNX types).
    """

    file: str
    dla_core: int | None
    onnx: str | None = None
    input_formats: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class Span:
    """Predicted start and end (ms) within a round, from the simulator."""

    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class SegmentEntry:
    """One segment: groups ``first_group..last_group`` of one model instance on one device."""

    id: str
    model: str
    instance: int
    index: int
    device: str
    precision: str
    file: str
    sha256: str
    first_group: int
    last_group: int
    inputs: tuple[SegmentInput, ...]
    outputs: tuple[SegmentOutput, ...]
    engine: EngineSpec
    first_layer: str | None = None
    last_layer: str | None = None
    predicted: Span | None = None

    @property
    def dla_core(self) -> int | None:
        return None if self.device == "GPU" else int(self.device[3:])


@dataclass(frozen=True)
class ModelEntry:
    """One model: its graph signature, source file and boundary tensors."""

    name: str
    graph_signature: str
    source_onnx: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class Handoff:
    """Tensors passed from one segment to a later one of the same instance."""

    source: str          # JSON key "from"
    target: str          # JSON key "to"
    tensors: tuple[str, ...]
    bytes: int
    direction: str       # "GPU->DLA0", ...
    predicted_ms: float | None = None


@dataclass(frozen=True)
class Predicted:
    """The simulator's prediction for the whole schedule."""

    makespan_ms: float | None
    period_ms: float | None
    throughput_fps: float | None
    device_busy_ms: Mapping[str, float]


@dataclass(frozen=True)
class TableProvenance:
    model: str
    sha256: str
    source: str
    file: str | None = None


@dataclass(frozen=True)
class Provenance:
    layerswap_version: str
    solver: str | None
    status: str | None
    tables: tuple[TableProvenance, ...]
    objective_ms: float | None = None
    lower_bound_ms: float | None = None


@dataclass(frozen=True)
class BuildInfo:
    """How the engines are built: TensorRT version targeted and the script (relative path)."""

    trt_version: str
    script: str
    precision: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A loaded manifest. ``root`` is the directory its relative paths refer to."""

    objective: str
    platform: str
    frames_per_round: int
    models: tuple[ModelEntry, ...]
    segments: tuple[SegmentEntry, ...]
    handoffs: tuple[Handoff, ...]
    device_order: Mapping[str, tuple[str, ...]]
    predicted: Predicted
    provenance: Provenance
    build: BuildInfo | None = None
    root: Path | None = field(default=None, compare=False)
    format: str = FORMAT
    version: int = VERSION

    # ------------------------------------------------------------------ lookups
    def model(self, name: str) -> ModelEntry:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def segment(self, segment_id: str) -> SegmentEntry:
        for s in self.segments:
            if s.id == segment_id:
                return s
        raise KeyError(segment_id)

    def segments_of(self, model: str, instance: int = 0) -> tuple[SegmentEntry, ...]:
        """The segments of one model instance, in execution (index) order."""
        return tuple(sorted((s for s in self.segments
                             if s.model == model and s.instance == instance),
                            key=lambda s: s.index))

    def path(self, relative: str) -> Path:
        """Absolute path of a file named in the manifest."""
        if self.root is None:
            raise ManifestError("the manifest was not loaded from a directory; pass root=",
                                field="root")
        return self.root.joinpath(*PurePosixPath(relative).parts)

    def to_dict(self) -> dict[str, Any]:
        return manifest_to_dict(self)


# ---------------------------------------------------------------------- loading
def load_manifest(path: str | os.PathLike[str], *, check_files: bool = True) -> Manifest:
    """Read, schema-validate and semantically check ``path`` (a manifest.json or its DIR)."""
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.json"
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError("no such file; export a schedule with `layerswap export`",
                            source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the manifest ({exc})", source=source) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"not valid JSON ({exc.msg} at line {exc.lineno})",
                            source=source) from exc
    return manifest_from_dict(doc, root=p.parent, source=source, check_files=check_files)


def manifest_from_dict(doc: Any, *, root: str | os.PathLike[str] | None = None,
                       source: str = "manifest.json", check_files: bool = True) -> Manifest:
    """Validate a parsed manifest document (schema, then semantics) and build a `Manifest`.

    Files are checked (step 2 of the module docstring) only when ``root`` is given and
    ``check_files`` is true.
    """
    from runtime._checks import check_semantics  # (imports this module's types)

    validate_schema(doc, source=source)
    manifest = _build(doc, None if root is None else Path(root))
    check_semantics(manifest, source, check_files=check_files and root is not None)
    return manifest


@cache
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of manifest version 1."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def validate_schema(doc: Any, *, source: str = "manifest.json") -> None:
    """Raise `ManifestError` naming the field of the most relevant schema violation."""
    import jsonschema
    from jsonschema.exceptions import best_match

    if isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("version") != VERSION:
        raise ManifestError(f"manifest version {doc.get('version')!r} is not supported by "
                            f"this runtime (it reads version {VERSION}); re-export or update",
                            source=source, field="version")
    validator = jsonschema.Draft202012Validator(manifest_schema())
    error = best_match(validator.iter_errors(doc))
    if error is None:
        return
    raise ManifestError(_schema_message(error), source=source,
                        field=field_path(error.absolute_path) or "(top level)")


def field_path(parts: Sequence[str | int] | Iterator[str | int]) -> str:
    """``['segments', 3, 'inputs', 0]`` -> ``'segments[3].inputs[0]'``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _schema_message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return f"{error.message} (not a field of manifest version {VERSION})"
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return ("must be {'model_input': NAME} or {'segment': ID, 'output': NAME}; got "
                f"{json.dumps(error.instance, sort_keys=True)}")
    return str(error.message)


# ---------------------------------------------------------------------- dict -> values
def _tensor(d: Mapping[str, Any]) -> TensorSpec:
    return TensorSpec(d["name"], tuple(int(x) for x in d["shape"]), d["dtype"])


def _build(doc: Mapping[str, Any], root: Path | None) -> Manifest:
    models = tuple(ModelEntry(m["name"], m["graph_signature"], m["source_onnx"],
                              tuple(_tensor(t) for t in m["inputs"]),
                              tuple(_tensor(t) for t in m["outputs"])) for m in doc["models"])
    segments = []
    for s in doc["segments"]:
        inputs = tuple(SegmentInput(t["name"], tuple(t["shape"]), t["dtype"],
                                    TensorSource(**t["from"])) for t in s["inputs"])
        outputs = tuple(SegmentOutput(t["name"], tuple(t["shape"]), t["dtype"],
                                      bool(t["model_output"])) for t in s["outputs"])
        e = s["engine"]
        engine = EngineSpec(e["file"], e["dla_core"], e.get("onnx"),
                            tuple(e.get("input_formats", ())), tuple(e.get("output_formats", ())))
        pred = s.get("predicted")
        segments.append(SegmentEntry(
            id=s["id"], model=s["model"], instance=s["instance"], index=s["index"],
            device=s["device"], precision=s["precision"], file=s["file"], sha256=s["sha256"],
            first_group=s["first_group"], last_group=s["last_group"], inputs=inputs,
            outputs=outputs, engine=engine, first_layer=s.get("first_layer"),
            last_layer=s.get("last_layer"),
            predicted=None if pred is None else Span(float(pred["start_ms"]),
                                                     float(pred["end_ms"]))))
    handoffs = tuple(Handoff(h["from"], h["to"], tuple(h["tensors"]), h["bytes"],
                             h["direction"], h.get("predicted_ms")) for h in doc["handoffs"])
    p = doc["predicted"]
    predicted = Predicted(p["makespan_ms"], p["period_ms"], p["throughput_fps"],
                          dict(p["device_busy_ms"]))
    pv = doc["provenance"]
    provenance = Provenance(
        pv["layerswap_version"], pv["solver"], pv["status"],
        tuple(TableProvenance(t["model"], t["sha256"], t["source"], t.get("file"))
              for t in pv["tables"]),
        pv.get("objective_ms"), pv.get("lower_bound_ms"))
    b = doc.get("build")
    build = None if b is None else BuildInfo(b["trt_version"], b["script"], b.get("precision"))
    order = {dev: tuple(ids) for dev, ids in doc["device_order"].items()}
    return Manifest(objective=doc["objective"], platform=doc["platform"],
                    frames_per_round=doc["frames_per_round"], models=models,
                    segments=tuple(segments), handoffs=handoffs, device_order=order,
                    predicted=predicted, provenance=provenance, build=build, root=root)


# ---------------------------------------------------------------------- writing
def manifest_to_dict(manifest: Manifest) -> dict[str, Any]:
    """The JSON document of a manifest (key order fixed: byte-identical output)."""

    def tensor(t: TensorSpec) -> dict[str, Any]:
        return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}

    segments = []
    for s in manifest.segments:
        engine: dict[str, Any] = {"file": s.engine.file, "dla_core": s.engine.dla_core}
        if s.engine.onnx is not None:
            engine["onnx"] = s.engine.onnx
        if s.engine.input_formats:
            engine["input_formats"] = list(s.engine.input_formats)
        if s.engine.output_formats:
            engine["output_formats"] = list(s.engine.output_formats)
        segments.append({
            "id": s.id, "model": s.model, "instance": s.instance, "index": s.index,
            "device": s.device, "precision": s.precision, "file": s.file, "sha256": s.sha256,
            "first_group": s.first_group, "last_group": s.last_group,
            "first_layer": s.first_layer, "last_layer": s.last_layer,
            "inputs": [{**tensor(t), "from": t.source.to_dict()} for t in s.inputs],
            "outputs": [{**tensor(t), "model_output": t.model_output} for t in s.outputs],
            "engine": engine,
            "predicted": None if s.predicted is None else
            {"start_ms": s.predicted.start_ms, "end_ms": s.predicted.end_ms},
        })
    doc: dict[str, Any] = {
        "format": manifest.format, "version": manifest.version,
        "objective": manifest.objective, "platform": manifest.platform,
        "frames_per_round": manifest.frames_per_round,
        "models": [{"name": m.name, "graph_signature": m.graph_signature,
                    "source_onnx": m.source_onnx, "inputs": [tensor(t) for t in m.inputs],
                    "outputs": [tensor(t) for t in m.outputs]} for m in manifest.models],
        "segments": segments,
        "handoffs": [{"from": h.source, "to": h.target, "tensors": list(h.tensors),
                      "bytes": h.bytes, "direction": h.direction,
                      "predicted_ms": h.predicted_ms} for h in manifest.handoffs],
        "device_order": {d: list(ids) for d, ids in manifest.device_order.items()},
        "predicted": {"makespan_ms": manifest.predicted.makespan_ms,
                      "period_ms": manifest.predicted.period_ms,
                      "throughput_fps": manifest.predicted.throughput_fps,
                      "device_busy_ms": dict(manifest.predicted.device_busy_ms)},
        "provenance": {
            "layerswap_version": manifest.provenance.layerswap_version,
            "solver": manifest.provenance.solver, "status": manifest.provenance.status,
            "objective_ms": manifest.provenance.objective_ms,
            "lower_bound_ms": manifest.provenance.lower_bound_ms,
            "tables": [{"model": t.model, "sha256": t.sha256, "source": t.source,
                        "file": t.file} for t in manifest.provenance.tables]},
    }
    if manifest.build is not None:
        doc["build"] = {"trt_version": manifest.build.trt_version,
                        "script": manifest.build.script}
        if manifest.build.precision is not None:
            doc["build"]["precision"] = manifest.build.precision
    return doc


def manifest_to_json(manifest: Manifest) -> str:
    """Canonical JSON text (2-space indent, trailing newline)."""
    return json.dumps(manifest_to_dict(manifest), indent=2) + "\n"


def write_manifest(manifest: Manifest, directory: str | os.PathLike[str], *,
                   check_files: bool = True) -> Path:
    """Write ``DIR/manifest.json`` atomically, then load it back (validation); returns the path.

    On a validation failure the written file is removed and the `ManifestError` raised, so
    a directory never keeps an invalid manifest.
    """
    target = Path(directory) / "manifest.json"
    atomic_write_bytes(target, manifest_to_json(manifest).encode("utf-8"))
    try:
        load_manifest(target, check_files=check_files)
    except ManifestError:
        target.unlink(missing_ok=True)
        raise
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file (what ``segments[].sha256`` holds)."""
    return _sha256(Path(path))


_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1,
                "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
                "bool": 1}


__all__ = [
    "DEVICES",
    "FORMAT",
    "VERSION",
    "BuildInfo",
    "EngineSpec",
    "Handoff",
    "Manifest",
    "ManifestError",
    "ModelEntry",
    "Predicted",
    "Provenance",
    "SegmentEntry",
    "SegmentInput",
    "SegmentOutput",
    "Span",
    "TableProvenance",
    "TensorSource",
    "TensorSpec",
    "file_sha256",
    "load_manifest",
    "manifest_from_dict",
    "manifest_schema",
    "manifest_to_dict",
    "manifest_to_json",
    "validate_schema",
    "write_manifest",
]

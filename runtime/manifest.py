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
from itertools import pairwise
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


_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1,
                "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
                "bool": 1}


# ---------------------------------------------------------------------- semantic checks
# Steps 1-6 of the module docstring, run by `manifest_from_dict` after the schema step.
# (They lived in runtime/_checks.py, which needed this module's types while this module
# called it: an import circle.)
def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file (what ``segments[].sha256`` holds), read in 1 MiB
    chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_semantics(manifest: Manifest, source: str, *, check_files: bool) -> None:
    """Raise `ManifestError` (file + field path) at the first inconsistency."""
    _Checker(manifest, source, check_files=check_files).run()


class _Checker:
    def __init__(self, manifest: Manifest, source: str, *, check_files: bool) -> None:
        self.m = manifest
        self.source = source
        self.check_files = check_files
        self.seg_pos = {s.id: i for i, s in enumerate(manifest.segments)}
        self.models = {m.name: m for m in manifest.models}

    def fail(self, field_name: str, message: str) -> ManifestError:
        return ManifestError(message, source=self.source, field=field_name)

    def run(self) -> None:
        self.structure()
        if self.check_files:
            self.files()
        self.data_flow()
        self.handoffs()
        self.device_order()
        self.cycles()

    # 1 ------------------------------------------------------------------
    def structure(self) -> None:
        m = self.m
        seen_models: set[str] = set()
        for i, model in enumerate(m.models):
            if model.name in seen_models:
                raise self.fail(f"models[{i}].name", f"model {model.name!r} appears twice")
            seen_models.add(model.name)
            for kind in ("inputs", "outputs"):
                names = [t.name for t in getattr(model, kind)]
                for k, n in enumerate(names):
                    if n in names[:k]:
                        raise self.fail(f"models[{i}].{kind}[{k}].name",
                                        f"tensor {n!r} appears twice")
        if m.objective == "latency" and m.frames_per_round != 1:
            raise self.fail("frames_per_round", "must be 1 for the latency objective "
                            f"(got {m.frames_per_round})")
        seen: set[str] = set()
        per_instance: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for i, s in enumerate(m.segments):
            where = f"segments[{i}]"
            if s.id in seen:
                raise self.fail(f"{where}.id", f"segment id {s.id!r} appears twice")
            seen.add(s.id)
            if s.model not in self.models:
                raise self.fail(f"{where}.model", f"{s.model!r} is not a model of this "
                                f"manifest ({', '.join(sorted(self.models))})")
            expect = f"{s.model}#{s.instance}/{s.index}"
            if s.id != expect:
                raise self.fail(f"{where}.id", f"{s.id!r} must be {expect!r} "
                                "(model#instance/index)")
            if s.instance >= m.frames_per_round:
                raise self.fail(f"{where}.instance", f"instance {s.instance} is outside "
                                f"0..{m.frames_per_round - 1} (frames_per_round)")
            if s.last_group < s.first_group:
                raise self.fail(f"{where}.last_group", f"last_group {s.last_group} < "
                                f"first_group {s.first_group}")
            if s.engine.dla_core != s.dla_core:
                raise self.fail(f"{where}.engine.dla_core", f"{s.engine.dla_core} does not "
                                f"match device {s.device} (expected {s.dla_core})")
            if s.device != "GPU" and s.precision == "fp32":
                raise self.fail(f"{where}.precision", f"a DLA segment ({s.device}) cannot run "
                                "in fp32; use fp16 or int8")
            for kind, formats in (("inputs", s.engine.input_formats),
                                  ("outputs", s.engine.output_formats)):
                if formats and len(formats) != len(getattr(s, kind)):
                    raise self.fail(f"{where}.engine.{kind[:-1]}_formats",
                                    f"{len(formats)} formats for {len(getattr(s, kind))} {kind}")
            for kind in ("inputs", "outputs"):
                names = [t.name for t in getattr(s, kind)]
                for k, n in enumerate(names):
                    if n in names[:k]:
                        raise self.fail(f"{where}.{kind}[{k}].name", f"tensor {n!r} appears "
                                        "twice")
            per_instance.setdefault((s.model, s.instance), []).append((s.index, i))
        for model in m.models:
            for inst in range(m.frames_per_round):
                if (model.name, inst) not in per_instance:
                    raise self.fail("segments", f"model {model.name!r} instance {inst} has no "
                                    "segment")
        for (_model, _inst), items in sorted(per_instance.items()):
            items.sort()
            expect_group = 0
            for k, (index, pos) in enumerate(items):
                s = m.segments[pos]
                if index != k:
                    raise self.fail(f"segments[{pos}].index", f"segment indices of "
                                    f"{s.model}#{s.instance} must be 0..{len(items) - 1}; "
                                    f"found {index} where {k} was expected")
                if s.first_group != expect_group:
                    raise self.fail(f"segments[{pos}].first_group", f"must be {expect_group} "
                                    "(segments of an instance cover its groups in order)")
                expect_group = s.last_group + 1

    # 2 ------------------------------------------------------------------
    def files(self) -> None:
        root = self.m.root
        assert root is not None
        top = root.resolve()
        for i, s in enumerate(self.m.segments):
            for key, rel in (("file", s.file), ("engine.onnx", s.engine.onnx)):
                if rel is None:
                    continue
                target = self.m.path(rel)
                try:
                    target.resolve().relative_to(top)
                except ValueError:
                    raise self.fail(f"segments[{i}].{key}", f"{rel!r} points outside the "
                                    "manifest's directory") from None
                if not target.is_file():
                    raise self.fail(f"segments[{i}].{key}", f"{rel!r}: no such file in "
                                    f"{root}; re-export the schedule")
            digest = file_sha256(self.m.path(s.file))
            if digest != s.sha256:
                raise self.fail(f"segments[{i}].sha256", f"{s.file!r} has sha256 "
                                f"{digest[:12]}..., the manifest says {s.sha256[:12]}...; the "
                                "file changed after export: re-export")

    # 3 ------------------------------------------------------------------
    def data_flow(self) -> None:
        m = self.m
        produced: dict[tuple[str, int, str], int] = {}
        for i, s in enumerate(m.segments):
            model = self.models[s.model]
            model_outputs = {t.name: t for t in model.outputs}
            for k, out in enumerate(s.outputs):
                if not out.model_output:
                    continue
                where = f"segments[{i}].outputs[{k}]"
                want = model_outputs.get(out.name)
                if want is None:
                    raise self.fail(f"{where}.model_output", f"{out.name!r} is not an output "
                                    f"of model {s.model!r}")
                self._same(f"{where}", out, want, f"model {s.model!r} output")
                key = (s.model, s.instance, out.name)
                if key in produced:
                    raise self.fail(f"{where}.name", f"model output {out.name!r} of "
                                    f"{s.model}#{s.instance} is produced twice (also by "
                                    f"segments[{produced[key]}])")
                produced[key] = i
            model_inputs = {t.name: t for t in model.inputs}
            for k, inp in enumerate(s.inputs):
                where = f"segments[{i}].inputs[{k}]"
                src = inp.source
                if src.model_input is not None:
                    want = model_inputs.get(src.model_input)
                    if want is None:
                        raise self.fail(f"{where}.from.model_input", f"{src.model_input!r} is "
                                        f"not an input of model {s.model!r}")
                    self._same(where, inp, want, f"model input {src.model_input!r}")
                    continue
                pos = self.seg_pos.get(str(src.segment))
                if pos is None:
                    raise self.fail(f"{where}.from.segment", f"{src.segment!r} is not a segment")
                prod = m.segments[pos]
                if (prod.model, prod.instance) != (s.model, s.instance):
                    raise self.fail(f"{where}.from.segment", f"{src.segment!r} belongs to "
                                    f"{prod.model}#{prod.instance}, not {s.model}#{s.instance}")
                if prod.index >= s.index:
                    raise self.fail(f"{where}.from.segment", f"{src.segment!r} does not come "
                                    f"before {s.id!r}; inputs come from earlier segments")
                outs = {t.name: t for t in prod.outputs}
                if src.output not in outs:
                    raise self.fail(f"{where}.from.output", f"{src.output!r} is not an output "
                                    f"of segment {src.segment!r}")
                self._same(where, inp, outs[str(src.output)],
                           f"output {src.output!r} of {src.segment!r}")
        for model in m.models:
            for inst in range(m.frames_per_round):
                for t in model.outputs:
                    if (model.name, inst, t.name) not in produced:
                        raise self.fail(f"models[{m.models.index(model)}].outputs",
                                        f"model output {t.name!r} of {model.name}#{inst} is "
                                        "produced by no segment (model_output: true)")

    def _same(self, where: str, got: TensorSpec, want: TensorSpec, what: str) -> None:
        if got.shape != want.shape:
            raise self.fail(f"{where}.shape", f"{list(got.shape)} differs from {what}'s shape "
                            f"{list(want.shape)}")
        if got.dtype != want.dtype:
            raise self.fail(f"{where}.dtype", f"{got.dtype} differs from {what}'s dtype "
                            f"{want.dtype}")

    # 4 ------------------------------------------------------------------
    def handoffs(self) -> None:
        m = self.m
        need: dict[tuple[str, str], list[str]] = {}
        for s in m.segments:
            for inp in s.inputs:
                if inp.source.segment is not None:
                    tensors = need.setdefault((inp.source.segment, s.id), [])
                    if inp.source.output not in tensors:
                        tensors.append(str(inp.source.output))
        seen: set[tuple[str, str]] = set()
        for i, h in enumerate(m.handoffs):
            where = f"handoffs[{i}]"
            for key, sid in (("from", h.source), ("to", h.target)):
                if sid not in self.seg_pos:
                    raise self.fail(f"{where}.{key}", f"{sid!r} is not a segment")
            pair = (h.source, h.target)
            if pair in seen:
                raise self.fail(where, f"a second hand-off {h.source} -> {h.target}")
            seen.add(pair)
            if pair not in need:
                raise self.fail(where, f"{h.target!r} takes no input from {h.source!r}")
            if sorted(h.tensors) != sorted(need[pair]):
                raise self.fail(f"{where}.tensors", f"{sorted(h.tensors)} but {h.target!r} "
                                f"reads {sorted(need[pair])} from {h.source!r}")
            a, b = m.segment(h.source), m.segment(h.target)
            if h.direction != f"{a.device}->{b.device}":
                raise self.fail(f"{where}.direction", f"{h.direction!r} but the segments run "
                                f"on {a.device} and {b.device}")
        for pair in need:
            if pair not in seen:
                raise self.fail("handoffs", f"no hand-off {pair[0]} -> {pair[1]} although "
                                f"{pair[1]!r} reads {need[pair]} from it")

    # 5 ------------------------------------------------------------------
    def device_order(self) -> None:
        m = self.m
        listed: dict[str, str] = {}
        for dev, ids in m.device_order.items():
            for k, sid in enumerate(ids):
                where = f"device_order.{dev}[{k}]"
                if sid not in self.seg_pos:
                    raise self.fail(where, f"{sid!r} is not a segment")
                if sid in listed:
                    raise self.fail(where, f"{sid!r} is listed twice (also under "
                                    f"{listed[sid]})")
                listed[sid] = dev
                seg = m.segment(sid)
                if seg.device != dev:
                    raise self.fail(where, f"{sid!r} runs on {seg.device}, not {dev}")
        for i, s in enumerate(m.segments):
            if s.id not in listed:
                raise self.fail(f"device_order.{s.device}", f"segment {s.id!r} "
                                f"(segments[{i}]) is missing from the order of {s.device}")

    # 6 ------------------------------------------------------------------
    def cycles(self) -> None:
        m = self.m
        succ: dict[str, list[str]] = {s.id: [] for s in m.segments}
        for s in m.segments:
            if s.index > 0:
                succ[f"{s.model}#{s.instance}/{s.index - 1}"].append(s.id)
            for inp in s.inputs:
                if inp.source.segment is not None:
                    succ[inp.source.segment].append(s.id)
        for ids in m.device_order.values():
            for a, b in pairwise(ids):
                succ[a].append(b)
        cycle = _find_cycle(succ)
        if cycle:
            names = " -> ".join([*cycle, cycle[0]])
            raise self.fail("device_order", f"the device order and the segments' precedence "
                            f"form a cycle ({names}); the runtime would deadlock: reorder the "
                            "device lists so that every segment follows its producers")


def _find_cycle(succ: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle of the directed graph (empty when acyclic); iterative DFS, deterministic."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(succ, white)
    for start in succ:
        if color[start] != white:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path = [start]
        color[start] = grey
        while stack:
            node, k = stack[-1]
            nxt = succ[node]
            if k < len(nxt):
                stack[-1] = (node, k + 1)
                child = nxt[k]
                if color[child] == grey:
                    return path[path.index(child):]
                if color[child] == white:
                    color[child] = grey
                    stack.append((child, 0))
                    path.append(child)
            else:
                color[node] = black
                stack.pop()
                path.pop()
    return []

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

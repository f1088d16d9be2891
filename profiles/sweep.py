"""The DLA transition sweep: plan trtexec engines, ingest their results into a cost table.

DLA time is opaque to the per-layer profiler, so per-group DLA costs (and GPU costs on the
same footing) come from end-to-end totals of engines built on purpose and differenced.

**Engines** (candidate cuts ``c_0 < ... < c_{m-2}``, positions in the layer order; group
``g`` is the layers after ``c_{g-1}`` up to and including ``c_g``; ``m`` groups):

- ``ref-gpu`` / ``ref-dla``: the whole model on the GPU / on DLA core N (with
  ``--allowGPUFallback``: unsupported layers silently run on the GPU; see the build log).
- ``prefix-{gpu,dla}-kNNNN``: the sub-model of layers ``0..c`` (its output is the tensor
  crossing cut ``c``), whole on one device. Works with plain trtexec on every version.
- ``marked-{gpu,dla}-kNNNN``: the whole model with the tensor crossing cut ``c`` marked as
  an extra network output (derived ONNX), whole on one device.
- ``switch-g2d-kNNNN`` / ``switch-d2g-kNNNN``: GPU for layers ``0..c`` then DLA (and the
  reverse), one engine, via ``--useDLACore=N --layerDeviceTypes=<layer>:GPU,...``. Only
  for trtexec versions that have ``--layerDeviceTypes`` (taken as TRT >= 8.6; not
  verified against every 8.x build: pass ``switch_engines=True`` to force them).

**Differencing scheme** (all per repeat ``r``, from the *same* repeat of each engine; ``T``
is an engine's end-to-end time, by default the median GPU Compute Time of its run):

- ``out_D(c) = T[marked-D-c] - T[ref-D]``: cost of handing the cut tensor out of a
  device-D region (the HaX-CoNN "mark layer k as output" measurement).
- ``A_D(c) = T[prefix-D-c] - out_D(c)``: time of layers ``0..c`` on D; ``A_D(-1) = 0`` and
  ``A_D(end) = T[ref-D]`` (so the last group carries the model output's copy).
- ``D_g = A_D(c_g) - A_D(c_{g-1})``: group ``g``'s time on device D (GPU and DLA alike).
- Transitions, direction-specific. With switch engines:
  ``gpu_to_dla(c) = T[switch-g2d-c] - A_GPU(c) - (T[ref-dla] - A_DLA(c))`` and
  ``dla_to_gpu(c) = T[switch-d2g-c] - A_DLA(c) - (T[ref-gpu] - A_GPU(c))``: everything the
  switched engine costs beyond its two parts. Without them (older trtexec) the one-sided
  ``out_GPU(c)`` / ``out_DLA(c)`` are used and the table says so in its metadata.

Each quantity is reported as mean, sample std and n over the repeats. A difference that
is negative, or larger than the total it was taken from, is an `Anomaly` naming the files
involved; it is kept as measured (never clamped). `SweepResult.to_cost_table` refuses a
result with anomalies unless the caller picks a policy (``merge_noisy_groups=True`` removes
the offending cut, i.e. merges the group with its neighbour, re-differences the totals and
records the merge in the metadata).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from profiles.costtable import CostTable, GroupCost
from profiles.errors import ProfileError
from profiles.fileio import atomic_write_bytes, atomic_write_text
from profiles.graph import LayerGraph, onnx_graph_signature
from profiles.onnxmap import CUT_TENSORS, SIGNATURE_KEY

MANIFEST_NAME = "sweep_plan.json"
SCRIPT_NAME = "sweep.sh"
FORMAT = "layerswap-sweep/1"
TIMINGS = ("gpu_compute_median", "gpu_compute_mean", "profile_total")
PRECISIONS = ("fp16", "int8")


# ---------------------------------------------------------------------- TRT versions
@dataclass(frozen=True)
class TrtFlags:
    """What a TensorRT version's trtexec can do for the sweep."""

    version: tuple[int, int]
    precision_flags: bool  # --fp16/--int8 exist (TRT < 11); 11.4+ is strongly typed
    layer_device_types: bool  # --layerDeviceTypes exists (taken as TRT >= 8.6)


def trt_flags(version: str) -> TrtFlags:
    """Parse ``"8.5"``, ``"10.3.0"``, ``"11.4.1"``; refuse versions without DLA or too old."""
    m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)*\s*", str(version))
    if not m:
        raise ProfileError(f"TensorRT version {version!r} is not like '8.5' or '10.3.0'",
                           source="trt_version")
    major, minor = int(m.group(1)), int(m.group(2))
    v = (major, minor)
    if v < (8, 2):
        raise ProfileError(
            f"TensorRT {version}: the sweep needs trtexec >= 8.2 (--separateProfileRun, "
            "--exportLayerInfo, per-layer medians); upgrade JetPack", source="trt_version")
    if (10, 7) < v < (11, 4):
        raise ProfileError(
            f"TensorRT {version} has no DLA support (10.7 is the last 10.x with DLA, 11.0-11.3 "
            "have none; 11.4.1 brings it back on AGX Orin); use TRT <= 10.7 or >= 11.4",
            source="trt_version")
    return TrtFlags(version=v, precision_flags=major < 11, layer_device_types=v >= (8, 6))


# ---------------------------------------------------------------------- plan types
@dataclass(frozen=True)
class SweepRun:
    """One run (repeat) of an engine: argv, shell line and the files it writes."""

    repeat: int
    argv: tuple[str, ...]
    log: str
    profile: str
    times: str

    @property
    def shell(self) -> str:
        return f"{shlex.join(self.argv)} > {shlex.quote(self.log)} 2>&1"

    @property
    def files(self) -> tuple[str, ...]:
        return (self.log, self.profile, self.times)


@dataclass(frozen=True)
class SweepEngine:
    """One engine to build and run ``repeats`` times."""

    id: str
    kind: str  # reference | prefix | marked | switch
    device: str  # GPU | DLA | GPU->DLA | DLA->GPU
    cut: int | None  # position of the layer after which the cut is, None for references
    onnx: str
    build_argv: tuple[str, ...]
    build_log: str
    runs: tuple[SweepRun, ...]
    measures: str

    @property
    def build_shell(self) -> str:
        return f"{shlex.join(self.build_argv)} > {shlex.quote(self.build_log)} 2>&1"


@dataclass(frozen=True)
class PlannedCut:
    position: int
    after_layer: str
    tensors: tuple[str, ...]
    bytes: int | None


@dataclass(frozen=True)
class SweepPlan:
    """Everything to build, run and later ingest; paths are relative to the sweep folder."""

    model: str
    model_sha256: str
    trt_version: str
    precision: str
    dla_core: int
    repeats: int
    layers: tuple[str, ...]
    cuts: tuple[PlannedCut, ...]
    engines: tuple[SweepEngine, ...]
    notes: tuple[str, ...] = ()
    derived: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def engine(self, engine_id: str) -> SweepEngine:
        for e in self.engines:
            if e.id == engine_id:
                return e
        raise ProfileError(f"no engine {engine_id!r} in the plan", source=MANIFEST_NAME)

    @property
    def has_switch_engines(self) -> bool:
        return any(e.kind == "switch" for e in self.engines)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "model": self.model, "model_sha256": self.model_sha256,
            "trt_version": self.trt_version, "precision": self.precision,
            "dla_core": self.dla_core, "repeats": self.repeats, "layers": list(self.layers),
            "cuts": [{"position": c.position, "after_layer": c.after_layer,
                      "tensors": list(c.tensors), "bytes": c.bytes} for c in self.cuts],
            "engines": [{
                "id": e.id, "kind": e.kind, "device": e.device, "cut": e.cut, "onnx": e.onnx,
                "measures": e.measures, "build_argv": list(e.build_argv),
                "build_shell": e.build_shell, "build_log": e.build_log,
                "runs": [{"repeat": r.repeat, "argv": list(r.argv), "shell": r.shell,
                          "log": r.log, "profile": r.profile, "times": r.times}
                         for r in e.runs]} for e in self.engines],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = MANIFEST_NAME) -> SweepPlan:
        if data.get("format") != FORMAT:
            raise ProfileError(f"not a sweep manifest (format {data.get('format')!r}, "
                               f"expected {FORMAT!r})", source=source, entry="format")
        try:
            cuts = tuple(PlannedCut(int(c["position"]), str(c["after_layer"]),
                                    tuple(c["tensors"]), c["bytes"]) for c in data["cuts"])
            engines = tuple(SweepEngine(
                id=e["id"], kind=e["kind"], device=e["device"], cut=e["cut"], onnx=e["onnx"],
                build_argv=tuple(e["build_argv"]), build_log=e["build_log"],
                runs=tuple(SweepRun(int(r["repeat"]), tuple(r["argv"]), r["log"],
                                    r["profile"], r["times"]) for r in e["runs"]),
                measures=e["measures"]) for e in data["engines"])
            return cls(model=data["model"], model_sha256=data["model_sha256"],
                       trt_version=data["trt_version"], precision=data["precision"],
                       dla_core=int(data["dla_core"]), repeats=int(data["repeats"]),
                       layers=tuple(data["layers"]), cuts=cuts, engines=engines,
                       notes=tuple(data.get("notes", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"malformed sweep manifest ({type(exc).__name__}: {exc})",
                               source=source) from exc

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> SweepPlan:
        p = Path(path)
        if p.is_dir():
            p = p / MANIFEST_NAME
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ProfileError(f"cannot read the sweep manifest ({exc.strerror}); run "
                               "'layerswap profile plan' first", source=str(p)) from exc
        except json.JSONDecodeError as exc:
            raise ProfileError(f"the sweep manifest is not valid JSON ({exc.msg})",
                               source=str(p)) from exc
        return cls.from_dict(data, source=str(p))

    def script(self) -> str:
        """A bash script that builds every engine, then runs all repeats (repeat-major)."""
        lines = ["#!/usr/bin/env bash",
                 f"# layerswap transition sweep of {self.model} (TensorRT {self.trt_version}, "
                 f"{self.precision}, DLA core {self.dla_core}); manifest: {MANIFEST_NAME}",
                 "# Override the binary with TRTEXEC=/usr/src/tensorrt/bin/trtexec.",
                 "set -euo pipefail", 'cd "$(dirname "$0")"', 'TRTEXEC="${TRTEXEC:-trtexec}"',
                 "mkdir -p engines runs", "", "# --- build"]
        lines += [_with_var(e.build_shell) for e in self.engines]
        for r in range(self.repeats):
            lines += ["", f"# --- repeat {r} (every engine once, so drift spreads evenly)"]
            lines += [_with_var(e.runs[r].shell) for e in self.engines]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write derived ONNX models, the manifest and the script (each atomically)."""
        out = Path(out_dir)
        (out / "models").mkdir(parents=True, exist_ok=True)
        for rel, proto in sorted(self.derived.items()):
            atomic_write_bytes(out / rel, proto.SerializeToString())
        atomic_write_text(out / MANIFEST_NAME,
                          json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n")
        script = atomic_write_text(out / SCRIPT_NAME, self.script())
        script.chmod(0o755)
        return out / MANIFEST_NAME


def _with_var(shell: str) -> str:
    return '"$TRTEXEC"' + shell[len("trtexec"):] if shell.startswith("trtexec ") else shell


# ---------------------------------------------------------------------- planner
def plan_sweep(
    model_onnx: str | os.PathLike[str] | Any,
    candidates: Sequence[str | int] | None = None,
    *,
    dla_core: int = 0,
    precision: str = "fp16",
    trt_version: str = "8.5",
    repeats: int = 3,
    max_crossing: int = 1,
    switch_engines: bool | None = None,
    gpu_fallback: bool = True,
    iterations: int | None = None,
    warmup_ms: int = 500,
    duration_s: int = 3,
    calib: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
) -> SweepPlan:
    """Plan the sweep of one ONNX model; ``out_dir`` given -> also written there.

    ``candidates`` are layer names (or positions) after which to cut; each must be a valid
    cut (crossed by at most ``max_crossing`` tensors). ``None`` takes every valid cut.
    ``switch_engines``: None -> when the TRT version has ``--layerDeviceTypes``.
    """
    import onnx

    flags = trt_flags(trt_version)
    if precision not in PRECISIONS:
        raise ProfileError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)} "
                           "(DLA runs FP16 or INT8 only)", source="precision")
    if repeats < 1 or dla_core not in (0, 1):
        raise ProfileError(f"repeats must be >= 1 and dla_core 0 or 1 (got {repeats}, "
                           f"{dla_core})", source="plan_sweep")
    proto = model_onnx if isinstance(model_onnx, onnx.ModelProto) else None
    if proto is None:
        graph = LayerGraph.from_onnx(model_onnx)
        proto = onnx.load(str(model_onnx))
        model_name = Path(model_onnx).stem
    else:
        graph = LayerGraph.from_onnx(proto)
        model_name = proto.graph.name or "model"
    inferred = _infer(proto)
    cuts = _select_cuts(graph, candidates, max_crossing)
    use_switch = flags.layer_device_types if switch_engines is None else switch_engines
    notes = []
    if not flags.precision_flags:
        _require_strong_types(proto, graph.source)
        notes.append("TRT >= 11.4: strongly typed network, no --fp16/--int8; the ONNX tensor "
                     "types set the precision")
    if use_switch:
        _check_layer_names(proto, graph)
    else:
        notes.append(f"no switch engines (trtexec {trt_version} lacks --layerDeviceTypes): "
                     "transitions come from marked outputs, one-sided")
    if gpu_fallback:
        notes.append("DLA engines use --allowGPUFallback: layers DLA rejects run on the GPU "
                     "(check '[GpuLayer]' lines in engines/*.build.log)")

    derived: dict[str, Any] = {"models/model.onnx": proto}
    precision_args = _precision_args(flags, precision, calib)
    builder = _Builder(flags, precision_args, dla_core, gpu_fallback, repeats,
                       iterations, warmup_ms, duration_s)
    engines = [
        builder.engine("ref-gpu", "reference", "GPU", None, "models/model.onnx",
                       "whole model on the GPU: T[ref-gpu]"),
        builder.engine("ref-dla", "reference", "DLA", None, "models/model.onnx",
                       "whole model on the DLA: T[ref-dla]"),
    ]
    for cut in cuts:
        tag = f"k{cut.position:04d}"
        prefix_rel, marked_rel = f"models/prefix_{tag}.onnx", f"models/marked_{tag}.onnx"
        derived[prefix_rel] = _prefix_model(inferred, graph, cut)
        derived[marked_rel] = _marked_model(inferred, cut)
        for dev in ("GPU", "DLA"):
            d = dev.lower()
            engines.append(builder.engine(
                f"prefix-{d}-{tag}", "prefix", dev, cut.position, prefix_rel,
                f"layers 0..{cut.after_layer} on the {dev}: A_{dev}({tag}) + "
                f"out_{dev}({tag})"))
            engines.append(builder.engine(
                f"marked-{d}-{tag}", "marked", dev, cut.position, marked_rel,
                f"whole model on the {dev} with {', '.join(cut.tensor_names)} marked as output: "
                f"T[ref-{d}] + out_{dev}({tag})"))
        if use_switch:
            head = graph.order[: cut.position + 1]
            tail = graph.order[cut.position + 1:]
            engines.append(builder.engine(
                f"switch-g2d-{tag}", "switch", "GPU->DLA", cut.position, "models/model.onnx",
                f"GPU up to {cut.after_layer}, then DLA: gpu_to_dla({tag})", gpu_layers=head))
            engines.append(builder.engine(
                f"switch-d2g-{tag}", "switch", "DLA->GPU", cut.position, "models/model.onnx",
                f"DLA up to {cut.after_layer}, then GPU: dla_to_gpu({tag})", gpu_layers=tail))
    plan = SweepPlan(
        model=model_name, model_sha256=hashlib.sha256(proto.SerializeToString()).hexdigest(),
        trt_version=str(trt_version), precision=precision, dla_core=dla_core,
        repeats=repeats, layers=graph.order,
        cuts=tuple(PlannedCut(c.position, c.after_layer, c.tensor_names, c.bytes)
                   for c in cuts),
        engines=tuple(engines), notes=tuple(notes), derived=derived)
    if out_dir is not None:
        plan.write(out_dir)
    return plan


@dataclass(frozen=True)
class _Builder:
    flags: TrtFlags
    precision_args: tuple[str, ...]
    dla_core: int
    gpu_fallback: bool
    repeats: int
    iterations: int | None
    warmup_ms: int
    duration_s: int

    def engine(self, eid: str, kind: str, device: str, cut: int | None, onnx_rel: str,
               measures: str, *, gpu_layers: Sequence[str] = ()) -> SweepEngine:
        uses_dla = device != "GPU"
        engine_file = f"engines/{eid}.engine"
        build = ["trtexec", f"--onnx={onnx_rel}", f"--saveEngine={engine_file}",
                 *self.precision_args]
        if uses_dla:
            build.append(f"--useDLACore={self.dla_core}")
            if self.gpu_fallback or kind == "switch":
                build.append("--allowGPUFallback")
        if gpu_layers:
            build.append("--layerDeviceTypes=" + ",".join(f"{n}:GPU" for n in gpu_layers))
        build += ["--profilingVerbosity=detailed", f"--exportLayerInfo=engines/{eid}.layers.json",
                  "--skipInference"]
        runs = []
        for r in range(self.repeats):
            stem = f"runs/{eid}.r{r}"
            argv = ["trtexec", f"--loadEngine={engine_file}"]
            if uses_dla:
                argv.append(f"--useDLACore={self.dla_core}")
            if self.iterations is not None:
                argv.append(f"--iterations={self.iterations}")
            argv += [f"--warmUp={self.warmup_ms}", f"--duration={self.duration_s}",
                     "--useSpinWait", "--separateProfileRun", "--dumpProfile",
                     f"--exportProfile={stem}.profile.json", f"--exportTimes={stem}.times.json"]
            runs.append(SweepRun(r, tuple(argv), f"{stem}.log", f"{stem}.profile.json",
                                 f"{stem}.times.json"))
        return SweepEngine(id=eid, kind=kind, device=device, cut=cut, onnx=onnx_rel,
                           build_argv=tuple(build), build_log=f"engines/{eid}.build.log",
                           runs=tuple(runs), measures=measures)


def _precision_args(flags: TrtFlags, precision: str, calib: str | None) -> tuple[str, ...]:
    if not flags.precision_flags:
        return ()
    if precision == "fp16":
        return ("--fp16",)
    args = ["--int8", "--fp16"]  # layers without INT8 scales fall back to FP16 on DLA
    if calib:
        args.append(f"--calib={calib}")
    return tuple(args)


def _select_cuts(graph: LayerGraph, candidates: Sequence[str | int] | None,
                 max_crossing: int) -> list[Any]:
    if candidates is None:
        cuts = list(graph.valid_cuts(max_crossing))
        if not cuts:
            raise ProfileError(f"no cut is crossed by <= {max_crossing} tensor(s); raise "
                               "max_crossing", source=graph.source)
        return cuts
    seen: dict[int, Any] = {}
    for cand in candidates:
        cut = graph.cut_after(cand, max_crossing)
        if not cut.valid:
            raise ProfileError(
                f"the cut after {cut.after_layer!r} is crossed by {len(cut.tensors)} tensors "
                f"({', '.join(cut.tensor_names)}), more than max_crossing={max_crossing}; "
                "choose another layer or raise max_crossing", source=graph.source,
                entry=cut.after_layer)
        if not cut.tensors:
            raise ProfileError(f"no tensor crosses the cut after {cut.after_layer!r}: nothing "
                               "to mark or hand over", source=graph.source,
                               entry=cut.after_layer)
        seen[cut.position] = cut
    if not seen:
        raise ProfileError("no candidate layers given", source=graph.source)
    return [seen[p] for p in sorted(seen)]


def _infer(proto: Any) -> Any:
    import onnx

    try:
        return onnx.shape_inference.infer_shapes(proto)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise ProfileError(f"ONNX shape inference failed ({exc}); the sweep needs tensor "
                           "types to mark outputs", source="model") from exc


def _value_info(inferred: Any, name: str) -> Any:
    g = inferred.graph
    for vi in [*g.value_info, *g.output, *g.input]:
        if vi.name == name and vi.type.tensor_type.elem_type:
            return vi
    raise ProfileError(f"no type known for tensor {name!r}; add value_info or run shape "
                       "inference on the model", source="model", entry=name)


def _marked_model(inferred: Any, cut: Any) -> Any:
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(inferred)
    existing = {o.name for o in model.graph.output}
    for name in cut.tensor_names:
        if name not in existing:
            model.graph.output.append(_value_info(inferred, name))
    return model


def _prefix_model(inferred: Any, graph: LayerGraph, cut: Any) -> Any:
    import onnx

    head = set(graph.order[: cut.position + 1])
    inputs = sorted({t for name in head for t in graph.layer(name).inputs
                     if t in graph.inputs}, key=list(graph.inputs).index)
    try:
        return onnx.utils.Extractor(inferred).extract_model(inputs, list(cut.tensor_names))
    except (KeyError, ValueError, onnx.checker.ValidationError) as exc:
        raise ProfileError(f"cannot extract the sub-model up to {cut.after_layer!r} ({exc})",
                           source="model", entry=cut.after_layer) from exc


def _require_strong_types(proto: Any, source: str) -> None:
    from onnx import TensorProto

    low = {TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.INT8}
    types = [t.data_type for t in proto.graph.initializer]
    types += [vi.type.tensor_type.elem_type for vi in
              [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]]
    if not any(t in low for t in types):
        raise ProfileError(
            "TensorRT >= 11.4 builds strongly typed networks and has no --fp16/--int8, but this "
            "model has no FP16/INT8 tensors, so nothing could run on the DLA; convert it "
            "(e.g. ModelOpt AutoCast to FP16) first", source=source)


def _check_layer_names(proto: Any, graph: LayerGraph) -> None:
    for i, node in enumerate(proto.graph.node):
        if node.op_type == "Constant":
            continue
        if not node.name:
            raise ProfileError(
                "--layerDeviceTypes needs TensorRT layer names, which come from ONNX node "
                "names, but this node has none; name every node (onnx-graphsurgeon) or pass "
                "switch_engines=False", source=graph.source, entry=f"node {i} ({node.op_type})")
        if "," in node.name:
            raise ProfileError("a node name contains ',' which --layerDeviceTypes uses as its "
                               "separator; rename it", source=graph.source, entry=node.name)


# ---------------------------------------------------------------------- results
@dataclass(frozen=True)
class Stat:
    """Mean, sample std (None for n = 1) and n of one derived quantity over repeats (ms)."""

    mean: float
    std: float | None
    n: int
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: np.ndarray) -> Stat:
        vals = tuple(float(v) for v in values)
        std = float(np.std(values, ddof=1)) if len(vals) > 1 else None
        return cls(mean=float(np.mean(values)), std=std, n=len(vals), values=vals)


@dataclass(frozen=True)
class Anomaly:
    """A noisy difference: kept as measured, with the files it was computed from."""

    quantity: str  # e.g. "dla_ms of group 3", "gpu_to_dla_ms after conv5"
    cut: int  # cut position to remove under the merge policy
    value_ms: float
    total_ms: float
    reason: str
    files: tuple[str, ...]

    def __str__(self) -> str:
        return (f"{self.quantity} = {self.value_ms:.6g} ms ({self.reason}; total "
                f"{self.total_ms:.6g} ms) from {', '.join(self.files)}")


@dataclass(frozen=True)
class GroupMeasure:
    index: int
    first_layer: str
    last_layer: str
    layers: int
    gpu: Stat
    dla: Stat


@dataclass(frozen=True)
class CutMeasure:
    position: int
    after_layer: str
    bytes: int | None
    out_gpu: Stat
    out_dla: Stat
    gpu_to_dla: Stat
    dla_to_gpu: Stat


@dataclass(frozen=True)
class SweepResult:
    """Per-group and per-cut measurements of one sweep (see the module docstring)."""

    directory: str
    plan: SweepPlan
    timing: str
    totals: Mapping[str, tuple[float, ...]]
    groups: tuple[GroupMeasure, ...]
    cuts: tuple[CutMeasure, ...]
    anomalies: tuple[Anomaly, ...]
    transition_method: str
    merged: tuple[str, ...] = ()

    def to_cost_table(self, *, platform: str, model: str | None = None,
                      merge_noisy_groups: bool = False) -> CostTable:
        """A measured `CostTable`; refuses anomalies unless ``merge_noisy_groups``."""
        result = self
        if self.anomalies:
            if not merge_noisy_groups:
                listed = "; ".join(str(a) for a in self.anomalies[:10])
                more = len(self.anomalies) - 10
                raise ProfileError(
                    f"{len(self.anomalies)} noisy difference(s): {listed}"
                    + (f"; and {more} more" if more > 0 else "")
                    + ". Re-run more repeats or pass merge_noisy_groups=True",
                    source=self.directory)
            result = self._merged()
        rows = []
        m = len(result.groups)
        cut_tensors = {c.position: c.tensors for c in self.plan.cuts}
        for g in result.groups:
            last = g.index == m - 1
            cut = None if last else result.cuts[g.index]
            rows.append(GroupCost(
                group=g.index, gpu_ms=g.gpu.mean, dla_ms=g.dla.mean,
                gpu_to_dla_ms=None if cut is None else cut.gpu_to_dla.mean,
                dla_to_gpu_ms=None if cut is None else cut.dla_to_gpu.mean,
                first_layer=g.first_layer, last_layer=g.last_layer, layers=g.layers,
                out_bytes=None if cut is None else cut.bytes,
                extra={"gpu_ms_std": _fmt_std(g.gpu), "dla_ms_std": _fmt_std(g.dla),
                       "gpu_to_dla_ms_std": "" if cut is None else _fmt_std(cut.gpu_to_dla),
                       "dla_to_gpu_ms_std": "" if cut is None else _fmt_std(cut.dla_to_gpu),
                       "repeats": str(g.gpu.n),
                       CUT_TENSORS: "" if cut is None else ";".join(
                           sorted(cut_tensors.get(cut.position, ())))}))
        plan = self.plan
        n_runs = sum(len(e.runs) for e in plan.engines)
        meta = {
            "model": model or plan.model, "platform": platform,
            "source": "measured (layerswap transition sweep)",
            "provenance": f"{self.directory}: {len(plan.engines)} engines x {plan.repeats} "
                          f"repeats = {n_runs} runs; timing {self.timing}",
            "trt_version": plan.trt_version, "precision": plan.precision,
            "dla_core": str(plan.dla_core), "transition_method": result.transition_method,
        }
        if result.merged:
            meta["merged_noisy_groups"] = " | ".join(result.merged)
        # the ONNX mapping (profiles.onnxmap): the planner saved the swept model unchanged
        swept = Path(self.directory) / "models" / "model.onnx"
        if swept.is_file():
            meta[SIGNATURE_KEY] = onnx_graph_signature(swept)
        return CostTable.build(rows, meta, origin=self.directory)

    def _merged(self) -> SweepResult:
        active = [c.position for c in self.plan.cuts]
        merged: list[str] = []
        current = self
        while current.anomalies:
            drop = sorted({a.cut for a in current.anomalies})
            for a in current.anomalies:
                merged.append(f"removed cut after position {a.cut}: {a}")
            active = [c for c in active if c not in drop]
            current = _derive(self.directory, self.plan, self.timing, self.totals, active,
                              merged=tuple(merged))
            if not active and current.anomalies:
                raise ProfileError("noisy even as one group: " + "; ".join(
                    str(a) for a in current.anomalies), source=self.directory)
        return current


def _fmt_std(s: Stat) -> str:
    return "" if s.std is None else repr(s.std)


# ---------------------------------------------------------------------- ingester
def ingest_sweep(directory: str | os.PathLike[str], plan: SweepPlan | str | os.PathLike[str]
                 | None = None, *, timing: str = "gpu_compute_median") -> SweepResult:
    """Read every run of a swept folder and difference the totals (module docstring).

    ``plan`` is a `SweepPlan`, a manifest path, or None (``<directory>/sweep_plan.json``).
    ``timing``: ``gpu_compute_median`` / ``gpu_compute_mean`` (performance summary in the
    run log) or ``profile_total`` (sum of per-layer averages of ``--exportProfile``).
    A missing or unreadable run file is a `ProfileError` listing every missing file.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ProfileError("sweep folder not found", source=str(root))
    if timing not in TIMINGS:
        raise ProfileError(f"timing {timing!r} is not one of {', '.join(TIMINGS)}",
                           source="timing")
    if plan is None:
        plan = SweepPlan.read(root)
    elif not isinstance(plan, SweepPlan):
        plan = SweepPlan.read(plan)
    missing = []
    for e in plan.engines:
        for r in e.runs:
            needed = r.profile if timing == "profile_total" else r.log
            if not (root / needed).is_file():
                missing.append(needed)
    if missing:
        raise ProfileError(
            f"{len(missing)} run file(s) missing, e.g. {', '.join(missing[:5])}; run "
            f"{SCRIPT_NAME} to completion (or re-run the failed engines)", source=str(root))
    totals: dict[str, tuple[float, ...]] = {}
    for e in plan.engines:
        totals[e.id] = tuple(_read_total(root, r, timing) for r in e.runs)
    return _derive(str(root), plan, timing, totals, [c.position for c in plan.cuts])


def _read_total(root: Path, run: SweepRun, timing: str) -> float:
    if timing == "profile_total":
        from profiles.trtexec import read_export_profile

        prof = read_export_profile(root / run.profile)
        return _finite(prof.total_average_ms, root / run.profile, "sum of averageMs")
    path = root / run.log
    mean, median = _read_gpu_compute(path)
    return mean if timing == "gpu_compute_mean" else median


def _read_gpu_compute(path: Path) -> tuple[float, float]:
    """(mean, median) ms of the run's GPU Compute Time (trtexec performance summary)."""
    from profiles.trtexec import read_performance_summary

    gpu = read_performance_summary(path).gpu_compute
    if gpu.mean_ms is None or gpu.median_ms is None:
        raise ProfileError("the GPU Compute Time summary lacks a mean or a median; the sweep "
                           "needs both (trtexec >= 8.0 prints them)", source=str(path))
    return _finite(gpu.mean_ms, path, "mean"), _finite(gpu.median_ms, path, "median")


def _finite(value: float, path: Path, what: str) -> float:
    if math.isnan(value) or math.isinf(value) or value <= 0:
        raise ProfileError(f"{what} is {value}; a run total must be a positive time",
                           source=str(path))
    return value


def _derive(directory: str, plan: SweepPlan, timing: str,
            totals: Mapping[str, tuple[float, ...]], active: Sequence[int], *,
            merged: tuple[str, ...] = ()) -> SweepResult:
    """Difference the totals over the ``active`` cuts (module docstring, exactly)."""
    cuts = {c.position: c for c in plan.cuts}
    eng = {e.id: e for e in plan.engines}

    def t(eid: str) -> np.ndarray:
        return np.asarray(totals[eid], dtype=float)

    def files(*eids: str) -> tuple[str, ...]:
        return tuple(r.log if timing != "profile_total" else r.profile
                     for eid in eids for r in eng[eid].runs)

    anomalies: list[Anomaly] = []

    def check(name: str, cut: int, value: np.ndarray, total: np.ndarray,
              eids: tuple[str, ...]) -> Stat:
        s = Stat.of(value)
        tot = float(np.mean(total))
        if s.mean < 0:
            anomalies.append(Anomaly(name, cut, s.mean, tot, "negative", files(*eids)))
        elif s.mean > tot:
            anomalies.append(Anomaly(name, cut, s.mean, tot, "larger than its total",
                                     files(*eids)))
        return s

    devs = ("gpu", "dla")
    ref = {d: t(f"ref-{d}") for d in devs}
    out: dict[tuple[str, int], np.ndarray] = {}
    prefix: dict[tuple[str, int], np.ndarray] = {}
    out_stats: dict[tuple[str, int], Stat] = {}
    for pos in active:
        tag = f"k{pos:04d}"
        for d in devs:
            marked, pre = f"marked-{d}-{tag}", f"prefix-{d}-{tag}"
            out[d, pos] = t(marked) - ref[d]
            out_stats[d, pos] = check(f"out_{d}_ms after {cuts[pos].after_layer}", pos,
                                      out[d, pos], t(marked), (marked, f"ref-{d}"))
            prefix[d, pos] = t(pre) - out[d, pos]
    bounds = [None, *active, None]
    groups = []
    layers = plan.layers
    group_vals: dict[tuple[str, int], np.ndarray] = {}
    for g in range(len(active) + 1):
        lo, hi = bounds[g], bounds[g + 1]
        start = 0 if lo is None else lo + 1
        end = len(layers) if hi is None else hi + 1
        stats = {}
        for d in devs:
            upper = ref[d] if hi is None else prefix[d, hi]
            lower = np.zeros_like(ref[d]) if lo is None else prefix[d, lo]
            val = upper - lower
            group_vals[d, g] = val
            eids: list[str] = [f"ref-{d}"]
            for p in (lo, hi):
                if p is not None:
                    eids += [f"prefix-{d}-k{p:04d}", f"marked-{d}-k{p:04d}"]
            total = ref[d] if hi is None else t(f"prefix-{d}-k{hi:04d}")
            blame = hi if hi is not None else (lo if lo is not None else -1)
            stats[d] = check(f"{d}_ms of group {g} ({layers[start]}..{layers[end - 1]})",
                             blame, val, total, tuple(dict.fromkeys(eids)))
        groups.append(GroupMeasure(g, layers[start], layers[end - 1], end - start,
                                   stats["gpu"], stats["dla"]))
    switch = plan.has_switch_engines
    cut_measures = []
    for pos in active:
        tag = f"k{pos:04d}"
        name = cuts[pos].after_layer
        if switch:
            g2d, d2g = f"switch-g2d-{tag}", f"switch-d2g-{tag}"
            base = (f"prefix-gpu-{tag}", f"marked-gpu-{tag}", f"prefix-dla-{tag}",
                    f"marked-dla-{tag}", "ref-gpu", "ref-dla")
            v_g2d = t(g2d) - prefix["gpu", pos] - (ref["dla"] - prefix["dla", pos])
            v_d2g = t(d2g) - prefix["dla", pos] - (ref["gpu"] - prefix["gpu", pos])
            s_g2d = check(f"gpu_to_dla_ms after {name}", pos, v_g2d, t(g2d), (g2d, *base))
            s_d2g = check(f"dla_to_gpu_ms after {name}", pos, v_d2g, t(d2g), (d2g, *base))
        else:
            s_g2d, s_d2g = out_stats["gpu", pos], out_stats["dla", pos]
        cut_measures.append(CutMeasure(pos, name, cuts[pos].bytes, out_stats["gpu", pos],
                                       out_stats["dla", pos], s_g2d, s_d2g))
    method = ("switch engines (direction-specific, both sides)" if switch
              else "marked outputs (one-sided: cost of leaving the producing device)")
    return SweepResult(directory=directory, plan=plan, timing=timing, totals=dict(totals),
                       groups=tuple(groups), cuts=tuple(cut_measures),
                       anomalies=tuple(anomalies), transition_method=method, merged=merged)


__all__ = [
    "MANIFEST_NAME",
    "SCRIPT_NAME",
    "Anomaly",
    "CutMeasure",
    "GroupMeasure",
    "PlannedCut",
    "Stat",
    "SweepEngine",
    "SweepPlan",
    "SweepResult",
    "SweepRun",
    "TrtFlags",
    "ingest_sweep",
    "plan_sweep",
    "trt_flags",
]

"""The exporter: a solved schedule -> a directory the runtime executes.

`export_schedule` writes, into ``DIR``:

- ``segments/<model>.g<a>-<b>.onnx``: one sub-model per distinct group range (the splitter,
  `export.split`); instances of a model cut at the same groups share the file. Under
  TensorRT 11.x also ``*.fp16.onnx`` copies (the build plan's strongly typed inputs);
- ``build_engines.sh``: the trtexec build plan (`export.buildplan`), engines land in
  ``engines/``;
- ``manifest.json``: manifest version 1 (`runtime.manifest`), written atomically and loaded
  back (schema + semantics) before the export returns;
- ``SUMMARY.md``: a short human summary.

Every cost table must carry the ONNX mapping (`profiles.onnxmap`); its groups are mapped
to the model's layers and checked against the ONNX file given for it. Predicted timings
come from the simulator (`solvers.judges.simulator.simulate`) for exactly this schedule, so they
are the schedule's own, whoever solved it. Provenance: each table's SHA-256 (of its
canonical CSV text, `CostTable.to_csv_text`) and ``source``, the solver, status, objective
and lower bound when a `Result` is given. Output files are byte-identical for equal
inputs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.buildplan import (
    SCRIPT_NAME,
    BoundaryIO,
    BuildPlan,
    SegmentBuild,
    TrtVersion,
    fp16_copy,
    plan_builds,
)
from export.errors import ExportError
from export.split import BoundaryTensor, ModelSplit, PreparedModel, SubModel
from profiles.costtable import CostTable
from profiles.fileio import atomic_write_bytes, atomic_write_text, staged_folder
from profiles.onnxmap import TableMapping
from runtime.errors import ManifestError
from runtime.manifest import (
    BuildInfo,
    EngineSpec,
    Handoff,
    Manifest,
    ModelEntry,
    Predicted,
    Provenance,
    SegmentEntry,
    SegmentInput,
    SegmentOutput,
    Span,
    TableProvenance,
    TensorSource,
    TensorSpec,
    file_sha256,
    write_manifest,
)
from solvers.judges.simulator import simulate
from solvers.model.problem import Objective, Problem
from solvers.model.schedule import Result, Schedule, Timeline

DEFAULT_TRT_VERSION = "10.3"
SUMMARY_NAME = "SUMMARY.md"


@dataclass(frozen=True)
class _JobSplit:
    job: int
    model: str
    instance: int
    split: ModelSplit
    files: tuple[str, ...]           # per segment: relative ONNX path


def export_schedule(problem: Problem, schedule: Schedule,
                    onnx_files: Mapping[str, str | os.PathLike[str] | Any],
                    out_dir: str | os.PathLike[str], *, result: Result | None = None,
                    trt_version: str = DEFAULT_TRT_VERSION, precision: str = "fp16",
                    allow_gpu_fallback: bool = False) -> Manifest:
    """Export ``schedule`` of ``problem`` to ``out_dir``; returns the manifest (equal to what
    `runtime.manifest.load_manifest` reads back from ``out_dir``: it is validated that way).

    ``onnx_files`` maps each model name of the problem (or its table's ``model`` metadata)
    to its ONNX file (or ``onnx.ModelProto``). ``result``, when given, supplies the solver,
    status and bounds for the provenance. Raises `ExportError` (or the `ProblemError` of an
    invalid schedule) naming what is wrong; a refused export writes nothing (and leaves a
    previous export in ``out_dir`` as it was). The files are written into a temporary sibling
    of ``out_dir`` and moved in when complete (`runtime.fileio.staged_folder`): an error or
    Ctrl-C part-way leaves no half export.
    """
    schedule.validate(problem)
    trt = TrtVersion.parse(trt_version)
    out = Path(out_dir)
    _check_dir(out)
    timeline = simulate(problem, schedule)
    sources = match_onnx(problem, onnx_files)
    splits, mappings = _split_jobs(problem, schedule, sources)
    plan = plan_builds(_segment_builds(problem, schedule, splits), trt_version=trt,
                       precision=precision, allow_gpu_fallback=allow_gpu_fallback)
    # files: sub-models (+ fp16 copies), script
    written: dict[str, bytes] = {}
    for js in splits:
        for sub, rel in zip(js.split.submodels, js.files, strict=True):
            written.setdefault(rel, sub.serialized())
    for e in plan.engines:
        if e.converted and e.build_onnx not in written:
            sub = _submodel_for(splits, e.onnx)
            written[e.build_onnx] = fp16_copy(sub.proto).SerializeToString(deterministic=True)
    with staged_folder(out, "the export") as stage:
        tmp = stage.path
        for rel, data in sorted(written.items()):
            atomic_write_bytes(tmp / rel, data)
        script = atomic_write_text(tmp / SCRIPT_NAME, plan.script())
        script.chmod(0o755)
        manifest = _manifest(problem, schedule, timeline, splits, mappings, sources, plan,
                             result, tmp)
        try:
            write_manifest(manifest, tmp)  # loads it back: schema, files, digests, semantics
        except ManifestError as exc:  # a bug of ours, not the user's: keep the message
            raise ExportError(f"the written manifest does not validate ({exc})",
                              source=str(out)) from exc
        atomic_write_text(tmp / SUMMARY_NAME, summary_text(manifest, plan))
        _prepare_dir(out)  # only now: a failed export leaves a previous one in place
    return dataclasses.replace(manifest, root=out)


# ---------------------------------------------------------------------- inputs
def _check_dir(out: Path) -> None:
    """``out`` must be absent, empty, or a previous export (whose files are replaced)."""
    if out.exists() and not out.is_dir():
        raise ExportError("the output path exists and is not a directory", source=str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise ExportError("the output directory is not empty and holds no manifest.json (not a "
                          "previous export); choose an empty or new directory", source=str(out))


def _prepare_dir(out: Path) -> None:
    """Remove the files of a previous export in ``out`` (checked by `_check_dir`)."""
    if not out.is_dir():
        return
    for sub in ("segments", "engines"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    for name in ("manifest.json", SCRIPT_NAME, SUMMARY_NAME):
        (out / name).unlink(missing_ok=True)


def match_onnx(problem: Problem, onnx_files: Mapping[str, Any]) -> dict[str, Any]:
    """Each model of ``problem`` -> its entry of ``onnx_files`` (keyed by the model's name or
    its table's ``model``). An entry naming no model of the problem is refused first (a typo
    is never silently ignored), then a model without an entry; both `ExportError`. Cheap:
    callers check before long work (`layerswap solve --export` before solving)."""
    known = {key for spec in problem.models for key in (spec.name, spec.table.model)}
    unknown = sorted(set(onnx_files) - known)
    if unknown:
        raise ExportError(f"names {', '.join(unknown)}, which is not a model of the schedule "
                          f"(its models: {', '.join(m.name for m in problem.models)})",
                          source="--onnx")
    out: dict[str, Any] = {}
    for spec in problem.models:
        for key in (spec.name, spec.table.model):
            if key in onnx_files:
                out[spec.name] = onnx_files[key]
                break
        else:
            raise ExportError(f"no ONNX file for model {spec.name!r}; pass --onnx "
                              f"{spec.name}=FILE (the file the table was made from)",
                              source=spec.table.origin, entry=spec.name)
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _split_jobs(problem: Problem, schedule: Schedule, sources: Mapping[str, Any]
                ) -> tuple[list[_JobSplit], dict[str, TableMapping]]:
    """Map every table to its ONNX model (loaded and inferred once) and split every job."""
    splits: list[_JobSplit] = []
    mappings: dict[str, TableMapping] = {}
    prepared: dict[str, PreparedModel] = {}
    cache: dict[tuple[str, tuple[tuple[int, int], ...]], ModelSplit] = {}
    for job, segs in zip(problem.jobs, schedule.segments, strict=True):
        spec = problem.models[job.model_index]
        if spec.name not in prepared:
            prepared[spec.name] = PreparedModel.load(sources[spec.name])
            mappings[spec.name] = prepared[spec.name].map_table(spec.table)
        ranges = tuple((s.first_group, s.last_group) for s in segs)
        key = (spec.name, ranges)
        if key not in cache:
            cache[key] = prepared[spec.name].split_groups(mappings[spec.name], ranges,
                                                          name=_safe(spec.name))
        files = tuple(f"segments/{_safe(spec.name)}.g{a}-{b}.onnx" for a, b in ranges)
        splits.append(_JobSplit(job.index, spec.name, job.instance, cache[key], files))
    return splits, mappings


def _submodel_for(splits: list[_JobSplit], rel: str) -> SubModel:
    for js in splits:
        for sub, f in zip(js.split.submodels, js.files, strict=True):
            if f == rel:
                return sub
    raise KeyError(rel)


# ---------------------------------------------------------------------- build plan
def _segment_builds(problem: Problem, schedule: Schedule, splits: list[_JobSplit]
                    ) -> list[SegmentBuild]:
    """One `SegmentBuild` per distinct (file, device, boundary formats) engine."""
    builds: dict[str, SegmentBuild] = {}
    order: list[str] = []
    for js in splits:
        segs = schedule.segments[js.job]
        devices = [s.device.value for s in segs]
        for k, (sub, rel) in enumerate(zip(js.split.submodels, js.files, strict=True)):
            dev = devices[k]
            ins = tuple(BoundaryIO(t.name, t.shape, t.dtype,
                                   dev != "GPU" or (t.producer is not None
                                                    and devices[t.producer] != "GPU"),
                                   t.producer is None) for t in sub.inputs)
            outs = tuple(BoundaryIO(t.name, t.shape, t.dtype,
                                    dev != "GPU" or any(devices[c] != "GPU" for c in t.consumers),
                                    t.model_output) for t in sub.outputs)
            stem = Path(rel).name[:-len(".onnx")]
            sid = _segment_id(js, k)
            variant = 0
            while True:
                key = f"{stem}.{dev}" + (f".v{variant}" if variant else "")
                have = builds.get(key)
                if have is None:
                    builds[key] = SegmentBuild(key, (sid,), rel, dev, ins, outs)
                    order.append(key)
                    break
                if (have.inputs, have.outputs) == (ins, outs):
                    builds[key] = SegmentBuild(key, (*have.segments, sid), rel, dev, ins, outs)
                    break
                variant += 1
    return [builds[k] for k in order]


def _segment_id(js: _JobSplit, k: int) -> str:
    return f"{js.model}#{js.instance}/{k}"


# ---------------------------------------------------------------------- manifest
def _spec(t: BoundaryTensor) -> TensorSpec:
    return TensorSpec(t.name, t.shape, t.dtype)


def _manifest(problem: Problem, schedule: Schedule, timeline: Timeline,
              splits: list[_JobSplit], mappings: Mapping[str, TableMapping],
              sources: Mapping[str, Any], plan: BuildPlan, result: Result | None,
              out: Path) -> Manifest:
    models = []
    for spec in problem.models:
        split = next(js.split for js in splits if js.model == spec.name)
        src = sources[spec.name]
        models.append(ModelEntry(spec.name, mappings[spec.name].signature,
                                 str(src) if isinstance(src, str | os.PathLike)
                                 else mappings[spec.name].onnx_source,
                                 tuple(_spec(t) for t in split.inputs),
                                 tuple(_spec(t) for t in split.outputs)))
    segments: list[SegmentEntry] = []
    handoffs: list[Handoff] = []
    for js in splits:
        segs = schedule.segments[js.job]
        for k, (sub, rel) in enumerate(zip(js.split.submodels, js.files, strict=True)):
            seg = segs[k]
            sid = _segment_id(js, k)
            build = plan.engine_for(sid)
            timing = timeline.timing(js.job, k)
            inputs = tuple(SegmentInput(
                t.name, t.shape, t.dtype,
                TensorSource(model_input=t.name) if t.producer is None else
                TensorSource(segment=_segment_id(js, t.producer), output=t.name))
                for t in sub.inputs)
            outputs = tuple(SegmentOutput(t.name, t.shape, t.dtype, t.model_output)
                            for t in sub.outputs)
            segments.append(SegmentEntry(
                id=sid, model=js.model, instance=js.instance, index=k,
                device=seg.device.value, precision=build.precision, file=rel,
                sha256=file_sha256(out / rel), first_group=seg.first_group,
                last_group=seg.last_group, inputs=inputs, outputs=outputs,
                engine=EngineSpec(build.engine, build.dla_core,
                                  build.build_onnx if build.converted else None,
                                  build.input_formats, build.output_formats),
                first_layer=sub.first_layer, last_layer=sub.last_layer,
                predicted=Span(_ms(timing.start_ms), _ms(timing.end_ms))))
        handoffs += _handoffs(problem, js, segs)
    order = {d.value: tuple(f"{_job_model(splits, j)}#{_job_instance(splits, j)}/{k}"
                            for j, k in timeline.order.get(d, ()))
             for d in problem.devices}
    period = timeline.period_ms
    predicted = Predicted(
        makespan_ms=_ms(timeline.makespan_ms), period_ms=None if period is None else _ms(period),
        throughput_fps=None if timeline.throughput_fps is None else _ms(timeline.throughput_fps),
        device_busy_ms={d.value: _ms(timeline.busy_ms.get(d, 0.0)) for d in problem.devices})
    tables = tuple(TableProvenance(spec.name, table_sha256(spec.table),
                                   spec.table.source, spec.table.origin)
                   for spec in problem.models)
    provenance = Provenance(
        layerswap_version=_version(),
        solver=None if result is None else result.solver,
        status=None if result is None else result.status.value,
        tables=tables,
        objective_ms=_ms(timeline.objective_ms),
        lower_bound_ms=None if result is None or result.lower_bound is None
        else _ms(result.lower_bound))
    return Manifest(
        objective=problem.objective.value, platform=problem.platform.name,
        frames_per_round=problem.frames_per_round if problem.objective is Objective.THROUGHPUT
        else 1,
        models=tuple(models), segments=tuple(segments), handoffs=tuple(handoffs),
        device_order=order, predicted=predicted, provenance=provenance,
        build=BuildInfo(str(plan.trt), SCRIPT_NAME, plan.precision), root=out)


def _handoffs(problem: Problem, js: _JobSplit, segs: tuple[Any, ...]) -> list[Handoff]:
    pairs: dict[tuple[int, int], list[BoundaryTensor]] = {}
    for k, sub in enumerate(js.split.submodels):
        for t in sub.inputs:
            if t.producer is not None:
                pairs.setdefault((t.producer, k), []).append(t)
    out = []
    for (a, b), tensors in sorted(pairs.items()):
        src, dst = segs[a].device, segs[b].device
        # the table's transition after the cut covers everything crossing it; it is the
        # delay of the adjacent pair (a skip's data is part of some adjacent cut's cost)
        ms = (problem.transition(js.job, segs[a].last_group, src, dst)
              if b == a + 1 else None)
        out.append(Handoff(_segment_id(js, a), _segment_id(js, b),
                           tuple(t.name for t in tensors), sum(t.nbytes for t in tensors),
                           f"{src.value}->{dst.value}", None if ms is None else _ms(ms)))
    return out


def _job_model(splits: list[_JobSplit], job: int) -> str:
    return splits[job].model


def _job_instance(splits: list[_JobSplit], job: int) -> int:
    return splits[job].instance


def _ms(x: float) -> float:
    return round(float(x), 9)


def table_sha256(table: CostTable) -> str:
    """SHA-256 of a table's canonical CSV text (metadata + rows): its provenance digest."""
    return hashlib.sha256(table.to_csv_text().encode("utf-8")).hexdigest()


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("layerswap")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------- summary
def summary_text(manifest: Manifest, plan: BuildPlan) -> str:
    """A short Markdown summary of an export (what runs where, what to do next)."""
    p = manifest.predicted
    lines = [f"# layerswap export: {', '.join(m.name for m in manifest.models)}", "",
             f"- platform `{manifest.platform}`, objective `{manifest.objective}`"
             + (f", {manifest.frames_per_round} frame(s) per round (instances)"
                if manifest.objective == "throughput" else ""),
             f"- predicted makespan {p.makespan_ms:.4f} ms"
             + (f", period {p.period_ms:.4f} ms/frame ({p.throughput_fps:.1f} fps)"
                if p.period_ms is not None and p.throughput_fps is not None else ""),
             f"- solver `{manifest.provenance.solver or 'n/a'}`, status "
             f"`{manifest.provenance.status or 'n/a'}`",
             f"- engines: TensorRT {plan.trt}, {plan.precision}; build with "
             f"`./{SCRIPT_NAME}` on the target", "",
             "| segment | device | groups | layers | inputs | outputs | predicted ms |",
             "|---|---|---|---|---|---|---|"]
    for s in manifest.segments:
        span = "" if s.predicted is None else \
            f"{s.predicted.start_ms:.4f}-{s.predicted.end_ms:.4f}"
        lines.append(f"| `{s.id}` | {s.device} | {s.first_group}-{s.last_group} | "
                     f"`{s.first_layer}`..`{s.last_layer}` | {len(s.inputs)} | "
                     f"{len(s.outputs)} | {span} |")
    lines += ["", "Device order per round: " + "; ".join(
        f"{d}: {' -> '.join(ids) or '(idle)'}" for d, ids in manifest.device_order.items()),
        "", "Files: `manifest.json` (format layerswap-manifest v1), `segments/*.onnx`, "
        f"`{SCRIPT_NAME}`."]
    return "\n".join(lines) + "\n"


__all__ = [
    "DEFAULT_TRT_VERSION",
    "export_schedule",
    "match_onnx",
    "summary_text",
    "table_sha256",
]


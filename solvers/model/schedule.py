"""Schedules, the simulator's timelines, and solver results (immutable values + JSON).

A `Schedule` is the decision: for every job (see `Problem.jobs`) its ordered segments
(a contiguous group range and a device), and for every device the order in which its
segments run within a round. Timing is *not* part of the decision: the simulator derives
it (docs/model.md), so a schedule means the same thing whoever produced it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from solvers.errors import ProblemError
from solvers.model.jsonfields import as_choice, as_int, as_list, as_object, need, show
from solvers.model.problem import Device, Objective, Problem

SCHEDULE_FORMAT = "layerswap.schedule/1"


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


@dataclass(frozen=True, order=True)
class Segment:
    """Groups ``first_group..last_group`` (inclusive) of one job, run on ``device``."""

    first_group: int
    last_group: int
    device: Device

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", Device(self.device))


SegmentRef = tuple[int, int]
"""(job index, segment index within the job)."""


@dataclass(frozen=True)
class Schedule:
    """Per job: its segments in execution order. Per device: the order of its segments.

    ``order`` may be None: the simulator then dispatches ready segments first-come
    first-served (ties by job index) and reports the order it used.
    """

    segments: tuple[tuple[Segment, ...], ...]
    order: Mapping[Device, tuple[SegmentRef, ...]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(tuple(s) for s in self.segments))
        if self.order is not None:
            object.__setattr__(self, "order", {Device(d): tuple((int(j), int(s)) for j, s in refs)
                                               for d, refs in self.order.items()})

    def refs(self) -> list[SegmentRef]:
        return [(j, s) for j, segs in enumerate(self.segments) for s in range(len(segs))]

    def segment(self, ref: SegmentRef) -> Segment:
        return self.segments[ref[0]][ref[1]]

    def transitions(self, job: int) -> int:
        return len(self.segments[job]) - 1

    def validate(self, problem: Problem) -> None:
        """Raise ProblemError if this schedule does not fit ``problem``'s rules. Messages
        name models (``googlenet segment 1``), never job indices."""
        if len(self.segments) != len(problem.jobs):
            raise ProblemError(f"schedule has {len(self.segments)} jobs, problem has "
                               f"{len(problem.jobs)} ({', '.join(j.name for j in problem.jobs)})")
        for job, segs in zip(problem.jobs, self.segments, strict=True):
            n = problem.n_groups(job.index)
            if not segs:
                raise ProblemError(f"{job.name}: no segments")
            expect = 0
            for k, seg in enumerate(segs):
                if seg.first_group != expect or seg.last_group < seg.first_group:
                    raise ProblemError(f"{job.name} segment {k}: groups {seg.first_group}.."
                                       f"{seg.last_group} must start at {expect} and not be "
                                       "empty (segments cover the groups in order)")
                if seg.last_group >= n:
                    raise ProblemError(f"{job.name} segment {k}: groups {seg.first_group}.."
                                       f"{seg.last_group} run past the model's last group "
                                       f"{n - 1} (its table has {n} groups)")
                if seg.device not in problem.devices:
                    raise ProblemError(f"{job.name} segment {k}: device {seg.device} is not on "
                                       f"platform {problem.platform.name}")
                for g in range(seg.first_group, seg.last_group + 1):
                    if seg.device not in problem.allowed(job.index, g):
                        raise ProblemError(f"{job.name} group {g} may not run on {seg.device}")
                if k and segs[k - 1].device == seg.device:
                    raise ProblemError(f"{job.name} segments {k - 1} and {k} are both on "
                                       f"{seg.device}; merge them")
                expect = seg.last_group + 1
            if expect != n:
                raise ProblemError(f"{job.name}: segments end at group {expect - 1}, the model "
                                   f"has {n} groups")
            used = switches(problem, job.index, segs)
            if used > problem.max_transitions:
                hops = len(segs) - 1
                extra = f" ({hops} hops, GPU fallback included)" if hops != used else ""
                raise ProblemError(f"{job.name}: {used} device transitions{extra} exceed "
                                   f"max transitions {problem.max_transitions}")
        if self.order is not None:
            def name(ref: SegmentRef) -> str:
                job, index = ref
                label = problem.jobs[job].name if 0 <= job < len(problem.jobs) else f"job {job}"
                return f"{label} segment {index}"

            want = sorted(self.refs())
            listed = [r for refs in self.order.values() for r in refs]
            extra = sorted({r for r in listed if r not in set(want) or listed.count(r) > 1})
            missing = sorted(set(want) - set(listed))
            if extra or missing:
                parts = ([f"missing {', '.join(map(name, missing))}"] if missing else []) + (
                    [f"unknown or repeated {', '.join(map(name, extra))}"] if extra else [])
                raise ProblemError("device order must list every segment exactly once: "
                                   + "; ".join(parts))
            for dev, refs in self.order.items():
                for ref in refs:
                    if self.segment(ref).device != dev:
                        raise ProblemError(f"{name(ref)} is on {self.segment(ref).device} but "
                                           f"listed in the order of {dev}")

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            "segments": [[{"first_group": s.first_group, "last_group": s.last_group,
                           "device": s.device.value} for s in segs] for segs in self.segments],
            "order": None if self.order is None else
            {d.value: [list(r) for r in refs] for d, refs in self.order.items()},
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "schedule",
                  job_names: Sequence[str] = ()) -> Schedule:
        """Read `to_dict`'s output; a missing or mistyped field is a ProblemError naming
        its path and, given ``job_names``, the model (``schedule.segments[0][1]
        (googlenet segment 1).last_group``)."""
        def label(j: int, k: int | None = None) -> str:
            name = job_names[j] if j < len(job_names) else ""
            seg = "" if k is None else f"[{k}]"
            what = f"{name} segment {k}" if k is not None else name
            return f"{where}.segments[{j}]{seg}" + (f" ({what})" if name else "")

        jobs = []
        for j, job in enumerate(as_list(need(data, "segments", where), f"{where}.segments")):
            segs = []
            for k, item in enumerate(as_list(job, label(j))):
                at = label(j, k)
                first = as_int(need(item, "first_group", at), f"{at}.first_group", minimum=0)
                last = as_int(need(item, "last_group", at), f"{at}.last_group", minimum=0)
                device = as_choice(need(item, "device", at), f"{at}.device",
                                   tuple(d.value for d in Device))
                segs.append(Segment(first, last, Device(device)))
            jobs.append(tuple(segs))
        order = as_object(data, where).get("order")
        if order is None:
            return cls(tuple(jobs), None)
        refs_by_device: dict[Device, tuple[SegmentRef, ...]] = {}
        for dev, refs in as_object(order, f"{where}.order").items():
            at = f"{where}.order.{dev}"
            device = Device(as_choice(dev, f"{where}.order key", tuple(d.value for d in Device)))
            pairs = []
            for i, ref in enumerate(as_list(refs, at)):
                pair = as_list(ref, f"{at}[{i}]")
                if len(pair) != 2:
                    raise ProblemError(f"{at}[{i}]: expected [job, segment], got {show(ref)}")
                pairs.append((as_int(pair[0], f"{at}[{i}][0]", minimum=0),
                              as_int(pair[1], f"{at}[{i}][1]", minimum=0)))
            refs_by_device[device] = tuple(pairs)
        return cls(tuple(jobs), refs_by_device)


def fallback_pieces(problem: Problem, job: int, segments: Sequence[Segment]) -> frozenset[int]:
    """Indices of the job's *fallback pieces* (docs/model.md section 2.1): with GPU fallback
    on, GPU segments made only of refused groups next to a DLA segment (TensorRT runs them
    on the GPU inside the DLA part of the engine). Empty without fallback."""
    if not problem.gpu_fallback(job) or len(segments) < 2:
        return frozenset()
    return frozenset(
        k for k, seg in enumerate(segments)
        if seg.device is Device.GPU
        and all(problem.refused(job, g) for g in range(seg.first_group, seg.last_group + 1)))


def switches(problem: Problem, job: int, segments: Sequence[Segment]) -> int:
    """The job's device switches as `max_transitions` counts them: the hops between its
    segments, less the hops of GPU fallback (model.md 2.1): ``pieces - fallback pieces -
    merges - 1``, a merge being a fallback piece between two runs on the same DLA core."""
    pieces = fallback_pieces(problem, job, segments)
    merges = sum(1 for k in pieces if 0 < k < len(segments) - 1
                 and segments[k - 1].device == segments[k + 1].device)
    return len(segments) - len(pieces) - merges - 1


@dataclass(frozen=True)
class SegmentTiming:
    """When one segment ran in the simulated (steady-state) round."""

    job: int
    index: int
    segment: Segment
    start_ms: float
    end_ms: float
    base_ms: float          # standalone time: sum of its groups' costs on its device kind
    contention_ms: float    # extra time from co-runners: end - start - base
    transition_in_ms: float  # delay paid before it (0 for a job's first segment)


@dataclass(frozen=True)
class Streaming:
    """Throughput as the runtime streams it (docs/model.md 4.2): at most
    ``rounds_in_flight`` rounds in flight, and the latency of each frame under that stream
    (the end of its model's last segment minus the start of its first one, over the
    steady-state rounds simulated)."""

    rounds_in_flight: int | None     # None: unbounded (the solvers' model)
    period_ms: float                 # per frame
    round_period_ms: float
    period_error_ms: float           # bound on |period_ms - long-run value|; 0: periodic
    latency_p50_ms: float
    latency_worst_ms: float
    latency_by_model: Mapping[str, tuple[float, float]]  # model -> (p50, worst) ms
    latency_by_job: tuple[tuple[float, float, float], ...] = ()  # per job: p50, worst, mean

    @property
    def throughput_fps(self) -> float:
        return 1000.0 / self.period_ms

    def to_dict(self) -> dict[str, Any]:
        return {"rounds_in_flight": self.rounds_in_flight, "period_ms": self.period_ms,
                "round_period_ms": self.round_period_ms,
                "period_error_ms": self.period_error_ms,
                "throughput_fps": self.throughput_fps,
                "frame_latency_p50_ms": self.latency_p50_ms,
                "frame_latency_worst_ms": self.latency_worst_ms,
                "frame_latency_by_model": {m: {"p50_ms": a, "worst_ms": b}
                                           for m, (a, b) in self.latency_by_model.items()},
                "frame_latency_by_job": [{"p50_ms": a, "worst_ms": b, "mean_ms": c}
                                         for a, b, c in self.latency_by_job]}


@dataclass(frozen=True)
class Timeline:
    """The simulator's judgement of a schedule."""

    objective: Objective
    objective_ms: float              # makespan (weighted) or period per frame
    makespan_ms: float               # end of the last segment of one round
    period_ms: float | None          # throughput mode: steady-state time per frame
    round_period_ms: float | None    # throughput mode: time per round
    segments: tuple[SegmentTiming, ...]
    order: Mapping[Device, tuple[SegmentRef, ...]]
    busy_ms: Mapping[Device, float]
    job_end_ms: tuple[float, ...]
    loadables: Mapping[Device, int]
    violations: tuple[str, ...] = field(default_factory=tuple)  # missed deadlines
    notes: tuple[str, ...] = field(default_factory=tuple)
    # throughput: bound on |period_ms - the long-run period| (docs/model.md 4.1); 0 when
    # the simulated state repeated (exact up to floating rounding)
    period_error_ms: float | None = None
    streaming: Streaming | None = None  # throughput with the runtime's rounds in flight

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def throughput_fps(self) -> float | None:
        return None if not self.period_ms else 1000.0 / self.period_ms

    def idle_ms(self, device: Device) -> float:
        span = self.round_period_ms if self.round_period_ms else self.makespan_ms
        return max(0.0, span - self.busy_ms.get(device, 0.0))

    def timing(self, job: int, index: int) -> SegmentTiming:
        for t in self.segments:
            if t.job == job and t.index == index:
                return t
        raise KeyError((job, index))


@dataclass(frozen=True)
class Result:
    """What `solve` (or a baseline) returns. ``objective`` and ``lower_bound`` are in ms and
    ``objective`` is the simulator's value for ``schedule``, never the backend's own claim."""

    status: SolveStatus
    solver: str
    schedule: Schedule | None
    timeline: Timeline | None
    objective: float | None
    lower_bound: float | None
    solve_seconds: float
    stats: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.lower_bound is None or self.objective <= 0:
            return None
        return max(0.0, (self.objective - self.lower_bound) / self.objective)


def after_point(problem: Problem, job: int, group: int) -> str:
    """Where a cut after ``group`` sits, in the one convention used everywhere (text, JSON,
    plots): ``layer N`` with N the group's last layer, or ``group G`` when the table names
    no layers."""
    name = problem.table(job).rows[group].last_layer
    return f"layer {name}" if name not in (None, "") else f"group {group}"


TIE_RTOL = 1e-9
"""Objective values within this relative distance are equal for the secondary objective."""


def simplicity(segments: Sequence[Sequence[Segment]]) -> tuple[int, int]:
    """The secondary objective (docs/model.md 5): (transitions, DLA loadables) over all
    jobs; among schedules of equal objective, less is better."""
    return (sum(len(s) - 1 for s in segments),
            sum(1 for s in segments for seg in s if seg.device.kind == "dla"))


def better(value: float, segments: Sequence[Sequence[Segment]], best_value: float,
           best_segments: Sequence[Sequence[Segment]] | None) -> bool:
    """The lexicographic rule every search uses to compare two schedules: a lower
    objective (beyond `TIE_RTOL`), or an equal one with fewer transitions, then fewer
    loadables."""
    if best_segments is None or value < best_value * (1 - TIE_RTOL):
        return value < best_value or best_segments is None
    return (value <= best_value * (1 + TIE_RTOL)
            and simplicity(segments) < simplicity(best_segments))


def transitions(problem: Problem, schedule: Schedule, job: int) -> list[dict[str, Any]]:
    """The device transitions of a job, structured: ``{after_layer, after_group, from, to,
    cost_ms, fallback}`` per cut, in order. ``after_layer`` is the last layer of the group
    before the cut (None when the table names no layers); ``cost_ms`` the table's transition
    cost; ``fallback`` true for a hop into or out of a GPU fallback piece (model.md 2.1)."""
    table = problem.table(job)
    segs = schedule.segments[job]
    pieces = fallback_pieces(problem, job, segs)
    out = []
    for k, (a, b) in enumerate(itertools.pairwise(segs)):
        name = table.rows[a.last_group].last_layer
        out.append({"after_layer": None if name in (None, "") else str(name),
                    "after_group": a.last_group, "from": a.device.value, "to": b.device.value,
                    "cost_ms": _r(problem.transition(job, a.last_group, a.device, b.device)),
                    "fallback": k in pieces or k + 1 in pieces})
    return out


def transition_layers(problem: Problem, schedule: Schedule, job: int) -> list[str]:
    """The cuts of a job as text, ``GPU->DLA0 after layer 38`` (the `transitions` fields in
    words; the same convention as the text rendering)."""
    return [f"{t['from']}->{t['to']} after {after_point(problem, job, t['after_group'])}"
            + (" (GPU fallback)" if t["fallback"] else "")
            for t in transitions(problem, schedule, job)]


def result_to_dict(problem: Problem, result: Result) -> dict[str, Any]:
    """The design.md `--json` contract of `layerswap solve`, plus extra keys."""
    models: list[dict[str, Any]] = []
    tl = result.timeline
    if result.schedule is not None:
        for job, segs in zip(problem.jobs, result.schedule.segments, strict=True):
            entries = []
            pieces = fallback_pieces(problem, job.index, segs)
            for k, seg in enumerate(segs):
                t = tl.timing(job.index, k) if tl is not None else None
                entries.append({
                    "first_group": seg.first_group, "last_group": seg.last_group,
                    "device": seg.device.value,
                    "start_ms": None if t is None else _r(t.start_ms),
                    "end_ms": None if t is None else _r(t.end_ms),
                    "contention_ms": None if t is None else _r(t.contention_ms),
                    "fallback": k in pieces,
                })
            models.append({"name": job.name, "model": problem.models[job.model_index].name,
                           "segments": entries,
                           "gpu_fallback": problem.gpu_fallback(job.index),
                           "switches": switches(problem, job.index, segs),
                           "transitions": transitions(problem, result.schedule, job.index),
                           "transition_layers": transition_layers(problem, result.schedule,
                                                                  job.index)})
    out: dict[str, Any] = {
        "status": result.status.value,
        "objective": _r(result.objective),
        "objective_kind": problem.objective.value,
        "lower_bound": _r(result.lower_bound),
        "gap": _r(result.gap),
        "solve_seconds": _r(result.solve_seconds),
        "solver": result.solver,
        "platform": problem.platform.name,
        "models": models,
        "message": result.message,
        "more_time_may_help": bool(result.stats.get("more_time_may_help", False)),
        "advice": result.stats.get("advice"),
        "warnings": list(problem.warnings),
        "contention": {"model": problem.contention.name,
                       "enabled": problem.contention.enabled,
                       "placeholder": bool(problem.contention.enabled
                                           and problem.contention.placeholders),
                       "placeholders": list(problem.contention.placeholders)},
    }
    if tl is not None:
        out["makespan_ms"] = _r(tl.makespan_ms)
        out["busy_ms"] = {d.value: _r(v) for d, v in tl.busy_ms.items()}
        if tl.period_ms is not None:
            out["period_ms"] = _r(tl.period_ms)
            out["throughput_fps"] = _r(tl.throughput_fps)
            out["period_error_ms"] = _r(tl.period_error_ms)
            if tl.streaming is not None:
                out["streaming"] = {k: _r(v) if isinstance(v, float) else v
                                    for k, v in tl.streaming.to_dict().items()}
    if "tie_break" in result.stats:
        out["tie_break"] = result.stats["tie_break"]
    return out


def _r(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return round(float(x), 9)


def save_schedule_file(path: str, problem: Problem, schedule: Schedule,
                       result: Result | None = None) -> None:
    """Write a self-contained schedule file (problem + schedule [+ result summary])."""
    from profiles.fileio import atomic_write_text

    doc = {"format": SCHEDULE_FORMAT, "problem": problem.to_dict(),
           "schedule": schedule.to_dict()}
    if result is not None:
        doc["result"] = result_to_dict(problem, result)
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def load_schedule_file(path: str) -> tuple[Problem, Schedule]:
    """Read a schedule file written by `save_schedule_file`; any defect (unreadable, not
    JSON, a field missing or mistyped, a segment past the end of its table) is one
    `LayerswapError` whose message starts with the file name."""
    from pathlib import Path

    from profiles.errors import LayerswapError

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read ({exc.strerror})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ProblemError(f"{path}: not a JSON schedule file ({exc}); write one with "
                           "`layerswap solve -o FILE`") from exc
    if not isinstance(doc, dict) or doc.get("format") != SCHEDULE_FORMAT:
        raise ProblemError(f"{path}: not a layerswap schedule file (expected format "
                           f"{SCHEDULE_FORMAT!r}); write one with `layerswap solve -o FILE`")
    try:
        problem = Problem.from_dict(need(doc, "problem", "file"), origin=str(path))
        schedule = Schedule.from_dict(need(doc, "schedule", "file"),
                                      job_names=[j.name for j in problem.jobs])
        schedule.validate(problem)
    except LayerswapError as exc:
        message = str(exc)
        if message.startswith(str(path)):
            raise
        raise ProblemError(f"{path}: {message}") from exc
    return problem, schedule

"""A readable, deterministic text rendering of a schedule and its simulated timeline.

Per job: its segments (group range, device, first/last layer, start/end, contention) and
the transitions named by layer ("GPU -> DLA0 after layer 38"); per device: busy and idle
time and loadables; the objective (makespan, or period and fps in throughput mode).
"""

from __future__ import annotations

from solvers.judges.simulator import simulate
from solvers.model.problem import Objective, Problem
from solvers.model.schedule import (
    Result,
    Schedule,
    Timeline,
    after_point,
    fallback_pieces,
    switches,
)


def _span(problem: Problem, job: int, first: int, last: int) -> str:
    """``layers A..B`` from the table's layer names; ``end`` when the last name is unknown
    on the model's final group; empty when the table names no layers."""
    rows = problem.table(job).rows
    a, b = rows[first].first_layer, rows[last].last_layer
    if a in (None, ""):
        return ""
    if b in (None, ""):
        b = "end" if last == len(rows) - 1 else f"group {last}"
    return f" layers {a}..{b},"


def _message(result: Result) -> str:
    """The backend's message without a leading repeat of the status word."""
    prefix = f"{result.status.value}:"
    text = result.message.strip()
    return text[len(prefix):].strip() if text.lower().startswith(prefix) else text


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f} ms"


def render_text(problem: Problem, what: Result | Timeline | Schedule,
                schedule: Schedule | None = None) -> str:
    """Render a `Result`, a `Schedule` (simulated here) or a `Timeline` with its schedule."""
    header: list[str] = []
    if isinstance(what, Result):
        header.append(f"solver {what.solver}: {what.status.value}"
                      + (f" ({_message(what)})" if what.message else ""))
        if what.schedule is None:
            return "\n".join([*header, "no schedule"]) + "\n"
        schedule = what.schedule
        timeline = what.timeline or simulate(problem, schedule)
        if what.lower_bound is not None:
            gap = "" if what.gap is None else f", gap {what.gap:.2%}"
            header.append(f"lower bound {_ms(what.lower_bound)}{gap}; "
                          f"solve time {what.solve_seconds:.3f} s")
        if what.stats.get("advice"):
            header.append(f"note: {what.stats['advice']}")
    elif isinstance(what, Schedule):
        schedule = what
        timeline = simulate(problem, schedule)
    else:
        if schedule is None:
            raise ValueError("render_text(problem, timeline, schedule): the schedule is needed")
        timeline = what
    lines = [f"platform {problem.platform.name}, objective {problem.objective.value}, "
             f"contention {problem.contention.name}", *header]
    if problem.objective is Objective.THROUGHPUT:
        lines.append(f"period {_ms(timeline.period_ms)} per frame "
                     f"({timeline.throughput_fps or 0:.1f} fps), round "
                     f"{_ms(timeline.round_period_ms)} for {problem.frames_per_round} "
                     f"frame(s); one round spans {_ms(timeline.makespan_ms)}")
        if timeline.period_error_ms:
            lines.append(f"period estimated within {timeline.period_error_ms:.3g} ms of the "
                         "long-run period (phases drift; docs/model.md 4.1)")
        stream = timeline.streaming
        if stream is not None:
            lines.append(f"streaming with {stream.rounds_in_flight} rounds in flight (as the "
                         f"runtime runs it): period {_ms(stream.period_ms)} per frame "
                         f"({stream.throughput_fps:.1f} fps), frame latency p50 "
                         f"{_ms(stream.latency_p50_ms)}, worst {_ms(stream.latency_worst_ms)}")
    else:
        weighted = any(problem.weight(j.index) != 1 for j in problem.jobs)
        lines.append(f"makespan {_ms(timeline.makespan_ms)}"
                     + (f", weighted objective {_ms(timeline.objective_ms)}" if weighted
                        else ""))
    for job in problem.jobs:
        j = job.index
        segs = schedule.segments[j]
        pieces = fallback_pieces(problem, j, segs)
        lines.append("")
        fb = (f" (GPU fallback: {len(pieces)} piece(s) on the GPU inside DLA engines, "
              f"{switches(problem, j, segs)} switch(es))" if problem.gpu_fallback(j) else "")
        lines.append(f"{job.name}: {len(segs)} segment(s){fb}, ends at "
                     f"{_ms(timeline.job_end_ms[j])}"
                     + (f", weight {problem.weight(j):g}" if problem.weight(j) != 1 else "")
                     + (f", deadline {_ms(problem.deadline(j))}"
                        if problem.deadline(j) is not None else ""))
        for k, seg in enumerate(segs):
            t = timeline.timing(j, k)
            if k:
                prev = segs[k - 1]
                hop = "GPU fallback, " if k in pieces or k - 1 in pieces else ""
                lines.append(f"    {prev.device} -> {seg.device} after "
                             f"{after_point(problem, j, prev.last_group)} "
                             f"({hop}transition {_ms(t.transition_in_ms)})")
            where = f"{seg.device} (GPU fallback)" if k in pieces else str(seg.device)
            lines.append(
                f"  [{k}] groups {seg.first_group}-{seg.last_group} on {where}:"
                f"{_span(problem, j, seg.first_group, seg.last_group)} "
                f"{t.start_ms:.4f} -> {t.end_ms:.4f} ms (base {t.base_ms:.4f}, "
                f"contention +{t.contention_ms:.4f})")
    lines.append("")
    for dev in problem.devices:
        order = ", ".join(f"{problem.jobs[a].name}[{b}]" for a, b in timeline.order.get(dev, ()))
        load = f", {timeline.loadables[dev]} loadable(s)" if dev in timeline.loadables else ""
        lines.append(f"{dev}: busy {_ms(timeline.busy_ms.get(dev, 0.0))}, idle "
                     f"{_ms(timeline.idle_ms(dev))}{load}; order: {order or '-'}")
    for v in timeline.violations:
        lines.append(f"VIOLATION: {v}")
    for note in timeline.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"

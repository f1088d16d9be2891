"""Figures of schedules and solver runs: Gantt chart, Pareto front, solve times.

Built with matplotlib's object API (``matplotlib.figure.Figure``, never ``pyplot``) so
that no global figure registry fills up in long notebook sessions or tests, and rendered
with the Agg/SVG backends only. `save_figure` writes every figure twice, as ``.png`` and
``.svg``, each atomically (temp file in the same folder + rename) and byte-for-byte
deterministic (fixed dpi and size, SVG hash salt, no dates or software stamps).

These functions draw what the simulator says (a `Timeline`); they compute nothing about
schedules themselves.
"""

from __future__ import annotations

import io
import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.ticker import NullFormatter

from profiles.fileio import atomic_write_bytes
from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import Schedule, Segment, SegmentTiming, Timeline, fallback_pieces

DPI = 120
"""Fixed resolution of the PNG files (deterministic pixels)."""

SVG_HASH_SALT = "layerswap"
"""Fixed salt for the ids matplotlib writes into SVG files (default: random per run)."""

JOB_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3",
              "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")
"""Colour of job i is ``JOB_COLORS[i % 10]``: deterministic, colour-blind friendly order."""

STATUS_MARKERS = {"optimal": "o", "feasible": "s", "unknown": "x", "infeasible": "v",
                  "unsupported": "d"}

_RC = {
    "svg.hashsalt": SVG_HASH_SALT,
    "svg.fonttype": "path",      # glyphs as paths: no dependency on installed fonts
    "font.family": "DejaVu Sans",  # shipped with matplotlib: same glyphs on every machine
    "path.simplify": True,
    "hatch.linewidth": 0.8,
}


def job_color(job: int) -> str:
    """The colour used for job index ``job`` in every figure."""
    return JOB_COLORS[job % len(JOB_COLORS)]


def _new_figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


# --------------------------------------------------------------------------- Gantt
def plot_gantt(problem: Problem, timeline: Timeline, path: str | os.PathLike[str] | None = None,
               *, title: str | None = None, rounds: int | None = None,
               segment_label: Callable[[int, Segment], str] | None = None) -> Figure:
    """One row per device, one bar per segment of the simulated schedule.

    Latency: the one concurrent inference. Throughput: ``rounds`` consecutive steady-state
    rounds (default 3; `solvers.judges.simulator.simulate_rounds`), later rounds lighter, so the
    pipelining (round r + 1 starting before round r ends) is visible; the first drawn
    round is marked with its round period.

    A bar's solid part is the segment's standalone time; the hatched tail is the extra
    time lost to memory contention (``contention_ms``: the simulator spreads it over the
    run, the chart stacks it at the end so it can be read off). Thin arrows join a job's
    consecutive segments: from the end of one to the moment the next is ready (end plus
    the transition delay); a dotted line continues to its start if it then waits for its
    device. Latency mode marks the makespan; throughput mode marks one period of the
    round. A box is labelled with its job and the layers it holds (as the text report names
    them), or with ``segment_label(job index, segment)`` when given (the medical report names
    the ONNX layers, as its tables do). Each patch carries a gid (``segment:J:K``,
    ``contention:J:K``; in later rounds ``segment:J:K:rN``) so tests and SVG readers can
    find it. A GPU fallback piece (docs/model.md 2.1: refused layers TensorRT runs on the GPU
    inside a DLA engine) is drawn on the GPU lane with a dotted edge and cross-hatch, labelled
    "fallback", and carries the extra gid ``fallback:J:K`` on a marker patch. If ``path`` is
    given the figure is also saved (PNG + SVG).
    """
    devices = list(problem.devices)
    row_of = {d: i for i, d in enumerate(devices)}
    jobs = problem.jobs
    drawn = _rounds_to_draw(problem, timeline, rounds)
    fallback = _fallback_refs(problem, timeline)
    everything = [t for rnd in drawn for t in rnd]
    span_end = max((t.end_ms for t in everything), default=0.0)
    span_start = min((t.start_ms for t in everything), default=0.0)
    width = 10.0 if len(drawn) == 1 else 12.0
    fig = _new_figure(width, 1.3 + 0.75 * len(devices))
    with matplotlib.rc_context(_RC):
        ax = fig.add_subplot()
        bar_h = 0.6
        span = max(span_end - span_start, 1e-9)
        for r, segments in enumerate(drawn):
            suffix = f":r{r}" if r else ""
            alpha = 1.0 if r == 0 else max(0.3, 0.75 - 0.25 * (r - 1))
            for t in sorted(segments, key=lambda s: (s.job, s.index)):
                short = (segment_label(t.job, t.segment) if segment_label is not None
                         else _box_label(problem, t))
                _draw_segment(ax, t, row_of[t.segment.device], bar_h, alpha, suffix,
                              jobs[t.job].name, span, short,
                              label_round=r if len(drawn) > 1 else None,
                              fallback=(t.job, t.index) in fallback)
            _draw_transitions(ax, segments, row_of, bar_h, suffix, alpha)
        _mark_span(ax, problem, timeline, span_start)
        ax.set_yticks(range(len(devices)))
        ax.set_yticklabels([f"{d.value}\nbusy {timeline.busy_ms.get(d, 0.0):.3f} ms"
                            for d in devices], fontsize=8)
        ax.set_ylim(len(devices) - 0.4, -0.8)
        right = span_end
        if timeline.round_period_ms:
            right = max(right, span_start + timeline.round_period_ms)
        pad = 0.02 * max(right - span_start, 1e-9)
        ax.set_xlim(span_start - pad, right + 3 * pad)
        ax.set_xlabel("time (ms)")
        ax.grid(axis="x", linewidth=0.3, alpha=0.6)
        ax.set_title(title or _gantt_title(problem, timeline, len(drawn)), fontsize=10)
        handles: list[Any] = [Patch(facecolor=job_color(j.index), edgecolor="black",
                                    label=j.name) for j in jobs]
        if len(drawn) > 1:
            handles.append(Patch(facecolor="#B0B0B0", edgecolor="black", alpha=0.5,
                                 label="later rounds"))
        if any(t.contention_ms > 0 for t in everything):  # no key for what is not drawn
            handles.append(Patch(facecolor="white", edgecolor="black", hatch="////",
                                 label="contention"))
        handles.append(Line2D([0], [0], color="black", linewidth=0.8, label="transition"))
        if fallback:
            handles.append(Patch(facecolor="#D0D0D0", edgecolor="black", hatch="xx",
                                 linestyle=":", label="GPU fallback\n(in a DLA engine)"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7,
                  frameon=False)
    if path is not None:
        save_figure(fig, path)
    return fig


GANTT_ROUNDS = 3
"""Consecutive steady-state rounds a throughput Gantt chart draws by default."""


def _rounds_to_draw(problem: Problem, timeline: Timeline, rounds: int | None
                    ) -> list[tuple[SegmentTiming, ...]]:
    """The timeline's own round (latency, or ``rounds=1``), else the last ``rounds``
    steady-state rounds re-simulated from the timeline's segments and device order."""
    if problem.objective is not Objective.THROUGHPUT:
        return [tuple(timeline.segments)]
    n = GANTT_ROUNDS if rounds is None else rounds
    if n <= 1:
        return [tuple(timeline.segments)]
    from solvers.judges.simulator import simulate_rounds

    per_job: dict[int, list[SegmentTiming]] = {}
    for t in timeline.segments:
        per_job.setdefault(t.job, []).append(t)
    schedule = Schedule(tuple(tuple(t.segment for t in sorted(per_job[j], key=lambda x: x.index))
                              for j in range(len(problem.jobs))), dict(timeline.order))
    return list(simulate_rounds(problem, schedule, n))


def _fallback_refs(problem: Problem, timeline: Timeline) -> set[tuple[int, int]]:
    """(job, segment index) of the GPU fallback pieces (`schedule.fallback_pieces`)."""
    per_job: dict[int, list[SegmentTiming]] = {}
    for t in timeline.segments:
        per_job.setdefault(t.job, []).append(t)
    out = set()
    for j, items in per_job.items():
        segs = [t.segment for t in sorted(items, key=lambda x: x.index)]
        out.update((j, k) for k in fallback_pieces(problem, j, segs))
    return out


def _draw_segment(ax: Any, t: SegmentTiming, y: int, bar_h: float, alpha: float, suffix: str,
                  job_name: str, span: float, short: str, *, label_round: int | None,
                  fallback: bool = False) -> None:
    color = job_color(t.job)
    solid = max(t.end_ms - t.start_ms - t.contention_ms, 0.0)
    bar = Rectangle((t.start_ms, y - bar_h / 2), solid, bar_h, facecolor=color,
                    edgecolor="black", linewidth=0.6, alpha=alpha,
                    linestyle=":" if fallback else "-", hatch="xx" if fallback else None)
    bar.set_gid(f"segment:{t.job}:{t.index}{suffix}")
    ax.add_patch(bar)
    if fallback:
        marker = Rectangle((t.start_ms, y - bar_h / 2), solid, bar_h, fill=False,
                           linewidth=0, alpha=alpha)
        marker.set_gid(f"fallback:{t.job}:{t.index}{suffix}")
        ax.add_patch(marker)
    if t.contention_ms > 0:
        extra = Rectangle((t.start_ms + solid, y - bar_h / 2), t.contention_ms, bar_h,
                          facecolor="white", edgecolor=color, hatch="////", linewidth=0.6,
                          alpha=alpha)
        extra.set_gid(f"contention:{t.job}:{t.index}{suffix}")
        ax.add_patch(extra)
    frac = (t.end_ms - t.start_ms) / span
    if fallback:
        short = f"fallback {short}"
    if label_round is not None:
        short = f"{short} r{label_round}"
    ax.text(t.start_ms + (t.end_ms - t.start_ms) / 2, y,
            f"{job_name}\n{short}" if frac > 0.09 else short,
            ha="center", va="center", fontsize=7 if frac > 0.09 else 6,
            color="white" if frac > 0.09 and alpha >= 0.7 else "black", clip_on=True,
            rotation=0 if frac > 0.04 else 90)


def _box_label(problem: Problem, t: SegmentTiming) -> str:
    """What a box holds, named as the text report names it (`solvers.model.render`): ``layers
    A..B`` from the table's layer names, else ``groups A-B`` (``group A``)."""
    from solvers.model.render import _span  # the text report's own wording, not a second one

    first, last = t.segment.first_group, t.segment.last_group
    layers = _span(problem, t.job, first, last).strip(" ,")
    if layers:
        return layers
    return f"group {first}" if first == last else f"groups {first}-{last}"


def _draw_transitions(ax: Any, segments: Iterable[SegmentTiming],
                      row_of: Mapping[Device, int], bar_h: float, suffix: str = "",
                      alpha: float = 1.0) -> None:
    by_job: dict[int, list[Any]] = {}
    for t in segments:
        by_job.setdefault(t.job, []).append(t)
    for job in sorted(by_job):
        segs = sorted(by_job[job], key=lambda s: s.index)
        for prev, nxt in itertools.pairwise(segs):
            y0, y1 = row_of[prev.segment.device], row_of[nxt.segment.device]
            ready = prev.end_ms + nxt.transition_in_ms
            offset = bar_h / 2 if y1 > y0 else -bar_h / 2
            arrow = FancyArrowPatch((prev.end_ms, y0 + offset), (ready, y1 - offset),
                                    arrowstyle="-|>", mutation_scale=7, linewidth=0.8,
                                    color=job_color(job), shrinkA=0, shrinkB=0, alpha=alpha)
            arrow.set_gid(f"transition:{job}:{nxt.index}{suffix}")
            ax.add_patch(arrow)
            if nxt.start_ms > ready + 1e-12:
                ax.plot([ready, nxt.start_ms], [y1 - offset, y1 - offset], linestyle=":",
                        linewidth=0.8, color=job_color(job), alpha=alpha)


def _mark_span(ax: Any, problem: Problem, timeline: Timeline, span_start: float) -> None:
    if problem.objective is Objective.THROUGHPUT and timeline.round_period_ms:
        end = span_start + timeline.round_period_ms
        for x in (span_start, end):
            ax.axvline(x, color="black", linestyle="--", linewidth=0.8)
        ax.annotate("", xy=(end, -0.5), xytext=(span_start, -0.5),
                    arrowprops={"arrowstyle": "<->", "linewidth": 0.8})
        ax.text((span_start + end) / 2, -0.52, f"round period {timeline.round_period_ms:.3f} ms",
                ha="center", va="bottom", fontsize=7)
    else:
        ax.axvline(timeline.makespan_ms, color="black", linestyle="--", linewidth=0.8)
        ax.text(timeline.makespan_ms, -0.52, f"makespan {timeline.makespan_ms:.3f} ms ",
                ha="right", va="bottom", fontsize=7)


def _gantt_title(problem: Problem, timeline: Timeline, rounds: int = 1) -> str:
    names = " + ".join(m.name for m in problem.models)
    if problem.objective is Objective.THROUGHPUT and timeline.period_ms:
        head = (f"period {timeline.period_ms:.3f} ms/frame "
                f"({timeline.throughput_fps:.1f} fps, {problem.frames_per_round} frame(s)/round"
                + (f"; {rounds} consecutive rounds" if rounds > 1 else "") + ")")
    else:
        head = f"makespan {timeline.makespan_ms:.3f} ms"
    switches = problem.max_transitions
    extra = (f", memory contention x{problem.contention.strength:g}"
             if problem.contention.enabled else ", no memory contention")
    return (f"{names} on {problem.platform.name}: {head} "
            f"(at most {switches} device switch{'' if switches == 1 else 'es'} per model"
            f"{extra})")


# --------------------------------------------------------------------------- Pareto
def pareto_mask(xs: Sequence[float], ys: Sequence[float]) -> list[bool]:
    """True for points no other point beats: lower-or-equal x *and* higher-or-equal y with
    one strictly better (x: latency, lower is better; y: throughput, higher is better).
    NaN points are never on the front."""
    out = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if not (_finite(x) and _finite(y)):
            out.append(False)
            continue
        dominated = any(
            _finite(x2) and _finite(y2) and x2 <= x and y2 >= y and (x2 < x or y2 > y)
            for k, (x2, y2) in enumerate(zip(xs, ys, strict=True)) if k != i)
        out.append(not dominated)
    return out


def _finite(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _records(data: Any) -> list[dict[str, Any]]:
    """Rows of a pandas DataFrame or an iterable of mappings, as plain dicts."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        return [dict(r) for r in data.to_dict(orient="records")]
    return [dict(r) for r in data]


def plot_pareto(points: Any, path: str | os.PathLike[str] | None = None, *,
                title: str | None = None) -> Figure:
    """Latency (x, ms) against throughput (y, fps) over max transitions values T.

    ``points``: a DataFrame (e.g. `optimizer.api.sweep_max_transitions`) or mappings with
    ``max_transitions``, ``latency_ms`` and ``throughput_fps`` (or ``period_ms``, converted
    to fps). Every point is labelled ``T=k``; the non-dominated ones are joined and
    highlighted.
    """
    rows = _records(points)
    for r in rows:
        if not _finite(r.get("throughput_fps")) and _finite(r.get("period_ms")) \
                and r["period_ms"] > 0:
            r["throughput_fps"] = 1000.0 / r["period_ms"]
        for key in ("max_transitions", "latency_ms", "throughput_fps"):
            if key not in r:
                raise ValueError(f"plot_pareto: point {r} lacks {key!r} (give max_transitions, "
                                 "latency_ms and throughput_fps or period_ms)")
    xs = [r["latency_ms"] for r in rows]
    ys = [r["throughput_fps"] for r in rows]
    front = pareto_mask(xs, ys)
    fig = _new_figure(6.0, 4.2)
    with matplotlib.rc_context(_RC):
        ax = fig.add_subplot()
        ok = [i for i in range(len(rows)) if _finite(xs[i]) and _finite(ys[i])]
        off = [i for i in ok if not front[i]]
        on = sorted((i for i in ok if front[i]), key=lambda i: (xs[i], ys[i]))
        ax.scatter([xs[i] for i in off], [ys[i] for i in off], s=30, color="#8C8C8C",
                   zorder=2, label="dominated", gid="pareto-dominated")
        ax.plot([xs[i] for i in on], [ys[i] for i in on], marker="o", markersize=7,
                color="#C44E52", linewidth=1.2, zorder=3, label="Pareto front",
                gid="pareto-front")
        same: dict[tuple[float, float], list[int]] = {}
        for i in ok:  # T values with the same optimum share one label: "T=2,3"
            same.setdefault((xs[i], ys[i]), []).append(int(rows[i]["max_transitions"]))
        for (x, y), values in sorted(same.items()):
            ax.annotate("T=" + ",".join(str(b) for b in sorted(values)), (x, y),
                        textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set_xlabel("latency: makespan of one concurrent inference (ms)")
        ax.set_ylabel("throughput (frames/s)")
        ax.grid(linewidth=0.3, alpha=0.6)
        ax.margins(0.15)
        ax.legend(fontsize=8, frameon=False)
        ax.set_title(title or "latency vs throughput over max transitions T", fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


# --------------------------------------------------------------------------- solve times
def plot_solve_times(records: Any, path: str | os.PathLike[str] | None = None, *,
                     title: str | None = None) -> Figure:
    """Solve seconds (log scale) against groups per model, one line per series.

    ``records``: a DataFrame or mappings (e.g. ``benchmarks/results/solvers.json``) with
    ``groups``, ``solve_seconds`` and ``solver``. A series is one solver on one kind of
    case: ``series`` when given, else the solver plus whichever of ``objective_kind``,
    ``models`` and ``contention`` the records carry, else the solver plus ``case``.
    Markers give the ``status`` (o optimal, s feasible, x unknown, v infeasible, d
    unsupported). Records whose ``groups`` is not a number (the published pair is
    recorded as ``"published"``) are left out and counted in the title.
    """
    rows = _records(records)
    for r in rows:
        for key in ("groups", "solve_seconds", "solver"):
            if key not in r:
                raise ValueError(f"plot_solve_times: record {r} lacks {key!r}")
    usable = [r for r in rows if _finite(r["groups"]) and _finite(r["solve_seconds"])]
    series: dict[str, list[dict[str, Any]]] = {}
    for r in usable:
        series.setdefault(_series_name(r), []).append(r)
    fig = _new_figure(7.0, 4.4)
    with matplotlib.rc_context(_RC):
        ax = fig.add_subplot()
        for k, name in enumerate(sorted(series)):
            pts = sorted(series[name], key=lambda r: (r["groups"], r["solve_seconds"]))
            color = JOB_COLORS[k % len(JOB_COLORS)]
            ax.plot([p["groups"] for p in pts], [max(p["solve_seconds"], 1e-4) for p in pts],
                    color=color, linewidth=1.0, label=name, gid=f"solve-times:{name}")
            for p in pts:
                status = str(p.get("status", "optimal"))
                ax.scatter([p["groups"]], [max(p["solve_seconds"], 1e-4)],
                           marker=STATUS_MARKERS.get(status, "o"), color=color, s=28, zorder=3)
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels clutter
        ax.set_xlabel("groups per model")
        ax.set_ylabel("solve time (s, log scale)")
        ax.grid(which="both", linewidth=0.3, alpha=0.6)
        handles: list[Any] = list(ax.get_legend_handles_labels()[0])
        seen = sorted({str(r.get("status", "optimal")) for r in usable})
        handles += [Line2D([0], [0], marker=STATUS_MARKERS.get(s, "o"), linestyle="",
                           color="black", label=s) for s in seen]
        ax.legend(handles=handles, fontsize=7, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.0, 1.0))
        left_out = len(rows) - len(usable)
        note = f" ({left_out} record(s) without a group count left out)" if left_out else ""
        ax.set_title((title or "solve time against problem size") + note, fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def _series_name(r: Mapping[str, Any]) -> str:
    if r.get("series"):
        return str(r["series"])
    parts = [str(r["solver"])]
    if r.get("objective_kind"):
        parts.append(str(r["objective_kind"]))
    if r.get("models") not in (None, ""):
        parts.append(f"{r['models']} models")
    if r.get("contention"):
        parts.append("contention")
    if len(parts) == 1 and r.get("case"):
        parts.append(str(r["case"]))
    return ", ".join(parts)


# --------------------------------------------------------------------------- files
def figure_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The two files `save_figure` writes for ``path``: ``<stem>.png`` and ``<stem>.svg``
    (``path``'s suffix, if .png/.svg, is dropped)."""
    target = Path(path)
    if target.suffix.lower() in (".png", ".svg"):
        target = target.with_suffix("")
    return target.with_name(f"{target.name}.png"), target.with_name(f"{target.name}.svg")


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``fig`` to `figure_paths` (``path``) and return both paths. Each file is
    rendered to a temp file in the same folder and renamed into place, and is
    byte-identical across runs."""
    out = []
    for target, (fmt, metadata) in zip(figure_paths(path),
                                       (("png", {"Software": None}),
                                        ("svg", {"Date": None, "Creator": None})),
                                       strict=True):
        buffer = io.BytesIO()
        with matplotlib.rc_context(_RC):
            fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
        out.append(atomic_write_bytes(target, buffer.getvalue()))
    return out[0], out[1]


def artists_with_gid(fig: Figure, prefix: str) -> Iterable[Any]:
    """Artists of ``fig`` whose gid starts with ``prefix`` (for tests and inspection)."""
    for ax in fig.axes:
        for artist in ax.get_children():
            gid = artist.get_gid()
            if gid and gid.startswith(prefix):
                yield artist


__all__ = ["DPI", "JOB_COLORS", "artists_with_gid", "job_color", "pareto_mask", "plot_gantt",
           "plot_pareto", "plot_solve_times", "save_figure"]

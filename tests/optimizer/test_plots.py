"""Figures: files written (PNG + SVG, atomic, deterministic) and what the Axes show."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from optimizer.plots import (
    artists_with_gid,
    pareto_mask,
    plot_gantt,
    plot_pareto,
    plot_solve_times,
    save_figure,
)
from profiles import load_published
from profiles.synthetic import synthetic_table
from solvers.judges.simulator import simulate
from solvers.model.problem import Device, Problem
from solvers.model.render import render_text
from solvers.model.schedule import Schedule, Segment, Timeline

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _published(objective: str = "latency", frames: int = 1) -> Problem:
    return Problem.create([load_published("googlenet_xavier"), load_published("alexnet_xavier")],
                          "xavier-agx", objective=objective, contention="none",
                          frames_per_round=frames)


def _split_schedule(problem: Problem) -> Schedule:
    """GoogleNet GPU -> DLA0, AlexNet DLA1 -> GPU -> DLA0 (4 transitions in total)."""
    n0, n1 = problem.n_groups(0), problem.n_groups(1)
    return Schedule((
        (Segment(0, 4, Device.GPU), Segment(5, n0 - 1, Device.DLA0)),
        (Segment(0, 2, Device.DLA1), Segment(3, 5, Device.GPU), Segment(6, n1 - 1, Device.DLA0)),
    ))


def _contention_problem() -> Problem:
    tables = [synthetic_table(6, seed=1, model="a"), synthetic_table(6, seed=2, model="b")]
    return Problem.create(tables, "xavier-agx", contention="preset")


def _concurrent_schedule(problem: Problem) -> Schedule:
    """Both models start at once on different devices, so contention must show."""
    return Schedule((
        (Segment(0, 2, Device.GPU), Segment(3, 5, Device.DLA0)),
        (Segment(0, 2, Device.DLA1), Segment(3, 5, Device.GPU)),
    ))


def _gantt(problem: Problem, timeline: Timeline) -> Figure:
    return plot_gantt(problem, timeline)


# ---------------------------------------------------------------------- Gantt content
def test_gantt_one_row_per_device_and_one_bar_per_segment() -> None:
    problem = _published()
    timeline = simulate(problem, _split_schedule(problem))
    fig = _gantt(problem, timeline)
    (ax,) = fig.axes
    labels = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
    assert labels == [d.value for d in problem.devices]
    bars = {a.get_gid(): a for a in artists_with_gid(fig, "segment:")}
    assert set(bars) == {f"segment:{t.job}:{t.index}" for t in timeline.segments}
    rows = {d: i for i, d in enumerate(problem.devices)}
    for t in timeline.segments:
        bar = bars[f"segment:{t.job}:{t.index}"]
        assert bar.get_x() == pytest.approx(t.start_ms)
        assert bar.get_width() == pytest.approx(t.end_ms - t.start_ms - t.contention_ms)
        assert bar.get_y() + bar.get_height() / 2 == pytest.approx(rows[t.segment.device])
    # no contention in this problem: no hatched tails
    assert not list(artists_with_gid(fig, "contention:"))
    # one transition arrow per switch (1 + 2)
    arrows = sorted(a.get_gid() for a in artists_with_gid(fig, "transition:"))
    assert arrows == ["transition:0:1", "transition:1:1", "transition:1:2"]
    # labels name the job and its layers as the text report does (before: "g0-4")
    texts = {t.get_text() for t in ax.texts}
    report = render_text(problem, _split_schedule(problem))
    for seg in timeline.segments:
        job = problem.jobs[seg.job].name
        span = re.search(rf"\[{seg.index}\] groups {seg.segment.first_group}-"
                         rf"{seg.segment.last_group} on \w+: (layers \S+),",
                         report.split(f"{job}:", 1)[1]).group(1)
        assert f"{job}\n{span}" in texts or span in texts, (span, texts)
    assert "googlenet\nlayers 0..65" in texts and not any("\ng" in x for x in texts)
    # no contention in this problem: the legend has no key for it
    legend = [x.get_text() for x in ax.get_legend().get_texts()]
    assert "contention" not in legend and "transition" in legend
    title = ax.get_title()
    assert "T<=" not in title
    assert "at most 2 device switches per model" in title and "no memory contention" in title
    # the makespan is marked
    assert any("makespan" in t.get_text() for t in ax.texts)


def test_gantt_boxes_take_the_callers_layer_names() -> None:
    problem = _published()
    timeline = simulate(problem, _split_schedule(problem))
    seen: list[tuple[int, int, int]] = []

    def label(job: int, segment: Segment) -> str:
        seen.append((job, segment.first_group, segment.last_group))
        return f"L{segment.first_group * 10}-{segment.last_group * 10 + 9} j{job}"

    (ax,) = plot_gantt(problem, timeline, segment_label=label).axes
    texts = {t.get_text() for t in ax.texts}
    assert "googlenet\nL0-49 j0" in texts and "alexnet\nL30-59 j1" in texts
    assert sorted(seen) == sorted((t.job, t.segment.first_group, t.segment.last_group)
                                  for t in timeline.segments)
    assert not any("\ng0-4" in t for t in texts)


def test_gantt_same_job_keeps_its_colour() -> None:
    problem = _published()
    fig = _gantt(problem, simulate(problem, _split_schedule(problem)))
    bars = list(artists_with_gid(fig, "segment:"))
    by_job: dict[str, set[tuple[float, ...]]] = {}
    for b in bars:
        by_job.setdefault(b.get_gid().split(":")[1], set()).add(tuple(b.get_facecolor()))
    assert all(len(c) == 1 for c in by_job.values())
    assert by_job["0"] != by_job["1"]


def test_gantt_shows_contention_tails_when_contention_slows_segments() -> None:
    problem = _contention_problem()
    timeline = simulate(problem, _concurrent_schedule(problem))
    slowed = {(t.job, t.index): t for t in timeline.segments if t.contention_ms > 1e-12}
    assert slowed, "test setup: this schedule must overlap segments under contention"
    fig = _gantt(problem, timeline)
    tails = {a.get_gid(): a for a in artists_with_gid(fig, "contention:")}
    assert set(tails) == {f"contention:{j}:{k}" for j, k in slowed}
    for (j, k), t in slowed.items():
        tail = tails[f"contention:{j}:{k}"]
        assert tail.get_hatch()
        assert tail.get_width() == pytest.approx(t.contention_ms)
        assert tail.get_x() + tail.get_width() == pytest.approx(t.end_ms)
    assert "memory contention x1" in fig.axes[0].get_title()
    assert "contention" in [x.get_text() for x in fig.axes[0].get_legend().get_texts()]


def test_gantt_throughput_marks_the_round_period() -> None:
    problem = _published("throughput")
    timeline = simulate(problem, _split_schedule(problem))
    assert timeline.round_period_ms
    fig = _gantt(problem, timeline)
    (ax,) = fig.axes
    start = min(t.start_ms for t in timeline.segments)
    vlines = sorted(line.get_xdata()[0] for line in ax.get_lines()
                    if line.get_linestyle() == "--")
    assert vlines == pytest.approx([start, start + timeline.round_period_ms])
    assert any("round period" in t.get_text() for t in ax.texts)
    assert "ms/frame" in ax.get_title()


def test_gantt_throughput_draws_consecutive_rounds_so_pipelining_shows() -> None:
    """Issue 11: one round hid the pipelining. Three consecutive steady-state rounds are
    drawn as the simulator ran them (the last is the round `simulate` reports), and
    round r + 1 starts before round r ends."""
    from solvers.judges.simulator import simulate_rounds

    problem = _published("throughput")
    schedule = _split_schedule(problem)
    timeline = simulate(problem, schedule)
    fig = _gantt(problem, timeline)
    bars = {a.get_gid(): a for a in artists_with_gid(fig, "segment:")}
    schedule = Schedule(schedule.segments, timeline.order)
    rounds = simulate_rounds(problem, schedule, 3)
    assert len(rounds) == 3
    for r, timings in enumerate(rounds):
        for t in timings:
            bar = bars[f"segment:{t.job}:{t.index}" + (f":r{r}" if r else "")]
            assert bar.get_x() == pytest.approx(t.start_ms)
    # the last drawn round is the reported one, up to the shift to 0
    last = sorted((t.job, t.index, t.start_ms - rounds[2][0].start_ms) for t in rounds[2])
    reported = sorted((t.job, t.index, t.start_ms - timeline.segments[0].start_ms)
                      for t in timeline.segments)
    assert [x[:2] for x in last] == [x[:2] for x in reported]
    assert [x[2] for x in last] == pytest.approx([x[2] for x in reported])
    round0_end = max(t.end_ms for t in rounds[0])
    round1_start = min(t.start_ms for t in rounds[1])
    assert round1_start < round0_end  # pipelined: the next round starts before this ends
    assert "3 consecutive rounds" in fig.axes[0].get_title()
    one = plot_gantt(problem, timeline, rounds=1)
    assert not [a for a in artists_with_gid(one, "segment:") if ":r" in a.get_gid()]


# ---------------------------------------------------------------------- files
def test_save_figure_writes_png_and_svg_atomically(tmp_path: Path) -> None:
    problem = _published()
    fig = _gantt(problem, simulate(problem, _split_schedule(problem)))
    png, svg = save_figure(fig, tmp_path / "sub" / "gantt.png")
    assert (png.name, svg.name) == ("gantt.png", "gantt.svg")
    assert png.read_bytes().startswith(PNG_MAGIC)
    root = ET.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg")
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["gantt.png", "gantt.svg"]
    # no suffix given: the stem is used as is
    png2, svg2 = save_figure(fig, tmp_path / "other")
    assert png2.exists() and svg2.exists() and png2.stat().st_size > 1000


def test_figures_are_byte_identical_across_runs(tmp_path: Path) -> None:
    problem = _contention_problem()
    schedule = _concurrent_schedule(problem)
    outs = []
    for run in ("a", "b"):
        fig = plot_gantt(problem, simulate(problem, schedule))
        outs.append(save_figure(fig, tmp_path / run / "g"))
    for first, second in zip(outs[0], outs[1], strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name
    svg = outs[0][1].read_text()
    assert "<dc:date>" not in svg


def test_plots_do_not_use_pyplot() -> None:
    """The object API only: no global figure registry that would fill up in notebooks."""
    code = ("import sys; from optimizer import plots, api; "
            "plots.plot_pareto([{'max_transitions': 0, 'latency_ms': 2.0, "
            "'throughput_fps': 300.0}]); "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------- Pareto
def test_pareto_mask() -> None:
    xs = [3.5, 2.47, 2.47, 2.47, float("nan")]
    ys = [285.0, 518.0, 552.0, 552.0, 900.0]
    assert pareto_mask(xs, ys) == [False, False, True, True, False]
    assert pareto_mask([1.0, 2.0], [1.0, 2.0]) == [True, True]  # a genuine trade-off


def test_plot_pareto_highlights_the_front_and_labels_budgets(tmp_path: Path) -> None:
    points = [
        {"max_transitions": 0, "latency_ms": 3.5, "period_ms": 3.5},
        {"max_transitions": 1, "latency_ms": 2.47, "throughput_fps": 518.0},
        {"max_transitions": 2, "latency_ms": 2.47, "throughput_fps": 552.0},
        {"max_transitions": 3, "latency_ms": 2.47, "throughput_fps": 552.0},
        {"max_transitions": 4, "latency_ms": 2.0, "throughput_fps": 400.0},
    ]
    fig = plot_pareto(points, tmp_path / "p.png")
    (ax,) = fig.axes
    (front,) = list(artists_with_gid(fig, "pareto-front"))
    assert list(front.get_xdata()) == [2.0, 2.47, 2.47]
    assert list(front.get_ydata()) == [400.0, 552.0, 552.0]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["T=0", "T=1", "T=2,3", "T=4"]
    assert (tmp_path / "p.png").exists() and (tmp_path / "p.svg").exists()
    with pytest.raises(ValueError, match="latency_ms"):
        plot_pareto([{"max_transitions": 0, "throughput_fps": 1.0}])


# ---------------------------------------------------------------------- solve times
def test_plot_solve_times_series_log_scale_and_left_out_records() -> None:
    records = [
        {"case": "latency-2x10", "models": 2, "groups": 10, "objective_kind": "latency",
         "solver": "cpsat", "status": "optimal", "solve_seconds": 0.2},
        {"case": "latency-2x20", "models": 2, "groups": 20, "objective_kind": "latency",
         "solver": "cpsat", "status": "optimal", "solve_seconds": 0.9},
        {"case": "latency-2x20", "models": 2, "groups": 20, "objective_kind": "latency",
         "solver": "ilp", "status": "feasible", "solve_seconds": 10.0},
        {"case": "latency-googlenet+alexnet", "models": 2, "groups": "published",
         "objective_kind": "latency", "solver": "cpsat", "status": "optimal",
         "solve_seconds": 0.1},
    ]
    fig = plot_solve_times(records)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = {a.get_gid(): a for a in artists_with_gid(fig, "solve-times:")}
    assert set(lines) == {"solve-times:cpsat, latency, 2 models",
                          "solve-times:ilp, latency, 2 models"}
    assert list(lines["solve-times:cpsat, latency, 2 models"].get_xdata()) == [10, 20]
    assert "1 record(s)" in ax.get_title()
    with pytest.raises(ValueError, match="solve_seconds"):
        plot_solve_times([{"groups": 1, "solver": "cpsat"}])

"""CP-SAT backend specifics: eligibility, loadables, symmetry, weights, contention timing."""

from __future__ import annotations

import pytest

from profiles.synthetic import synthetic_table
from solvers.backend import SolveOptions
from solvers.cpsat import solve_cpsat
from solvers.problem import Device, Pin, Problem
from solvers.schedule import SolveStatus
from solvers.simulator import simulate
from solvers.solve import solve


def two(groups: int = 8, **kw: object) -> Problem:
    tables = [synthetic_table(groups, 11, model="a", ineligible_fraction=0.3),
              synthetic_table(groups, 12, model="b", ineligible_fraction=0.3)]
    kw.setdefault("contention", "none")
    return Problem.create(tables, "xavier-agx", **kw)  # type: ignore[arg-type]


def test_segments_respect_eligibility_and_pins() -> None:
    problem = two(pins=[Pin.forbid("a", 0, 3, [Device.DLA0])])
    result = solve(problem, time_limit=30)
    assert result.status is SolveStatus.OPTIMAL
    result.schedule.validate(problem)  # raises on an ineligible group or a bad device
    for seg in result.schedule.segments[0]:
        if seg.device is Device.DLA0:
            assert seg.first_group > 3


def test_loadable_limit_counts_dla_segments_per_core() -> None:
    problem = two(groups=10, max_transitions=4, loadable_limit=1)
    result = solve(problem, time_limit=30)
    assert result.status is SolveStatus.OPTIMAL
    for core in (Device.DLA0, Device.DLA1):
        assert sum(s.device is core for segs in result.schedule.segments for s in segs) <= 1
    loose = solve(two(groups=10, max_transitions=4), time_limit=30)
    assert loose.objective <= result.objective + 1e-9


def test_first_dla_segment_is_on_dla0() -> None:
    result = solve(two(), time_limit=30)
    dla = [s.device for segs in result.schedule.segments for s in segs if s.device.kind == "dla"]
    assert dla and dla[0] is Device.DLA0


def test_weights_scale_the_objective() -> None:
    plain = solve(two(), time_limit=30)
    weighted = solve(two(weights={"a": 2.5}), time_limit=30)
    assert weighted.status is SolveStatus.OPTIMAL
    tl = simulate(two(weights={"a": 2.5}), weighted.schedule)
    assert weighted.objective == pytest.approx(max(2.5 * tl.job_end_ms[0], tl.job_end_ms[1]))
    assert weighted.objective >= plain.objective - 1e-9


def test_contention_timing_matches_simulator_segment_by_segment() -> None:
    problem = two(groups=5, contention="auto", max_transitions=1)
    answer = solve_cpsat(problem, SolveOptions(time_limit=60))
    assert answer.status is SolveStatus.OPTIMAL
    timeline = simulate(problem, answer.schedule)
    unit_ms = answer.stats["time_unit_ps"] * 1e-9  # contention: 100 ps units
    tol_ms = answer.stats["objective_tolerance_ms"]
    assert timeline.objective_ms > 0
    for t in timeline.segments:
        start_ms = answer.stats["start_units"][f"{t.job},{t.index}"] * unit_ms
        assert abs(start_ms - t.start_ms) <= tol_ms
    # the backend's own objective agrees with the simulator's to 1e-6 relative plus its
    # declared rounding bound (a few ns; docs/model.md section 6)
    assert abs(answer.objective_ms - timeline.objective_ms) <= (
        1e-6 * timeline.objective_ms + tol_ms)


def test_throughput_with_contention_improves_on_the_contention_free_placement() -> None:
    problem = two(groups=5, contention="auto", objective="throughput", max_transitions=1)
    result = solve(problem, time_limit=30)
    assert result.status is SolveStatus.FEASIBLE
    assert "contention" in result.message and "local search" in result.message
    assert result.lower_bound <= result.objective
    search = result.stats["local_search"]
    assert search["result_ms"] == pytest.approx(result.objective, rel=1e-12)
    # the backend's contention-free placement, judged with contention, is no better
    free = solve_cpsat(problem, SolveOptions(time_limit=30))
    assert result.objective <= simulate(problem, free.schedule).objective_ms * (1 + 1e-12)


def test_progress_reports_solutions() -> None:
    lines: list[str] = []
    solve(two(groups=12), time_limit=30, progress=lines.append)
    assert lines and all(line.startswith("cpsat:") for line in lines)


def test_gpu_only_platform_is_one_segment_per_job() -> None:
    tables = [synthetic_table(5, 1, model="a"), synthetic_table(5, 2, model="b")]
    problem = Problem.create(tables, "gpu-only", contention="none")
    result = solve(problem, time_limit=30)
    assert result.status is SolveStatus.OPTIMAL
    assert all(len(s) == 1 for s in result.schedule.segments)
    assert result.objective == pytest.approx(sum(tables[0].gpu_ms) + sum(tables[1].gpu_ms))

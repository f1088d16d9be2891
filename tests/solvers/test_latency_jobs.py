"""The tuple search for latency without contention with three or four jobs
(`solvers.bounds.latency_jobs`): on random small problems it finds the exhaustive oracle's
optimum and, among the schedules there, one as simple (fewest transitions, then
loadables); its bound never passes the optimum, whatever the incumbent, the floor or the
deadline; and `solve` with CP-SAT returns its proof. Group times from 1 us to 10 s, Xavier
and Orin presets, pins, deadlines, weights, loadable limits, DLA-ineligible groups."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scaled_tables import latency_problems, oracle_within, scaled

from profiles.synthetic import synthetic_table
from solvers.bounds.latency_jobs import applies, latency_jobs_search
from solvers.bounds.lower import lower_bound
from solvers.judges.simulator import simulate
from solvers.model.problem import Pin, Problem
from solvers.model.schedule import Result, SolveStatus, simplicity
from solvers.solve import solve

ORACLE_SPACE = 30_000
"""Largest oracle space (schedules) the comparison takes on."""


def job_problems() -> st.SearchStrategy[Problem]:
    return latency_problems(st.integers(3, 4), 3, ("m0", "m2"))


def _oracle(problem: Problem) -> Result:
    return oracle_within(problem, ORACLE_SPACE)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=job_problems())
def test_search_finds_the_oracle_optimum_and_its_simplest_schedule(problem: Problem) -> None:
    assert applies(problem)
    oracle = _oracle(problem)
    found = latency_jobs_search(problem)
    assert found is not None and found.optimal
    if oracle.status is SolveStatus.INFEASIBLE:
        assert found.schedule is None and found.bound_ms is None
        return
    assert oracle.status is SolveStatus.OPTIMAL
    assert found.schedule is not None
    timeline = simulate(problem, found.schedule)
    assert not timeline.violations
    assert timeline.objective_ms == pytest.approx(found.value_ms, rel=1e-9)
    assert found.value_ms == pytest.approx(oracle.objective, rel=1e-9)
    assert found.bound_ms == pytest.approx(oracle.objective, rel=1e-9)
    # the oracle's tie break is proven (docs/model.md 5): the same simplicity
    assert simplicity(found.schedule.segments) == simplicity(oracle.schedule.segments)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=job_problems(), tight=st.booleans())
def test_a_valid_floor_keeps_the_optimum_and_its_simplest_schedule(problem: Problem,
                                                                    tight: bool) -> None:
    oracle = _oracle(problem)
    assume(oracle.status is SolveStatus.OPTIMAL)
    floor = oracle.objective if tight else lower_bound(problem)
    found = latency_jobs_search(problem, floor_ms=floor)
    assert found is not None and found.optimal and found.schedule is not None
    assert found.value_ms == pytest.approx(oracle.objective, rel=1e-9)
    assert simplicity(found.schedule.segments) == simplicity(oracle.schedule.segments)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=job_problems())
def test_the_optimal_incumbent_is_proven(problem: Problem) -> None:
    """Started from the oracle's own schedule: nothing better (nor as good and simpler)
    exists, so the search proves the incumbent optimal and returns no schedule."""
    oracle = _oracle(problem)
    assume(oracle.status is SolveStatus.OPTIMAL)
    found = latency_jobs_search(problem, oracle.schedule, oracle.objective)
    assert found is not None and found.optimal and found.schedule is None
    assert found.bound_ms == pytest.approx(oracle.objective, rel=1e-9)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=job_problems())
def test_bound_cut_by_the_deadline_stays_valid(problem: Problem) -> None:
    oracle = _oracle(problem)
    assume(oracle.status is SolveStatus.OPTIMAL)
    found = latency_jobs_search(problem, deadline=time.perf_counter() - 1.0)
    assert found is not None and not found.optimal and found.schedule is None
    assert found.bound_ms is None or found.bound_ms <= oracle.objective * (1 + 1e-9)


def test_search_does_not_apply_elsewhere() -> None:
    tables = [synthetic_table(3, s, model=f"m{s}") for s in (1, 2, 3, 4, 5)]
    assert applies(Problem.create(tables[:3], "xavier-agx", objective="latency",
                                  contention="none"))
    assert applies(Problem.create(tables[:4], "gpu-only", objective="latency"))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="latency",
                                      contention="none"))
    assert not applies(Problem.create(tables, "xavier-agx", objective="latency",
                                      contention="none"))
    assert not applies(Problem.create(tables[:3], "xavier-agx", objective="latency"))
    assert not applies(Problem.create(tables[:3], "xavier-agx", objective="throughput",
                                      contention="none"))
    assert not applies(Problem.create(tables[:3], "xavier-agx", objective="latency",
                                      contention="none", gpu_fallback="all"))
    longer = [synthetic_table(30, s, model=f"m{s}") for s in (1, 2, 3)]
    assert applies(Problem.create(longer, "xavier-agx", objective="latency",
                                  contention="none", max_transitions=2))
    assert not applies(Problem.create(longer, "xavier-agx", objective="latency",
                                      contention="none", max_transitions=3))
    assert latency_jobs_search(Problem.create(tables[:2], "xavier-agx",
                                              contention="none")) is None


def test_solve_returns_the_proof_with_the_oracle_optimum() -> None:
    tables = [synthetic_table(3, s, model=f"m{s}") for s in (3, 4, 5)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", contention="none",
                             max_transitions=2)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    result = solve(problem, "cpsat", time_limit=30)
    assert result.stats["proven_by"] == "latency_jobs"
    assert result.status is SolveStatus.OPTIMAL and result.stats["tie_break"] == "proven"
    assert result.objective == pytest.approx(oracle.objective, rel=1e-9)
    assert result.lower_bound == pytest.approx(result.objective, rel=1e-9)
    assert simplicity(result.schedule.segments) == simplicity(oracle.schedule.segments)


def test_a_cut_search_hands_its_bound_and_schedule_to_the_model() -> None:
    """Stopped before its proof (a time limit of a few ms), the search's stats and bound
    travel with the model's answer, under the search's own name."""
    tables = [synthetic_table(30, s, model=f"synth{s}") for s in (1, 2, 3, 4)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", contention="none",
                             max_transitions=2)
    result = solve(problem, "cpsat", time_limit=0.05)   # the search needs ~0.4 s here
    assert result.status is SolveStatus.FEASIBLE
    stats = result.stats["latency_jobs"]
    assert stats["by"] == "latency_jobs" and not stats["optimal"]
    assert isinstance(stats["bound_ms"], float)
    assert stats["bound_ms"] <= result.lower_bound <= 13.9942 <= result.objective


def test_four_jobs_of_the_benchmark_are_proven() -> None:
    """The latency-4x30 benchmark (benchmarks/solvers.py): CP-SAT's model alone ended
    14.10 ms / bound 13.87 ms after 60 s, a 900 s run at 13.9942 / 13.9171; the search
    proves 13.9942 ms, the simulator agrees, and the DLA0 / DLA1 symmetry holds."""
    tables = [synthetic_table(30, s, model=f"synth{s}") for s in (1, 2, 3, 4)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", contention="none",
                             max_transitions=2)
    found = latency_jobs_search(problem)
    assert found is not None and found.optimal and found.schedule is not None
    assert simulate(problem, found.schedule).objective_ms == pytest.approx(13.9942, abs=1e-9)
    assert found.bound_ms == pytest.approx(13.9942, abs=1e-9)
    dla = [s.device for segs in found.schedule.segments for s in segs if s.device.kind == "dla"]
    assert not dla or dla[0].name == "DLA0"


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=job_problems())
def test_model_alone_still_matches_the_oracle(problem: Problem) -> None:
    """With the search off, CP-SAT's own model answers these problems (the other property
    tests of CP-SAT now go through the search on them)."""
    oracle = _oracle(problem)
    from solvers.backends.cpsat import solve as cpsat_solve

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cpsat_solve, "LATENCY_JOBS", False)
        result = solve(problem, "cpsat", time_limit=30)
    assert "latency_jobs" not in result.stats
    assert result.status is oracle.status
    if oracle.status is SolveStatus.OPTIMAL:
        assert result.objective == pytest.approx(oracle.objective, rel=1e-6)


def test_a_job_without_any_valid_segmentation_is_infeasible() -> None:
    """No switch allowed, group 0 kept off the DLAs and group 1 off the GPU: job m0 has no
    valid segmentation, so the problem is infeasible (found by the property test as a
    crash of the segmentation listing)."""
    tables = [synthetic_table(2, s, model=f"m{i}") for i, s in enumerate((3, 4, 5))]
    problem = Problem.create(tables, "xavier-agx", objective="latency", contention="none",
                             max_transitions=0,
                             pins=[Pin.forbid("m0", 0, 0, ["DLA0", "DLA1"]),
                                   Pin.forbid("m0", 1, 1, ["GPU"])])
    assert solve(problem, "exhaustive", time_limit=None, hint=None).status \
        is SolveStatus.INFEASIBLE
    found = latency_jobs_search(problem)
    assert found is not None and found.optimal
    assert found.schedule is None and found.bound_ms is None


@pytest.mark.parametrize(("groups", "switches", "preset"),
                         [(12, 2, "xavier-agx"), (13, 1, "orin-agx")])
def test_beyond_the_oracle_the_search_matches_the_model_and_its_metamorphoses(
        groups: int, switches: int, preset: str) -> None:
    """Past the oracle's reach: the search's optimum is the one CP-SAT's model alone proves
    (the search off), permuting the models changes nothing, scaling every time by 1000
    scales the optimum (rel 1e-9)."""
    from solvers.backends.cpsat import solve as cpsat_solve

    tables = [synthetic_table(groups, s, model=f"m{s}") for s in (11, 12, 13, 14)][
        :3 if switches == 2 else 4]

    def problem_of(ts: list) -> Problem:
        return Problem.create(ts, preset, objective="latency", contention="none",
                              max_transitions=switches)

    found = latency_jobs_search(problem_of(tables))
    assert found is not None and found.optimal and found.value_ms is not None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cpsat_solve, "LATENCY_JOBS", False)
        model = solve(problem_of(tables), "cpsat", time_limit=60)
    assert model.status is SolveStatus.OPTIMAL
    assert found.value_ms == pytest.approx(model.objective, rel=1e-6)
    permuted = latency_jobs_search(problem_of(tables[::-1]))
    assert permuted is not None and permuted.optimal
    assert permuted.value_ms == pytest.approx(found.value_ms, rel=1e-9)
    big = latency_jobs_search(problem_of([scaled(t, 1e3) for t in tables]))
    assert big is not None and big.optimal
    assert big.value_ms == pytest.approx(1e3 * found.value_ms, rel=1e-9)


@pytest.mark.parametrize("jobs", [3, 4])
def test_one_device_platform(jobs: int) -> None:
    """gpu-only: the Lagrangian weights one device, so the join's cell bounds have no
    other term (they were a scalar, and the join raised IndexError; found by
    test_backends_vs_oracle's random examples)."""
    tables = [synthetic_table(2, 7, model=f"m{i}") for i in range(jobs)]
    problem = Problem.create(tables, "gpu-only", objective="latency", max_transitions=0)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    found = latency_jobs_search(problem)
    assert found is not None and found.optimal and found.schedule is not None
    assert simulate(problem, found.schedule).objective_ms == pytest.approx(oracle.objective,
                                                                           rel=1e-9)

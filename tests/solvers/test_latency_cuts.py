"""The cut-position branch and bound for latency without contention
(`solvers.bounds.latency_cuts`): on random small two-job problems it finds the exhaustive
oracle's optimum and, among the schedules there, one as simple (fewest transitions, then
loadables); its bound never passes the optimum, whatever the incumbent or the deadline;
and `solve` with CP-SAT returns its proof. Group times from 1 us to 10 s, Xavier and Orin
presets, pins, deadlines, weights, loadable limits, DLA-ineligible groups."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scaled_tables import latency_problems, oracle_within

from profiles.synthetic import synthetic_table
from solvers.backends.cpsat import params
from solvers.bounds.latency_cuts import applies, latency_cuts_search
from solvers.bounds.lower import lower_bound
from solvers.judges.simulator import simulate
from solvers.model.contention import no_contention
from solvers.model.problem import Device, Problem
from solvers.model.schedule import Result, SolveStatus, simplicity
from solvers.solve import solve

ORACLE_SPACE = 4_000
"""Largest oracle space (schedules) the comparison takes on."""
def cut_problems() -> st.SearchStrategy[Problem]:
    return latency_problems(st.just(2), 5, ("m0", "m1"))


def _oracle(problem: Problem) -> Result:
    return oracle_within(problem, ORACLE_SPACE)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=cut_problems())
def test_search_finds_the_oracle_optimum_and_its_simplest_schedule(problem: Problem) -> None:
    assert applies(problem)
    oracle = _oracle(problem)
    found = latency_cuts_search(problem)
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
@given(problem=cut_problems(), tight=st.booleans())
def test_a_valid_floor_keeps_the_optimum_and_its_simplest_schedule(problem: Problem,
                                                                    tight: bool) -> None:
    """With a known lower bound raising every box (the cheap bound, or the optimum itself,
    the tightest valid one), the answer is still the oracle's optimum, just as simple."""
    oracle = _oracle(problem)
    assume(oracle.status is SolveStatus.OPTIMAL)
    floor = oracle.objective if tight else lower_bound(problem)
    found = latency_cuts_search(problem, floor_ms=floor)
    assert found is not None and found.optimal and found.schedule is not None
    assert found.value_ms == pytest.approx(oracle.objective, rel=1e-9)
    assert simplicity(found.schedule.segments) == simplicity(oracle.schedule.segments)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=cut_problems())
def test_bound_never_above_the_optimum_from_the_optimal_incumbent(problem: Problem) -> None:
    """Started from the oracle's own schedule: nothing better exists, so the search proves
    the incumbent optimal and returns no schedule of its own (or one as good and simpler,
    which the oracle's tie rule excludes)."""
    oracle = _oracle(problem)
    assume(oracle.status is SolveStatus.OPTIMAL)
    found = latency_cuts_search(problem, oracle.schedule, oracle.objective)
    assert found is not None and found.optimal and found.schedule is None
    assert found.bound_ms <= oracle.objective * (1 + 1e-9)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=cut_problems())
def test_bound_cut_by_the_deadline_stays_valid(problem: Problem) -> None:
    oracle = _oracle(problem)
    assume(oracle.status is SolveStatus.OPTIMAL)
    found = latency_cuts_search(problem, deadline=time.perf_counter() - 1.0)
    assert found is not None
    if not found.optimal:   # the roots alone settled nothing: a bound, no proof
        assert found.bound_ms is None or found.bound_ms <= oracle.objective * (1 + 1e-9)


def test_search_does_not_apply_elsewhere() -> None:
    tables = [synthetic_table(3, s, model=f"m{s}") for s in (1, 2, 3)]
    assert applies(Problem.create(tables[:2], "xavier-agx", objective="latency",
                                  contention="none"))
    assert applies(Problem.create(tables[:2], "gpu-only", objective="latency"))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="latency"))
    assert not applies(Problem.create(tables, "xavier-agx", objective="latency",
                                      contention="none"))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="throughput",
                                      contention="none"))
    longer = [synthetic_table(6, s, model=f"m{s}") for s in (1, 2)]
    assert not applies(Problem.create(longer, "xavier-agx", objective="latency",
                                      contention="none", max_transitions=3))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="latency",
                                      contention="none", gpu_fallback="all"))
    assert latency_cuts_search(Problem.create(tables, "xavier-agx", contention="none")) is None


def test_solve_returns_the_proof_with_the_oracle_optimum() -> None:
    tables = [synthetic_table(5, s, model=f"m{s}") for s in (3, 4)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", contention="none",
                             max_transitions=2)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    result = solve(problem, "cpsat", time_limit=30)
    assert result.stats["proven_by"] == "latency_cuts"
    assert result.status is SolveStatus.OPTIMAL and result.stats["tie_break"] == "proven"
    assert result.objective == pytest.approx(oracle.objective, rel=1e-9)
    assert result.lower_bound == pytest.approx(result.objective, rel=1e-9)
    assert simplicity(result.schedule.segments) == simplicity(oracle.schedule.segments)


def test_search_on_a_large_pair_matches_the_model() -> None:
    """2 x 120 groups (the benchmark's latency-2x120 tables): the search's optimum is the
    one the CP-SAT model alone proves (33.0272 ms in benchmarks/results/solvers.md)."""
    tables = [synthetic_table(120, s, model=f"synth{s}") for s in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", contention="none",
                             max_transitions=2)
    found = latency_cuts_search(problem)
    assert found is not None and found.optimal and found.schedule is not None
    assert simulate(problem, found.schedule).objective_ms == pytest.approx(33.0272, abs=1e-9)
    # DLA0 / DLA1 symmetry: the first DLA segment (job 0's, then job 1's) is on DLA0
    dla = [s.device for segs in found.schedule.segments for s in segs if s.device.kind == "dla"]
    assert not dla or dla[0] is Device.DLA0


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=cut_problems())
def test_model_alone_still_matches_the_oracle(problem: Problem) -> None:
    """With the branch and bound off, CP-SAT's own model answers these problems (the other
    property tests of CP-SAT now go through the branch and bound on them)."""
    oracle = _oracle(problem)
    from solvers.backends.cpsat import solve as cpsat_solve

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(params, "LATENCY_CUTS", False)
        mp.setattr(cpsat_solve, "LATENCY_CUTS", False)
        result = solve(problem, "cpsat", time_limit=30)
    assert "latency_cuts" not in result.stats
    assert result.status is oracle.status
    if oracle.status is SolveStatus.OPTIMAL:
        assert result.objective == pytest.approx(oracle.objective, rel=1e-6)


def test_huge_times_stay_exact() -> None:
    """2 x 20 groups of ~1e5 ms with 1 ns digits (test_soundness: CP-SAT's model must count
    in 10 us units there and proves nothing exact): the search works in floats and proves
    the oracle's optimum."""
    from solvers.judges.oracle import exhaustive
    from tests.solvers.test_soundness import extreme_table

    a = extreme_table("a", [1e5 - g - 1e-6 for g in range(20)])
    b = extreme_table("b", [9e4 + g + 1e-6 for g in range(20)])
    problem = Problem.create([a, b], "xavier-agx", contention="none", max_transitions=0,
                             weights={"a": 1000.0})
    result = solve(problem, "cpsat", time_limit=60, hint=None)
    assert result.stats["proven_by"] == "latency_cuts"
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(exhaustive(problem).objective, rel=1e-12)


@pytest.mark.parametrize("weights", [None, {"m3": 2.5, "m4": 2.5}])
def test_contention_free_bound_of_two_jobs_comes_from_the_search(
        monkeypatch: pytest.MonkeyPatch, weights: dict | None) -> None:
    """Latency with contention, two jobs, the pair search off: CP-SAT's contention-free
    bound (model.md section 6) is the search's contention-free optimum, below the
    contention optimum, and the contention model floored by it still finds the oracle's."""
    from solvers.backends.cpsat import solve as cpsat_solve

    monkeypatch.setattr(cpsat_solve, "LATENCY_PAIR", False)
    tables = [synthetic_table(3, s, model=f"m{s}") for s in (3, 4)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", weights=weights)
    free = latency_cuts_search(replace(problem, contention=no_contention()))
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    result = solve(problem, "cpsat", time_limit=60)
    bound = result.stats["contention_free_bound"]
    assert bound["by"] == "latency_cuts" and bound["status"] == "optimal"
    assert free is not None and bound["bound_ms"] == pytest.approx(free.value_ms, rel=1e-12)
    assert bound["bound_ms"] <= oracle.objective * (1 + 1e-9)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(oracle.objective, rel=1e-6)

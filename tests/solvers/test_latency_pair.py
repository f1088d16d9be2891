"""The latency bound over segmentation pairs (`solvers.bounds.latency_pair`): never above the
exhaustive oracle's optimum, exact when it says so, for group times from 1 us to 10 s; and
`solve` with CP-SAT returns its proof with the oracle's optimum."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st

from profiles.costtable import CostTable
from profiles.synthetic import synthetic_table
from solvers.backends.cpsat import params
from solvers.bounds import latency_pair
from solvers.bounds.latency_pair import (
    applies,
    latency_pair_search,
    pair_count,
    segmentations,
)
from solvers.bounds.lower import lower_bound
from solvers.errors import ProblemError
from solvers.judges.oracle import count_space
from solvers.judges.simulator import simulate
from solvers.model.problem import Pin, Problem
from solvers.solve import solve

ORACLE_SPACE = 3_000
"""Largest oracle space (schedules) the comparison takes on."""
SCALES = (1e-3, 0.02, 1.0, 30.0, 1e3)
"""Synthetic groups take ~0.1-1 ms: scaled, every time stays within 1 us .. 10 s."""


def scaled(table: CostTable, scale: float) -> CostTable:
    def s(v: float | None) -> float | None:
        return None if v is None else round(v * scale, 9)

    rows = [replace(r, gpu_ms=s(r.gpu_ms), dla_ms=s(r.dla_ms), gpu_to_dla_ms=s(r.gpu_to_dla_ms),
                    dla_to_gpu_ms=s(r.dla_to_gpu_ms)) for r in table.rows]
    return CostTable.build(rows, dict(table.metadata), origin=f"<scaled {scale}>")


@st.composite
def pair_problems(draw: st.DrawFn) -> Problem:
    """Two jobs, latency, contention (Xavier or Orin preset), 1-4 groups each, 0-3
    switches, some DLA-ineligible groups, pins, loadable limits, deadlines, equal weights
    other than 1."""
    scale = draw(st.sampled_from(SCALES))
    frac = draw(st.sampled_from([0.0, 0.0, 0.3]))
    tables = [scaled(synthetic_table(draw(st.integers(1, 4)), draw(st.integers(0, 10_000)),
                                     model=f"m{i}", ineligible_fraction=frac), scale)
              for i in range(2)]
    pins = []
    if draw(st.integers(0, 4)) == 0:
        g = draw(st.integers(0, tables[0].n_groups - 1))
        pins.append(Pin.forbid("m0", g, g, [draw(st.sampled_from(["DLA0", "DLA1", "GPU"]))]))
    deadlines = None
    if draw(st.integers(0, 4)) == 0:
        deadlines = {"m1": round(sum(tables[1].gpu_ms) * draw(st.sampled_from([0.8, 1.2])), 9)}
    weight = draw(st.sampled_from([1.0, 1.0, 2.5]))
    try:
        return Problem.create(tables, draw(st.sampled_from(["xavier-agx", "orin-agx"])),
                              objective="latency", contention="auto", pins=pins,
                              max_transitions=draw(st.integers(0, 3)), deadlines=deadlines,
                              loadable_limit=draw(st.sampled_from([None, None, 1])),
                              weights={"m0": weight, "m1": weight})
    except ProblemError:   # e.g. a pin forbidding the GPU on a DLA-ineligible group
        reject()


def _oracle(problem: Problem):  # -> Result
    assume(count_space(problem) <= ORACLE_SPACE)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    assume(oracle.objective is not None)
    return oracle


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=pair_problems(), loose=st.sampled_from([1.0, 1.0001, 1.3, 3.0]))
def test_latency_pair_bound_never_above_the_oracle_optimum(problem: Problem,
                                                           loose: float) -> None:
    assert applies(problem)
    oracle = _oracle(problem)
    optimum = oracle.objective
    # any incumbent at or above the optimum (the oracle's own schedule, or a looser value)
    found = latency_pair_search(problem, optimum * loose)
    assert found is not None and found.bound_ms is not None
    assert found.bound_ms <= optimum * (1 + 1e-9)
    if loose > 1.0:
        # a better schedule than the incumbent exists: the exact step finds the optimum
        assert found.optimal and found.schedule is not None
        assert found.value_ms == pytest.approx(optimum, rel=1e-9)
        timeline = simulate(problem, found.schedule)
        assert not timeline.violations
        assert timeline.objective_ms == pytest.approx(found.value_ms, rel=1e-12)
    else:
        assert found.optimal   # nothing beats the optimum: proven at the incumbent's value


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=pair_problems(), low=st.sampled_from([0.5, 0.9, 0.999]))
def test_latency_pair_bound_below_the_optimum_for_any_target(problem: Problem,
                                                             low: float) -> None:
    """A target below the optimum: no schedule beats it, and the bound stays valid."""
    oracle = _oracle(problem)
    found = latency_pair_search(problem, oracle.objective * low)
    assert found is not None and found.bound_ms is not None
    assert found.schedule is None
    assert found.bound_ms <= oracle.objective * (1 + 1e-9)


def test_latency_pair_does_not_apply_elsewhere() -> None:
    tables = [synthetic_table(3, s, model=f"m{s}") for s in (1, 2, 3)]
    assert applies(Problem.create(tables[:2], "xavier-agx", objective="latency"))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="latency",
                                      weights={"m1": 2.0}))
    assert not applies(Problem.create(tables, "xavier-agx", objective="latency"))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="latency",
                                      contention="none"))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="throughput"))
    assert latency_pair_search(Problem.create(tables, "xavier-agx"), 10.0) is None


def test_latency_pair_cut_by_its_deadline_proves_nothing_more() -> None:
    tables = [synthetic_table(6, s, model=f"m{s}") for s in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", objective="latency")
    found = latency_pair_search(problem, 100.0, deadline=0.0)   # long past
    assert found is not None and found.bound_ms is None and not found.optimal


def test_solve_returns_the_pair_proof_with_the_oracle_optimum() -> None:
    tables = [synthetic_table(5, s, model=f"m{s}") for s in (3, 4)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", max_transitions=2)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    result = solve(problem, "cpsat", time_limit=30)
    assert result.stats["proven_by"] == "latency_pair"
    assert result.status.value == "optimal"
    assert result.objective == pytest.approx(oracle.objective, rel=1e-9)
    assert result.lower_bound == pytest.approx(result.objective, rel=1e-9)
    assert lower_bound(problem) <= result.lower_bound


def test_segmentations_are_listed_once_per_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    """The precheck's listing (`segmentations`) is handed to the search: each job's
    segmentations are listed once per solve, and the answer is the one the search gives
    when it lists them itself."""
    tables = [synthetic_table(5, s, model=f"m{s}") for s in (3, 4)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", max_transitions=2)
    listed = segmentations(problem)
    assert listed is not None
    value = 1.3 * solve(problem, "exhaustive", time_limit=None, hint=None).objective
    assert pair_count(problem, value, listed) == pair_count(problem, value)
    own = latency_pair_search(problem, value)
    handed = latency_pair_search(problem, value, options=listed)
    assert own is not None and handed is not None
    assert (handed.bound_ms, handed.value_ms, handed.pairs, handed.passed) == (
        own.bound_ms, own.value_ms, own.pairs, own.passed)
    calls: list[int] = []
    real = latency_pair._options

    def counted(problem: Problem, job: int, deadline: float | None = None):
        calls.append(job)
        return real(problem, job, deadline)

    monkeypatch.setattr(latency_pair, "_options", counted)
    result = solve(problem, "cpsat", time_limit=30)
    assert result.stats["proven_by"] == "latency_pair"
    assert sorted(calls) == [0, 1]


def test_model_alone_still_matches_the_oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the pair search off, CP-SAT's own contention model answers (the property tests
    in test_backends_vs_oracle run with it on)."""
    monkeypatch.setattr(params, "LATENCY_PAIR", False)
    from solvers.backends.cpsat import solve as cpsat_solve

    monkeypatch.setattr(cpsat_solve, "LATENCY_PAIR", False)
    tables = [synthetic_table(3, s, model=f"m{s}") for s in (3, 4)]
    problem = Problem.create(tables, "xavier-agx", objective="latency")
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    result = solve(problem, "cpsat", time_limit=30)
    assert "latency_pair" not in result.stats
    assert result.status.value == "optimal"
    assert result.objective == pytest.approx(oracle.objective, rel=1e-6)


@pytest.mark.parametrize("weights", [None, {"m1": 3.0, "m2": 3.0, "m3": 3.0}, {"m1": 2.5}])
def test_contention_free_bound_holds_and_keeps_the_optimum(weights: dict | None) -> None:
    """Three jobs (no pair search): the contention-free model's bound lies below the
    contention optimum, and the contention model floored by it still finds the oracle's
    optimum (with weights: the floor's rounding margin scales with the largest weight)."""
    tables = [synthetic_table(2, s, model=f"m{s}") for s in (1, 2, 3)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", max_transitions=1,
                             weights=weights)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    result = solve(problem, "cpsat", time_limit=60)
    free = result.stats["contention_free_bound"]
    assert free["bound_ms"] is not None
    assert free["bound_ms"] <= oracle.objective * (1 + 1e-9)
    assert result.status.value == "optimal"
    assert result.objective == pytest.approx(oracle.objective, rel=1e-6)
    assert result.lower_bound >= free["bound_ms"] * (1 - 1e-9)

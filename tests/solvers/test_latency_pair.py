"""The latency bound over segmentation pairs (`solvers.bounds.latency_pair`): never above the
exhaustive oracle's optimum, exact when it says so, for group times from 1 us to 10 s; and
`solve` with CP-SAT returns its proof with the oracle's optimum."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from scaled_tables import SCALES, oracle_within, scaled

from profiles.synthetic import synthetic_table
from solvers.backends.cpsat import params
from solvers.bounds import latency_pair, latency_triple
from solvers.bounds.latency_pair import (
    applies,
    latency_pair_search,
    pair_count,
    segmentations,
)
from solvers.bounds.lower import lower_bound
from solvers.errors import ProblemError
from solvers.judges.simulator import simulate
from solvers.model.problem import Pin, Problem
from solvers.model.schedule import Result
from solvers.solve import solve

ORACLE_SPACE = 3_000
"""Largest oracle space (schedules) the comparison takes on."""
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


def _oracle(problem: Problem) -> Result:
    oracle = oracle_within(problem, ORACLE_SPACE)
    assume(oracle.objective is not None)
    return oracle


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=pair_problems(), loose=st.sampled_from([1.0, 1.0001, 1.3, 3.0]),
       tree=st.booleans())
def test_latency_pair_bound_never_above_the_oracle_optimum(problem: Problem,
                                                           loose: float, tree: bool) -> None:
    """Pairs tested one by one, or through the set hierarchy (`tree`: as beyond
    `MAX_PAIRS`)."""
    assert applies(problem)
    oracle = _oracle(problem)
    optimum = oracle.objective
    # any incumbent at or above the optimum (the oracle's own schedule, or a looser value)
    with patch.object(latency_pair, "MAX_PAIRS", 0 if tree else latency_pair.MAX_PAIRS):
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
@given(problem=pair_problems(), low=st.sampled_from([0.5, 0.9, 0.999]), tree=st.booleans())
def test_latency_pair_bound_below_the_optimum_for_any_target(problem: Problem,
                                                             low: float, tree: bool) -> None:
    """A target below the optimum: no schedule beats it, and the bound stays valid."""
    oracle = _oracle(problem)
    with patch.object(latency_pair, "MAX_PAIRS", 0 if tree else latency_pair.MAX_PAIRS):
        found = latency_pair_search(problem, oracle.objective * low)
    assert found is not None and found.bound_ms is not None
    assert found.schedule is None
    assert found.bound_ms <= oracle.objective * (1 + 1e-9)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(groups=st.integers(6, 16), seed=st.integers(0, 10_000),
       platform=st.sampled_from(["xavier-agx", "orin-agx"]),
       scale=st.sampled_from(SCALES), target=st.sampled_from([1.05, 1.2, 1.5]),
       limit=st.sampled_from([None, 1]))
def test_tree_refutes_exactly_the_pairs_the_test_refutes(
        groups: int, seed: int, platform: str, scale: float, target: float,
        limit: int | None) -> None:
    """The set hierarchy (`_Tree`, `_tree_pairs`) passes exactly the pairs that the test of
    each pair passes: a set pair's test, with its sets' least features, never refutes a
    pair that passes on its own (the test is monotone in every feature), and at level 0
    it is the pair's own test. Problems with 6-16 groups per job and two switches (up to
    ~2,000 segmentations per job), at targets around the contention-free optimum."""
    tables = [scaled(synthetic_table(groups + j, seed + j, model=f"m{j}"), scale)
              for j in range(2)]
    problem = Problem.create(tables, platform, objective="latency", contention="auto",
                             max_transitions=2, loadable_limit=limit)
    beta = target * lower_bound(problem) * 1.3
    listed = segmentations(problem)
    assert listed is not None
    oa, ob = (latency_pair._take(o, np.nonzero(o.chain < beta)[0]) for o in listed)
    assume(min(len(oa.chain), len(ob.chain)) >= 16)
    test = latency_pair._test_of(problem, beta)
    fa, fb = (latency_pair._features(problem, j, o) for j, o in enumerate((oa, ob)))
    flat = [c for c in latency_pair._flat(fa, oa, fb, ob, test, None) if c is not None]
    ta, tb = latency_pair._Tree(problem, 0, oa), latency_pair._Tree(problem, 1, ob)
    assert len(ta.starts) >= 4 and len(tb.starts) >= 4   # a real hierarchy
    tree = list(latency_pair._tree_pairs(ta, tb, test, None))

    def keys(chunks: list, o0, o1) -> dict:
        out = {}
        for ia, ib, phi, _ in chunks:
            for a, b, v in zip(ia, ib, phi, strict=True):
                out[(o0.first[a].tobytes(), o0.dev[a].tobytes(),
                     o1.first[b].tobytes(), o1.dev[b].tobytes())] = v
        return out

    expected, got = keys(flat, oa, ob), keys(tree, ta.options, tb.options)
    assume(expected)
    assert got.keys() == expected.keys()
    for k, v in got.items():
        assert v == pytest.approx(expected[k], rel=1e-12)
    # the exact step's pre-test of every device order in numpy equals the scalar recursion
    ia, ib, _, dur = (np.concatenate([c[i] for c in flat]) for i in range(4))
    lows = latency_pair._order_lows((oa, ob), (ia, ib), dur, len(problem.devices))
    width = oa.dev.shape[1]
    for row in range(min(len(ia), 40)):
        segs = [[k for k in range(width) if o.dev[r, k] >= 0] for o, r in
                ((oa, ia[row]), (ob, ib[row]))]
        pred, plans = latency_pair._layout(
            (tuple(int(oa.dev[ia[row], k]) for k in segs[0]),
             tuple(int(ob.dev[ib[row], k]) for k in segs[1])), len(problem.devices))
        tr = [float(oa.tr[ia[row], k]) for k in segs[0]] + [float(ob.tr[ib[row], k])
                                                            for k in segs[1]]
        low = [float(dur[row, k]) for k in segs[0]] + [float(dur[row, width + k])
                                                       for k in segs[1]]
        scalar = min((latency_pair._release_makespan(pred, tr, low, order)
                      for order, _ in plans), default=np.inf)
        assert lows[row] == scalar


def test_tree_cut_by_its_deadline_keeps_a_valid_bound() -> None:
    """Cut before it tested anything below its top level, the set search still returns a
    bound (its least open set-pair value) below the optimum it proves when not cut."""
    tables = [synthetic_table(14, s, model=f"m{s}") for s in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", max_transitions=2)
    with patch.object(latency_pair, "MAX_PAIRS", 0):
        full = latency_pair_search(problem, 1e9)
        cut = latency_pair_search(problem, 1e9, deadline=0.0)
    flat = latency_pair_search(problem, 1e9)
    assert full is not None and cut is not None and flat is not None
    assert full.optimal and flat.optimal
    assert full.value_ms == pytest.approx(flat.value_ms, rel=1e-12)
    assert cut.bound_ms is not None and not cut.optimal
    assert 0 < cut.bound_ms <= full.value_ms


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


@pytest.mark.parametrize(("seeds", "platform", "sets"), [((3, 4), "xavier-agx", False),
                                                         ((5, 6), "orin-agx", True)])
def test_solve_returns_the_pair_proof_with_the_oracle_optimum(
        monkeypatch: pytest.MonkeyPatch, seeds: tuple[int, int], platform: str,
        sets: bool) -> None:
    """CP-SAT's pre-phase returns the pair search's proof, the oracle's optimum. With
    ``sets`` (`MAX_PAIRS` 0) it also warms up from the contention-free optimum and the
    search goes through its sets of segmentations."""
    if sets:
        monkeypatch.setattr(latency_pair, "MAX_PAIRS", 0)
    tables = [synthetic_table(5, s, model=f"m{s}") for s in seeds]
    problem = Problem.create(tables, platform, objective="latency", max_transitions=2)
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
def test_contention_free_bound_holds_and_keeps_the_optimum(
        weights: dict | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three jobs (no pair search): the contention-free model's bound lies below the
    contention optimum, and the contention model floored by it still finds the oracle's
    optimum (with weights: the floor's rounding margin scales with the largest weight).
    The triple search, which proves such small cases before the model, is turned off; with
    it on, it proves the oracle's optimum."""
    from solvers.backends.cpsat import solve as cpsat_solve

    tables = [synthetic_table(2, s, model=f"m{s}") for s in (1, 2, 3)]
    problem = Problem.create(tables, "xavier-agx", objective="latency", max_transitions=1,
                             weights=weights)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    if latency_triple.applies(problem):   # equal weights
        triple = solve(problem, "cpsat", time_limit=60)
        assert triple.stats["proven_by"] == "latency_triple"
        assert triple.objective == pytest.approx(oracle.objective, rel=1e-6)
    monkeypatch.setattr(cpsat_solve, "LATENCY_TRIPLE_SHARE", 0)
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

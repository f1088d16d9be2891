"""Regression tests of issue 11 ("soundness first"): large times, huge values, the
cross-check of optimality claims. Each test failed before its fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from profiles.costtable import CostTable
from profiles.synthetic import large_times_pair, synthetic_table
from solvers.judges.oracle import exhaustive
from solvers.model.problem import Problem
from solvers.model.schedule import SolveStatus
from solvers.solve import solve

LARGE_PAIR_OPTIMUM = {"latency": 240.1106, "throughput": 188.5841}
"""The exhaustive oracle's optimum of `large_times_pair` (default platform, 2 switches,
no contention); it takes ~30 s per objective, so the value is recorded here (re-derive with
``solvers.judges.oracle.exhaustive``). Before the fix the ILP answered 324.5244 and 197.841,
both as ``optimal``."""


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_large_times_pair_every_backend_finds_the_optimum(backend: str, objective: str) -> None:
    problem = Problem.create(list(large_times_pair()), "xavier-agx", contention="none",
                             objective=objective)
    result = solve(problem, backend, time_limit=60, hint=None)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(LARGE_PAIR_OPTIMUM[objective], rel=1e-9)


def one_slow_gpu_group() -> tuple[CostTable, CostTable]:
    """3-group pair whose first group takes 1000 ms on the GPU (its DLA time is small): the
    ILP in ns units returned wrong optima (0.982 ms where the oracle proves 0.8238)."""
    a = synthetic_table(3, 1, model="a")
    rows = list(a.rows)
    rows[0] = replace(rows[0], gpu_ms=1000.0)
    return CostTable.build(rows, a.metadata), synthetic_table(3, 51, model="b")


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_one_slow_gpu_group_matches_the_oracle(backend: str, objective: str) -> None:
    problem = Problem.create(list(one_slow_gpu_group()), "xavier-agx", contention="none",
                             objective=objective)
    oracle = exhaustive(problem)
    result = solve(problem, backend, time_limit=60, hint=None)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(oracle.objective, rel=1e-9)


def test_ilp_failure_description_names_the_highs_status() -> None:
    from solvers.backends.ilp.solve import _describe

    class StatusNotOk(Exception):
        pass

    try:
        try:
            raise StatusNotOk("HighsStatus: kError [INTERNAL]")
        except StatusNotOk as inner:
            # what OR-Tools' handler does with pybind11's StatusNotOk
            _ = inner.canonical_code  # type: ignore[attr-defined]
    except AttributeError as outer:
        text = _describe(outer)
    assert text == "StatusNotOk: HighsStatus: kError [INTERNAL]"


def extreme_table(name: str, values: list[float]) -> CostTable:
    """GPU times ``values``; DLA twice as slow (capped at the load limit); 1 us switches."""
    from profiles.costtable import MAX_TIME_MS, GroupCost

    n = len(values)
    rows = [GroupCost(g, v, min(2 * v, MAX_TIME_MS), None if g == n - 1 else 0.001,
                      None if g == n - 1 else 0.001) for g, v in enumerate(values)]
    return CostTable.build(rows, {"model": name, "platform": "xavier-agx",
                                  "source": "synthetic"})


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_extreme_supported_values_match_the_oracle(backend: str, objective: str) -> None:
    # 1 us next to the 100 s load limit, weight at its limit: CP-SAT overflowed int64 from
    # 1e12 ms and the ILP failed from 1e9 ms; inside the accepted range all must be exact
    a = extreme_table("a", [0.001, 1e5, 0.001])
    b = extreme_table("b", [1e5, 0.001, 99_999.999])
    kw = {"weights": {"a": 1000.0}} if objective == "latency" else {}
    problem = Problem.create([a, b], "xavier-agx", contention="none", objective=objective,
                             **kw)
    oracle = exhaustive(problem)
    result = solve(problem, backend, time_limit=60, hint=None)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(oracle.objective, rel=1e-9)


def weighted_trio(weights: tuple[float, float, float]) -> Problem:
    """Three one-group jobs (156.4 / 21.9 / 41.9 ms on the GPU, 498.4 / 54.7 / 74.1 on a
    DLA), no switch: a 627 ms serial horizon, 6.3e8 ns."""
    from scaled_tables import scaled

    tables = [scaled(synthetic_table(1, 72 + i, model=f"m{i}"), 1000.0) for i in range(3)]
    return Problem.create(tables, "xavier-agx", contention="none", max_transitions=0,
                          weights={f"m{i}": w for i, w in enumerate(weights)})


@pytest.mark.parametrize("weights", [(2.5, 2.5, 2.5), (2.5, 1.0, 1.0), (7.0, 1.0, 3.0)])
def test_cpsat_weighted_makespan_beyond_2_31_units_stays_exact(
        weights: tuple[float, float, float]) -> None:
    # weights 2.5 became the integers 25: a weighted-makespan domain up to 1.6e10, and
    # CP-SAT's presolve answered the all-GPU 550.5 ms as optimal where 391 ms is (solve's
    # cross-check raised BackendClaimError). Equal weights now reduce to 1; unequal ones
    # past 2^31 units turn presolve off
    from solvers.backends.base import SolveOptions
    from solvers.backends.cpsat.model import CpSatModel

    problem = weighted_trio(weights)
    model = CpSatModel(problem, SolveOptions())
    assert model.presolve is (len(set(weights)) == 1)
    oracle = exhaustive(problem)
    result = solve(problem, "cpsat", time_limit=60, hint=None)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(oracle.objective, rel=1e-9)


def test_cpsat_coarsens_its_unit_for_huge_horizons_and_stays_exact(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 2 x 20 groups near the limit: a 4e12 ns horizon is far above CP-SAT's 2^31-unit
    # limit, so it counts in 10 us; whole-ms times stay exact, hence still optimal (the
    # model itself: the cut-position branch and bound, which proves it first, is off)
    from solvers.backends.cpsat import solve as cpsat_solve

    monkeypatch.setattr(cpsat_solve, "LATENCY_CUTS", False)
    a = extreme_table("a", [1e5 - g for g in range(20)])
    b = extreme_table("b", [9e4 + g for g in range(20)])
    problem = Problem.create([a, b], "xavier-agx", contention="none", max_transitions=0,
                             weights={"a": 1000.0})
    result = solve(problem, "cpsat", time_limit=60, hint=None)
    assert result.stats["time_unit_ns"] == 10_000
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(exhaustive(problem).objective, rel=1e-12)


def test_cpsat_rounded_units_are_not_reported_optimal(monkeypatch: pytest.MonkeyPatch) -> None:
    # the same with 1 ns digits: 10 us units round them, so CP-SAT's own answer proves
    # nothing exact; it says so, and its bound stays below the true optimum (the model
    # itself: the cut-position branch and bound is off)
    from solvers.backends.base import SolveOptions
    from solvers.backends.cpsat import solve as cpsat_solve
    from solvers.backends.cpsat import solve_cpsat

    monkeypatch.setattr(cpsat_solve, "LATENCY_CUTS", False)

    a = extreme_table("a", [1e5 - g - 1e-6 for g in range(20)])
    b = extreme_table("b", [9e4 + g + 1e-6 for g in range(20)])
    problem = Problem.create([a, b], "xavier-agx", contention="none", max_transitions=0,
                             weights={"a": 1000.0})
    answer = solve_cpsat(problem, SolveOptions(time_limit=60))
    optimum = exhaustive(problem).objective
    assert answer.stats["time_unit_ns"] == 10_000
    assert answer.status is SolveStatus.FEASIBLE
    assert answer.bound_ms <= optimum
    assert answer.objective_ms - optimum <= answer.stats["objective_tolerance_ms"]
    # solve() may still prove it with the cheap bound (here: a alone, weighted, is tight)
    result = solve(problem, "cpsat", time_limit=60, hint=None)
    assert result.lower_bound <= optimum * (1 + 1e-12) and result.objective >= optimum


def test_weights_outside_the_supported_range_are_refused() -> None:
    from solvers.errors import ProblemError

    tables = [synthetic_table(3, 1, model="a"), synthetic_table(3, 2, model="b")]
    with pytest.raises(ProblemError, match="model a: weight 1e\\+300 is outside"):
        Problem.create(tables, "xavier-agx", weights={"a": 1e300})


# ------------------------------------------------------------------ cross-check in solve
def _pair_problem() -> Problem:
    return Problem.create(list(large_times_pair()), "xavier-agx", contention="none")


def test_an_optimal_claim_above_a_known_schedule_is_an_internal_error() -> None:
    # what the ILP answered before its fix: the all-GPU schedule, claimed optimal
    from solvers.backends.base import BackendAnswer
    from solvers.errors import BackendClaimError
    from solvers.heuristics.baselines import gpu_only, greedy
    from solvers.solve import judge

    problem = _pair_problem()
    wrong = gpu_only(problem)
    known = greedy(problem)
    assert known.objective < wrong.objective
    claim = BackendAnswer(SolveStatus.OPTIMAL, wrong.schedule, wrong.objective,
                          wrong.objective)
    with pytest.raises(BackendClaimError, match=r"^internal error: backend ilp claimed "
                       r"optimal 324\.524400 ms but the greedy baseline schedule achieves"):
        judge(problem, "ilp", claim, 0.1, known=[("greedy baseline", known.objective)])
    # without the claim it is an ordinary feasible answer
    honest = BackendAnswer(SolveStatus.FEASIBLE, wrong.schedule, wrong.objective)
    result = judge(problem, "ilp", honest, 0.1, known=[("greedy baseline", known.objective)])
    assert result.status is SolveStatus.FEASIBLE


def test_a_bound_above_a_known_schedule_or_a_false_infeasible_is_an_internal_error() -> None:
    from solvers.backends.base import BackendAnswer
    from solvers.errors import BackendClaimError
    from solvers.heuristics.baselines import greedy
    from solvers.solve import judge

    problem = _pair_problem()
    known = greedy(problem)
    bound_claim = BackendAnswer(SolveStatus.FEASIBLE, known.schedule, known.objective,
                                known.objective * 1.1)
    with pytest.raises(BackendClaimError, match="claimed a lower bound of"):
        judge(problem, "cpsat", bound_claim, 0.1, known=[("greedy baseline",
                                                          known.objective)])
    infeasible = BackendAnswer(SolveStatus.INFEASIBLE, None)
    with pytest.raises(BackendClaimError, match="claimed infeasible but the greedy"):
        judge(problem, "sat", infeasible, 0.1, known=[("greedy baseline", known.objective)])


def test_solve_cross_checks_every_backend_without_false_alarms(backend: str) -> None:
    # the hint and the all-GPU baseline are checked on every solve; honest answers pass
    problem = Problem.create([synthetic_table(4, 7), synthetic_table(4, 8)], "xavier-agx",
                             contention="none")
    result = solve(problem, backend, time_limit=60)
    assert result.status is SolveStatus.OPTIMAL
    known = result.stats["known_schedules_ms"]
    assert set(known) == {"greedy baseline", "all-GPU baseline"}
    assert result.objective <= min(known.values()) * (1 + 1e-9)


# ------------------------------------------------------------------ time limits
def test_suggested_time_limit_grows_with_the_problem() -> None:
    from solvers.solve import suggested_time_limit

    small = Problem.create([synthetic_table(5, 1), synthetic_table(5, 2)], "xavier-agx")
    large = Problem.create([synthetic_table(600, 1), synthetic_table(600, 2)], "xavier-agx")
    assert suggested_time_limit(small) == 10.2
    assert suggested_time_limit(large) == 40.0   # where 2 x 600 was measured proven


def test_auto_time_limit_is_accepted_and_recorded() -> None:
    problem = Problem.create([synthetic_table(3, 1), synthetic_table(3, 2)], "xavier-agx",
                             contention="none")
    result = solve(problem, "cpsat", time_limit="auto")
    assert result.stats["time_limit_s"] == 10.2
    assert set(result.stats["phases_s"]) == {"hint_s", "backend_s", "local_search_s"}
    assert result.stats["more_time_may_help"] is False
    with pytest.raises(Exception, match="time limit must be > 0 seconds, 'auto' or None"):
        solve(problem, "cpsat", time_limit="soon")


def test_a_run_stopped_by_the_limit_says_more_time_may_pay() -> None:
    # 3 x 30 latency with contention is not proven even in 40 s (a ~5 % gap there,
    # benchmarks/results/solvers.md): with 1 s the backend spends its whole budget and the
    # answer carries the advice (4 x 30 without contention, used before, is now proven in
    # under 1 s by the tuple search on a quick box)
    tables = [synthetic_table(30, seed, model=f"synth{seed}") for seed in range(1, 4)]
    problem = Problem.create(tables, "xavier-agx", contention="auto")
    result = solve(problem, "cpsat", time_limit=1.0)
    assert result.status is SolveStatus.FEASIBLE
    assert result.stats["more_time_may_help"] is True
    assert result.stats["advice"].startswith("stopped at the 1 s time limit with a ")
    assert "a longer limit (e.g. 12.2 s)" in result.stats["advice"]


def test_cpsat_sub_ns_times_count_in_100_ps(monkeypatch: pytest.MonkeyPatch) -> None:
    # tables scaled down 1000x carry 0.1 ns digits (0.0001308 ms): in ns units the model
    # answered 1.1577 us as optimal where the oracle proves 1.157 us; it now counts in
    # 100 ps units, which hold them (the model itself: the branch and bound is off)
    from scaled_tables import scaled

    from solvers.backends.cpsat import solve as cpsat_solve

    monkeypatch.setattr(cpsat_solve, "LATENCY_CUTS", False)
    tables = [scaled(synthetic_table(3, 0, model="m0"), 1e-3),
              scaled(synthetic_table(4, 5870, model="m1"), 1e-3)]
    problem = Problem.create(tables, "xavier-agx", contention="none", max_transitions=0)
    result = solve(problem, "cpsat", time_limit=60, hint=None)
    assert result.stats["time_unit_ns"] == pytest.approx(0.1)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(exhaustive(problem).objective, rel=1e-9)

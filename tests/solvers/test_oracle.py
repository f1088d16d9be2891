"""The exhaustive oracle: true optimum, symmetry breaking, limits, infeasibility, backend."""

from __future__ import annotations

import itertools

import pytest

from profiles.costtable import load_published
from profiles.synthetic import synthetic_table
from solvers.backends.base import SolveOptions
from solvers.bounds.lower import lower_bound
from solvers.errors import ProblemError
from solvers.heuristics.baselines import best_baseline, run_baselines
from solvers.judges.oracle import count_space, exhaustive, job_options, solve_exhaustive
from solvers.judges.simulator import simulate
from solvers.model.problem import Device, ModelSpec, Problem
from solvers.model.schedule import Schedule, SolveStatus


def small(objective: str = "latency", contention: str = "none", **kw: object) -> Problem:
    tables = [synthetic_table(3, 1), synthetic_table(3, 2)]
    return Problem.create(tables, "xavier-agx", objective=objective, contention=contention,
                          max_transitions=1, **kw)  # type: ignore[arg-type]


def brute_force(problem: Problem) -> float:
    """Independent enumeration without symmetry breaking, through `simulate` itself."""
    best = float("inf")
    options = [job_options(problem, j.index) for j in problem.jobs]
    for combo in itertools.product(*options):
        segs = tuple(o.segments for o in combo)
        refs = {d: [(j, s) for j, ss in enumerate(segs) for s, x in enumerate(ss)
                    if x.device == d] for d in problem.devices}
        for perm in itertools.product(*(itertools.permutations(r) for r in refs.values())):
            sched = Schedule(segs, dict(zip(refs, perm, strict=True)))
            try:
                tl = simulate(problem, sched)
            except ProblemError:
                continue
            if tl.feasible:
                best = min(best, tl.objective_ms)
    return best


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_oracle_matches_independent_brute_force(objective: str) -> None:
    p = small(objective)
    r = exhaustive(p)
    assert r.status is SolveStatus.OPTIMAL
    assert r.objective == pytest.approx(brute_force(p), rel=1e-12)
    assert r.lower_bound == r.objective
    assert r.timeline is not None and r.timeline.objective_ms == r.objective


def test_symmetry_breaking_keeps_the_optimum() -> None:
    for objective in ("latency", "throughput"):
        p = small(objective, contention="auto")
        on, off = exhaustive(p), exhaustive(p, symmetry=False)
        assert on.objective == pytest.approx(off.objective, rel=1e-12)
        assert off.stats["space"] > on.stats["space"]


def test_oracle_with_contention_is_optimal_over_orders() -> None:
    p = small(contention="auto")
    r = exhaustive(p)
    assert r.objective == pytest.approx(brute_force(p), rel=1e-12)


def test_space_limit_refuses_with_count() -> None:
    p = small()
    n = count_space(p)
    with pytest.raises(ProblemError, match=f"{n:,}"):
        exhaustive(p, limit=n - 1)


def test_deadline_infeasible_and_feasible() -> None:
    t1, t2 = synthetic_table(3, 1), synthetic_table(3, 2)
    p = Problem.create([ModelSpec(t1, deadline_ms=1e-3), t2], contention="none",
                       max_transitions=1)
    r = exhaustive(p)
    assert r.status is SolveStatus.INFEASIBLE and "deadline" in r.message
    ans = solve_exhaustive(p, SolveOptions())
    assert ans.status is SolveStatus.INFEASIBLE and ans.schedule is None


def test_deadline_changes_the_optimum() -> None:
    t1, t2 = synthetic_table(3, 1), synthetic_table(3, 2)
    free = exhaustive(Problem.create([t1, t2], contention="none", max_transitions=1))
    assert free.timeline is not None
    c1 = free.timeline.job_end_ms[0]
    p = Problem.create([ModelSpec(t1, deadline_ms=c1 * 0.97), t2], contention="none",
                       max_transitions=1)
    r = exhaustive(p)
    if r.status is SolveStatus.OPTIMAL:
        assert r.timeline is not None and r.timeline.job_end_ms[0] <= c1 * 0.97
        assert r.objective >= free.objective
    else:
        assert r.status is SolveStatus.INFEASIBLE


def test_solve_exhaustive_backend_answer() -> None:
    p = small()
    ans = solve_exhaustive(p, SolveOptions(time_limit=None))
    assert ans.status is SolveStatus.OPTIMAL
    assert ans.schedule is not None
    assert ans.bound_ms == ans.objective_ms
    assert simulate(p, ans.schedule).objective_ms == pytest.approx(ans.objective_ms)


def test_oracle_respects_loadable_limit_and_pins() -> None:
    p = small(loadable_limit=0)
    r = exhaustive(p)
    assert r.schedule is not None
    assert all(s.device is Device.GPU for segs in r.schedule.segments for s in segs)


def test_googlenet_alexnet_xavier_single_switch_beats_every_baseline() -> None:
    """Oracle (max 1 switch) 2.47 ms vs best baseline h2h_like 2.5779 ms (computed here)."""
    g, a = load_published("googlenet_xavier"), load_published("alexnet_xavier")
    p = Problem.create([g, a], "xavier-agx", max_transitions=1)
    results = run_baselines(p)
    assert set(results) == {"gpu_only", "whole_models", "herald_like", "h2h_like", "greedy"}
    for name, r in results.items():
        assert r.status is SolveStatus.FEASIBLE, name
        assert r.schedule is not None and r.objective is not None
        assert r.solver == f"baseline:{name}"
        r.schedule.validate(p)
        assert simulate(p, r.schedule).objective_ms == pytest.approx(r.objective)
    best = best_baseline(results)
    assert best is not None
    oracle = exhaustive(p)
    assert oracle.status is SolveStatus.OPTIMAL and oracle.objective is not None
    assert oracle.objective < best[1].objective  # type: ignore[operator]
    assert all(oracle.objective <= r.objective + 1e-12 for r in results.values())  # type: ignore
    assert oracle.objective >= lower_bound(p)
    # one switch per model at most
    assert oracle.schedule is not None
    assert all(len(s) <= 2 for s in oracle.schedule.segments)


def test_symmetry_breaking_respects_a_pin_that_tells_the_dla_cores_apart():
    """A pin allowing DLA1 but not DLA0 must not hide the optimum (found by the ILP/SAT
    cross-check): the reduction is only applied when the cores are interchangeable."""
    from solvers.model.problem import Device, Pin, Problem

    table = synthetic_table(3, seed=11, bandwidth=False)
    pin = Pin(table.model, 0, 2, frozenset({Device.GPU, Device.DLA1}))
    for objective in ("latency", "throughput"):
        problem = Problem.create([table], "xavier-agx", objective=objective, pins=[pin],
                                 contention="none")
        reduced = exhaustive(problem)
        full = exhaustive(problem, symmetry=False)
        assert reduced.objective == full.objective

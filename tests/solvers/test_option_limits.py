"""Numeric solver options are bounded (issue 23 item 4): a huge ``max_transitions`` or
loadable limit is capped where it can no longer change the optimum, workers are bounded,
and the exhaustive oracle stops listing segmentations at its cap or its time limit.
Speed and memory under extreme options are measured in benchmarks/option_limits.py."""

from __future__ import annotations

import pytest

from profiles.synthetic import synthetic_table
from solvers.errors import ProblemError
from solvers.judges import oracle
from solvers.judges.oracle import exhaustive
from solvers.model.problem import Problem
from solvers.model.schedule import SolveStatus
from solvers.solve import solve


def _pair(groups: int, **options) -> Problem:
    tables = [synthetic_table(groups, seed, model=f"m{seed}") for seed in (1, 2)]
    return Problem.create(tables, "xavier-agx", contention="none", **options)


@pytest.mark.parametrize("asked", [4, 100, 10**6, 10**30])
def test_max_transitions_is_capped_at_groups_minus_one(asked):
    problem = _pair(4, max_transitions=asked)
    assert problem.max_transitions == 3
    assert any(f"max_transitions {asked} capped at 3" in w for w in problem.warnings)


def test_a_cap_below_groups_comes_from_the_loadable_limit():
    problem = _pair(12, max_transitions=100, loadable_limit=1)
    # at least floor((T+1)/2) DLA segments per job, one loadable each, 2 cores x 1
    assert problem.max_transitions == 4
    assert any("loadables per DLA core" in w for w in problem.warnings)


def test_no_dla_means_no_transitions():
    tables = [synthetic_table(5, 1, model="m")]
    problem = Problem.create(tables, "gpu-only", contention="none", max_transitions=7)
    assert problem.max_transitions == 0


def test_the_cap_does_not_change_the_optimum():
    capped = exhaustive(_pair(4, max_transitions=10**6))
    exact = exhaustive(_pair(4, max_transitions=3))
    assert capped.status is exact.status is SolveStatus.OPTIMAL
    assert capped.objective == pytest.approx(exact.objective, rel=1e-12)


def test_a_huge_loadable_limit_binds_like_no_limit():
    huge = _pair(6, max_transitions=5, loadable_limit=10**18)
    assert huge.dla_loadable_limit == 2 * 6
    result = solve(huge, "cpsat", time_limit=30)
    reference = solve(_pair(6, max_transitions=5, loadable_limit=12), "cpsat", time_limit=30)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(reference.objective, rel=1e-9)


@pytest.mark.parametrize("workers", [0, 65, 10**6])
def test_workers_outside_their_range_are_refused(workers):
    with pytest.raises(ProblemError, match=r"workers must be in 1\.\.64"):
        solve(_pair(3), "cpsat", workers=workers)


def test_the_oracle_refuses_more_segmentations_than_it_can_list(monkeypatch):
    monkeypatch.setattr(oracle, "OPTIONS_LIMIT", 50)
    with pytest.raises(ProblemError, match="more than 50 segmentations of m1"):
        exhaustive(_pair(6, max_transitions=5))


def test_the_oracle_stops_listing_at_its_time_limit():
    result = exhaustive(_pair(12, max_transitions=11), time_limit=1e-6)
    assert result.status is SolveStatus.UNKNOWN and result.schedule is None
    assert "time limit" in result.message


def test_a_native_solve_past_its_deadline_is_killed():
    """HiGHS may overrun its own time limit (it ran 10 s on 3.6 s in presolve): the child it
    runs in is killed at the caller's deadline, whatever the solver does."""
    import time

    from solvers.backends.base import SolverTimeout, run_killably

    def stubborn() -> bytes:
        time.sleep(30)
        return b"late"

    t0 = time.perf_counter()
    with pytest.raises(SolverTimeout, match="outran its time limit"):
        run_killably(stubborn, "stubborn", deadline=t0 + 0.3)
    assert time.perf_counter() - t0 < 10  # not the 30 s the work wanted
    assert run_killably(lambda: b"on time", "quick", deadline=time.perf_counter() + 30) == \
        b"on time"


def test_the_ilp_does_not_build_a_model_past_its_size_limit():
    """2 x 250 groups at 64 switches with contention: about 4 M span indicators, built in
    Python before HiGHS could be stopped (it grew past 2.8 GB on a 5 s limit). The ILP
    answers the known schedule instead, feasible, and says why."""
    from solvers.backends.ilp.solve import MAX_MODEL_SIZE, model_size

    tables = [synthetic_table(250, seed, model=f"m{seed}") for seed in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", max_transitions=1000)
    assert problem.contention.enabled
    assert model_size(problem, True) > MAX_MODEL_SIZE
    result = solve(problem, "ilp", time_limit=5)
    assert result.status is SolveStatus.FEASIBLE and result.schedule is not None
    assert "use cpsat" in result.message

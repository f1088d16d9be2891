"""`solve`: dispatch, judging by the simulator, infeasibility, time limits, determinism."""

from __future__ import annotations

import math

import pytest

from profiles.costtable import load_published
from profiles.synthetic import synthetic_table
from solvers.errors import ProblemError
from solvers.judges.simulator import simulate
from solvers.model.problem import Device, Pin, Problem
from solvers.model.schedule import SolveStatus
from solvers.solve import SOLVERS, available_solvers, solve


def pair(objective: str = "latency", **kw: object) -> Problem:
    tables = [load_published("googlenet_xavier"), load_published("alexnet_xavier")]
    return Problem.create(tables, "xavier-agx", objective=objective, **kw)  # type: ignore[arg-type]


def test_unknown_solver_lists_choices() -> None:
    with pytest.raises(ProblemError, match="cpsat"):
        solve(pair(), "z3")


def test_available_solvers_are_known() -> None:
    assert "cpsat" in available_solvers()
    assert set(available_solvers()) <= set(SOLVERS)


def test_objective_is_the_simulators(backend: str) -> None:
    problem = pair(max_transitions=1)
    result = solve(problem, backend, time_limit=30)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == simulate(problem, result.schedule).objective_ms
    assert result.stats["objective_mismatch"] is False
    assert result.lower_bound is not None and result.lower_bound <= result.objective
    assert result.gap is not None and result.gap < 1e-6
    # HaX-CoNN's pair: every switch-free placement is worse than the optimum with a switch
    assert result.objective < solve(pair(max_transitions=0), backend).objective


def test_deadline_below_fastest_time_is_named(backend: str) -> None:
    problem = pair(deadlines={"googlenet": 0.5})
    result = solve(problem, backend)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.schedule is None and result.objective is None
    # every exact backend says which deadline (solvers.bounds.diagnose)
    assert "googlenet" in result.message and "deadline" in result.message


def test_dla_only_pins_beyond_loadable_limit_are_named() -> None:
    t = synthetic_table(6, 3, model="m")
    pins = [Pin("m", 0, 0, frozenset({Device.DLA0, Device.DLA1})),
            Pin("m", 2, 2, frozenset({Device.GPU})),
            Pin("m", 3, 3, frozenset({Device.DLA0, Device.DLA1})),
            Pin("m", 4, 4, frozenset({Device.GPU})),
            Pin("m", 5, 5, frozenset({Device.DLA0, Device.DLA1}))]
    problem = Problem.create([t], "xavier-agx", pins=pins, loadable_limit=1,
                             max_transitions=4, contention="none")
    result = solve(problem)
    assert result.status is SolveStatus.INFEASIBLE
    assert "loadable" in result.message


def test_too_few_switches_for_pins_are_named() -> None:
    t = synthetic_table(4, 5, model="m")
    pins = [Pin("m", 0, 0, frozenset({Device.DLA0})), Pin("m", 1, 1, frozenset({Device.GPU})),
            Pin("m", 2, 2, frozenset({Device.DLA0}))]
    problem = Problem.create([t], "xavier-agx", pins=pins, max_transitions=1,
                             contention="none")
    result = solve(problem)
    assert result.status is SolveStatus.INFEASIBLE
    assert "max_transitions" in result.message


def test_time_limit_returns_best_schedule_with_gap() -> None:
    tables = [synthetic_table(60, s, model=f"m{s}") for s in range(4)]
    problem = Problem.create(tables, "xavier-agx", objective="throughput",
                             max_transitions=2, contention="none")
    result = solve(problem, time_limit=0.5)
    assert result.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert result.schedule is not None
    assert result.objective == simulate(problem, result.schedule).objective_ms
    assert result.lower_bound is not None and result.lower_bound <= result.objective
    if result.status is SolveStatus.FEASIBLE:
        assert result.gap is not None and result.gap > 0


@pytest.mark.parametrize(("objective", "contention", "groups"),
                         [("latency", "none", 20), ("throughput", "none", 8),
                          ("latency", "auto", 5)])
def test_same_problem_same_schedule(objective: str, contention: str, groups: int) -> None:
    problem = Problem.create([synthetic_table(groups, 1), synthetic_table(groups, 2)],
                             "xavier-agx", max_transitions=2, contention=contention,
                             objective=objective)
    first = solve(problem, time_limit=60)
    second = solve(problem, time_limit=60)
    assert first.status is SolveStatus.OPTIMAL
    assert first.schedule == second.schedule
    assert math.isclose(first.objective, second.objective)


def test_given_hint_is_validated() -> None:
    problem = pair()
    other = pair(max_transitions=0)
    hint = solve(problem, time_limit=30).schedule
    with pytest.raises(ProblemError):
        solve(other, hint=hint)

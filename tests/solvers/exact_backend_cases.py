"""Shared cases for the ILP and SAT backend tests (tests/solvers/test_ilp.py, test_sat.py).

Every check runs through `solvers.solve.solve`, so the simulator judges the answer; the
exact reference is the exhaustive oracle (without its DLA0/DLA1 symmetry reduction when a
pin tells the cores apart).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from profiles.costtable import CostTable, GroupCost
from profiles.synthetic import synthetic_table
from solvers.judges.oracle import exhaustive
from solvers.judges.simulator import simulate
from solvers.model.problem import Device, Pin, Problem
from solvers.model.schedule import SolveStatus
from solvers.solve import solve


def table(name: str, gpu: Sequence[float], dla: Sequence[float | None],
          g2d: float = 0.1, d2g: float = 0.1) -> CostTable:
    rows = []
    for g, (a, b) in enumerate(zip(gpu, dla, strict=True)):
        last = g == len(gpu) - 1
        rows.append(GroupCost(g, a, b, None if last or dla[g + 1] is None else g2d,
                              None if last or b is None else d2g))
    return CostTable.build(rows, {"model": name, "platform": "xavier-agx",
                                  "source": "synthetic"}, origin=f"<test {name}>")


def random_problem(seed: int) -> Problem:
    """A small random problem the oracle enumerates in well under a second."""
    rng = random.Random(seed)
    n_models = rng.choice([1, 2, 2, 3])
    top = 4 if n_models < 3 else 3
    tables = [synthetic_table(rng.randint(2, top), 100 * seed + i,
                              ineligible_fraction=rng.choice([0.0, 0.3]))
              for i in range(n_models)]
    names = [t.model for t in tables]
    kw: dict[str, Any] = {"contention": "none",
                          "objective": rng.choice(["latency", "throughput"]),
                          "max_transitions": rng.choice([0, 1, 2])}
    platform = rng.choice(["xavier-agx", "xavier-agx", "gpu-only"])
    if kw["objective"] == "throughput" and n_models == 1:
        kw["frames_per_round"] = rng.choice([1, 2])
    if rng.random() < 0.3:
        kw["loadable_limit"] = rng.choice([0, 1])
    if kw["objective"] == "latency" and rng.random() < 0.3:
        kw["weights"] = {names[0]: 1.5}
    if kw["objective"] == "latency" and rng.random() < 0.3:
        kw["deadlines"] = {names[-1]: round(rng.uniform(0.3, 1.5), 4)}
    if platform != "gpu-only" and rng.random() < 0.3:
        kw["pins"] = [Pin(names[0], 0, 0, frozenset({Device.GPU, Device.DLA1}))]
    return Problem.create(tables, platform, **kw)


def check_against_oracle(backend: str, seed: int) -> None:
    problem = random_problem(seed)
    oracle = exhaustive(problem, symmetry=not problem.pins)
    result = solve(problem, backend, time_limit=60, hint=None)
    assert result.status == oracle.status, (seed, result.message)
    if oracle.objective is None:
        return
    assert result.objective == pytest.approx(oracle.objective, rel=1e-6)
    assert result.lower_bound == pytest.approx(oracle.objective, rel=1e-6)
    own = result.stats["backend_objective_ms"]
    assert own == pytest.approx(simulate(problem, result.schedule).objective_ms, rel=1e-6)
    assert not result.stats["objective_mismatch"]


def two_parallel_jobs() -> Problem:
    """2 x 3 groups, same cost on GPU and DLA, no switch allowed: one job per device, so
    the makespan is 3 ms (each job alone needs 3 ms: also the lower bound)."""
    a = table("a", [1, 1, 1], [1, 1, 1])
    b = table("b", [1, 1, 1], [1, 1, 1])
    return Problem.create([a, b], "xavier-agx", contention="none", max_transitions=0)


def weighted_gpu_only() -> Problem:
    """GPU only: a (3 ms) and b (1.5 ms, weight 3). a first: max(3, 3 * 4.5) = 13.5;
    b first: max(4.5, 3 * 1.5) = 4.5, the optimum."""
    a = table("a", [1, 1, 1], [None, None, None])
    b = table("b", [0.5, 0.5, 0.5], [None, None, None])
    return Problem.create([a, b], "gpu-only", contention="none", weights={"b": 3.0})


def split_pays_off() -> Problem:
    """2 x 3 groups; a is GPU-friendly except its middle group; b fits the DLA.
    Hand check: a = GPU[0], DLA0[1], GPU[2] costs 1 + 0.1 + 1 + 0.1 + 1 = 3.2 (vs 5 on the
    GPU alone), and b on DLA1 whole takes 3 -> makespan 3.2, which the oracle confirms."""
    a = table("a", [1, 3, 1], [4, 1, 4])
    b = table("b", [2, 2, 2], [1, 1, 1])
    return Problem.create([a, b], "xavier-agx", contention="none", max_transitions=2)


def hand_cases(backend: str) -> None:
    for problem, expect in ((two_parallel_jobs(), 3.0), (weighted_gpu_only(), 4.5),
                            (split_pays_off(), 3.2)):
        result = solve(problem, backend, time_limit=30, hint=None)
        assert result.status is SolveStatus.OPTIMAL
        assert result.objective == pytest.approx(expect, rel=1e-9)
        assert exhaustive(problem).objective == pytest.approx(expect, rel=1e-9)


def contention_cases(backend: str) -> None:
    tables = [synthetic_table(3, 1), synthetic_table(3, 2)]
    latency = Problem.create(tables, "xavier-agx", contention="preset")
    # both model latency contention exactly (solvers/backends/ilp/contention.py, sat_contention.py)
    result = solve(latency, backend, time_limit=60, hint=None)
    oracle = exhaustive(latency)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(oracle.objective, rel=1e-6)
    assert result.stats["objective_mismatch"] is False
    free = solve(Problem.create(tables, "xavier-agx", contention="none"), backend,
                 time_limit=60, hint=None)
    assert result.objective > free.objective   # contention is charged
    throughput = Problem.create(tables, "xavier-agx", contention="preset",
                                objective="throughput", max_transitions=1)
    result = solve(throughput, backend, time_limit=30, hint=None)
    assert result.status is SolveStatus.FEASIBLE       # never optimal: contention-free model
    assert result.lower_bound is not None
    assert result.lower_bound <= result.objective
    free = Problem.create(tables, "xavier-agx", contention="none", objective="throughput",
                          max_transitions=1)
    free_optimum = exhaustive(free).objective
    assert result.lower_bound >= free_optimum * (1 - 1e-6)
    # every backend keeps its own (contention-free) period for the record
    assert result.stats["contention_free_period_ms"] == pytest.approx(free_optimum, rel=1e-6)


def infeasible_cases(backend: str) -> None:
    a = table("a", [1, 1, 1], [1, 1, 1])
    b = table("b", [1, 1, 1], [1, 1, 1])
    late = Problem.create([a, b], "xavier-agx", contention="none", deadlines={"a": 2.5})
    assert solve(late, backend, time_limit=30, hint=None).status is SolveStatus.INFEASIBLE
    pinned = Problem.create([a, b], "xavier-agx", contention="none", loadable_limit=0,
                            pins=[Pin.forbid("a", 1, 1, [Device.GPU])])
    result = solve(pinned, backend, time_limit=30, hint=None)
    assert result.status is SolveStatus.INFEASIBLE
    assert result.schedule is None


def deterministic(backend: str) -> None:
    problem = Problem.create([synthetic_table(5, 3), synthetic_table(5, 4)], "xavier-agx",
                             contention="none", max_transitions=2)
    first = solve(problem, backend, time_limit=60, hint=None)
    second = solve(problem, backend, time_limit=60, hint=None)
    assert first.status is SolveStatus.OPTIMAL
    assert first.schedule == second.schedule


def time_limited(backend: str) -> None:
    """Far too little time for 3 x 30 groups: a schedule without proof, or none."""
    problem = Problem.create([synthetic_table(30, s) for s in (5, 6, 7)], "xavier-agx",
                             contention="none", max_transitions=2)
    result = solve(problem, backend, time_limit=0.2, hint="greedy")
    assert result.status in (SolveStatus.FEASIBLE, SolveStatus.UNKNOWN)
    if result.status is SolveStatus.FEASIBLE:
        assert result.lower_bound is not None and result.gap is not None
        assert 0 <= result.lower_bound <= result.objective

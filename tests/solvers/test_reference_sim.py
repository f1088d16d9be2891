"""The group-granularity reference simulation (solvers/judges/reference_sim.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.costtable import CostTable, GroupCost
from profiles.synthetic import synthetic_table
from solvers.heuristics.baselines import herald_like
from solvers.judges.reference_sim import group_pieces, reference_objective
from solvers.judges.simulator import latency_objective, order_indices, prepare, simulate
from solvers.model.problem import Device, Problem
from solvers.model.schedule import Schedule, Segment


def _flat_bw(table: CostTable) -> CostTable:
    """Every group of the table gets the same demand per kind (the model mean)."""
    rows = [dataclasses.replace(r, gpu_bw_gbps=30.0,
                                dla_bw_gbps=None if r.dla_ms is None else 20.0)
            for r in table.rows]
    return dataclasses.replace(table, rows=tuple(rows))


def _problem(flat: bool, objective: str, seeds: tuple[int, int], groups: int = 4,
             contention: str = "auto") -> Problem:
    tables = [synthetic_table(groups, s, model=f"m{s}") for s in seeds]
    if flat:
        tables = [_flat_bw(t) for t in tables]
    return Problem.create(tables, "xavier-agx", objective=objective, contention=contention)


def _schedule(problem: Problem) -> Schedule:
    schedule = herald_like(problem).schedule
    assert schedule is not None
    return schedule


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objective=st.sampled_from(["latency", "throughput"]),
       seeds=st.tuples(st.integers(0, 999), st.integers(1000, 1999)))
def test_uniform_demand_equals_the_model_mean_term(objective: str,
                                                   seeds: tuple[int, int]) -> None:
    """When every group of a model has the same demand, per-group and per-segment
    demand coincide: the reference must equal the simulator (segment-level term)."""
    problem = _problem(True, objective, seeds)
    schedule = _schedule(problem)
    assert math.isclose(reference_objective(problem, schedule),
                        simulate(problem, schedule).objective_ms, rel_tol=1e-9)


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_no_contention_equals_simulator(objective: str) -> None:
    problem = _problem(False, objective, (3, 4), contention="none")
    schedule = _schedule(problem)
    assert math.isclose(reference_objective(problem, schedule),
                        simulate(problem, schedule).objective_ms, rel_tol=1e-9)


def _gpu_job_beside(b_groups: list[GroupCost]) -> Problem:
    """Job a (10 ms on the GPU, no demand) beside job b made of ``b_groups`` (preset
    contention, Xavier)."""
    a = CostTable.build([GroupCost(0, 10.0, None, None, None, gpu_bw_gbps=0.0)],
                        {"model": "a", "platform": "xavier-agx", "source": "synthetic"})
    b = CostTable.build(b_groups,
                        {"model": "b", "platform": "xavier-agx", "source": "synthetic"})
    return Problem.create([a, b], "xavier-agx", contention="preset")


def test_demand_follows_the_group_running_now() -> None:
    """Hand computation: job a (GPU, 10 ms, no demand) beside job b on DLA0 (two 1 ms
    groups demanding 0 then 60 GB/s). The reference slows a by k(60) during b's second
    millisecond only; the segment-level term charges k(30) (the mean of b's segment, here
    its whole model) for both milliseconds."""
    problem = _gpu_job_beside([
        GroupCost(0, 5.0, 1.0, 0.1, 0.1, gpu_bw_gbps=0.0, dla_bw_gbps=0.0),
        GroupCost(1, 5.0, 1.0, None, None, gpu_bw_gbps=0.0, dla_bw_gbps=60.0),
    ])
    schedule = Schedule(((Segment(0, 0, Device.GPU),), (Segment(0, 1, Device.DLA0),)),
                        {Device.GPU: ((0, 0),), Device.DLA0: ((1, 0),)})
    k = problem.contention.loss_rate
    assert k("gpu", 60.0) > 5 * k("gpu", 30.0) > 0
    assert reference_objective(problem, schedule) == pytest.approx(10 + k("gpu", 60.0))
    assert simulate(problem, schedule).objective_ms == pytest.approx(10 + 2 * k("gpu", 30.0))


def test_segment_level_term_uses_the_segment_groups_only() -> None:
    """b's DLA1 segment covers only its heavy group: the simulator's segment-level term
    charges k(60) (the model mean would be k(30)) and, one group per segment, equals the
    reference."""
    problem = _gpu_job_beside([
        GroupCost(0, 1.0, 1.0, 0.1, 0.1, gpu_bw_gbps=0.0, dla_bw_gbps=0.0),
        GroupCost(1, 5.0, 1.0, None, None, gpu_bw_gbps=0.0, dla_bw_gbps=60.0),
    ])
    schedule = Schedule(((Segment(0, 0, Device.GPU),),
                         (Segment(0, 0, Device.DLA0), Segment(1, 1, Device.DLA1))),
                        {Device.GPU: ((0, 0),), Device.DLA0: ((1, 0),),
                         Device.DLA1: ((1, 1),)})
    k = problem.contention.loss_rate
    prep = prepare(problem, schedule)
    assert prep.k[0][2] == pytest.approx(k("gpu", 60.0))
    assert prep.k[0][1] == pytest.approx(k("gpu", 0.0))
    assert problem.bandwidth(1, "dla") == pytest.approx(30.0)
    assert k("gpu", 60.0) > k("gpu", 30.0)
    seg = latency_objective(problem, prep, order_indices(prep, schedule))
    assert seg is not None
    assert seg[0] == pytest.approx(reference_objective(problem, schedule), rel=1e-9)


def test_group_pieces_loss_table() -> None:
    """One piece per group that takes time; the loss follows the piece's own demand, and
    the zero rules of `Problem.loss_rate` hold (same device, same job in latency)."""
    problem = _gpu_job_beside([
        GroupCost(0, 1.0, 1.0, 0.1, 0.1, gpu_bw_gbps=50.0, dla_bw_gbps=10.0),
        GroupCost(1, 5.0, 2.0, None, None, gpu_bw_gbps=5.0, dla_bw_gbps=60.0),
    ])
    schedule = Schedule(((Segment(0, 0, Device.GPU),), (Segment(0, 1, Device.DLA0),)),
                        {Device.GPU: ((0, 0),), Device.DLA0: ((1, 0),)})
    prep = prepare(problem, schedule)
    pieces = group_pieces(problem, schedule, prep)
    k = problem.contention.loss_rate
    assert pieces.first == (0, 1, 3)
    assert pieces.work == (10.0, 1.0, 2.0)
    assert pieces.loss[0] == pytest.approx((0.0, k("gpu", 10.0), k("gpu", 60.0)))
    assert pieces.loss[1] == pytest.approx((k("dla", 0.0), 0.0, 0.0))
    # reference: a loses k(10) during b's first ms, k(60) during the next 2 ms
    assert reference_objective(problem, schedule) == pytest.approx(
        10 + k("gpu", 10.0) + 2 * k("gpu", 60.0))

"""Property tests of the simulator, the oracle and the bounds on random small problems."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from profiles.synthetic import synthetic_table
from solvers.bounds.lower import lower_bound
from solvers.errors import ProblemError
from solvers.judges.oracle import count_space, exhaustive, job_options
from solvers.judges.simulator import cycle_time, simulate, simulated_cycle_time
from solvers.model.problem import Problem
from solvers.model.schedule import Schedule

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw: st.DrawFn, *, objective: str | None = None, max_groups: int = 4,
             max_jobs: int = 3) -> Problem:
    n_jobs = draw(st.integers(1, max_jobs))
    tables = [synthetic_table(draw(st.integers(1, max_groups)), draw(st.integers(0, 10_000)),
                              ineligible_fraction=draw(st.sampled_from([0.0, 0.0, 0.3])))
              for _ in range(n_jobs)]
    obj = objective or draw(st.sampled_from(["latency", "throughput"]))
    frames = draw(st.integers(1, 2)) if obj == "throughput" and n_jobs < 3 else 1
    return Problem.create(tables, draw(st.sampled_from(["xavier-agx", "xavier-agx",
                                                         "orin-agx", "gpu-only"])),
                          objective=obj, contention=draw(st.sampled_from(["auto", "none"])),
                          max_transitions=draw(st.integers(0, 2)), frames_per_round=frames)


def random_schedule(problem: Problem, seed: int) -> Schedule:
    """A random valid schedule with a random, non-deadlocking device order."""
    rng = random.Random(seed)
    segs = tuple(rng.choice(job_options(problem, j.index)).segments for j in problem.jobs)
    for _ in range(50):
        refs = {d: [(j, s) for j, ss in enumerate(segs) for s, x in enumerate(ss)
                    if x.device == d] for d in problem.devices}
        for r in refs.values():
            rng.shuffle(r)
        sched = Schedule(segs, {d: tuple(r) for d, r in refs.items()})
        try:
            simulate(problem, sched)
        except ProblemError as exc:
            if "deadlock" in str(exc):
                continue
            raise
        return sched
    return Schedule(segs)  # FCFS never deadlocks


def intervals_ok(problem: Problem, sched: Schedule) -> None:
    tl = simulate(problem, sched)
    eps = 1e-9
    by_dev: dict[object, list[tuple[float, float]]] = {}
    for t in tl.segments:
        by_dev.setdefault(t.segment.device, []).append((t.start_ms, t.end_ms))
        assert t.end_ms - t.start_ms >= t.base_ms * (1 - 1e-12) - 1e-12  # never faster
        assert t.contention_ms >= 0
        if t.index > 0:
            prev = tl.timing(t.job, t.index - 1)
            assert t.start_ms >= prev.end_ms + t.transition_in_ms - eps
            seg0 = sched.segments[t.job][t.index - 1]
            tr = problem.transition(t.job, seg0.last_group, seg0.device, t.segment.device)
            assert t.transition_in_ms == pytest.approx(tr)
    for spans in by_dev.values():
        spans.sort()
        for (_, e1), (s2, _) in itertools.pairwise(spans):
            assert s2 >= e1 - eps


@SETTINGS
@given(problems(), st.integers(0, 10**6))
def test_timeline_invariants(problem: Problem, seed: int) -> None:
    """No overlap on a device; precedence + transitions; durations >= base."""
    intervals_ok(problem, random_schedule(problem, seed))


@SETTINGS
@given(problems(objective="latency"), st.integers(0, 10**6))
def test_latency_contention_is_exactly_the_overlap_formula(problem: Problem,
                                                           seed: int) -> None:
    sched = random_schedule(problem, seed)
    tl = simulate(problem, sched)
    devs = {t: t.segment.device for t in tl.segments}
    for a in tl.segments:
        extra = 0.0
        for b in tl.segments:
            if devs[a] == devs[b]:
                continue
            overlap = max(0.0, min(a.end_ms, b.end_ms) - max(a.start_ms, b.start_ms))
            extra += problem.loss_rate(a.job, devs[a], b.job, devs[b], b.segment.first_group,
                                       b.segment.last_group) * overlap
        assert a.end_ms - a.start_ms == pytest.approx(a.base_ms + extra, rel=1e-9, abs=1e-12)


@SETTINGS
@given(problems(objective="latency"), st.integers(0, 10**6))
def test_contention_never_makes_a_fixed_order_finish_earlier(problem: Problem,
                                                             seed: int) -> None:
    """Same segments and order: every end with contention >= its contention-free end
    (semi-active timing is monotone in durations, and durations only grow)."""
    sched = random_schedule(problem, seed)
    with_c = simulate(problem, sched)
    free_problem = Problem(problem.models, problem.platform, problem.objective,
                           problem.max_transitions, problem.loadable_limit, problem.pins,
                           problem.contention.scaled(0.0), problem.frames_per_round)
    fixed = Schedule(sched.segments, with_c.order)
    free = simulate(free_problem, fixed)
    for a, b in zip(with_c.segments, free.segments, strict=True):
        assert a.end_ms >= b.end_ms - 1e-9
    assert with_c.objective_ms >= free.objective_ms - 1e-9


@SETTINGS
@given(problems(objective="throughput"), st.integers(0, 10**6))
def test_period_at_least_busiest_device(problem: Problem, seed: int) -> None:
    sched = random_schedule(problem, seed)
    tl = simulate(problem, sched)
    assert tl.period_ms is not None and tl.round_period_ms is not None
    loads: dict[object, float] = {}
    for t in tl.segments:
        loads[t.segment.device] = loads.get(t.segment.device, 0.0) + t.base_ms
    assert tl.period_ms >= max(loads.values()) / problem.frames_per_round * (1 - 1e-9)
    assert tl.period_ms == pytest.approx(tl.round_period_ms / problem.frames_per_round)
    assert tl.period_ms >= lower_bound(problem) * (1 - 1e-9)


@SETTINGS
@given(problems(objective="throughput"), st.integers(0, 10**6))
def test_event_throughput_equals_exact_cycle_time(problem: Problem, seed: int) -> None:
    free = Problem(problem.models, problem.platform, problem.objective,
                   problem.max_transitions, problem.loadable_limit, problem.pins,
                   problem.contention.scaled(0.0), problem.frames_per_round)
    sched = random_schedule(free, seed)
    measured, converged = simulated_cycle_time(free, sched)
    assert converged
    assert measured == pytest.approx(cycle_time(free, sched), rel=1e-9)


def small_problems(objective: str) -> st.SearchStrategy[Problem]:
    return problems(objective=objective, max_groups=3, max_jobs=2)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["latency", "throughput"]).flatmap(small_problems))
def test_oracle_bounds_and_contention_monotone(problem: Problem) -> None:
    """Every oracle optimum >= lower_bound; removing contention never makes it worse."""
    limit = 20_000
    if problem.objective.value == "throughput" and problem.contention.enabled:
        problem = Problem(problem.models, problem.platform, problem.objective,
                          min(problem.max_transitions, 1), problem.loadable_limit,
                          problem.pins, problem.contention, problem.frames_per_round)
        # a steady-state simulation with contention takes 5-30 ms (2 frames per round: 1,722
        # schedules took 47 s): 20,000 of them made single examples last minutes
        # (measured with --hypothesis-seed=55 and 88)
        limit = 500
    assume(count_space(problem) <= limit)
    opt = exhaustive(problem, limit=limit)
    assert opt.objective is not None
    assert opt.objective >= lower_bound(problem) * (1 - 1e-9)
    free = Problem(problem.models, problem.platform, problem.objective,
                   problem.max_transitions, problem.loadable_limit, problem.pins,
                   problem.contention.scaled(0.0), problem.frames_per_round)
    free_opt = exhaustive(free, limit=20_000)
    assert free_opt.objective is not None
    assert free_opt.objective <= opt.objective * (1 + 1e-9)


def test_fluid_load_by_hand() -> None:
    from solvers.bounds.lower import fluid_load
    from tests.solvers.exact_backend_cases import table

    # one group, GPU 1 ms, DLA 2 ms, two DLA cores: half on the GPU (0.5 ms) and half on
    # the DLA pool (1 ms of DLA work over 2 cores) balance at 0.5 ms
    one = Problem.create([table("a", [1.0], [2.0])], "xavier-agx", contention="none")
    assert fluid_load(one) == pytest.approx(0.5)
    # cheapest DLA ratio first: the 2x group moves wholly (G 1, D/2 1), the 4x one stays
    two = Problem.create([table("a", [1.0, 1.0], [2.0, 4.0])], "xavier-agx",
                         contention="none")
    assert fluid_load(two) == pytest.approx(1.0)
    # DLA-ineligible groups stay on the GPU; no DLA cores: the total GPU cost
    pinned = Problem.create([table("a", [1.0, 3.0], [None, 2.0])], "xavier-agx",
                            contention="none")
    assert fluid_load(pinned) == pytest.approx(1.0)   # GPU 1 (forced), DLA 2 over 2 cores
    gpu = Problem.create([table("a", [1.0, 3.0], [2.0, 2.0])], "gpu-only",
                         contention="none")
    assert fluid_load(gpu) == pytest.approx(4.0)


@SETTINGS
@given(problems(), st.integers(0, 10**6))
def test_fluid_load_below_every_busiest_device(problem: Problem, seed: int) -> None:
    from solvers.bounds.lower import fluid_load

    sched = random_schedule(problem, seed)
    loads: dict[object, float] = {}
    for j, segs in enumerate(sched.segments):
        for s in segs:
            loads[s.device] = loads.get(s.device, 0.0) + problem.segment_cost(
                j, s.first_group, s.last_group, s.device)
    assert max(loads.values()) >= fluid_load(problem) * (1 - 1e-9)


def test_contention_load_by_hand() -> None:
    """GPU-only job a (1 ms) next to job b pinned to DLA0 (1 ms): run together, the DLA
    loses ``k_d`` per ms and the GPU ``k_g``, so the GPU ends at ``1 / (1 - k_g)`` and the
    DLA at ``(1 + k_d - k_g) / (1 - k_g)``: the LP bound is exactly that optimum."""
    from profiles.costtable import CostTable, GroupCost
    from solvers.bounds.lower import (
        CONTENTION_LP_MARGIN,
        contention_load,
        fluid_load,
        min_loss_rate,
    )
    from solvers.model.problem import Device, Pin

    def one_group(name: str, gpu: float, dla: float | None) -> CostTable:
        row = GroupCost(0, gpu, dla, None, None, gpu_bw_gbps=60.0,
                        dla_bw_gbps=None if dla is None else 20.0)
        return CostTable.build([row], {"model": name, "platform": "xavier-agx",
                                       "source": "synthetic"}, origin=f"<test {name}>")

    tables = [one_group("a", 1.0, None), one_group("b", 100.0, 1.0)]
    pin = [Pin("b", 0, 0, frozenset({Device.DLA0}))]
    problem = Problem.create(tables, "xavier-agx", contention="auto", pins=pin)
    k_g = min_loss_rate(problem, Device.GPU, Device.DLA0)
    k_d = min_loss_rate(problem, Device.DLA0, Device.GPU)
    assert 0 < k_g < k_d < 0.5
    expected = (1 + k_d - k_g) / (1 - k_g)
    assert contention_load(problem) == pytest.approx(expected, rel=2 * CONTENTION_LP_MARGIN)
    assert contention_load(problem) <= expected
    assert exhaustive(problem).objective == pytest.approx(expected, rel=1e-9)
    # no contention: the LP is not even built, the fluid bound stands
    free = Problem.create(tables, "xavier-agx", contention="none", pins=pin)
    assert contention_load(free) == fluid_load(free) == pytest.approx(1.0)


@SETTINGS
@given(problems(), st.integers(0, 10**6))
def test_lower_bound_below_every_simulated_schedule(problem: Problem, seed: int) -> None:
    """`lower_bound` (with contention: `contention_load`) never exceeds what the simulator
    says of any valid schedule, latency and throughput alike."""
    sched = random_schedule(problem, seed)
    assert simulate(problem, sched).objective_ms >= lower_bound(problem) * (1 - 1e-9)

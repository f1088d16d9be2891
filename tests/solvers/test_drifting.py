"""Throughput with contention whose phases drift (issue 23 item 0): the period is the long-run
limit of end(round R) / R (docs/model.md 4.1), held here for the simulator, the oracle and
every backend, and the streaming figures with the runtime's rounds in flight (4.2).

The four problems are random small ones found by enumerating every schedule of random
2-model problems (Orin AGX and Xavier AGX presets, contention strength 0.5 and 1.5) and
keeping those whose best schedules never repeat their state. The true optimum (last entry
of each case): the least long-run period over every schedule, each simulated for 60,000
rounds, (end(R) - end(R/2)) / (R/2), 2026-12-06.
Before this judge (per-segment increments accepted as a steady state, after a few rounds)
the oracle answered ``optimal`` 1.163462 ms for the first (1.5 % above the true optimum),
0.392424 ms for the second, ``optimal`` 0.579233 ms with that lower bound for the third,
0.22 % *below* what any schedule achieves, and 0.473093 ms (0.08 % above) for the fourth.
"""

from __future__ import annotations

import inspect

import pytest

from profiles.synthetic import synthetic_table
from runtime.executor import Executor
from solvers.errors import ProblemError
from solvers.judges.oracle import exhaustive
from solvers.judges.simulator import (
    STREAMING_ROUNDS_IN_FLIGHT,
    order_from_mapping,
    prepare,
    simulate,
    simulated_cycle_time,
    stream_of_segments,
    streaming_figures,
)
from solvers.model.contention import ORIN_DRAM_GBPS, stretched_xavier, xavier_preset
from solvers.model.problem import Device, Problem
from solvers.model.schedule import Schedule, Segment, SolveStatus
from solvers.solve import solve
from tests.solvers.test_simulator import table

LONG_RUN = 20_000
"""Rounds of the reference runs (10x the simulator's cap)."""

CASES = {
    # name: (groups, table seeds, platform, max transitions, strength, true optimum ms)
    "orin-1.5": ((1, 3), (2824, 2643), "orin-agx", 1, 1.5, 1.14626633),
    "orin-0.5-a": ((3, 1), (2033, 4589), "orin-agx", 1, 0.5, 0.39241205),
    "orin-0.5-b": ((1, 3), (4499, 292), "orin-agx", 1, 0.5, 0.58052857),
    "xavier-0.5": ((1, 2), (6884, 9545), "xavier-agx", 1, 0.5, 0.47272655),
}


def drifting(name: str) -> tuple[Problem, float]:
    groups, seeds, platform, max_tr, strength, truth = CASES[name]
    tables = [synthetic_table(g, s, model=f"m{j}")
              for j, (g, s) in enumerate(zip(groups, seeds, strict=True))]
    # the bandwidth-dependent curves these cases were found with: Xavier's preset, and for
    # Orin the former placeholder (Xavier's curve stretched to 204.8 GB/s; the AGX Orin
    # preset is now a constant rate fitted to TensorRT#2745, under which they do not drift)
    curve = (stretched_xavier("orin-agx-shape", ORIN_DRAM_GBPS["orin-agx"])
             if platform.startswith("orin") else xavier_preset())
    problem = Problem.create(tables, platform, objective="throughput", max_transitions=max_tr,
                             contention=curve.scaled(strength))
    return problem, truth


def long_run(problem: Problem, schedule: Schedule) -> float:
    value, _ = simulated_cycle_time(problem, schedule, rounds=LONG_RUN)
    return value / problem.frames_per_round


def held_to_the_long_run(problem: Problem, truth: float, status: SolveStatus,
                         objective: float, bound: float | None, schedule: Schedule) -> None:
    timeline = simulate(problem, schedule)
    error = timeline.period_error_ms
    assert error is not None and timeline.objective_ms == pytest.approx(objective, rel=1e-12)
    # the reported period is within its stated error of the long-run one (and of the
    # reference's own ~2e-6)
    assert abs(long_run(problem, schedule) - objective) <= error + 3e-6 * objective
    # no schedule beats the true optimum; no bound exceeds it
    assert objective + error >= truth * (1 - 1e-6)
    assert bound is not None and bound <= truth * (1 + 1e-7)
    if status is SolveStatus.OPTIMAL:
        # (a 20,000-round run is itself within ~2e-6 of the limit here)
        assert long_run(problem, schedule) == pytest.approx(truth, rel=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_simulator_reports_the_long_run_period_with_its_error(name: str) -> None:
    problem, truth = drifting(name)
    best = exhaustive(problem).schedule
    assert best is not None
    timeline = simulate(problem, best)
    # the state never repeats: an estimate, with a stated (small, non-zero) error
    assert 0 < timeline.period_error_ms < 1e-3 * timeline.period_ms
    assert any("did not repeat" in note for note in timeline.notes)
    assert abs(long_run(problem, best) - timeline.period_ms) <= (timeline.period_error_ms
                                                                 + 3e-6 * truth)


@pytest.mark.parametrize("name", sorted(CASES))
def test_oracle_is_held_to_the_long_run_optimum(name: str) -> None:
    problem, truth = drifting(name)
    result = exhaustive(problem)
    assert result.schedule is not None and result.status in (SolveStatus.OPTIMAL,
                                                            SolveStatus.FEASIBLE)
    held_to_the_long_run(problem, truth, result.status, result.objective, result.lower_bound,
                         result.schedule)


@pytest.mark.parametrize("name", sorted(CASES))
def test_backends_are_held_to_the_long_run_optimum(backend: str, name: str) -> None:
    problem, truth = drifting(name)
    result = solve(problem, backend, time_limit=30)
    assert result.schedule is not None
    held_to_the_long_run(problem, truth, result.status, result.objective, result.lower_bound,
                         result.schedule)


# ---------------------------------------------------------------------- streaming
GPU, DLA0 = Device.GPU, Device.DLA0
# a fast GPU head (1 ms) and a slow DLA tail (3 ms): unbounded, the GPU runs ahead forever
CHAIN = table("C", [1.0, 2.0], [2.0, 3.0], [0.5], [0.5])


def chain_problem(contention: object = "none") -> Problem:
    return Problem.create([CHAIN], "xavier-agx", objective="throughput",
                          contention=contention, max_transitions=1)


def test_streaming_uses_the_runtimes_rounds_in_flight() -> None:
    default = inspect.signature(Executor.__init__).parameters["rounds_in_flight"].default
    assert default == STREAMING_ROUNDS_IN_FLIGHT


def test_streaming_bounds_the_rounds_in_flight() -> None:
    problem = chain_problem()
    schedule = Schedule(((Segment(0, 0, GPU), Segment(1, 1, DLA0)),))
    timeline = simulate(problem, schedule)
    assert timeline.period_ms == pytest.approx(3.0)        # the DLA's 3 ms
    assert timeline.period_error_ms == 0
    stream = timeline.streaming
    assert stream is not None and stream.rounds_in_flight == 2
    # two rounds in flight keep the DLA busy: same period; the GPU starts round r when
    # round r - 2 ends (at e), its DLA part ends at e + 3 + 3: every frame takes 6 ms
    assert stream.period_ms == pytest.approx(3.0)
    assert stream.period_error_ms == 0
    assert stream.latency_worst_ms == pytest.approx(6.0)
    assert stream.latency_p50_ms == pytest.approx(6.0)
    # unbounded, the GPU runs ahead (by more rounds the longer it runs): the round shown
    # already spans more than a streamed frame
    assert timeline.makespan_ms > stream.latency_worst_ms
    # one round in flight: rounds run one after the other
    prep = prepare(problem, schedule)
    one = streaming_figures(problem, prep, [[0], [1], []], 1)
    assert one.period_ms == pytest.approx(4.5) and one.latency_worst_ms == pytest.approx(4.5)


def test_streaming_agrees_with_the_unbounded_period_when_rounds_never_pile_up() -> None:
    """Where, in the unbounded steady state, no round starts before the round
    ``rounds_in_flight`` earlier has ended, the bound never binds and both periods are the
    same. Here with contention: the GPU (model D, then C's head) is the bottleneck and C's
    DLA tail ends long before the GPU starts two rounds later."""
    heavy = table("D", [3.0, 2.0], [4.0, 3.0], [0.5], [0.5])
    problem = Problem.create([CHAIN, heavy], "xavier-agx", objective="throughput",
                             max_transitions=1)
    assert problem.contention.enabled
    schedule = Schedule(((Segment(0, 0, GPU), Segment(1, 1, DLA0)), (Segment(0, 1, GPU),)))
    timeline = simulate(problem, schedule)
    stream = timeline.streaming
    assert stream is not None and timeline.period_error_ms == 0
    assert stream.period_ms == pytest.approx(timeline.period_ms, rel=1e-9)
    assert stream.latency_p50_ms <= stream.latency_worst_ms < 2 * timeline.round_period_ms


def test_streaming_can_differ_from_the_unbounded_period_with_contention() -> None:
    """Each device runs one whole model: unbounded, the faster GPU runs ahead and never
    idles, so the DLA always suffers its contention; with two rounds in flight the GPU
    waits for the DLA's rounds and idles, and the stream is faster than the solvers'
    (unbounded) period (docs/model.md 4.2)."""
    other = table("D", [1.5, 1.0], [2.5, 2.0], [0.5], [0.5])
    problem = Problem.create([CHAIN, other], "xavier-agx", objective="throughput",
                             max_transitions=0)
    schedule = Schedule(((Segment(0, 1, GPU),), (Segment(0, 1, DLA0),)))
    timeline = simulate(problem, schedule)
    stream = timeline.streaming
    assert stream is not None and timeline.period_error_ms == 0
    assert stream.period_ms < timeline.period_ms * (1 - 1e-3)


def test_streaming_from_segment_times_is_the_same_engine() -> None:
    """`stream_of_segments` (what `optimizer.replay` feeds with a run's measured times) gives
    the streaming figures of `simulate` for the same segment times, transitions and orders,
    per model and per job, at every bound on the rounds in flight."""
    problem = Problem.create([CHAIN, table("D", [3.0, 2.0], [4.0, 3.0], [0.5], [0.5])],
                             "xavier-agx", objective="throughput", contention="none",
                             max_transitions=1, frames_per_round=2)
    schedule = Schedule(((Segment(0, 0, GPU), Segment(1, 1, DLA0)), (Segment(0, 1, GPU),),
                         (Segment(0, 1, DLA0),), (Segment(0, 0, DLA0), Segment(1, 1, GPU))))
    prep = prepare(problem, schedule)
    timeline = simulate(problem, schedule)
    jobs = [[(seg.device, problem.segment_cost(j, seg.first_group, seg.last_group, seg.device),
              0.0 if s == 0 else problem.transition(j, segs[s - 1].last_group,
                                                   segs[s - 1].device, seg.device))
             for s, seg in enumerate(segs)] for j, segs in enumerate(schedule.segments)]
    names = [problem.models[job.model_index].name for job in problem.jobs]
    for k in (1, 2, 3, None):
        want = streaming_figures(problem, prep, order_from_mapping(prep, timeline.order), k)
        got = stream_of_segments(problem.devices, jobs, timeline.order, k, job_models=names,
                                 frames_per_round=2)
        assert got == want
    assert got.latency_by_model["C"][1] == max(got.latency_by_job[0][1],
                                                got.latency_by_job[1][1])


def test_streaming_from_segment_times_refuses_bad_times_and_orders() -> None:
    jobs = [[(GPU, 1.0, 0.0), (DLA0, 2.0, 0.5)]]
    order = {GPU: [(0, 0)], DLA0: [(0, 1)]}
    base = dict(job_models=["m"], frames_per_round=1)
    one = stream_of_segments((GPU, DLA0), jobs, order, 1, **base)
    assert one.period_ms == pytest.approx(3.5)
    late = stream_of_segments((GPU, DLA0), jobs, order, 1, latency_from=[0.25], **base)
    assert late.latency_p50_ms == pytest.approx(3.25)
    for bad in (float("nan"), -1.0, float("inf")):
        with pytest.raises(ProblemError, match="not a finite number"):
            stream_of_segments((GPU, DLA0), [[(GPU, bad, 0.0)]], {GPU: [(0, 0)]}, 1, **base)
    with pytest.raises(ProblemError, match="exactly once"):
        stream_of_segments((GPU, DLA0), jobs, {GPU: [(0, 0)]}, 1, **base)
    with pytest.raises(ProblemError, match="runs on GPU"):
        stream_of_segments((GPU, DLA0), jobs, {DLA0: [(0, 0), (0, 1)]}, 1, **base)
    with pytest.raises(ProblemError, match="deadlocks"):
        stream_of_segments((GPU, DLA0), [[(GPU, 1.0, 0.0), (DLA0, 1.0, 0.0)],
                                         [(DLA0, 1.0, 0.0), (GPU, 1.0, 0.0)]],
                           {GPU: [(1, 1), (0, 0)], DLA0: [(0, 1), (1, 0)]}, 1,
                           job_models=["m", "n"], frames_per_round=1)
    with pytest.raises(ProblemError, match="latency_from"):
        stream_of_segments((GPU, DLA0), jobs, order, 1, latency_from=[5.0], **base)

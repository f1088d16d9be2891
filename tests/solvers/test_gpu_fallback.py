"""GPU fallback as TensorRT executes it (docs/model.md section 2.1).

- `switches` counts what `max_transitions` bounds; checked against an independent brute
  force: the oracle's pieces for a fallback job are exactly the expansions of the
  user-level segmentations (DLA segments may span refused groups) with <= T switches.
- Every backend that accepts fallback (CP-SAT, the oracle) agrees with the oracle on
  random small problems with fallback; ILP and SAT refuse it in one line.
- Bad input: unknown model name, a table without DLA costs, a platform without DLA.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from profiles.costtable import CostTable, GroupCost
from profiles.synthetic import synthetic_table
from solvers.errors import ProblemError, UnsupportedFeatureError
from solvers.heuristics.baselines import tensorrt_fallback
from solvers.judges.oracle import job_options
from solvers.judges.simulator import simulate
from solvers.model.problem import Device, Pin, Problem
from solvers.model.schedule import (
    Result,
    Schedule,
    Segment,
    SolveStatus,
    fallback_pieces,
    result_to_dict,
    switches,
)
from solvers.solve import solve
from tests.solvers.test_backends_vs_oracle import check_against_oracle

G, D0, D1 = Device.GPU, Device.DLA0, Device.DLA1


def _table(refused: list[bool], name: str = "m") -> CostTable:
    """Groups of 0.1 ms on the GPU, 0.2 ms on DLA where allowed, transitions 0.01/0.02."""
    rows = []
    n = len(refused)
    for g, r in enumerate(refused):
        last = g == n - 1
        rows.append(GroupCost(
            group=g, gpu_ms=0.1 + 0.01 * g, dla_ms=None if r else 0.2,
            gpu_to_dla_ms=None if last or refused[g + 1] else 0.01,
            dla_to_gpu_ms=None if last or r else 0.02,
            first_layer=f"L{g}", last_layer=f"L{g}", layers=1))
    return CostTable.build(rows, {"model": name, "platform": "xavier-agx", "source": "synthetic"})


def _problem(refused: list[bool], t: int = 1, fallback: str | None = "all", **kw) -> Problem:
    return Problem.create([_table(refused)], "xavier-agx", max_transitions=t,
                          contention="none", gpu_fallback=fallback, **kw)


def test_switches_count_user_segments() -> None:
    p = _problem([False, True, False, True, False])
    # one DLA segment over everything: D G D G D, no switch
    segs = (Segment(0, 0, D0), Segment(1, 1, G), Segment(2, 2, D0), Segment(3, 3, G),
            Segment(4, 4, D0))
    assert switches(p, 0, segs) == 0
    assert fallback_pieces(p, 0, segs) == {1, 3}
    # DLA0 over group 0, then one DLA1 segment over 1..4: the first fallback piece sits
    # between two cores (no merge), the second inside DLA1's segment
    segs = (Segment(0, 0, D0), Segment(1, 1, G), Segment(2, 2, D1), Segment(3, 3, G),
            Segment(4, 4, D1))
    assert switches(p, 0, segs) == 1
    # a GPU piece holding an eligible group is the user's own segment
    segs = (Segment(0, 0, D0), Segment(1, 3, G), Segment(4, 4, D0))
    assert switches(p, 0, segs) == 2 and not fallback_pieces(p, 0, segs)
    # without fallback every hop counts
    q = _problem([False, True, False, True, False], fallback=None)
    segs = (Segment(0, 0, D0), Segment(1, 1, G), Segment(2, 4, D0))
    assert switches(q, 0, segs) == 2 and not fallback_pieces(q, 0, segs)


def test_leading_and_trailing_fallback_is_free() -> None:
    p = _problem([True, False, False, True], t=0)
    segs = (Segment(0, 0, G), Segment(1, 2, D1), Segment(3, 3, G))
    assert switches(p, 0, segs) == 0
    Schedule((segs,)).validate(p)
    with pytest.raises(ProblemError, match="2 device transitions exceed max transitions 1"):
        Schedule((segs,)).validate(_problem([True, False, False, True], t=1, fallback=None))


def _expand(problem: Problem, job: int, user: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """What TensorRT runs for user-level segments (docs/model.md 2.1), written from the
    rule itself: in a DLA segment refused groups run on the GPU; adjacent runs on one
    device are one piece."""
    per_group = []
    for seg in user:
        for g in range(seg.first_group, seg.last_group + 1):
            per_group.append(G if seg.device.kind == "dla" and problem.refused(job, g)
                             else seg.device)
    out: list[Segment] = []
    for g, d in enumerate(per_group):
        if out and out[-1].device == d:
            out[-1] = Segment(out[-1].first_group, g, d)
        else:
            out.append(Segment(g, g, d))
    return tuple(out)


@pytest.mark.parametrize("refused", [
    [False, True, False, True, False], [True, False, True, False], [False, True, True, False],
    [True, True, False, False, True], [False, False, True]])
@pytest.mark.parametrize("t", [0, 1, 2])
def test_oracle_pieces_are_the_expansions_of_user_segmentations(refused: list[bool],
                                                                t: int) -> None:
    p = _problem(refused, t=t)
    n = len(refused)
    want = set()
    for m in range(1, min(t + 1, n) + 1):
        for cuts in itertools.combinations(range(1, n), m - 1):
            bounds = (0, *cuts, n)
            for devs in itertools.product(p.devices, repeat=m):
                if any(a == b for a, b in itertools.pairwise(devs)):
                    continue
                user = tuple(Segment(bounds[i], bounds[i + 1] - 1, d)
                             for i, d in enumerate(devs))
                # with fallback a refused group may sit in a DLA segment as well
                want.add(_expand(p, 0, user))
    got = {opt.segments for opt in job_options(p, 0)}
    assert got == want


def test_fallback_never_worse_and_counts_loadables() -> None:
    refused = [False, True, False, True, False]
    with_fb = solve(_problem(refused, t=0), "exhaustive", time_limit=None, hint=None)
    without = solve(_problem(refused, t=0, fallback=None), "exhaustive", time_limit=None,
                    hint=None)
    assert with_fb.objective <= without.objective
    # all on DLA0 with fallback: three loadables; a limit of 2 forbids it
    segs = (Segment(0, 0, D0), Segment(1, 1, G), Segment(2, 2, D0), Segment(3, 3, G),
            Segment(4, 4, D0))
    tl = simulate(_problem(refused, t=0), Schedule((segs,)))
    assert tl.loadables[D0] == 3
    with pytest.raises(ProblemError, match="loadable"):
        simulate(_problem(refused, t=0, loadable_limit=2), Schedule((segs,)))


def test_dla_core_is_free_during_fallback() -> None:
    """model.md 2.1: while job a's fallback piece runs on the GPU, job b's DLA segment may
    run on the core a's segment uses (its order says so)."""
    a = _table([False, True, False], "a")
    b = _table([False], "b")
    p = Problem.create([a, b], "xavier-agx", max_transitions=0, contention="none",
                       gpu_fallback=["a"])
    segs = ((Segment(0, 0, D0), Segment(1, 1, G), Segment(2, 2, D0)), (Segment(0, 0, D0),))
    order = {D0: ((0, 0), (1, 0), (0, 2)), G: ((0, 1),)}
    tl = simulate(p, Schedule(segs, order))
    b_seg, gpu_piece = tl.timing(1, 0), tl.timing(0, 1)
    assert b_seg.start_ms == pytest.approx(tl.timing(0, 0).end_ms)
    assert b_seg.start_ms < gpu_piece.end_ms


def test_json_marks_fallback_pieces() -> None:
    p = _problem([False, True, False, False], t=1)
    segs = (Segment(0, 0, D0), Segment(1, 1, G), Segment(2, 2, D0), Segment(3, 3, G))
    schedule = Schedule((segs,))
    tl = simulate(p, schedule)
    doc = result_to_dict(p, Result(SolveStatus.FEASIBLE, "test", schedule, tl,
                                   tl.objective_ms, None, 0.0))
    model = doc["models"][0]
    assert model["gpu_fallback"] is True and model["switches"] == 1
    assert [s["fallback"] for s in model["segments"]] == [False, True, False, False]
    assert [t["fallback"] for t in model["transitions"]] == [True, True, False]
    assert model["transition_layers"][0].endswith("(GPU fallback)")


def test_problem_json_round_trip_keeps_fallback() -> None:
    p = Problem.create([_table([False, True], "a"), _table([False], "b")], "xavier-agx",
                       gpu_fallback="a", contention="none")
    back = Problem.from_dict(p.to_dict())
    assert [m.gpu_fallback for m in back.models] == [True, False]
    assert back.to_dict() == p.to_dict()
    bad = p.to_dict()
    bad["models"][0]["gpu_fallback"] = "yes"
    with pytest.raises(ProblemError, match=r"models\[0\]\.gpu_fallback"):
        Problem.from_dict(bad)


def test_bad_fallback_requests_are_one_clear_line() -> None:
    with pytest.raises(ProblemError, match=r"unknown model.*nope.*models are m"):
        _problem([False, True], fallback="nope")
    gpu_only_table = CostTable.build(
        [GroupCost(group=0, gpu_ms=0.1, dla_ms=None, gpu_to_dla_ms=None, dla_to_gpu_ms=None)],
        {"model": "g", "platform": "xavier-agx", "source": "synthetic"})
    with pytest.raises(ProblemError, match="no DLA cost in any group"):
        Problem.create([gpu_only_table], "xavier-agx", gpu_fallback="all", contention="none")
    with pytest.raises(ProblemError, match="no DLA core"):
        Problem.create([_table([False, True])], "gpu-only", gpu_fallback="all",
                       contention="none")
    with pytest.raises(ProblemError) as info:
        _problem([False], fallback="x,y")
    assert "\n" not in str(info.value) and "x, y" in str(info.value)


@pytest.mark.parametrize("solver", ["ilp", "sat"])
def test_ilp_and_sat_refuse_fallback(solver: str) -> None:
    pytest.importorskip("pysat" if solver == "sat" else "ortools")
    with pytest.raises(UnsupportedFeatureError, match="does not model GPU fallback") as info:
        solve(_problem([False, True, False]), solver, time_limit=5)
    assert "\n" not in str(info.value)


@st.composite
def fallback_problems(draw: st.DrawFn) -> Problem:
    n_jobs = draw(st.integers(1, 2))
    objective = draw(st.sampled_from(["latency", "throughput"]))
    # latency contention is exact in CP-SAT: compare it often; throughput contention is
    # the local search's job (model.md section 4), held to the oracle by test_solve
    contention = draw(st.sampled_from(["none", "auto", "auto"] if objective == "latency"
                                      and n_jobs == 2 else ["none"]))
    tables = []
    for j in range(n_jobs):
        groups = draw(st.integers(2, 5 if n_jobs == 1 else 4))
        tables.append(synthetic_table(groups, draw(st.integers(0, 10_000)), model=f"m{j}",
                                      ineligible_fraction=draw(st.sampled_from([0.3, 0.5]))))
    fallback = draw(st.sampled_from(["all", "m0"]))
    pins: list[Pin] = []
    if draw(st.integers(0, 5)) == 0:
        g = draw(st.integers(0, tables[0].n_groups - 1))
        pins.append(Pin.forbid("m0", g, g, [Device.DLA1]))
    try:
        return Problem.create(tables, "xavier-agx", objective=objective,
                              max_transitions=draw(st.integers(0, 2)), contention=contention,
                              loadable_limit=draw(st.sampled_from([None, None, 1, 2])),
                              gpu_fallback=fallback, pins=pins)
    except ProblemError:
        reject()


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=fallback_problems())
def test_backend_with_fallback_equals_oracle(backend: str, problem: Problem) -> None:
    if backend in ("ilp", "sat"):
        with pytest.raises(UnsupportedFeatureError):
            solve(problem, backend, time_limit=5)
        return
    event(f"fallback jobs: {sum(problem.gpu_fallback(j.index) for j in problem.jobs)}")
    check_against_oracle(backend, problem)


@pytest.mark.parametrize("seed", range(6))
def test_latency_contention_with_fallback_equals_oracle(backend: str, seed: int) -> None:
    """Two models with refused groups, both with fallback, contention on (exact in CP-SAT):
    hypothesis draws few of these, so a fixed sample holds them to the oracle too."""
    tables = [synthetic_table(4, seed, model="m0", ineligible_fraction=0.4),
              synthetic_table(3, seed + 100, model="m1", ineligible_fraction=0.3)]
    try:
        problem = Problem.create(tables, "xavier-agx", max_transitions=seed % 2,
                                 gpu_fallback="all")
    except ProblemError:
        pytest.skip("a table without DLA costs")
    if backend in ("ilp", "sat"):
        with pytest.raises(UnsupportedFeatureError):
            solve(problem, backend, time_limit=5)
        return
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    result = solve(problem, backend, time_limit=120)
    assert oracle.status is SolveStatus.OPTIMAL and result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(oracle.objective, rel=1e-6, abs=2e-5)


# ---------------------------------------------------------------------- the TensorRT baseline
@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_tensorrt_baseline_is_one_switch_with_fallback(seed: int, objective: str) -> None:
    """"As TensorRT builds it": every model at most one switch, refused groups of its DLA
    part on the GPU; valid under fallback, never better than the optimum with fallback."""
    tables = [synthetic_table(5, seed, model="gan", ineligible_fraction=0.4),
              synthetic_table(4, seed + 50, model="yolo", ineligible_fraction=0.2)]
    try:
        problem = Problem.create(tables, "xavier-agx", objective=objective,
                                 max_transitions=2, contention="none")
    except ProblemError:
        pytest.skip("a table without DLA costs")
    result = tensorrt_fallback(problem)
    assert result.solver == "baseline:tensorrt_fallback"
    assert result.status is SolveStatus.FEASIBLE
    built = problem.with_gpu_fallback()
    result.schedule.validate(built)
    for job in built.jobs:
        # at most one switch (the pieces of one-switch builds: see the expansion test)
        assert switches(built, job.index, result.schedule.segments[job.index]) <= 1
    optimum = solve(built, "exhaustive", time_limit=None, hint=None)
    assert optimum.objective <= result.objective * (1 + 1e-9)
    assert simulate(built, result.schedule).objective_ms == pytest.approx(result.objective)


def test_tensorrt_baseline_runs_refused_layers_of_the_dla_part_on_the_gpu() -> None:
    """A model whose every layer but one the DLA takes: TensorRT's build puts it on the DLA
    with one fallback piece (no switch), the slow GPU alternative loses."""
    rows = []
    for g in range(5):
        rows.append(GroupCost(group=g, gpu_ms=1.0, dla_ms=None if g == 2 else 0.3,
                              gpu_to_dla_ms=None if g in (1, 4) else 0.01,
                              dla_to_gpu_ms=None if g in (2, 4) else 0.01))
    table = CostTable.build(rows, {"model": "gan", "platform": "xavier-agx",
                                   "source": "synthetic"})
    problem = Problem.create([table], "xavier-agx", max_transitions=1, contention="none")
    result = tensorrt_fallback(problem)
    assert result.schedule.segments[0] == (Segment(0, 1, D0), Segment(2, 2, G),
                                           Segment(3, 4, D0))
    assert result.objective == pytest.approx(0.3 * 4 + 1.0 + 0.02)
    # the problem itself forbids fallback: that schedule is not one of its schedules
    with pytest.raises(ProblemError, match="exceed max transitions 1"):
        Schedule(result.schedule.segments).validate(replace(problem, max_transitions=1))


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_permuting_models_with_fallback_changes_nothing(backend: str, objective: str) -> None:
    if backend in ("ilp", "sat"):
        pytest.skip("refuses GPU fallback")
    tables = [synthetic_table(6, 7, model="gan", ineligible_fraction=0.4),
              synthetic_table(5, 8, model="yolo", ineligible_fraction=0.2)]
    values = []
    for order in (tables, tables[::-1]):
        problem = Problem.create(order, "xavier-agx", objective=objective, max_transitions=1,
                                 contention="none", gpu_fallback="gan")
        result = solve(problem, backend, time_limit=60)
        assert result.status is SolveStatus.OPTIMAL
        values.append(result.objective)
    assert values[0] == pytest.approx(values[1], rel=1e-9)

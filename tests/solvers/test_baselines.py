"""Baselines: valid schedules, both objectives, 1-3 devices, constraints respected."""

from __future__ import annotations

import pytest

from profiles.costtable import load_published
from profiles.synthetic import synthetic_table
from solvers.bounds.lower import lower_bound
from solvers.heuristics.baselines import (
    gpu_only,
    greedy,
    h2h_like,
    herald_like,
    run_baselines,
    whole_models,
)
from solvers.judges.oracle import exhaustive
from solvers.judges.simulator import check_loadables, simulate
from solvers.model.problem import Device, Pin, Problem
from solvers.model.schedule import SolveStatus


@pytest.mark.parametrize("platform", ["xavier-agx", "gpu-only"])
@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_every_baseline_is_valid(platform: str, objective: str) -> None:
    tables = [synthetic_table(6, s, ineligible_fraction=0.3) for s in range(3)]
    frames = 2 if objective == "throughput" else 1
    p = Problem.create(tables, platform, objective=objective, max_transitions=2,
                       frames_per_round=frames, loadable_limit=2)
    for name, r in run_baselines(p).items():
        assert r.status is SolveStatus.FEASIBLE, (name, r.message)
        assert r.schedule is not None and r.objective is not None
        r.schedule.validate(p)
        check_loadables(p, r.schedule)
        assert r.objective == pytest.approx(simulate(p, r.schedule).objective_ms)
        assert r.objective >= lower_bound(p) * (1 - 1e-12)
        assert r.lower_bound == pytest.approx(lower_bound(p))


def test_gpu_only_and_whole_models_shapes() -> None:
    g, a = load_published("googlenet_xavier"), load_published("alexnet_xavier")
    p = Problem.create([g, a], "xavier-agx")
    r = gpu_only(p)
    assert r.schedule is not None and r.objective == pytest.approx(sum(g.gpu_ms) + sum(a.gpu_ms))
    w = whole_models(p)
    assert w.schedule is not None and all(len(s) == 1 for s in w.schedule.segments)
    assert w.objective is not None and w.objective <= r.objective  # type: ignore[operator]
    # client-server: googlenet GPU, alexnet DLA = max(1.72, 5.41)... all are considered
    assert w.stats["schedules_tried"] >= 9


def test_gpu_only_infeasible_when_pinned_off_gpu() -> None:
    t = synthetic_table(4, 3)
    p = Problem.create([t], "xavier-agx", pins=[Pin.forbid(t.model, 0, 0, [Device.GPU])])
    r = gpu_only(p)
    assert r.status is SolveStatus.INFEASIBLE and r.schedule is None
    for fn in (greedy, herald_like, h2h_like, whole_models):
        res = fn(p)
        assert res.status is SolveStatus.FEASIBLE, fn.__name__
        assert res.schedule is not None
        assert res.schedule.segments[0][0].device.kind == "dla"


def test_greedy_respects_constraints_on_large_problem() -> None:
    tables = [synthetic_table(250, s, ineligible_fraction=0.1) for s in range(4)]
    pins = [Pin.forbid(tables[0].model, 0, 20, [Device.DLA0, Device.DLA1])]
    p = Problem.create(tables, "xavier-agx", max_transitions=2, loadable_limit=1, pins=pins)
    r = greedy(p)
    assert r.status is SolveStatus.FEASIBLE and r.schedule is not None
    r.schedule.validate(p)
    counts = check_loadables(p, r.schedule)
    assert all(c <= 1 for c in counts.values())
    assert all(s.device is Device.GPU for s in r.schedule.segments[0] if s.first_group <= 20)
    assert r.objective is not None and r.objective < gpu_only(p).objective  # type: ignore


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_baselines_never_beat_the_oracle(objective: str) -> None:
    tables = [synthetic_table(4, 7), synthetic_table(3, 8)]
    p = Problem.create(tables, "xavier-agx", objective=objective, max_transitions=1)
    opt = exhaustive(p).objective
    assert opt is not None
    for name, r in run_baselines(p).items():
        assert r.objective is not None and r.objective >= opt * (1 - 1e-12), name

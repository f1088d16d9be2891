"""Problem construction and validation: every rule raises a ProblemError that says what."""

from __future__ import annotations

import pytest

from profiles.costtable import load_published
from profiles.synthetic import synthetic_table
from solvers.errors import ProblemError
from solvers.model.contention import ContentionModel, PiecewiseLinear, no_contention
from solvers.model.problem import (
    Device,
    ModelSpec,
    Objective,
    Pin,
    Problem,
    get_platform,
    loadable_limit_for_trt,
)

T1, T2 = synthetic_table(4, 1), synthetic_table(5, 2)


def test_create_defaults_and_accessors() -> None:
    p = Problem.create([T1, T2])
    assert p.objective is Objective.LATENCY and p.max_transitions == 2
    assert [j.name for j in p.jobs] == [T1.model, T2.model]
    assert p.contention.enabled  # synthetic tables carry bandwidth columns
    assert p.cost(0, 0, Device.DLA1) == T1.rows[0].dla_ms
    assert p.segment_cost(0, 0, 1, "GPU") == pytest.approx(T1.rows[0].gpu_ms + T1.rows[1].gpu_ms)
    assert p.transition(0, 0, Device.DLA0, Device.DLA1) == pytest.approx(
        T1.rows[0].dla_to_gpu_ms + T1.rows[0].gpu_to_dla_ms)
    assert p.loss_rate(0, Device.GPU, 0, Device.DLA0, 0, 0) == 0  # same job in latency mode
    assert p.loss_rate(0, Device.GPU, 1, Device.GPU, 0, 0) == 0   # same device
    assert p.loss_rate(0, Device.GPU, 1, Device.DLA0, 0, 0) > 0


def test_the_co_runner_demand_is_the_segments_own_time_weighted_demand() -> None:
    p = Problem.create([T1, T2])
    rows = T2.rows
    for first, last in [(0, 0), (1, 3), (0, len(rows) - 1), (2, 2)]:
        span = rows[first:last + 1]
        for kind, t_of, bw_of in (("gpu", "gpu_ms", "gpu_bw_gbps"),
                                  ("dla", "dla_ms", "dla_bw_gbps")):
            pairs = [(getattr(r, t_of), getattr(r, bw_of)) for r in span
                     if getattr(r, t_of) is not None]
            want = sum(t * b for t, b in pairs) / sum(t for t, _ in pairs)
            assert p.segment_bandwidth(1, first, last, kind) == pytest.approx(want, rel=1e-12)
            assert p.least_bandwidth(1, kind) <= p.segment_bandwidth(1, first, last, kind)
        k = p.loss_rate(0, Device.GPU, 1, Device.DLA0, first, last)
        assert k == pytest.approx(p.contention.loss_rate(
            "gpu", p.segment_bandwidth(1, first, last, "dla")))
        assert p.least_loss_rate(0, Device.GPU, 1, Device.DLA0) <= k
    assert p.bandwidth(1, "gpu") == pytest.approx(
        p.segment_bandwidth(1, 0, len(rows) - 1, "gpu"))


def test_throughput_jobs_are_instances() -> None:
    p = Problem.create([T1], objective="throughput", frames_per_round=2)
    assert [j.name for j in p.jobs] == [f"{T1.model}#0", f"{T1.model}#1"]
    assert p.loss_rate(0, Device.GPU, 0, Device.DLA0, 0, 0) > 0  # frames of one job do contend


def test_published_tables_warn_when_contention_is_off() -> None:
    p = Problem.create([load_published("googlenet_xavier")])
    assert not p.contention.enabled and any("contention is off" in w for w in p.warnings)
    with pytest.raises(ProblemError, match="gpu_bw_gbps"):
        Problem.create([load_published("googlenet_xavier")], contention="preset")
    # TRT 7.1.3 allows 8 per core; one job of at most 3 segments can use only 3
    assert p.dla_loadable_limit == 3
    assert Problem.create([load_published("googlenet_xavier")] * 3,
                          max_transitions=4).dla_loadable_limit == 8


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_transitions": -1}, "max_transitions must be an integer >= 0"),
    ({"frames_per_round": 0, "objective": "throughput"}, "frames_per_round must be"),
    ({"frames_per_round": 2}, "only makes sense for the throughput"),
    ({"loadable_limit": -2}, "loadable_limit must be"),
    ({"weights": {"nope": 2.0}}, "unknown model 'nope'"),
    ({"weights": {T1.model: 0.0}}, "weight must be a finite number > 0"),
    ({"deadlines": {T1.model: -1.0}}, "deadline must be > 0"),
    ({"contention": "sometimes"}, "contention must be"),
    ({"platform": "jetson-nano"}, "unknown platform"),
])
def test_validation_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ProblemError, match=match):
        Problem.create([T1, T2], **kwargs)  # type: ignore[arg-type]


def test_pin_validation() -> None:
    with pytest.raises(ProblemError, match="unknown model"):
        Problem.create([T1], pins=[Pin("other", 0, 0, frozenset({Device.GPU}))])
    with pytest.raises(ProblemError, match=r"outside 0\.\.3"):
        Problem.create([T1], pins=[Pin(T1.model, 2, 9, frozenset({Device.GPU}))])
    with pytest.raises(ProblemError, match="allows no device"):
        Problem.create([T1], pins=[Pin(T1.model, 0, 0, frozenset())])
    inel = synthetic_table(6, 5, ineligible_fraction=1.0)
    with pytest.raises(ProblemError, match="can run on no device"):
        Problem.create([inel], pins=[Pin.forbid(inel.model, 1, 1, [Device.GPU])])
    p = Problem.create([T1], pins=[Pin.forbid(T1.model, 1, 2, [Device.DLA1])])
    assert p.allowed(0, 1) == frozenset({Device.GPU, Device.DLA0})
    assert p.allowed(0, 0) == frozenset(Device)


def test_duplicate_names_are_renamed_or_rejected() -> None:
    p = Problem.create([T1, T1])
    assert [m.name for m in p.models] == [f"{T1.model}-1", f"{T1.model}-2"]
    with pytest.raises(ProblemError, match="unique"):
        Problem(models=(ModelSpec(T1), ModelSpec(T1)), platform=get_platform("xavier-agx"))
    with pytest.raises(ProblemError, match="at least one model"):
        Problem(models=(), platform=get_platform("xavier-agx"))


def test_contention_model_checks() -> None:
    flat = PiecewiseLinear(((0.0, 0.3),))
    with pytest.raises(ProblemError, match="stall"):
        Problem.create([T1, T2], contention=ContentionModel("x", flat, flat, k_max=0.55))
    with pytest.raises(ProblemError, match="no gpu_bw_gbps"):
        Problem(models=(ModelSpec(load_published("alexnet_xavier")),),
                platform=get_platform("xavier-agx"),
                contention=ContentionModel("x", flat, flat))
    assert not Problem.create([T1], contention=no_contention()).contention.enabled


def test_gpu_only_platform_and_trt_limits() -> None:
    p = Problem.create([T1], "gpu-only")
    assert p.devices == (Device.GPU,)
    assert p.allowed(0, 0) == frozenset({Device.GPU})
    assert loadable_limit_for_trt("7.1.3") == 8
    assert loadable_limit_for_trt("8.4.0") == 4
    assert loadable_limit_for_trt("10.3") == 16
    assert loadable_limit_for_trt(None) == 16


def test_json_round_trip_and_bad_json() -> None:
    p = Problem.create([T1, ModelSpec(T2, weight=2.0, deadline_ms=9.0)],
                       objective="throughput", frames_per_round=2, max_transitions=1,
                       loadable_limit=3, pins=[Pin.forbid(T1.model, 0, 1, [Device.DLA0])])
    q = Problem.from_dict(p.to_dict())
    assert q.to_dict() == p.to_dict()
    assert [m.table.rows for m in q.models] == [m.table.rows for m in p.models]
    assert (q.pins, q.contention, q.frames_per_round) == (p.pins, p.contention, 2)
    with pytest.raises(ProblemError, match=r"x.json: problem: missing key .models."):
        Problem.from_dict({"platform": "xavier-agx"}, origin="x.json")

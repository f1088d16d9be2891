"""Contention model: presets, bounds, and calibration from co-run data."""

from __future__ import annotations

import math
import random

import pytest

from solvers.errors import ProblemError
from solvers.model.contention import (
    ContentionModel,
    CoRunSample,
    PiecewiseLinear,
    calibrate,
    no_contention,
    orin_preset,
    xavier_preset,
)

TRUE = PiecewiseLinear(((0.0, 0.0), (30.0, 0.05), (60.0, 0.25), (120.0, 0.35)))


def synthetic_samples(n: int, noise: float, seed: int = 0) -> list[CoRunSample]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        bw = rng.uniform(0, 120)
        s = rng.uniform(0.5, 3.0)
        out.append(CoRunSample(s, s / (1 - TRUE(bw)) * (1 + rng.gauss(0, noise)), bw))
    return out


@pytest.mark.parametrize("model", [xavier_preset(), orin_preset(), orin_preset("orin-nx")])
def test_presets_continuous_bounded_non_decreasing(model: ContentionModel) -> None:
    prev = model.loss_rate("gpu", 0.0)
    for x in [i * 0.5 for i in range(500)]:
        for kind in ("gpu", "dla"):
            k = model.loss_rate(kind, x)
            assert 0 <= k <= model.k_max
        k = model.loss_rate("gpu", x)
        assert k >= prev - 1e-15
        assert abs(k - prev) < 0.01  # no jumps (continuous, modest slope)
        prev = k
    assert model.provenance
    # fitted presets say where from; the unfitted ones list what is still a placeholder
    assert bool(model.placeholders) == (model.name != "orin-agx")
    model.check_devices(3)


def test_xavier_preset_follows_published_regimes() -> None:
    m = xavier_preset()
    assert m.loss_rate("gpu", 20) == pytest.approx(20 * 4.9 / 127.5 / 100)
    assert m.loss_rate("dla", 20) == pytest.approx(0.20)
    assert m.loss_rate("dla", 45) == pytest.approx((45 + 49) * 0.35 / 100)


def test_no_contention_and_k_max_check() -> None:
    assert not no_contention().enabled
    flat = PiecewiseLinear(((0.0, 0.3),))
    with pytest.raises(ProblemError, match="stall"):
        ContentionModel("x", flat, flat, k_max=0.6).check_devices(3)


def test_calibration_recovers_known_curve_exactly_without_noise() -> None:
    r = calibrate(synthetic_samples(60, 0.0), kind="gpu", breakpoints=[0, 30, 60, 120])
    for (x, y), (tx, ty) in zip(r.curve.points, TRUE.points, strict=True):
        assert x == tx and y == pytest.approx(ty, abs=1e-9)
    assert r.rmse < 1e-9 and r.max_abs_error < 1e-9 and r.n == 60
    assert r.model.gpu == r.curve and r.model.loss_rate("gpu", 45) == pytest.approx(0.15)


def test_calibration_with_noise_reports_error() -> None:
    r = calibrate(synthetic_samples(200, 0.01, seed=3), kind="dla",
                  breakpoints=[0, 30, 60, 120])
    for (_, y), (_, ty) in zip(r.curve.points, TRUE.points, strict=True):
        assert y == pytest.approx(ty, abs=0.02)
    assert 0 < r.rmse < 0.03 and r.max_abs_error >= r.rmse and r.rmse_ms > 0
    assert r.curve.is_non_decreasing and r.curve.points[0][1] >= 0
    assert len(r.residuals) == 200
    # default breakpoints also give a valid monotone fit
    d = calibrate(synthetic_samples(200, 0.01, seed=3), kind="dla")
    assert d.curve.is_non_decreasing and d.rmse < 0.05


def test_calibration_is_monotone_even_for_decreasing_data() -> None:
    samples = [(1.0, 1.0 / (1 - k), bw) for k, bw in ((0.3, 10), (0.2, 50), (0.1, 90))]
    r = calibrate(samples, kind="gpu")
    assert r.curve.is_non_decreasing
    assert r.rmse > 0.05  # it cannot follow a decreasing trend, and says how badly


@pytest.mark.parametrize(("sample", "match"), [
    ((1.0, float("nan"), 10.0), "sample 1: corun_ms is nan"),
    ((1.0, 1.2, -5.0), "sample 1: corunner_bw_gbps must be"),
    ((1.0, 0.5, 10.0), "sample 1: co-run time 0.5 ms is below"),
    ((0.0, 1.0, 10.0), "sample 1: standalone_ms must be > 0"),
    ({"standalone_ms": 1.0}, "sample 1: missing key"),
])
def test_bad_samples_name_the_index(sample: object, match: str) -> None:
    with pytest.raises(ProblemError, match=match):
        calibrate([(1.0, 1.1, 20.0), sample, (1.0, 1.3, 50.0)], kind="gpu")


def test_small_noise_below_standalone_is_accepted() -> None:
    r = calibrate([(1.0, 0.995, 5.0), (1.0, 1.2, 50.0), (1.0, 1.25, 80.0)], kind="dla")
    assert all(math.isfinite(x) for x in r.residuals)
    with pytest.raises(ProblemError, match="kind"):
        calibrate([(1.0, 1.1, 5.0), (1.0, 1.2, 9.0)], kind="cpu")


def test_orin_presets_follow_each_modules_own_dram_peak() -> None:
    """The NX preset stretches the Xavier shape to 102.4 GB/s (its LPDDR5 peak), not to the
    AGX Orin's 204.8 GB/s: the same relative load gives the same loss rate."""
    xav, nx = xavier_preset(), orin_preset("orin-nx")
    for frac in (0.1, 0.25, 0.5, 0.7, 0.9):
        for kind in ("gpu", "dla"):
            want = xav.loss_rate(kind, frac * 136.5)
            assert nx.loss_rate(kind, frac * 102.4) == pytest.approx(want)
    assert "102.4" in nx.provenance
    with pytest.raises(ProblemError, match="no Orin contention preset"):
        orin_preset("orin-nano")


def test_solving_with_a_placeholder_preset_says_so() -> None:
    from profiles.synthetic import synthetic_table
    from solvers.model.problem import Problem

    tables = [synthetic_table(4, seed=s, platform="orin-nx") for s in (1, 2)]
    problem = Problem.create(tables, "orin-nx")
    assert problem.contention.enabled
    assert any("placeholder" in w and "layerswap calibrate" in w for w in problem.warnings)
    off = Problem.create(tables, "orin-nx", contention="none")
    assert not any("placeholder" in w for w in off.warnings)


def test_calibrating_one_kind_keeps_the_other_kinds_placeholder_note() -> None:
    base = orin_preset("orin-nx")
    rows = [CoRunSample(1.0, 1.0 / (1 - 0.002 * bw), bw) for bw in (5, 20, 40, 60, 90)]
    gpu_only = calibrate(rows, kind="gpu", base=base, name="fit").model
    assert gpu_only.placeholders and all(p.startswith("dla curve")
                                         for p in gpu_only.placeholders)
    both = calibrate(rows, kind="dla", base=gpu_only, name="fit").model
    assert both.placeholders == ()


def test_agx_orin_preset_is_fitted_to_the_published_co_runs() -> None:
    """NVIDIA/TensorRT#2745: GPU 45 ms alone, 51.05 with DLA0 busy, 59 with both cores;
    DLA0 17 ms alone, 20.78 with the GPU, 21.8 with the GPU and DLA1. The preset predicts
    them with a victim progressing at 1 - sum k (full overlap)."""
    import json
    from importlib import resources

    agx = orin_preset("orin-agx")
    assert agx.placeholders == () and "TensorRT#2745" in agx.provenance
    k_gpu, k_dla = agx.loss_rate("gpu", 50.0), agx.loss_rate("dla", 50.0)
    assert 45 / (1 - k_gpu) == pytest.approx(51.05, rel=0.01)
    assert 45 / (1 - 2 * k_gpu) == pytest.approx(59.0, rel=0.01)
    assert 17 / (1 - 2 * k_dla) == pytest.approx(21.8, rel=0.05)
    doc = json.loads(resources.files("profiles.data").joinpath(
        "contention/orin-agx.json").read_text())
    held = doc["fit"]["held_out"]
    assert len(held) == 5 and all(abs(h["error"]) < 0.15 for h in held)
    assert doc["fit"]["held_out_mean_abs_error"] < 0.1


def test_calibrate_still_overrides_the_fitted_preset() -> None:
    from profiles.synthetic import synthetic_table
    from solvers.model.problem import Problem

    tables = [synthetic_table(4, seed=s, platform="orin-agx") for s in (1, 2)]
    assert Problem.create(tables, "orin-agx").contention.name == "orin-agx"
    rows = [CoRunSample(1.0, 1.0 / (1 - 0.003 * bw), bw) for bw in (5, 20, 40, 60, 90)]
    own = calibrate(rows, kind="gpu", base=orin_preset("orin-agx"), name="mine").model
    problem = Problem.create(tables, "orin-agx", contention=own)
    assert problem.contention.name == "mine"
    assert problem.contention.loss_rate("gpu", 60) == pytest.approx(0.18, abs=0.01)
    assert problem.contention.loss_rate("dla", 60) == orin_preset().loss_rate("dla", 60)

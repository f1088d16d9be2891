"""Whole-model fits (profiles/estimate/fit.py) and how estimated tables use them."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from export.zoo import build
from profiles.estimate import estimate, load_params, load_platform
from profiles.estimate.calibrate import prepare
from profiles.estimate.fit import (
    DeviceFit,
    Point,
    at_power_mode,
    fit,
    leave_one_model_out,
    predict,
)
from profiles.estimate.roofline import dla_flops_by_class
from profiles.estimate.specs import DeviceParams

BASE = replace(load_params(), fitted={}, applies_to={})
ORIN = load_platform("orin-agx-64")


def _kernels(name: str, **opts: object):
    return prepare(build(name, **opts), [], precision="int8", params=BASE).kernels


@pytest.fixture(scope="module")
def kernels():
    return {"ssd": _kernels("ssd_mobilenet_v1"), "gnet": _kernels("googlenet"),
            "r50": _kernels("resnet50", size=96)}


def test_power_mode_scales_peaks_by_the_published_tops() -> None:
    w15 = at_power_mode(ORIN, "15W")
    assert w15.dla_peak_flops("int8") == pytest.approx(ORIN.dla_peak_flops("int8") * 40 / 105)
    assert w15.gpu_peak_flops("int8", tensor=True) == pytest.approx(
        ORIN.gpu_peak_flops("int8", tensor=True) * 14 / 171)
    assert w15.dram_gbps == ORIN.dram_gbps          # not published per mode: unchanged
    assert at_power_mode(ORIN, "unknown (not stated)") is ORIN


def test_depthwise_convs_fill_one_lane_of_the_dla_mac_array(kernels) -> None:
    dw = [k for k in kernels["ssd"] if k.grouped_convs]
    assert len(dw) == 13                              # MobileNetV1's depthwise convs
    k = dw[0]
    flops, per_group = k.grouped_convs[0]
    assert per_group == 1
    assert dla_flops_by_class(k, ORIN)["conv"] == pytest.approx(
        k.flops_by_class["conv"] + flops * 63)
    plain = next(k for k in kernels["ssd"] if not k.grouped_convs and not k.free)
    assert dla_flops_by_class(plain, ORIN)["conv"] == plain.flops_by_class["conv"]


def _points(kernels, truth: DeviceFit, kind: str) -> list[Point]:
    pts = []
    for name, ks in kernels.items():
        for mode in ("MAXN", "15W"):
            spec = at_power_mode(ORIN, mode)
            p = Point(f"{name}-{mode}", name, kind, "int8", mode, 1.0, ks, spec, "h")
            pts.append(replace(p, published_ms=predict(p, truth, BASE)))
    return pts


@pytest.mark.parametrize("kind", ["gpu", "dla"])
def test_fit_recovers_parameters_that_made_the_data(kernels, kind: str) -> None:
    truth = DeviceFit(kind, {"int8": 0.42}, 0.7, 3.0, {"h": 300.0})
    pts = _points(kernels, truth, kind)
    got = fit(pts, BASE)
    for p in pts:
        assert predict(p, got, BASE) == pytest.approx(p.published_ms, rel=1e-3)
    held = leave_one_model_out(pts, BASE)
    assert held.mean_abs() < 0.02     # data from the model itself: held out exactly too
    assert {p.model for p in held.points} == {"ssd", "gnet", "r50"}


def test_held_out_error_is_reported_not_hidden(kernels) -> None:
    truth = DeviceFit("gpu", {"int8": 0.42}, 0.7, 3.0, {"h": 300.0})
    pts = _points(kernels, truth, "gpu")
    pts[0] = replace(pts[0], published_ms=pts[0].published_ms * 2)   # one bad figure
    held = leave_one_model_out(pts, BASE)
    assert held.errors[0] == pytest.approx(-0.5, abs=0.05)
    assert held.max_abs() >= 0.45


@pytest.mark.parametrize("kind", ["gpu", "dla"])
def test_vectorised_fit_agrees_with_the_estimated_table(kernels, kind: str) -> None:
    f = DeviceFit(kind, {"int8": 0.5}, 0.8, 2.0, {"engine": 400.0})
    dev = DeviceParams({**BASE.device(kind).compute_efficiency, "conv": 0.5, "deconv": 0.5,
                        "gemm": 0.5}, 0.8, 2.0, 400.0)
    par = replace(BASE, **{kind: dev})
    model = build("ssd_mobilenet_v1")
    every = {n.name: (True, "") for n in model.graph.node}
    est = estimate(model, platform=ORIN, precision="int8", params=par, groups=1,
                   dla_verdicts=every)
    p = Point("x", "ssd", kind, "int8", "MAXN", 1.0, kernels["ssd"], ORIN, "engine")
    row = est.table.rows[0]
    got = row.gpu_ms if kind == "gpu" else row.dla_ms
    assert got == pytest.approx(predict(p, f, BASE), rel=1e-5)


def test_each_dla_island_pays_one_invocation() -> None:
    par = replace(BASE, dla=replace(BASE.dla, invocation_us=500.0))
    model = build("ssd_mobilenet_v1")
    every = {n.name: (True, "") for n in model.graph.node}
    with_inv = estimate(model, platform=ORIN, precision="int8", params=par, groups=4,
                        dla_verdicts=every, align_dla=False).table
    without = estimate(model, platform=ORIN, precision="int8", params=BASE, groups=4,
                       dla_verdicts=every, align_dla=False).table
    # whole model on one DLA: one invocation, in row 0
    assert sum(r.dla_ms for r in with_inv.rows) - sum(r.dla_ms for r in without.rows) == \
        pytest.approx(0.5, abs=1e-4)
    # every switch into the DLA starts a loadable: its invocation rides on gpu_to_dla_ms
    for a, b in zip(with_inv.rows[:-1], without.rows[:-1], strict=True):
        assert a.gpu_to_dla_ms - b.gpu_to_dla_ms == pytest.approx(0.5, abs=1e-4)
        assert a.dla_to_gpu_ms == b.dla_to_gpu_ms


def test_tables_use_the_module_fit_and_say_so() -> None:
    par = load_params()
    model = build("resnet50_mlperf")
    fitted = estimate(model, platform="orin-agx", precision="int8", params=par, groups=1)
    assert "whole-model fit of orin-agx-64" in fitted.table.metadata["estimator_fit"]
    assert fitted.params.gpu.compute_efficiency["conv"] == \
        par.fitted["orin-agx-64"]["gpu"].tensor_efficiency["int8"]
    nx = estimate(model, platform="orin-nx-16", precision="int8", params=par, groups=1)
    assert "orin-agx-64" in nx.table.metadata["estimator_fit"]      # applies_to
    xavier = estimate(model, platform="xavier-agx", precision="int8", params=par, groups=1)
    assert xavier.table.metadata["estimator_fit"].startswith("base parameters")
    # MLPerf v3.1 single-stream ResNet-50 on the AGX Orin GPU: 0.636 ms published
    assert fitted.table.rows[0].gpu_ms == pytest.approx(0.636, rel=0.15)
    assert not math.isnan(fitted.table.rows[0].gpu_ms)

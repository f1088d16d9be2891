"""Fit the roofline to published whole-model times, per platform and device kind.

The data: `profiles.estimate.dataset` rows whose network is in the zoo (AGX Orin: MLPerf
ResNet-50 and the Ultralytics YOLO11 table on the GPU, DLA-SW's ResNet-50 and
SSD-MobileNetV1 on the DLA per power mode). A whole-model time is what one engine (GPU) or
one loadable (DLA) takes for one batch: the sum of its kernels' roofline times plus one
fixed **invocation** cost (engine launch and synchronisation on the GPU; loadable submit
and completion on the DLA), which a sum of per-layer times does not have.

What is fitted, per platform and device kind (all precisions and power modes together):

- ``tensor_efficiency[precision]``: fraction of the tensor-op peak (conv, deconv, gemm);
- ``memory_efficiency``: fraction of the DRAM peak;
- ``overhead_us``: per executed kernel;
- ``invocation_us``: per engine / loadable invocation.

Other op classes keep their (assumed) efficiencies from ``params.toml``. Time of kernel k:
``max(sum_c flops_c / (peak_c x eff_c), bytes / (DRAM x mem)) + overhead``, exactly
`profiles.estimate.roofline.kernel_time`, evaluated here on arrays so a fit takes seconds.

Power modes: the DLA-SW README publishes the GPU and DLA peak INT8 TOPS of AGX Orin 64GB
per nvpmodel mode (`POWER_MODE_TOPS`); a point measured in another mode runs on peaks
scaled by that ratio. The DRAM bandwidth per mode is not published there: it is kept at
the module's peak (an assumption, reported with the results).

Scoring: `leave_one_model_out` refits without every point of one network and predicts
those points; that held-out error is what the tool reports as its error band.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from profiles.estimate.roofline import Kernel, dla_flops_by_class, kernel_time
from profiles.estimate.specs import EstimatorParams, Figure, PlatformSpec
from profiles.estimate.work import PRECISIONS

TENSOR_CLASSES = ("conv", "deconv", "gemm")

POWER_MODE_TOPS: Mapping[str, tuple[float, float]] = {
    "MAXN": (171.0, 105.0), "50W": (109.0, 92.0), "30W": (41.0, 90.0), "15W": (14.0, 40.0)}
"""AGX Orin 64GB: (GPU, 2x DLA) sparse INT8 peak TOPS per nvpmodel mode, from
NVIDIA/Deep-Learning-Accelerator-SW@1da860ccb9b93f31a15a0325ff78b3938eccd5f9:README.md."""


def at_power_mode(spec: PlatformSpec, mode: str) -> PlatformSpec:
    """``spec`` with its GPU and DLA peaks scaled to ``mode`` (`POWER_MODE_TOPS`); MAXN and
    ``unknown`` modes return ``spec`` (the module's maximum clocks)."""
    if mode not in POWER_MODE_TOPS or mode == "MAXN":
        return spec
    gpu, dla = (POWER_MODE_TOPS[mode][i] / POWER_MODE_TOPS["MAXN"][i] for i in (0, 1))
    figures: dict[str, Figure] = {}
    for key, fig in spec.figures.items():
        scale = gpu if key.startswith("gpu_") and "tflops" in key else \
            dla if key.startswith("dla_tflops") else 1.0
        figures[key] = replace(fig, value=fig.value * scale) if scale != 1.0 else fig
    return replace(spec, figures=figures, name=f"{spec.name}@{mode}")


@dataclass(frozen=True)
class Point:
    """One published whole-model time with the kernels of its network."""

    id: str
    model: str          # the zoo network (the unit left out by leave-one-model-out)
    kind: str           # "gpu" | "dla"
    precision: str
    power_mode: str
    published_ms: float
    kernels: tuple[Kernel, ...]
    platform: PlatformSpec
    harness: str = "engine"   # what wraps the engine in the timing (own invocation cost)


@dataclass(frozen=True)
class _Arrays:
    """Per kernel of one point: tensor seconds at efficiency 1, other-class seconds at the
    parameter file's efficiencies, DRAM seconds at memory efficiency 1."""

    tensor_s: Any
    other_s: Any
    memory_s: Any
    n_kernels: int


def _arrays(point: Point, params: EstimatorParams) -> _Arrays:
    import numpy as np

    spec, prec = point.platform, point.precision
    dev = params.device(point.kind)
    tensor, other, memory = [], [], []
    for k in point.kernels:
        if k.free:
            continue
        if point.kind == "gpu":
            nbytes = k.weight_bytes + k.in_bytes + k.out_bytes
            t = sum(f / spec.gpu_peak_flops(prec, tensor=True)
                    for c, f in k.flops_by_class.items() if c in TENSOR_CLASSES)
            o = sum(f / (spec.gpu_peak_flops(prec, tensor=False) * dev.compute_efficiency[c])
                    for c, f in k.flops_by_class.items() if c not in TENSOR_CLASSES)
        else:
            peak = spec.dla_peak_flops(prec)
            if peak is None:
                raise ValueError(f"{point.id}: the DLA of {spec.name} does not run {prec}")
            nbytes = kernel_time(k, platform=spec, params=params, precision=prec).dla_bytes
            flops = dla_flops_by_class(k, spec)
            t = sum(f / peak for c, f in flops.items() if c in TENSOR_CLASSES)
            o = sum(f / (peak * dev.compute_efficiency[c])
                    for c, f in flops.items() if c not in TENSOR_CLASSES)
        tensor.append(t)
        other.append(o)
        memory.append(nbytes / (spec.dram_gbps * 1e9))
    return _Arrays(np.asarray(tensor), np.asarray(other), np.asarray(memory), len(tensor))


@dataclass(frozen=True)
class DeviceFit:
    """Fitted whole-model parameters of one device kind on one platform."""

    kind: str
    tensor_efficiency: Mapping[str, float]
    memory_efficiency: float
    overhead_us: float
    invocation_us: Mapping[str, float]                # per harness
    trained_on: tuple[str, ...] = field(default=())   # point ids

    def predict(self, arrays: _Arrays, precision: str, harness: str) -> float:
        """Whole-model ms; a harness the fit never saw gets no invocation cost (0: the
        lower bound; the estimator's own tables carry engine times)."""
        import numpy as np

        eff = self.tensor_efficiency[precision]
        per_kernel = np.maximum(arrays.tensor_s / eff + arrays.other_s,
                                arrays.memory_s / self.memory_efficiency)
        return float(per_kernel.sum() * 1e3 + arrays.n_kernels * self.overhead_us * 1e-3
                     + self.invocation_us.get(harness, 0.0) * 1e-3)


FREE = ("tensor_efficiency", "memory_efficiency", "overhead_us", "invocation_us")


def fit(points: Sequence[Point], params: EstimatorParams, *,
        free: Sequence[str] = FREE, fixed: Mapping[str, float] | None = None) -> DeviceFit:
    """Least squares on log-times over ``points`` (one device kind, one platform).

    ``free``: the parameters fitted (`FREE`); the others take their value from ``fixed``
    (memory_efficiency, overhead_us, invocation_us)."""
    import numpy as np
    from scipy.optimize import least_squares

    kinds = {p.kind for p in points}
    if len(kinds) != 1:
        raise ValueError(f"one device kind per fit, got {sorted(kinds)}")
    kind = kinds.pop()
    precs = sorted({p.precision for p in points}, key=PRECISIONS.index)
    arrays = [_arrays(p, params) for p in points]
    obs = np.log([p.published_ms for p in points])

    fixed = dict(fixed or {})
    n = len(precs)
    harnesses = sorted({p.harness for p in points})
    scalars = ("memory_efficiency", "overhead_us")
    missing = [k for k in (*scalars, "invocation_us") if k not in free and k not in fixed]
    if "tensor_efficiency" not in free or missing:
        raise ValueError(f"tensor_efficiency must be free and fixed values given for "
                         f"{missing}")

    def unpack(theta: Any) -> DeviceFit:
        eff = {pr: math.exp(theta[i]) for i, pr in enumerate(precs)}
        vals = dict(fixed)
        i = n
        for k in scalars:
            if k in free:
                vals[k] = math.exp(theta[i])
                i += 1
        if "invocation_us" in free:
            inv = {h: math.exp(theta[i + j]) for j, h in enumerate(harnesses)}
        else:
            inv = dict.fromkeys(harnesses, float(fixed["invocation_us"]))
        return DeviceFit(kind, eff, vals["memory_efficiency"], vals["overhead_us"], inv,
                         tuple(p.id for p in points))

    def resid(theta: Any) -> Any:
        f = unpack(theta)
        return np.log([f.predict(a, p.precision, p.harness)
                       for a, p in zip(arrays, points, strict=True)]) - obs

    # fixed start and bounds (not the parameter file's values): reproducible refits
    box = {"memory_efficiency": (0.5, 0.05, 1.0), "overhead_us": (5.0, 0.01, 200.0),
           "invocation_us": (50.0, 0.01, 5000.0)}
    names = [k for k in scalars if k in free] + \
        (["invocation_us"] * len(harnesses) if "invocation_us" in free else [])
    start = [math.log(0.5)] * n + [math.log(box[k][0]) for k in names]
    lo = [math.log(1e-3)] * n + [math.log(box[k][1]) for k in names]
    hi = [0.0] * n + [math.log(box[k][2]) for k in names]
    res = least_squares(resid, start, bounds=(lo, hi), method="trf")
    return unpack(res.x)


@dataclass(frozen=True)
class HeldOut:
    """Leave-one-model-out predictions of every point."""

    points: tuple[Point, ...]
    predicted: tuple[float, ...]

    @property
    def errors(self) -> tuple[float, ...]:
        return tuple((p - q.published_ms) / q.published_ms
                     for p, q in zip(self.predicted, self.points, strict=True))

    def mean_abs(self, select: Any = None) -> float:
        errs = [abs(e) for e, p in zip(self.errors, self.points, strict=True)
                if select is None or select(p)]
        return sum(errs) / len(errs) if errs else math.nan

    def max_abs(self, select: Any = None) -> float:
        errs = [abs(e) for e, p in zip(self.errors, self.points, strict=True)
                if select is None or select(p)]
        return max(errs) if errs else math.nan


def leave_one_model_out(points: Sequence[Point], params: EstimatorParams, *,
                        free: Sequence[str] = FREE,
                        fixed: Mapping[str, float] | None = None) -> HeldOut:
    """Each network's points predicted by a fit on every other network's points."""
    models = sorted({p.model for p in points})
    if len(models) < 2:
        raise ValueError("leave-one-model-out needs points of at least two networks")
    predicted: dict[str, float] = {}
    for m in models:
        train = [p for p in points if p.model != m]
        test = [p for p in points if p.model == m]
        if not {p.precision for p in test} <= {p.precision for p in train}:
            for p in test:  # no training point of this precision: nothing to predict with
                predicted[p.id] = math.nan
            continue
        f = fit(train, params, free=free, fixed=fixed)
        for p in test:
            predicted[p.id] = f.predict(_arrays(p, params), p.precision, p.harness)
    return HeldOut(tuple(points), tuple(predicted[p.id] for p in points))


def predict(point: Point, fitted: DeviceFit, params: EstimatorParams) -> float:
    """The fitted whole-model time of ``point`` (ms)."""
    return fitted.predict(_arrays(point, params), point.precision, point.harness)


__all__ = ["POWER_MODE_TOPS", "DeviceFit", "HeldOut", "Point", "at_power_mode", "fit",
           "leave_one_model_out", "predict"]


def render_fitted_toml(module: str, applies_to: Sequence[str],
                       fits: Mapping[str, DeviceFit], harness: Mapping[str, str],
                       sources: Mapping[str, str]) -> str:
    """The ``[fitted."<module>"]`` sections of params.toml for ``fits`` (per device kind).

    ``harness``: per kind, the harness whose invocation cost is the engine's own (the
    others, e.g. a Python benchmark loop, are properties of the measurement, not shipped);
    ``sources``: per kind, the text of every value's ``source``."""
    def fig(value: float, kind: str) -> str:
        src = sources[kind].replace("\\", "\\\\").replace('"', '\\"')
        return f'{{ value = {float(f"{value:.6g}")!r}, source = "{src}", assumption = false }}'

    lines = [f'[fitted."{module}"]',
             "applies_to = [" + ", ".join(f'"{m}"' for m in applies_to) + "]", ""]
    for kind in ("gpu", "dla"):
        if kind not in fits:
            continue
        f = fits[kind]
        inv = f.invocation_us.get(harness[kind], 0.0)
        lines += [f'[fitted."{module}".{kind}]',
                  f"memory_efficiency = {fig(f.memory_efficiency, kind)}",
                  f"overhead_us = {fig(f.overhead_us, kind)}",
                  f"invocation_us = {fig(max(inv, 1e-6), kind)}", "",
                  f'[fitted."{module}".{kind}.tensor_efficiency]']
        lines += [f"{pr} = {fig(v, kind)}" for pr, v in f.tensor_efficiency.items()]
        lines.append("")
    return "\n".join(lines)


__all__ += ["render_fitted_toml"]

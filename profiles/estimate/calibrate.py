"""Fit the estimator's efficiency parameters to published per-group times, with hold-out.

The published data this is built for: HaX-CoNN's GoogleNet table on Xavier AGX (FP16,
TensorRT 7.1.3; `profiles/data/googlenet_xavier.csv`): 10 groups with GPU and DLA times,
and 9 cut transitions with a GPU-side and a DLA-side cost.

What is fitted (everything else keeps its value from the parameter file):

- per device kind (GPU, DLA): the tensor-op compute efficiency (conv, deconv and gemm
  share it), the memory efficiency and the per-layer overhead: 3 parameters, fitted on
  log-times (relative error) by bounded least squares (scipy);
- transitions: ``fixed_us`` and ``gbps`` per side (``t = fixed + bytes / rate``), linear
  least squares with both terms >= 0.

Honesty rules: a fit is scored only on groups it did not see (`cross_validate`: leave one
group out, or a fixed train/test split); in-sample numbers are labelled as such.

The mapping from the published 141 TensorRT layers to an ONNX GoogleNet is structural
(`googlenet_haxconn_cuts`): HaX-CoNN's boundaries sit (within one TensorRT layer) at
inception-module boundaries, so the ONNX cuts are taken there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from profiles.costtable import CostTable
from profiles.estimate.roofline import Kernel, build_kernels, kernel_time
from profiles.estimate.specs import PARAMS_FORMAT, DeviceParams, EstimatorParams, PlatformSpec
from profiles.estimate.work import (
    OP_CLASSES,
    EstimateError,
    NodeWork,
    model_work,
)
from profiles.graph import LayerGraph, without_weights

TENSOR_CLASSES = ("conv", "deconv", "gemm")
FIT_NAMES = ("tensor_efficiency", "memory_efficiency", "overhead_us")
FIT_START = (0.5, 0.5, 10.0)


# ---------------------------------------------------------------------- the mapping
def googlenet_haxconn_cuts(graph: LayerGraph) -> list[str]:
    """The 9 ONNX layers after which HaX-CoNN's 10 GoogleNet groups end.

    Published group first layers (of 141 TensorRT layers): 0 10 25 39 52 66 81 94 110 124.
    With TensorRT 7's layer list (conv and ReLU separate, 14 layers per inception module)
    the modules start at 10 (3a), 24 (3b), 39 (4a), 53 (4b), 67 (4c), 81 (4d), 95 (4e),
    110 (5a), 124 (5b); max pools sit at 38 and 109; the head (avg pool, FC, softmax) at
    138-140. So the groups are: stem | 3a | 3b + pool3 | 4a | 4b | 4c | 4d | 4e + pool4 |
    5a | 5b + head, with four published boundaries one TensorRT layer off a module
    boundary (25, 52, 66, 94: a conv/ReLU pair moved across, which no single-tensor cut
    allows). In ONNX: cut before the first inception module (the last single-tensor cut
    before the first Concat), then after each of the first eight module Concats, or after
    the MaxPool that directly follows one.
    """
    order = graph.order
    valid = {c.position for c in graph.valid_cuts(1)}
    concats = [i for i, n in enumerate(order) if graph.layer(n).op_type == "Concat"]
    if len(concats) < 9:
        raise EstimateError(f"expected 9 inception Concat layers, found {len(concats)}; is "
                            "this GoogleNet?", source=graph.source)
    first = max((p for p in valid if p < concats[0]), default=None)
    if first is None:
        raise EstimateError("no single-tensor cut before the first inception module",
                            source=graph.source)
    cuts = [first]
    for c in concats[:8]:
        pos = c
        nxt = c + 1
        if nxt < len(order) and graph.layer(order[nxt]).op_type == "MaxPool" and nxt in valid:
            pos = nxt
        if pos not in valid:
            raise EstimateError(f"the cut after {order[pos]!r} is crossed by more than one "
                                "tensor", source=graph.source)
        cuts.append(pos)
    return [order[p] for p in cuts]


# ---------------------------------------------------------------------- prepared model
@dataclass(frozen=True)
class Prepared:
    """Kernels and per-group membership of one model, ready for fast re-timing."""

    kernels: tuple[Kernel, ...]
    kernel_group: tuple[int, ...]     # group index of each kernel
    n_groups: int
    cut_bytes: tuple[int, ...]        # bytes crossing each of the n_groups - 1 cuts
    layers_per_group: tuple[int, ...]


def prepare(model: Any, cuts: Sequence[str], *, precision: str, params: EstimatorParams
            ) -> Prepared:
    """Kernels of ``model`` split at the layers ``cuts`` (names, in order)."""
    from profiles.estimate.work import PRECISION_BYTES

    light = without_weights(model)
    graph = LayerGraph.from_onnx(light)
    work: dict[str, NodeWork] = {w.name: w for w in model_work(light)}
    kernels = build_kernels(graph.order, work, precision=precision, params=params,
                            graph_outputs=graph.outputs)
    bounds = [graph.position(c) for c in cuts]
    group_of_pos = []
    g = 0
    for pos in range(len(graph)):
        group_of_pos.append(g)
        if g < len(bounds) and pos == bounds[g]:
            g += 1
    kernel_group = []
    for k in kernels:
        groups = {group_of_pos[p] for p in range(k.span[0], k.span[1] + 1)}
        if len(groups) != 1:
            raise EstimateError(f"cut inside the fused kernel of {k.head!r}",
                                source=graph.source)
        kernel_group.append(groups.pop())
    cut_bytes = []
    for b in bounds:
        cut = graph.cut_after(b, max_crossing=16)
        cut_bytes.append(sum(math.prod(t.shape or (0,)) * PRECISION_BYTES[precision]
                             for t in cut.tensors))
    layers = [0] * (len(bounds) + 1)
    for g in group_of_pos:
        layers[g] += 1
    return Prepared(tuple(kernels), tuple(kernel_group), len(bounds) + 1, tuple(cut_bytes),
                    tuple(layers))


def group_times(prep: Prepared, *, platform: PlatformSpec, params: EstimatorParams,
                precision: str) -> tuple[list[float], list[float]]:
    """(GPU ms, DLA ms) per group; DLA times regardless of DLA eligibility."""
    gpu = [0.0] * prep.n_groups
    dla = [0.0] * prep.n_groups
    for k, g in zip(prep.kernels, prep.kernel_group, strict=True):
        kt = kernel_time(k, platform=platform, params=params, precision=precision)
        gpu[g] += kt.gpu_ms
        dla[g] += kt.dla_ms if kt.dla_ms is not None else math.nan
    return gpu, dla


# ---------------------------------------------------------------------- fitting
def with_device(params: EstimatorParams, kind: str, values: Sequence[float]
                ) -> EstimatorParams:
    """A copy of ``params`` with the 3 fitted values (`FIT_NAMES`) of one device kind."""
    eff, mem, over = values
    dev = params.device(kind)
    ce = dict(dev.compute_efficiency)
    for c in TENSOR_CLASSES:
        ce[c] = eff
    new = DeviceParams(compute_efficiency=ce, memory_efficiency=mem, overhead_us=over)
    return replace(params, **{kind: new})


@dataclass(frozen=True)
class DeviceFit:
    kind: str
    values: tuple[float, float, float]   # FIT_NAMES
    train_groups: tuple[int, ...]
    predicted: tuple[float, ...]          # every group, ms
    published: tuple[float, ...]


def fit_device(prep: Prepared, published: Sequence[float], kind: str, *,
               platform: PlatformSpec, params: EstimatorParams, precision: str,
               train: Sequence[int]) -> DeviceFit:
    """Fit the 3 parameters of ``kind`` on the groups ``train`` (log-time least squares)."""
    import numpy as np
    from scipy.optimize import least_squares

    obs = np.log(np.asarray([published[g] for g in train], dtype=float))

    def predict(theta: Any) -> list[float]:
        vals = (math.exp(theta[0]), math.exp(theta[1]), math.exp(theta[2]))
        p = with_device(params, kind, vals)
        gpu, dla = group_times(prep, platform=platform, params=p, precision=precision)
        return gpu if kind == "gpu" else dla

    def resid(theta: Any) -> Any:
        pred = predict(theta)
        return np.log(np.asarray([pred[g] for g in train])) - obs

    # a fixed start (not the parameter file's values): a re-fit gives the same answer
    # whatever params.toml holds, so the report is reproducible after --write-params
    start = [math.log(v) for v in FIT_START]
    lo = [math.log(1e-3), math.log(1e-3), math.log(1e-2)]
    hi = [0.0, 0.0, math.log(1e3)]
    start = [min(max(s, a + 1e-9), b - 1e-9) for s, a, b in zip(start, lo, hi, strict=True)]
    res = least_squares(resid, start, bounds=(lo, hi), method="trf", x_scale=1.0)
    values = tuple(float(math.exp(v)) for v in res.x)
    pred = predict(res.x)
    return DeviceFit(kind=kind, values=values, train_groups=tuple(train),  # type: ignore[arg-type]
                     predicted=tuple(pred), published=tuple(published))


def fit_transitions(cut_bytes: Sequence[int], published: Sequence[float],
                    train: Sequence[int]) -> tuple[float, float]:
    """(fixed_us, gbps) of ``t_ms = fixed + bytes / rate`` on the cuts ``train``; both
    terms >= 0 (a non-positive slope gives an effectively infinite rate: 1e6 GB/s)."""
    import numpy as np
    from scipy.optimize import nnls

    a = np.asarray([[1.0, cut_bytes[i] / 1e6] for i in train])
    b = np.asarray([published[i] for i in train])
    (fixed_ms, slope), _ = nnls(a, b)
    gbps = 1.0 / slope if slope > 1e-12 else 1e6
    return float(fixed_ms * 1e3), float(gbps)


@dataclass(frozen=True)
class HoldOut:
    """Predictions for groups (or cuts) made by fits that did not see them."""

    predicted: tuple[float, ...]
    published: tuple[float, ...]
    scheme: str

    @property
    def errors(self) -> tuple[float, ...]:
        return tuple((p - o) / o for p, o in zip(self.predicted, self.published, strict=True))

    @property
    def mape(self) -> float:
        return sum(abs(e) for e in self.errors) / len(self.errors)

    @property
    def max_abs(self) -> float:
        return max(abs(e) for e in self.errors)

    @property
    def total_error(self) -> float:
        return (sum(self.predicted) - sum(self.published)) / sum(self.published)


def cross_validate_device(prep: Prepared, published: Sequence[float], kind: str, *,
                          platform: PlatformSpec, params: EstimatorParams, precision: str,
                          folds: Sequence[Sequence[int]], scheme: str) -> HoldOut:
    """Each fold is a list of test groups; the fit sees every other group."""
    n = len(published)
    pred = [math.nan] * n
    for test in folds:
        train = [g for g in range(n) if g not in test]
        fit = fit_device(prep, published, kind, platform=platform, params=params,
                         precision=precision, train=train)
        for g in test:
            pred[g] = fit.predicted[g]
    tested = sorted({g for f in folds for g in f})
    return HoldOut(tuple(pred[g] for g in tested), tuple(published[g] for g in tested), scheme)


def cross_validate_transitions(cut_bytes: Sequence[int], published: Sequence[float],
                               folds: Sequence[Sequence[int]], scheme: str) -> HoldOut:
    n = len(published)
    pred = [math.nan] * n
    for test in folds:
        train = [i for i in range(n) if i not in test]
        fixed_us, gbps = fit_transitions(cut_bytes, published, train)
        for i in test:
            pred[i] = fixed_us * 1e-3 + cut_bytes[i] / (gbps * 1e6)
    tested = sorted({i for f in folds for i in f})
    return HoldOut(tuple(pred[i] for i in tested), tuple(published[i] for i in tested), scheme)


def published_columns(table: CostTable) -> Mapping[str, list[float]]:
    """gpu, dla, gpu_to_dla, dla_to_gpu columns of a published table (no gaps allowed)."""
    cols: dict[str, list[float]] = {"gpu": [], "dla": [], "gpu_to_dla": [], "dla_to_gpu": []}
    for r in table.rows:
        if r.dla_ms is None:
            raise EstimateError("calibration needs a DLA time for every group",
                                source=table.origin, entry=f"group {r.group}")
        cols["gpu"].append(r.gpu_ms)
        cols["dla"].append(r.dla_ms)
        if r.gpu_to_dla_ms is not None and r.dla_to_gpu_ms is not None:
            cols["gpu_to_dla"].append(r.gpu_to_dla_ms)
            cols["dla_to_gpu"].append(r.dla_to_gpu_ms)
    return cols


__all__ = [
    "DeviceFit",
    "HoldOut",
    "Prepared",
    "cross_validate_device",
    "cross_validate_transitions",
    "first_switch",
    "fit_device",
    "fit_transitions",
    "googlenet_haxconn_cuts",
    "group_times",
    "prepare",
    "published_columns",
    "render_params_toml",
    "with_device",
]


def first_switch(segments: Sequence[tuple[int, int, str]]) -> int | None:
    """The last group before a model's first device change, from ``(first_group,
    last_group, device)`` segments (DLA0 and DLA1 count as one kind); None if none."""
    def kind(device: str) -> str:
        return "gpu" if device == "GPU" else "dla"

    for (_, last, dev), (_, _, nxt) in itertools.pairwise(segments):
        if kind(dev) != kind(nxt):
            return last
    return None


# ---------------------------------------------------------------------- params file
def render_params_toml(params: EstimatorParams, sources: Mapping[str, str],
                       assumptions: Mapping[str, bool], description: str,
                       fitted: str = "") -> str:
    """The parameter file text for ``params`` (``sources``/``assumptions`` keyed like
    ``gpu.compute_efficiency.conv``); deterministic, so a re-fit with the same data
    writes the same bytes."""
    def fig(key: str, value: float) -> str:
        src = sources[key].replace("\\", "\\\\").replace('"', '\\"')
        flag = "true" if assumptions.get(key, False) else "false"
        return f'{{ value = {float(f"{value:.6g}")!r}, source = "{src}", assumption = {flag} }}'

    lines = [
        "# Free parameters of the roofline estimator (profiles/estimate/roofline.py).",
        "# Every value: { value = ..., source = \"...\", assumption = true|false }.",
        "# Written by `python benchmarks/estimator.py --write-params`; the fitted values",
        "# and their hold-out errors are in benchmarks/results/estimator.md.",
        f'format = "{PARAMS_FORMAT}"',
        f'description = "{description}"',
        "",
    ]
    for kind in ("gpu", "dla"):
        dev = params.device(kind)
        lines.append(f"[{kind}]")
        mem = fig(f"{kind}.memory_efficiency", dev.memory_efficiency)
        lines.append(f"memory_efficiency = {mem}")
        lines.append(f"overhead_us = {fig(f'{kind}.overhead_us', dev.overhead_us)}")
        if kind == "dla":
            lines.append("cbuf_weight_share = "
                         + fig("dla.cbuf_weight_share", params.dla_cbuf_weight_share))
        lines.append("")
        lines.append(f"[{kind}.compute_efficiency]")
        for cls in OP_CLASSES:
            key = f"{kind}.compute_efficiency.{cls}"
            lines.append(f"{cls} = {fig(key, dev.compute_efficiency[cls])}")
        lines.append("")
    lines.append("[fusion]")
    lines.append("into_producer = [" + ", ".join(
        f'"{op}"' for op in sorted(params.fuse_into_producer)) + "]")
    lines.append("elided = [" + ", ".join(f'"{op}"' for op in sorted(params.elided_ops)) + "]")
    lines.append("")
    lines.append("[transition]")
    for key in ("gpu_fixed_us", "gpu_gbps", "dla_fixed_us", "dla_gbps"):
        lines.append(f"{key} = {fig(f'transition.{key}', params.transition[key])}")
    if fitted:
        lines += ["", "# Whole-model fits per module (profiles/estimate/fit.py): they replace the",
                  "# tensor-op efficiency, memory efficiency, per-kernel overhead and add the",
                  "# invocation cost for that module (and the modules in applies_to).",
                  fitted.rstrip("\n")]
    return "\n".join(lines) + "\n"

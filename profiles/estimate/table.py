"""From an ONNX model to an estimated cost table: `estimate`.

Pipeline (each step in its own module):

1. `profiles.estimate.work.model_work`: FLOPs and bytes of every node (shape-inferred).
2. `profiles.graph.LayerGraph.from_onnx`: the layer order and the cuts (with the tensors
   crossing each one); `profiles.graph.onnx_graph_signature` ties the table to the graph.
3. `profiles.estimate.roofline`: fused kernels and their GPU / DLA time and DRAM bytes.
4. The DLA checker (`profiles.dla.check_model`) says which nodes the DLA refuses; a group
   holding one gets no ``dla_ms``.
5. Grouping: K contiguous groups whose boundaries are valid cuts (at most ``max_crossing``
   crossing tensors, never inside a fused kernel), minimising the largest group GPU time
   (exact dynamic programme, ties to the earliest cut), or the cuts the caller names.
6. Transitions: the bytes of the tensors crossing a cut, at the precision width, cost
   ``fixed + bytes / rate`` on the side that produces them (GPU side for GPU->DLA, DLA
   side for DLA->GPU); bandwidth demand per group = its DRAM bytes / its time.

The table says it is estimated (``source: estimated ...``), names the platform module,
precision, TensorRT version the checker assumed, the SHA-256 of both data files, the
parameter values and every assumed (unsourced) platform figure it used.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiles.costtable import CostTable
from profiles.estimate.bands import band_metadata
from profiles.estimate.roofline import KernelTime, build_kernels, kernel_time
from profiles.estimate.specs import EstimatorParams, PlatformSpec, load_params, load_platform
from profiles.estimate.work import (
    PRECISIONS,
    EstimateError,
    NodeWork,
    model_work,
)
from profiles.graph import LayerGraph, without_weights

DEFAULT_GROUPS = 16
DEFAULT_PARAMS = "profiles/estimate/params.toml"   # `load_params()`'s path
ESTIMATOR_VERSION = "1"

DlaVerdicts = Mapping[str, tuple[bool, str]]
"""node name -> (DLA may run it, reason when it may not)."""


@dataclass(frozen=True)
class LayerEstimate:
    """One node: its share of the estimate (fused nodes carry 0; their head the kernel)."""

    name: str
    op_type: str
    position: int
    kernel_head: str
    flops: int
    gpu_ms: float
    dla_ms: float | None
    gpu_bytes: int
    dla_bytes: int | None
    dla_ok: bool
    dla_reason: str
    conservative: bool


@dataclass(frozen=True)
class GroupEstimate:
    index: int
    start: int           # position of the first layer
    end: int             # position after the last layer
    layers: tuple[str, ...]
    cut_tensors: tuple[str, ...]
    cut_bytes: int | None
    refused: tuple[str, ...]   # nodes the DLA checker refuses


@dataclass(frozen=True)
class Estimate:
    """An estimated cost table plus everything that explains it."""

    table: CostTable
    layers: tuple[LayerEstimate, ...]
    groups: tuple[GroupEstimate, ...]
    platform: PlatformSpec
    params: EstimatorParams
    precision: str
    candidate_cuts: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table.to_dict(),
            "platform": self.platform.name,
            "precision": self.precision,
            "groups": [{"group": g.index, "first_layer": g.layers[0],
                        "last_layer": g.layers[-1], "layers": len(g.layers),
                        "cut_tensors": list(g.cut_tensors), "dla_refused": list(g.refused)}
                       for g in self.groups],
        }


# ---------------------------------------------------------------------- DLA verdicts
def checker_verdicts(model: Any, platform: PlatformSpec, precision: str,
                     trt_version: str) -> DlaVerdicts:
    """Per-node verdicts of the DLA checker (`profiles.dla.check_model`)."""
    try:
        from profiles.dla import check_model
    except ImportError as exc:  # pragma: no cover - the checker is part of the package
        raise EstimateError("the DLA checker (profiles.dla) is not available; pass "
                            "dla_verdicts= explicitly", source="profiles.dla") from exc
    report = check_model(model, platform=platform.checker_platform, trt_version=trt_version,
                         precision=precision)
    out: dict[str, tuple[bool, str]] = {}
    for v in report.nodes:
        reason = "; ".join(f"{r.rule}: {r.message}" for r in v.reasons)
        out[v.name] = (bool(v.dla), reason)
    return out


# ---------------------------------------------------------------------- estimate
def estimate(
    model: str | os.PathLike[str] | Any,
    *,
    platform: str | PlatformSpec = "orin-agx",
    precision: str = "fp16",
    groups: int | None = None,
    cuts: Sequence[str] | None = None,
    max_crossing: int = 1,
    params: EstimatorParams | str | os.PathLike[str] | None = None,
    trt_version: str | None = None,
    dla_verdicts: DlaVerdicts | Callable[..., DlaVerdicts] | None = None,
    unknown: str = "error",
    name: str | None = None,
    align_dla: bool = True,
) -> Estimate:
    """Estimate a cost table for ``model`` (an ONNX path or ``onnx.ModelProto``).

    ``groups``: K (default: `DEFAULT_GROUPS`, or fewer when the model has fewer valid
    cuts); ``cuts``: instead of K, the layer names after which to cut (each must be a valid
    cut). ``max_crossing``: tensors a cut may hand over (1 = HaX-CoNN single-tensor cuts).
    ``dla_verdicts``: per-node DLA verdicts; default: ask the DLA checker.
    ``unknown``: ``"error"`` or ``"conservative"`` for ops without a work formula.
    ``align_dla``: cut where DLA eligibility changes (when K allows), so that a refused
    layer does not take the DLA time of a whole group away.
    ``params``: the parameter file (default: the shipped params.toml); its whole-model fit
    for the module (``[fitted]``, `EstimatorParams.for_target`) applies for ``precision``.
    """
    import onnx

    if precision not in PRECISIONS:
        raise EstimateError(f"precision must be one of {', '.join(PRECISIONS)}, "
                            f"not {precision!r}")
    spec = platform if isinstance(platform, PlatformSpec) else load_platform(platform)
    par = params if isinstance(params, EstimatorParams) else load_params(params)
    par = par.for_target(spec.name, precision)
    if isinstance(model, onnx.ModelProto):
        proto, source = model, f"<ModelProto {model.graph.name or 'unnamed'}>"
    else:
        source = str(model)
        if not Path(source).is_file():
            raise EstimateError("ONNX file not found; check the path", source=source)
        try:
            proto = onnx.load(source)
        except Exception as exc:  # protobuf raises several unrelated types here
            raise EstimateError(f"not an ONNX model file ({type(exc).__name__})",
                                source=source) from exc
        if not proto.graph.node:  # an empty file parses as an empty ModelProto
            raise EstimateError("no ONNX graph in this file (empty, or not a model); pass "
                                "the .onnx the table should describe", source=source)
    light = without_weights(proto)  # shapes and structure only: fast shape inference
    work = {w.name: w for w in model_work(light, unknown=unknown, source=source)}
    graph = LayerGraph.from_onnx(light, allow_unknown_ops=unknown == "conservative")
    order = graph.order
    missing = [n for n in order if n not in work]
    if missing:  # both walk the same nodes; a mismatch is a naming bug
        raise EstimateError(f"no work for layer(s) {', '.join(missing[:3])}", source=source)
    trt = trt_version or spec.trt_version
    if dla_verdicts is None:
        verdicts = checker_verdicts(proto, spec, precision, trt)
        checker_note = f"profiles.dla.check_model(platform={spec.checker_platform}, " \
                       f"trt_version={trt}, precision={precision})"
    elif callable(dla_verdicts):
        verdicts = dla_verdicts(proto, spec, precision, trt)
        checker_note = getattr(dla_verdicts, "__name__", "caller's verdict function")
    else:
        verdicts = dla_verdicts
        checker_note = "verdicts given by the caller"
    kernels = build_kernels(order, work, precision=precision, params=par,
                            graph_outputs=graph.outputs)
    times = {k.head: kernel_time(k, platform=spec, params=par, precision=precision)
             for k in kernels}
    layers = _layer_estimates(order, work, kernels, times, verdicts)
    candidates = _candidate_cuts(graph, kernels, max_crossing)
    notes: list[str] = []
    bounds = _choose_bounds(graph, layers, candidates, groups, cuts, max_crossing, source,
                            align_dla, notes)
    group_list = _groups(graph, layers, bounds, max_crossing, precision)
    rows = _rows(group_list, layers, par)
    meta = _metadata(light, name, source, spec, par, precision, trt, max_crossing,
                     group_list, layers, checker_note, notes)
    table = CostTable.build(rows, meta, origin=f"estimate of {source}")
    return Estimate(table=table, layers=tuple(layers), groups=tuple(group_list),
                    platform=spec, params=par, precision=precision,
                    candidate_cuts=tuple(candidates))


def _layer_estimates(order: Sequence[str], work: Mapping[str, NodeWork], kernels: Sequence[Any],
                     times: Mapping[str, KernelTime], verdicts: DlaVerdicts
                     ) -> list[LayerEstimate]:
    head_of = {n: k.head for k in kernels for n in k.nodes}
    out = []
    for pos, name in enumerate(order):
        w = work[name]
        head = head_of[name]
        kt = times[head]
        is_head = head == name
        ok, reason = verdicts.get(name, (False, "the DLA checker gave no verdict"))
        out.append(LayerEstimate(
            name=name, op_type=w.op_type, position=pos, kernel_head=head, flops=w.flops,
            gpu_ms=kt.gpu_ms if is_head else 0.0,
            dla_ms=(kt.dla_ms if is_head else (0.0 if kt.dla_ms is not None else None)),
            gpu_bytes=kt.gpu_bytes if is_head else 0,
            dla_bytes=(kt.dla_bytes if is_head else (0 if kt.dla_bytes is not None else None)),
            dla_ok=ok, dla_reason=reason, conservative=w.conservative))
    return out


def _candidate_cuts(graph: LayerGraph, kernels: Sequence[Any], max_crossing: int) -> list[int]:
    inside: set[int] = set()
    for k in kernels:
        inside.update(range(k.span[0], k.span[1]))
    return [c.position for c in graph.valid_cuts(max_crossing) if c.position not in inside]


def _choose_bounds(graph: LayerGraph, layers: Sequence[LayerEstimate], candidates: list[int],
                   groups: int | None, cuts: Sequence[str] | None, max_crossing: int,
                   source: str, align_dla: bool, notes: list[str]) -> list[int]:
    if cuts is not None:
        if groups is not None:
            raise EstimateError("give either groups (K) or cuts, not both", source=source)
        allowed = set(candidates)
        bounds = []
        for layer in cuts:
            pos = graph.position(layer)
            if pos not in allowed:
                n = len(graph.cut_after(pos, max_crossing).tensors) \
                    if pos < len(graph) - 1 else 0
                raise EstimateError(
                    f"cannot cut after {layer!r}: {n} tensor(s) cross there (max_crossing="
                    f"{max_crossing}) or it would split a fused kernel; choose a valid cut",
                    source=source, entry=str(layer))
            bounds.append(pos)
        if sorted(set(bounds)) != bounds:
            raise EstimateError("cuts must be distinct and in layer order", source=source)
        if align_dla:
            bounds = sorted({*bounds, *dla_boundaries(layers, candidates)})
        return bounds
    forced = dla_boundaries(layers, candidates) if align_dla else []
    k = groups if groups is not None else max(min(DEFAULT_GROUPS, len(candidates) + 1),
                                              len(forced) + 1)
    if k < 1:
        raise EstimateError(f"groups must be >= 1, got {k}", source=source)
    if k > len(candidates) + 1:
        raise EstimateError(
            f"{k} groups need {k - 1} cuts but the model has only {len(candidates)} valid "
            f"cut(s) with <= {max_crossing} crossing tensor(s) outside fused kernels; lower "
            "--groups or raise --max-crossing", source=source)
    if len(forced) > k - 1:
        notes.append(f"{len(forced)} DLA-eligibility changes need {len(forced) + 1} groups; "
                     f"with {k} groups some groups mix DLA-refused and eligible layers")
        forced = []
    return min_max_partition([la.gpu_ms for la in layers], candidates, k, forced)


def dla_boundaries(layers: Sequence[LayerEstimate], candidates: Sequence[int]) -> list[int]:
    """Candidate cuts where DLA eligibility changes between the two neighbouring layers.

    Cutting there keeps one refused layer from taking the DLA time of a whole group away
    (`estimate` forces these cuts unless ``align_dla=False`` or K is too small)."""
    return [c for c in candidates if layers[c].dla_ok != layers[c + 1].dla_ok]


def min_max_partition(costs: Sequence[float], candidates: Sequence[int], k: int,
                      forced: Sequence[int] = ()) -> list[int]:
    """Exact min-max split of ``costs`` into ``k`` contiguous groups.

    Boundaries (cut after position c) are taken among ``candidates`` and must include
    every ``forced`` one (a subset of the candidates, at most k - 1 of them). Dynamic
    programme over the candidates, O(k * C^2); ties go to the earliest boundary.
    """
    import numpy as np

    if k == 1:
        return []
    n = len(costs)
    prefix = np.concatenate([[0.0], np.cumsum(np.asarray(costs, dtype=float))])
    ends = [c + 1 for c in candidates] + [n]
    m = len(ends)
    end_cost = prefix[np.asarray(ends)]
    forced_ends = sorted(f + 1 for f in forced)
    index_of = {e: i for i, e in enumerate(ends)}
    # lowest allowed previous point for a group ending at point i: the last forced end
    # strictly before ends[i] (a group may not contain a forced cut)
    low = np.zeros(m, dtype=int)
    for i, e in enumerate(ends):
        before = [f for f in forced_ends if f < e]
        low[i] = index_of[before[-1]] if before else -1
    best = np.full((k, m), np.inf)
    back = np.zeros((k, m), dtype=int)
    best[0] = np.where(low < 0, end_cost, np.inf)
    for j in range(1, k):
        for i in range(j, m):
            lo = max(int(low[i]), 0)
            if lo >= i:
                continue
            cand = np.maximum(best[j - 1, lo:i], end_cost[i] - end_cost[lo:i])
            a = int(np.argmin(cand))
            best[j, i] = cand[a]
            back[j, i] = lo + a
    if not np.isfinite(best[k - 1, m - 1]):
        raise EstimateError(f"no split into {k} groups keeps the {len(forced)} forced cut(s)")
    i = m - 1
    bounds = []
    for j in range(k - 1, 0, -1):
        i = int(back[j, i])
        bounds.append(ends[i] - 1)
    return sorted(bounds)


def _groups(graph: LayerGraph, layers: Sequence[LayerEstimate], bounds: Sequence[int],
            max_crossing: int, precision: str) -> list[GroupEstimate]:
    from profiles.estimate.work import PRECISION_BYTES

    n = len(layers)
    starts = [0, *(b + 1 for b in bounds)]
    ends = [*(b + 1 for b in bounds), n]
    cut_points = graph.cut_points(max(max_crossing, 1))
    out = []
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        names = tuple(la.name for la in layers[s:e])
        refused = tuple(la.name for la in layers[s:e] if not la.dla_ok)
        tensors: tuple[str, ...] = ()
        nbytes: int | None = None
        if e < n:
            cut = cut_points[e - 1]
            tensors = cut.tensor_names
            nbytes = 0
            for t in cut.tensors:
                if t.shape is None:
                    nbytes = None
                    break
                width = PRECISION_BYTES[precision] if t.dtype in (
                    "float32", "float16", "bfloat16", "float64") else (t.bytes or 0) // max(
                    1, math.prod(t.shape))
                nbytes += math.prod(t.shape) * width
        out.append(GroupEstimate(index=i, start=s, end=e, layers=names, cut_tensors=tensors,
                                 cut_bytes=nbytes, refused=refused))
    return out


def transition_ms(nbytes: int, params: EstimatorParams) -> tuple[float, float]:
    """(GPU->DLA, DLA->GPU) hand-off cost in ms of ``nbytes`` crossing a cut.

    Each includes the invocation of the engine (GPU) or loadable (DLA) the switch starts:
    a DLA island is its own loadable, so a model that enters the DLA k times pays the
    DLA's ``invocation_us`` k times (a sum of per-layer times never would)."""
    t = params.transition
    g2d = (t["gpu_fixed_us"] * 1e-3) + nbytes / (t["gpu_gbps"] * 1e6) \
        + params.dla.invocation_us * 1e-3
    d2g = (t["dla_fixed_us"] * 1e-3) + nbytes / (t["dla_gbps"] * 1e6) \
        + params.gpu.invocation_us * 1e-3
    return g2d, d2g


def _rows(group_list: Sequence[GroupEstimate], layers: Sequence[LayerEstimate],
          par: EstimatorParams) -> list[dict[str, Any]]:
    rows = []
    last = len(group_list) - 1
    eligible = [not g.refused and all(la.dla_ms is not None for la in layers[g.start:g.end])
                for g in group_list]
    for g in group_list:
        chunk = layers[g.start:g.end]
        gpu_ms = sum(la.gpu_ms for la in chunk)
        gpu_bytes = sum(la.gpu_bytes for la in chunk)
        if gpu_ms <= 0:  # a group of views only: keep it positive (it still exists)
            gpu_ms = par.gpu.overhead_us * 1e-3
        if g.index == 0:  # the model's first segment is one engine / loadable invocation
            gpu_ms += par.gpu.invocation_us * 1e-3
        row: dict[str, Any] = {
            "group": g.index, "gpu_ms": _r(gpu_ms), "first_layer": g.layers[0],
            "last_layer": g.layers[-1], "layers": len(g.layers),
            "gpu_bw_gbps": _r(gpu_bytes / gpu_ms / 1e6),
        }
        if eligible[g.index]:
            dla_ms = sum(la.dla_ms or 0.0 for la in chunk)
            dla_bytes = sum(la.dla_bytes or 0 for la in chunk)
            if dla_ms <= 0:
                dla_ms = par.dla.overhead_us * 1e-3
            if g.index == 0:
                dla_ms += par.dla.invocation_us * 1e-3
            row["dla_ms"] = _r(dla_ms)
            row["dla_bw_gbps"] = _r(dla_bytes / dla_ms / 1e6)
        if g.index < last:
            nbytes = g.cut_bytes or 0
            g2d, d2g = transition_ms(nbytes, par)
            if eligible[g.index + 1]:
                row["gpu_to_dla_ms"] = _r(g2d)
            if eligible[g.index]:
                row["dla_to_gpu_ms"] = _r(d2g)
            row["out_bytes"] = g.cut_bytes
            row["cut_tensors"] = ";".join(g.cut_tensors)
        else:
            row["cut_tensors"] = ""
        rows.append(row)
    return rows


def _r(x: float) -> float:
    """Round to 6 significant digits: stable text, far below the model's error."""
    return float(f"{x:.6g}")


def _metadata(proto: Any, name: str | None, source: str, spec: PlatformSpec,
              par: EstimatorParams, precision: str, trt: str, max_crossing: int,
              group_list: Sequence[GroupEstimate], layers: Sequence[LayerEstimate],
              checker_note: str, notes: Sequence[str]) -> dict[str, str]:
    from profiles import platforms
    from profiles.graph import onnx_graph_signature

    fit = par.fit_module(spec.name)
    model_name = name or proto.graph.name or (Path(source).stem if not source.startswith("<")
                                              else "model")
    refused = sum(1 for la in layers if not la.dla_ok)
    conservative = [la.name for la in layers if la.conservative]
    meta = {
        "model": model_name,
        "platform": platforms.short_name(spec.name),
        "source": f"estimated by the layerswap roofline estimator v{ESTIMATOR_VERSION} "
                  f"(module {spec.name}; not measured)",
        "precision": precision,
        "trt_version": trt,
        "onnx_graph": onnx_graph_signature(proto),
        "estimator_platform": spec.name,
        "estimator_platforms_sha256": spec.digest,
        "estimator_params_sha256": par.digest,
        "estimator_params": json.dumps(par.summary(), sort_keys=True, separators=(",", ":")),
        "estimator_fit": (f"whole-model fit of {fit} (profiles/estimate/params.toml, "
                          f"section fitted.{fit})" if fit else
                          f"base parameters ({par.description or par.path})"),
        "estimator_groups": f"{len(group_list)} groups, max_crossing={max_crossing}, "
                            f"{len(layers)} layers",
        "dla_checker": f"{checker_note}: {refused} of {len(layers)} layers refused",
        "assumed_figures": ", ".join(spec.assumptions) or "none",
        **band_metadata(spec.name, precision,
                        custom_params=None if par.path == DEFAULT_PARAMS else par.path),
    }
    notes = list(notes)
    if notes:
        meta["notes"] = "; ".join(notes)
    if conservative:
        meta["conservative_layers"] = ("CONSERVATIVE estimate (unknown op: 0 FLOPs, all bytes "
                                       "moved): " + ", ".join(conservative))
    return meta


__all__ = ["DEFAULT_GROUPS", "Estimate", "GroupEstimate", "LayerEstimate", "checker_verdicts",
           "estimate", "transition_ms"]

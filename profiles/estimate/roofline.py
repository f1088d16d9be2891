"""Per-layer device time from a roofline: ``max(compute, memory) + overhead``.

How it works:

1. **Kernels (fusion).** TensorRT (GPU) and the DLA compiler fuse a convolution (or
   deconvolution, gemm, or any computing node) with the pointwise ops that follow it
   (bias, BatchNorm, ReLU, ...: the ``[fusion] into_producer`` list of the parameter
   file). A node of that list joins the kernel of the node just before it in the layer
   order when every activation it reads is produced inside that kernel. Fused tensors
   never touch DRAM. Ops in ``[fusion] elided`` (Concat: written in place) and the view
   ops (Reshape, Flatten, ...) cost nothing. A cut inside a kernel would undo a fusion,
   so the grouping never cuts there (`Kernel.span`).
2. **Bytes.** A kernel moves its weights, each tensor it reads from outside once, and
   each tensor it writes that is read outside (or is a graph output), at the precision
   width (`profiles.estimate.work`). On the DLA, a convolution whose weights do not fit
   the share of the convolution buffer (CBUF, ``dla_cbuf_kib`` x ``cbuf_weight_share``)
   is run in weight passes that re-read its input from DRAM: ``passes - 1`` extra input
   reads (the CBUF rule of the TRT 8.4 guide documents the bank structure; the pass
   model is ours and labelled so in the parameter file).
3. **Time.** ``compute = sum(flops / (peak(op class) * efficiency(op class)))`` with the
   tensor-core peak for conv/deconv/gemm and the CUDA-core peak otherwise (GPU), the
   per-core peak (DLA); ``memory = bytes / (DRAM GB/s * memory_efficiency)``; time =
   ``max(compute, memory) + overhead_us`` per executed kernel. Each kernel's time and
   bytes are booked on its first node (the head); fused nodes get 0. On the DLA a grouped
   or depthwise convolution counts its FLOPs ``atomic_c / min(channels per group,
   atomic_c)`` times (`dla_flops_by_class`): the MAC array's input-channel lanes it leaves
   empty.
4. **Invocation.** One engine (GPU) or loadable (DLA) invocation costs ``invocation_us``
   once, however many kernels it runs: `profiles.estimate.table` books it on the first
   group and on every switch into the device (each DLA island is its own loadable).

The DLA time is computed for every kernel when the platform's DLA runs the precision;
whether a group may run there is the DLA checker's call (`profiles.estimate.table`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from profiles.estimate.specs import EstimatorParams, PlatformSpec
from profiles.estimate.work import NodeWork

_TENSOR_CLASSES = frozenset({"conv", "deconv", "gemm"})


@dataclass(frozen=True)
class Kernel:
    """Nodes executed as one device operation (a head plus fused pointwise tails)."""

    head: str
    nodes: tuple[str, ...]
    span: tuple[int, int]          # first and last position in the layer order
    flops_by_class: Mapping[str, int]
    weight_bytes: int
    in_bytes: int                  # tensors read from outside the kernel (each once)
    out_bytes: int                 # tensors written that leave the kernel
    free: bool                     # view or elided: no time, no overhead
    conv_weight_bytes: int = 0     # weights of conv/deconv nodes (the CBUF model)
    grouped_convs: tuple[tuple[int, int], ...] = ()   # (flops, input channels per group)


@dataclass(frozen=True)
class KernelTime:
    kernel: Kernel
    gpu_ms: float
    gpu_bytes: int
    dla_ms: float | None
    dla_bytes: int | None
    gpu_bound: str                 # "compute" | "memory" | "free"
    dla_bound: str | None


def build_kernels(order: Sequence[str], work: Mapping[str, NodeWork], *, precision: str,
                  params: EstimatorParams, graph_outputs: Sequence[str] = ()) -> list[Kernel]:
    """Group the nodes (in layer order) into kernels following the fusion rules."""
    members: list[list[str]] = []
    owner: dict[str, int] = {}       # node -> kernel index
    producer: dict[str, str] = {}    # tensor -> node
    for name in order:
        for t in work[name].outputs:
            producer[t.name] = name
    for name in order:
        w = work[name]
        joined = False
        if members and w.op_type in params.fuse_into_producer and w.inputs:
            last = len(members) - 1
            head = work[members[last][0]]
            if head.op_class not in ("view", "move") and head.op_type not in params.elided_ops:
                produced_inside = all(producer.get(t.name) in members[last] for t in w.inputs)
                if produced_inside:
                    members[last].append(name)
                    owner[name] = last
                    joined = True
        if not joined:
            owner[name] = len(members)
            members.append([name])
    outputs = set(graph_outputs)
    consumers: dict[str, set[int]] = {}
    for name in order:
        for t in work[name].inputs:
            consumers.setdefault(t.name, set()).add(owner[name])
    position = {name: i for i, name in enumerate(order)}
    kernels = []
    for k, names in enumerate(members):
        inside = set(names)
        flops: dict[str, int] = {}
        weight_bytes = 0
        conv_weights = 0
        seen_in: set[str] = set()
        in_bytes = 0
        out_bytes = 0
        grouped: list[tuple[int, int]] = []
        for n in names:
            w = work[n]
            group = int((w.attributes or {}).get("group", 1))
            if w.op_type == "Conv" and group > 1 and w.outputs:
                window = math.prod((w.attributes or {}).get("kernel_shape", (1,)))
                per_group = w.macs // max(1, w.outputs[0].elems * window)
                grouped.append((w.flops, max(1, per_group)))
            flops[w.op_class] = flops.get(w.op_class, 0) + w.flops
            wb = w.weight_bytes(precision)
            weight_bytes += wb
            if w.op_class in ("conv", "deconv"):
                conv_weights += wb
            for t in w.inputs:
                if producer.get(t.name) in inside or t.name in seen_in:
                    continue
                seen_in.add(t.name)
                in_bytes += t.bytes(precision)
            for t in w.outputs:
                if t.name in outputs or (consumers.get(t.name, set()) - {k}):
                    out_bytes += t.bytes(precision)
        head = work[names[0]]
        free = head.op_class == "view" or head.op_type in params.elided_ops
        kernels.append(Kernel(
            head=names[0], nodes=tuple(names),
            span=(min(position[n] for n in names), max(position[n] for n in names)),
            flops_by_class=flops, weight_bytes=weight_bytes, in_bytes=in_bytes,
            out_bytes=out_bytes, free=free, conv_weight_bytes=conv_weights,
            grouped_convs=tuple(grouped)))
    return kernels


def dla_flops_by_class(kernel: Kernel, platform: PlatformSpec) -> dict[str, float]:
    """The kernel's FLOPs as the DLA's MAC array spends them: a grouped (or depthwise)
    convolution with ``c`` input channels per group fills only ``min(c, atomic_c) /
    atomic_c`` of the array's input-channel lanes (NVDLA's MAC atomic size of input
    channels, ``dla_atomic_c`` in platforms.toml), so its FLOPs count ``atomic_c /
    min(c, atomic_c)`` times. A structural model with the published NVDLA constant, not a
    fitted factor."""
    flops: dict[str, float] = {c: float(f) for c, f in kernel.flops_by_class.items()}
    atomic = platform.dla_atomic_c
    for f, per_group in kernel.grouped_convs:
        flops["conv"] = flops.get("conv", 0.0) + f * (atomic / min(per_group, atomic) - 1)
    return flops


def kernel_time(kernel: Kernel, *, platform: PlatformSpec, params: EstimatorParams,
                precision: str) -> KernelTime:
    """GPU and (if the DLA runs ``precision``) DLA time of one kernel, in ms."""
    if kernel.free:
        dla_free = 0.0 if platform.dla_peak_flops(precision) is not None else None
        return KernelTime(kernel, 0.0, 0, dla_free, 0 if dla_free is not None else None,
                          "free", "free" if dla_free is not None else None)
    gpu_bytes = kernel.weight_bytes + kernel.in_bytes + kernel.out_bytes
    gp = params.gpu
    compute = 0.0
    for cls, flops in kernel.flops_by_class.items():
        peak = platform.gpu_peak_flops(precision, tensor=cls in _TENSOR_CLASSES)
        compute += flops / (peak * gp.compute_efficiency[cls])
    memory = gpu_bytes / (platform.dram_gbps * 1e9 * gp.memory_efficiency)
    gpu_ms = (max(compute, memory) + gp.overhead_us * 1e-6) * 1e3
    gpu_bound = "compute" if compute >= memory else "memory"
    dla_peak = platform.dla_peak_flops(precision)
    if dla_peak is None:
        return KernelTime(kernel, gpu_ms, gpu_bytes, None, None, gpu_bound, None)
    dp = params.dla
    passes = 1
    if kernel.conv_weight_bytes:
        capacity = platform.dla_cbuf_bytes * params.dla_cbuf_weight_share
        passes = max(1, math.ceil(kernel.conv_weight_bytes / capacity))
    dla_bytes = gpu_bytes + (passes - 1) * kernel.in_bytes
    compute = sum(flops / (dla_peak * dp.compute_efficiency[cls])
                  for cls, flops in dla_flops_by_class(kernel, platform).items())
    memory = dla_bytes / (platform.dram_gbps * 1e9 * dp.memory_efficiency)
    dla_ms = (max(compute, memory) + dp.overhead_us * 1e-6) * 1e3
    return KernelTime(kernel, gpu_ms, gpu_bytes, dla_ms, dla_bytes, gpu_bound,
                      "compute" if compute >= memory else "memory")


__all__ = ["Kernel", "KernelTime", "build_kernels", "dla_flops_by_class", "kernel_time"]

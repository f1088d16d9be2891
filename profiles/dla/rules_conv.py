"""DLA rules of the convolution family: Conv, ConvTranspose, pooling, FullyConnected.

Each function takes a `NodeCtx` and returns its refusals (empty: this family's rules pass).
Limits are dla_rules.md section 3, with the source tag on every refusal.
"""

from __future__ import annotations

import math

from profiles.dla.context import NodeCtx
from profiles.dla.refusal import Refusal, fmt, in_range, refuse

HDR71 = "[hdr 7.1-10.16]"
HDR60 = "[hdr 6.0-10.16]"


def _spatial(ctx: NodeCtx, kernel: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...],
                                                             tuple[int, ...]]:
    """(strides, dilations, pads) with ONNX defaults; ``auto_pad`` SAME_* resolved to the
    explicit pads it stands for (VALID: zeros)."""
    k = len(kernel)
    strides = tuple(int(s) for s in ctx.attr("strides", (1,) * k))
    dilations = tuple(int(d) for d in ctx.attr("dilations", (1,) * k))
    pads = tuple(int(p) for p in ctx.attr("pads", (0,) * (2 * k)))
    auto = str(ctx.attr("auto_pad", "NOTSET"))
    x = ctx.in_shape(0)
    if auto in ("SAME_UPPER", "SAME_LOWER") and x is not None and ctx.op != "ConvTranspose":
        begin, end = [], []
        for i in range(k):
            n = x[2 + i]
            eff = (kernel[i] - 1) * dilations[i] + 1
            total = max((math.ceil(n / strides[i]) - 1) * strides[i] + eff - n, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        pads = (*begin, *end)
    elif auto == "VALID":
        pads = (0,) * (2 * k)
    return strides, dilations, pads


def _kernel(ctx: NodeCtx) -> tuple[int, ...] | None:
    ks = ctx.attr("kernel_shape")
    if ks is not None:
        return tuple(int(v) for v in ks)
    w = ctx.shape(ctx.input(1))
    return None if w is None else tuple(w[2:])


def _two_d(ctx: NodeCtx, family: str, kernel: tuple[int, ...] | None) -> list[Refusal]:
    if kernel is None:
        return [refuse(f"{family}.kernel", "kernel_shape", "unknown",
                       "kernel shape unknown (no kernel_shape and no static weight shape)",
                       HDR71)]
    if len(kernel) != 2:
        return [refuse(f"{family}.2d", "kernel_shape", kernel,
                       f"{len(kernel)}-D kernel {fmt(kernel)}: DLA supports 2D only", HDR71)]
    return []


def conv(ctx: NodeCtx) -> list[Refusal]:
    """Convolution: kernel [1,32], stride [1,8], pad [0,31] and < kernel, dilation [1,32],
    output maps [1,8192], groups <= 8192, constant weights, CBUF banks <= 16."""
    kernel = _kernel(ctx)
    out = _two_d(ctx, "conv", kernel)
    if out or kernel is None:
        return out
    if not ctx.is_const(1):
        out.append(refuse("conv.weights", "W", ctx.input(1), "weights are a runtime tensor; "
                          "DLA needs build-time constant weights", "[unverified]"))
    strides, dilations, pads = _spatial(ctx, kernel)
    out += in_range("conv.kernel", "kernel_shape", kernel, 1, 32, HDR71, "kernel")
    out += in_range("conv.stride", "strides", strides, 1, 8, HDR60, "stride")
    pad_range = in_range("conv.padding", "pads", pads, 0, 31, HDR71, "padding")
    out += pad_range
    if not pad_range and any(p >= kernel[i % 2] for i, p in enumerate(pads)):
        out.append(refuse("conv.padding", "pads", pads, f"padding {fmt(pads)} must be less "
                          f"than the kernel size {fmt(kernel)}", HDR71))
    out += in_range("conv.dilation", "dilations", dilations, 1, 32, HDR71, "dilation")
    group = int(ctx.attr("group", 1))
    out += in_range("conv.groups", "group", [group], 1, 8192, HDR71, "groups")
    w = ctx.shape(ctx.input(1))
    if w is not None:
        out += in_range("conv.output_maps", "W", [w[0]], 1, 8192, HDR71, "output maps")
    x = ctx.in_shape(0)
    if x is not None and len(x) == 4 and not out:
        out += _cbuf(ctx, x, kernel, dilations, group)
    return out


def _cbuf(ctx: NodeCtx, x: tuple[int, ...], kernel: tuple[int, ...],
          dilations: tuple[int, ...], group: int) -> list[Refusal]:
    """The convolution buffer check of the 8.4 guide (docs/dla_rules.md section 3): weight
    banks of one kernel plus the data banks of one dilated kernel height must fit 16 banks.
    One kernel spans C/group input channels (a grouped kernel is that small)."""
    elem = 1 if ctx.target.precision == "int8" else 2
    c, w = x[1], x[3]
    c_kernel = max(c // max(group, 1), 1)
    wt_banks = math.ceil(_round_up(c_kernel * kernel[0] * kernel[1] * elem, 128) / 32768.0)
    entries = math.ceil(math.ceil(c * elem / 32.0) * w / 4.0)
    dilated_h = (kernel[0] - 1) * dilations[0] + 1
    data_banks = math.ceil(entries * dilated_h / 256.0)
    if wt_banks + data_banks > 16:
        return [refuse("conv.cbuf", "input", (c, w),
                       f"CBUF check fails: {wt_banks} weight + {data_banks} data banks > 16 "
                       f"(input C={c}, W={w}, kernel {fmt(kernel)})", "[doc-8.4], [dla-sw FAQ]")]
    return []


def _round_up(n: int, m: int) -> int:
    return (n + m - 1) // m * m


def _deconv_dim_ok(v: int) -> bool:
    return 1 <= v <= 32


def deconv(ctx: NodeCtx) -> list[Refusal]:
    """Deconvolution: padding 0, groups 1, dilation 1, kernel and stride [1,32] (or 1 x
    {64,96,128}), no square kernel/stride in [23,32], channels [1,8192]."""
    kernel = _kernel(ctx)
    out = _two_d(ctx, "deconv", kernel)
    if out or kernel is None:
        return out
    if not ctx.is_const(1):
        out.append(refuse("deconv.weights", "W", ctx.input(1), "weights are a runtime tensor; "
                          "DLA needs build-time constant weights", "[unverified]"))
    strides, dilations, pads = _spatial(ctx, kernel)
    auto = str(ctx.attr("auto_pad", "NOTSET"))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        out.append(refuse("deconv.padding", "auto_pad", auto, f"auto_pad {auto} pads the "
                          "output; DLA deconvolution padding must be 0",
                          f"[doc-latest], {HDR71}"))
    elif any(pads):
        out.append(refuse("deconv.padding", "pads", pads, f"padding {fmt(pads)}: DLA "
                          "deconvolution padding must be 0 (rewrite: convtranspose_pad_to_crop)",
                          f"[doc-latest], {HDR71}"))
    opad = tuple(int(v) for v in ctx.attr("output_padding", (0, 0)))
    if any(opad):
        out.append(refuse("deconv.padding", "output_padding", opad, f"output_padding "
                          f"{fmt(opad)}: DLA deconvolution padding must be 0",
                          f"[doc-latest], {HDR71}"))
    for label, values, param in (("kernel", kernel, "kernel_shape"), ("stride", strides,
                                                                       "strides")):
        long_1d = sorted(values) in ([1, 64], [1, 96], [1, 128])
        if not long_1d and not all(_deconv_dim_ok(v) for v in values):
            out.append(refuse(f"deconv.{label}", param, values, f"{label} {fmt(values)} "
                              "outside [1, 32] (or 1 x {64, 96, 128})", HDR71))
    if kernel[0] == kernel[1] and 23 <= kernel[0] <= 32 and strides[0] == strides[1] \
            and 23 <= strides[0] <= 32:
        out.append(refuse("deconv.square_23_32", "kernel_shape", kernel, "square kernel and "
                          "stride in [23, 32] are disabled on DLA (slow compilation)",
                          "[doc-8.4]"))
    if any(d != 1 for d in dilations):
        out.append(refuse("deconv.dilation", "dilations", dilations, f"dilation "
                          f"{fmt(dilations)}: DLA deconvolution dilation must be 1", HDR71))
    group = int(ctx.attr("group", 1))
    if group != 1:
        out.append(refuse("deconv.groups", "group", group, f"group {group}: DLA "
                          "deconvolution needs 1 group", f"[doc-latest], {HDR71}"))
    w = ctx.shape(ctx.input(1))
    if w is not None:
        out += in_range("deconv.channels", "W", [w[0], w[1] * group], 1, 8192, HDR71,
                        "input/output channels")
    return out


def pooling(ctx: NodeCtx) -> list[Refusal]:
    """Pooling (MaxPool, AveragePool): window [1,8], stride [1,16], padding [0,7]; on Xavier
    average pooling counts padding (count_include_pad=1) when it pads."""
    kernel = tuple(int(v) for v in ctx.attr("kernel_shape", ()))
    if len(kernel) != 2:
        return [refuse("pool.2d", "kernel_shape", kernel, f"{len(kernel)}-D window: DLA "
                       "pooling is 2D only", HDR60)]
    strides, dilations, pads = _spatial(ctx, kernel)
    out = in_range("pool.window", "kernel_shape", kernel, 1, 8, HDR60, "window")
    out += in_range("pool.stride", "strides", strides, 1, 16, HDR60, "stride")
    out += in_range("pool.padding", "pads", pads, 0, 7, HDR60, "padding")
    if any(d != 1 for d in dilations):
        out.append(refuse("pool.dilation", "dilations", dilations, "dilated pooling is not a "
                          "TensorRT pooling layer", HDR60))
    if ctx.op == "MaxPool" and len([o for o in ctx.node.outputs if o]) > 1:
        out.append(refuse("pool.indices", "Indices", ctx.node.outputs[1], "MaxPool with an "
                          "Indices output has no DLA (or TensorRT pooling) equivalent", HDR60))
    if ctx.op == "AveragePool" and any(pads) and int(ctx.attr("count_include_pad", 0)) == 0 \
            and ctx.target.xavier:
        out.append(refuse("pool.avg_exclusive", "count_include_pad", 0, "on Xavier DLA "
                          "average pooling supports only inclusive padding "
                          "(count_include_pad=1)", "[hdr 8.4-8.6]"))
    return out


def global_pool(ctx: NodeCtx) -> list[Refusal]:
    """GlobalAveragePool / GlobalMaxPool become a TensorRT Reduce: average reduce is not
    native on DLA; max reduce is from TensorRT 8.6.12."""
    x = ctx.in_shape(0)
    hint = ""
    if x is not None and len(x) == 4 and x[2] <= 8 and x[3] <= 8:
        hint = " (rewrite: global_pool_to_pool, an exact AveragePool/MaxPool window " \
               f"{x[2]}x{x[3]})"
    if ctx.op == "GlobalAveragePool":
        return [refuse("reduce.avg", "op", "GlobalAveragePool", "GlobalAveragePool is a "
                       f"TensorRT Reduce(AVG), not native on DLA{hint}", "[dla-sw], [log]")]
    if not ctx.target.at_least(8, 6, 12):
        return [refuse("reduce.max", "trt_version", ctx.target.trt_version, "GlobalMaxPool "
                       f"(Reduce MAX) is native on DLA from TensorRT 8.6.12{hint}", "[dla-sw]")]
    return []


def fully_connected(ctx: NodeCtx) -> list[Refusal]:
    """Gemm / MatMul map to a DLA FullyConnected only with a constant second input (and no
    transposed A); output channels [1,8192]."""
    out: list[Refusal] = []
    if not ctx.is_const(1):
        out.append(refuse("fc.weights", "B", ctx.input(1), "second input is a runtime "
                          "tensor; DLA needs it to be a constant", "[dla-sw]"))
    if ctx.op == "Gemm" and int(ctx.attr("transA", 0)):
        out.append(refuse("fc.transA", "transA", 1, "transposed A is not a FullyConnected "
                          "layer", "[dla-sw]"))
    y = ctx.out_shape(0)
    if y is not None and y:
        out += in_range("fc.output_channels", "B", [y[-1]], 1, 8192, HDR71, "output channels")
    return out


__all__ = ["conv", "deconv", "fully_connected", "global_pool", "pooling"]

"""DLA rules of the other layer families: activations, element-wise, normalisation,
concatenation, resize, slice, softmax, shuffle, reduce, unary.

Each function takes a `NodeCtx` and returns its refusals (docs/dla_rules.md section 3).
"""

from __future__ import annotations

import numpy as np

from profiles.dla.context import NodeCtx
from profiles.dla.refusal import Refusal, fmt, in_range, refuse

ACTIVATIONS = {"Relu", "Sigmoid", "Tanh", "Clip", "LeakyRelu"}
ELEMENTWISE_8X = {"Add": "Sum", "Sub": "Sub", "Mul": "Product", "Max": "Max", "Min": "Min"}
ELEMENTWISE_LATER = {"Div": "Div", "Pow": "Pow"}  # [doc-latest] table; Div: TRT 8.6.12 [dla-sw]
SHUFFLES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"}
RESHAPES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}


def activation(ctx: NodeCtx) -> list[Refusal]:
    """ReLU, Sigmoid, TanH, Clipped ReLU (Clip with min 0, max in [1,127]), Leaky ReLU."""
    if ctx.op != "Clip":
        return []
    lo = ctx.const(ctx.input(1))
    hi = ctx.const(ctx.input(2))
    if (ctx.input(1) and lo is None) or (ctx.input(2) and hi is None):
        return [refuse("activation.clip", "min/max", "runtime tensor", "Clip bounds must be "
                       "constants", "[doc-8.4]")]
    for name, bound in (("min", lo), ("max", hi)):
        if bound is not None and np.asarray(bound).size != 1:
            return [refuse("activation.clip", name, np.shape(bound), f"Clip {name} has "
                           f"{np.asarray(bound).size} values: a Clipped ReLU takes one scalar "
                           "bound", "[doc-8.4]")]
    # ONNX asks for scalars; exporters also write one-element 1-D tensors: same bound.
    lo_v = np.asarray(lo).item() if lo is not None else float(ctx.attr("min", -np.inf))
    hi_v = np.asarray(hi).item() if hi is not None else float(ctx.attr("max", np.inf))
    if lo_v != 0.0 or not 1.0 <= hi_v <= 127.0:
        return [refuse("activation.clip", "min/max", (lo_v, hi_v), f"Clip({lo_v:g}, {hi_v:g})"
                       ": DLA runs Clipped ReLU only, min 0 and max in [1, 127]", "[doc-8.4]")]
    return []


def prelu(ctx: NodeCtx) -> list[Refusal]:
    if not ctx.is_const(1):
        return [refuse("prelu.slope", "slope", ctx.input(1), "PReLU slope must be a build-time "
                       "constant", "[hdr 8.4-10.16], [doc-8.4]")]
    return []


def _broadcast_form(ctx: NodeCtx) -> list[Refusal]:
    """Each operand is the full NCHW shape, per channel (N,C,1,1), or uniform (N,1,1,1 or a
    scalar constant)."""
    y = ctx.out_shape(0)
    if y is None or len(y) != 4:
        return []
    for i in range(2):
        s = ctx.in_shape(i)
        if s is None:
            continue
        s4 = (1,) * (4 - len(s)) + tuple(s)
        if s4 == y or s4[2:] == (1, 1) or (len(s) == 0) or s4[1:] == (1, 1, 1):
            continue
        return [refuse("elementwise.broadcast", f"input {i}", s, f"operand shape {fmt(s)} "
                       f"broadcast to {fmt(y)}: DLA element-wise takes NCHW, NC11 or N111 "
                       "operands", "[unverified]")]
    return []


def elementwise(ctx: NodeCtx) -> list[Refusal]:
    """Sum, Sub, Product, Max, Min always; Div and Pow per version; two operands."""
    out: list[Refusal] = []
    if ctx.op in ("Max", "Min", "Sum") and len([i for i in ctx.node.inputs if i]) != 2:
        out.append(refuse("elementwise.arity", "inputs", len(ctx.node.inputs), "DLA "
                          "element-wise layers take exactly two inputs", "[hdr 8.4-10.16]"))
    if ctx.op == "Div" and not ctx.target.at_least(8, 6, 12):
        out.append(refuse("elementwise.op", "op", "Div", "element-wise Div is native on DLA "
                          f"from TensorRT 8.6.12 (target {ctx.target.trt_version})",
                          "[dla-sw]"))
    if ctx.op == "Pow" and not ctx.target.trt10:
        out.append(refuse("elementwise.op", "op", "Pow", "element-wise Pow is in the DLA "
                          "table of TensorRT 10 only; the 8.x headers list Sum, Prod, Max, "
                          "Min, Sub", "[hdr 8.4-8.6], [doc-latest]"))
    out += _broadcast_form(ctx)
    return out


def comparison(ctx: NodeCtx) -> list[Refusal]:
    """Equal (Greater/Less from 8.6.12): INT8 only, output cast to FP16/INT8 at once."""
    out: list[Refusal] = []
    if ctx.op in ("Greater", "Less") and not ctx.target.at_least(8, 6, 12):
        out.append(refuse("comparison.op", "op", ctx.op, f"{ctx.op} is native on DLA from "
                          "TensorRT 8.6.12", "[dla-sw]"))
    if ctx.target.precision != "int8":
        out.append(refuse("comparison.precision", "precision", ctx.target.precision,
                          "comparison layers run on DLA in INT8 only", "[doc-latest]"))
    consumers = ctx.model.consumers.get(ctx.node.outputs[0], ())
    if not consumers or any(ctx.model.op_of[c] != "Cast" for c in consumers):
        out.append(refuse("comparison.cast", "output", ctx.node.outputs[0], "the output must "
                          "be cast to FP16/INT8 immediately (a Cast consumer)", "[doc-latest]"))
    return out


def batchnorm(ctx: NodeCtx) -> list[Refusal]:
    """BatchNormalization is a per-channel Scale: constant parameters, inference mode."""
    out: list[Refusal] = []
    if int(ctx.attr("training_mode", 0)):
        out.append(refuse("scale.training", "training_mode", 1, "training-mode "
                          "BatchNormalization is not a Scale layer", "[doc-8.4]"))
    if not all(ctx.is_const(i) for i in range(1, 5)):
        out.append(refuse("scale.constant", "scale/bias/mean/var", "runtime tensor",
                          "Scale parameters must be constants", "[doc-8.4]"))
    return out


def lrn(ctx: NodeCtx) -> list[Refusal]:
    size = int(ctx.attr("size", 0))
    if size not in (3, 5, 7, 9):
        return [refuse("lrn.window", "size", size, f"LRN window {size}: DLA allows 3, 5, 7 "
                       "or 9", "[doc-latest], [hdr 7.1-10.16]")]
    return []


def concat(ctx: NodeCtx) -> list[Refusal]:
    """Channel axis of a 4-D tensor only, at least two inputs."""
    out: list[Refusal] = []
    ins = [i for i in ctx.node.inputs if i]
    if len(ins) < 2:
        out.append(refuse("concat.inputs", "inputs", len(ins), "concatenation on DLA requires "
                          "at least two inputs", "[doc-latest], [log]"))
    y = ctx.out_shape(0)
    axis = int(ctx.attr("axis", 1))
    if y is not None:
        rank = len(y)
        norm = axis + rank if axis < 0 else axis
        if rank != 4 or norm != 1:
            out.append(refuse("concat.axis", "axis", axis, f"axis {axis} of a rank-{rank} "
                              "tensor: DLA only supports concatenation on the C dimension "
                              "(axis 1 of NCHW)", "[doc-latest], [hdr 8.6-10.16], [log]"))
    return out


def resize(ctx: NodeCtx) -> list[Refusal]:
    """Scales [1,1,s,s] constant, integer s in [1,32] (nearest) / [1,4] (linear), allowed
    coordinate/rounding combinations, no output-size form."""
    out: list[Refusal] = []
    src = "[hdr 8.4-10.16], [doc-8.4]"
    mode = str(ctx.attr("mode", "nearest"))
    ctm = str(ctx.attr("coordinate_transformation_mode", "half_pixel"))
    nearest_mode = str(ctx.attr("nearest_mode", "round_prefer_floor"))
    scales_name = ctx.input(2) if ctx.op == "Resize" else ctx.input(1)
    scales = ctx.const(scales_name)
    if ctx.op == "Resize" and ctx.input(3) and (scales is None or scales.size == 0):
        return [refuse("resize.sizes", "sizes", ctx.input(3), "Resize by output sizes "
                       "(setOutputDimensions) is not supported on DLA; give scales",
                       src)]
    if scales is None:
        return [refuse("resize.scales", "scales", scales_name, "scales must be a build-time "
                       "constant", src)]
    sc = tuple(float(v) for v in np.asarray(scales).ravel())
    if len(sc) != 4 or sc[0] != 1.0 or sc[1] != 1.0:
        out.append(refuse("resize.scales", "scales", sc, f"scales {fmt(sc)}: DLA needs exactly "
                          "4 scales, the first two 1", src))
    elif any(s != int(s) for s in sc[2:]):
        out.append(refuse("resize.scales", "scales", sc, f"scales {fmt(sc)}: DLA needs "
                          "integer spatial scales", src))
    else:
        hi = 32 if mode == "nearest" else 4
        out += in_range("resize.scales", "scales", [int(s) for s in sc[2:]], 1, hi, src,
                        f"{mode} spatial scales")
    if mode == "nearest":
        ok = (ctm == "asymmetric" and nearest_mode == "floor") or (
            ctm in ("half_pixel", "pytorch_half_pixel")
            and nearest_mode in ("round_prefer_floor", "round_prefer_ceil"))
    elif mode == "linear":
        ok = ctm in ("half_pixel", "pytorch_half_pixel")
    else:
        ok = False
    if not ok:
        desc = f"mode={mode}, coordinate_transformation_mode={ctm}" + (
            f", nearest_mode={nearest_mode}" if mode == "nearest" else "")
        out.append(refuse("resize.mode", "mode", desc, f"{desc}: DLA allows nearest with "
                          "asymmetric+floor or half_pixel+round_prefer_*, linear with "
                          "half_pixel", src))
    return out


def unary(ctx: NodeCtx) -> list[Refusal]:
    if ctx.op == "Abs":
        return []
    if ctx.op in ("Sin", "Cos", "Atanh") and ctx.target.at_least(8, 6, 12):
        return []
    return [refuse("unary.op", "op", ctx.op, f"unary {ctx.op}: DLA supports only Abs "
                   "(Sin, Cos, Atanh from TensorRT 8.6.12)", "[hdr 8.4-10.16], [dla-sw]")]


def _slice_checks(ctx: NodeCtx, axes: list[int], steps: list[int]) -> list[Refusal]:
    out: list[Refusal] = []
    x = ctx.in_shape(0)
    src = "[hdr 8.4-10.16], [log]"
    if x is not None and len(x) != 4:
        out.append(refuse("slice.rank", "input", x, f"rank-{len(x)} input {fmt(x)}: DLA only "
                          "supports slicing 4 dimensional tensors", src))
    rank = len(x) if x is not None else 4
    norm = [a + rank if a < 0 else a for a in axes]
    if 0 in norm:
        out.append(refuse("slice.batch_axis", "axes", tuple(axes), "slicing on the first "
                          "(batch) dimension is not supported on DLA", "[hdr 8.4-8.6]"))
    if any(s != 1 for s in steps):
        out.append(refuse("slice.stride", "steps", tuple(steps), f"steps {fmt(steps)}: DLA "
                          "slices need stride 1", "[hdr 8.4-8.6]"))
    return out


def slice_(ctx: NodeCtx) -> list[Refusal]:
    """Slice: constant starts/ends/axes/steps, stride 1, not on dim 0, 4-D input."""
    names = ["starts", "ends", "axes", "steps"]
    for i in range(1, 5):
        if ctx.input(i) and not ctx.is_const(i):
            return [refuse("slice.constant", names[i - 1], ctx.input(i), f"{names[i - 1]} is a "
                           "runtime tensor; DLA slices need build-time constants",
                           "[hdr 8.4-10.16]")]
    starts = ctx.const(ctx.input(1))
    n = 0 if starts is None else int(np.asarray(starts).size)
    axes_c = ctx.const(ctx.input(3))
    axes = [int(v) for v in np.asarray(axes_c).ravel()] if axes_c is not None else list(range(n))
    steps_c = ctx.const(ctx.input(4))
    steps = [int(v) for v in np.asarray(steps_c).ravel()] if steps_c is not None else [1] * n
    return _slice_checks(ctx, axes, steps)


def split(ctx: NodeCtx) -> list[Refusal]:
    """Split becomes one Slice per output: the Slice rules on the split axis."""
    if ctx.input(1) and not ctx.is_const(1):
        return [refuse("slice.constant", "split", ctx.input(1), "split sizes are a runtime "
                       "tensor; DLA slices need build-time constants", "[hdr 8.4-10.16]")]
    return _slice_checks(ctx, [int(ctx.attr("axis", 0))], [1])


def softmax(ctx: NodeCtx) -> list[Refusal]:
    """Not on Xavier; on Orin axis C/H/W of a 4-D tensor, axis size <= 8192 when the other
    non-batch dims are 1 (accurate), else <= 1024 (approximate)."""
    if ctx.target.xavier:
        return [refuse("softmax.platform", "platform", ctx.target.platform, "on Xavier, "
                       "SoftMax is not supported on DLA", "[hdr 8.4, 8.6]")]
    x = ctx.in_shape(0)
    if x is None:
        return []
    rank = len(x)
    axis = int(ctx.attr("axis", -1))
    norm = axis + rank if axis < 0 else axis
    if rank != 4 or norm == 0:
        return [refuse("softmax.axis", "axis", axis, f"axis {axis} of a rank-{rank} tensor: "
                       "DLA SoftMax needs a 4-D tensor and the channel or a spatial axis",
                       "[hdr 8.4-10.16]")]
    others = [d for i, d in enumerate(x) if i not in (0, norm)]
    limit = 8192 if all(d == 1 for d in others) else 1024
    if x[norm] > limit:
        return [refuse("softmax.axis_size", "axis", x[norm], f"softmax over {x[norm]} values "
                       f"with other dims {fmt(others)}: limit {limit}", "[hdr 8.4-10.16]")]
    return []


def shuffle(ctx: NodeCtx) -> list[Refusal]:
    """Reshape/Transpose/Flatten/(Un)Squeeze: 4-D data on one side at most 4-D on the other,
    the batch dimension untouched, constant target shape; on Orin a reshape may not touch a
    Slice or Concat directly."""
    out: list[Refusal] = []
    x, y = ctx.in_shape(0), ctx.out_shape(0)
    if ctx.op == "Reshape" and not ctx.is_const(1):
        out.append(refuse("shuffle.constant", "shape", ctx.input(1), "target shape is a runtime "
                          "tensor; DLA needs a build-time constant", "[unverified]"))
    if x is not None and y is not None:
        if len(x) != 4 or len(y) > 4:
            out.append(refuse("shuffle.rank", "input", (x, y), f"{fmt(x)} -> {fmt(y)}: DLA "
                              "shuffles take a 4-D input (output at most 4-D)", "[unverified]"))
        if ctx.op == "Transpose":
            perm = tuple(int(p) for p in ctx.attr("perm", tuple(reversed(range(len(x))))))
            if perm and perm[0] != 0:
                out.append(refuse("shuffle.batch", "perm", perm, f"perm {fmt(perm)} moves the "
                                  "batch dimension", "[unverified]"))
        elif x[:1] != y[:1]:
            out.append(refuse("shuffle.batch", "shape", y, f"{fmt(x)} -> {fmt(y)} changes the "
                              "batch dimension", "[unverified]"))
    if ctx.op in RESHAPES and ctx.target.dla2:
        before, after = ctx.neighbours_ops()
        touching = sorted((before | after) & {"Slice", "Split", "Concat"})
        if touching:
            out.append(refuse("shuffle.next_to_slice_concat", "neighbours", touching,
                              f"reshape directly connected to {', '.join(touching)}: this "
                              "version of DLA does not support reshape layers directly "
                              "connected to Slice or Concat", "[log]"))
    return out


def reduce(ctx: NodeCtx) -> list[Refusal]:
    """Reduce: MAX over spatial axes of a 4-D tensor from TensorRT 8.6.12; others no."""
    if ctx.op != "ReduceMax":
        return [refuse("reduce.op", "op", ctx.op, f"{ctx.op}: only Reduce MAX is native on DLA",
                       "[dla-sw], [unverified]")]
    if not ctx.target.at_least(8, 6, 12):
        return [refuse("reduce.max", "trt_version", ctx.target.trt_version, "Reduce MAX is "
                       "native on DLA from TensorRT 8.6.12", "[dla-sw]")]
    x = ctx.in_shape(0)
    if x is not None and len(x) != 4:
        return [refuse("reduce.rank", "input", x, "DLA Reduce MAX needs a 4-D tensor",
                       "[unverified]")]
    return []


def passthrough(ctx: NodeCtx) -> list[Refusal]:
    """Identity / inference Dropout: TensorRT removes them; no rule of their own."""
    return []


NOT_ON_DLA_NOTES = {
    "Gather": "TensorRT headers: Gather has no DLA support [hdr 8.4-10.16]",
    "InstanceNormalization": "reconstructable from DLA ops only [dla-sw]",
    "LayerNormalization": "reconstructable from DLA ops only [dla-sw]",
    "GroupNormalization": "reconstructable from DLA ops only [dla-sw]",
    "Pad": "a TensorRT padding layer (rewrite: pad_into_conv when a Conv follows)",
    "TopK": "absent from the Orin ONNX support matrix [dla-sw]",
    "NonMaxSuppression": "absent from the Orin ONNX support matrix [dla-sw]",
}


__all__ = ["ACTIVATIONS", "ELEMENTWISE_8X", "ELEMENTWISE_LATER", "NOT_ON_DLA_NOTES", "RESHAPES",
           "SHUFFLES", "activation", "batchnorm", "comparison", "concat", "elementwise", "lrn",
           "passthrough", "prelu", "reduce", "resize", "shuffle", "slice_", "softmax", "split",
           "unary"]

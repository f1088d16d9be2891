"""Which ONNX op becomes which DLA layer family, and the rules every node must pass.

`check_node` runs, in this order, and returns every refusal it collects:

1. the target: a TensorRT/platform without DLA, or fp32 precision, refuses every node;
2. the support list: an op with no DLA layer family ("not in the DLA support list"; a custom
   op is a TensorRT plugin, and plugins always run on the GPU);
3. general restrictions [doc-latest]: static shapes, FP16/INT8 data (no int32/int64/bool
   tensors [log]), non-batch dims <= 8192, batch <= 4096, 4-D (2D spatial) tensors for the
   compute families;
4. the family's own function (`FAMILIES`), which names the parameter and value it refuses.

The table is a plain dict (no import-time registration), one entry per ONNX op.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from profiles.dla import rules_conv as rc
from profiles.dla import rules_misc as rm
from profiles.dla.context import FLOAT_TYPES, INT8_TYPES, NodeCtx, dtype_name
from profiles.dla.refusal import Refusal, fmt, refuse

Rule = Callable[[NodeCtx], list[Refusal]]

# ONNX op -> (family name, rule function)
FAMILIES: dict[str, tuple[str, Rule]] = {
    "Conv": ("convolution", rc.conv),
    "ConvTranspose": ("deconvolution", rc.deconv),
    "MaxPool": ("pooling", rc.pooling),
    "AveragePool": ("pooling", rc.pooling),
    "GlobalAveragePool": ("reduce", rc.global_pool),
    "GlobalMaxPool": ("reduce", rc.global_pool),
    "Gemm": ("fully_connected", rc.fully_connected),
    "MatMul": ("fully_connected", rc.fully_connected),
    **{op: ("activation", rm.activation) for op in sorted(rm.ACTIVATIONS)},
    "PRelu": ("parametric_relu", rm.prelu),
    **{op: ("elementwise", rm.elementwise)
       for op in sorted({*rm.ELEMENTWISE_8X, *rm.ELEMENTWISE_LATER})},
    "Equal": ("comparison", rm.comparison),
    "Greater": ("comparison", rm.comparison),
    "Less": ("comparison", rm.comparison),
    "BatchNormalization": ("scale", rm.batchnorm),
    "LRN": ("lrn", rm.lrn),
    "Concat": ("concatenation", rm.concat),
    "Resize": ("resize", rm.resize),
    "Upsample": ("resize", rm.resize),
    "Abs": ("unary", rm.unary),
    "Sin": ("unary", rm.unary),
    "Cos": ("unary", rm.unary),
    "Atanh": ("unary", rm.unary),
    "Exp": ("unary", rm.unary),
    "Log": ("unary", rm.unary),
    "Sqrt": ("unary", rm.unary),
    "Reciprocal": ("unary", rm.unary),
    "Slice": ("slice", rm.slice_),
    "Split": ("slice", rm.split),
    "Softmax": ("softmax", rm.softmax),
    **{op: ("shuffle", rm.shuffle) for op in sorted(rm.SHUFFLES)},
    "ReduceMax": ("reduce", rm.reduce),
    "ReduceMean": ("reduce", rm.reduce),
    "ReduceSum": ("reduce", rm.reduce),
    "ReduceMin": ("reduce", rm.reduce),
    "Identity": ("passthrough", rm.passthrough),
    "Dropout": ("passthrough", rm.passthrough),
}
# families whose tensors must be 4-D NCHW ("2D only" in the [doc-latest] table)
RANK4_FAMILIES = {"convolution", "deconvolution", "pooling", "activation", "parametric_relu",
                  "elementwise", "scale", "lrn", "unary", "comparison"}
MAX_DIM = 8192
MAX_BATCH = 4096


def family_of(op: str) -> str | None:
    entry = FAMILIES.get(op)
    return entry[0] if entry else None


def _target_refusals(ctx: NodeCtx) -> list[Refusal]:
    t = ctx.target
    if t.dla_unavailable:
        return [refuse("target.trt_version", "trt_version", t.trt_version, t.dla_unavailable,
                       t.unavailable_source)]
    if t.precision == "fp32":
        return [refuse("target.precision", "precision", "fp32", "DLA runs FP16 and INT8 only; "
                       "build with --fp16 or --int8", "[dla-sw FAQ]")]
    return []


def _support_refusal(ctx: NodeCtx) -> list[Refusal]:
    node = ctx.node
    if node.op in FAMILIES and node.domain == "":
        return []
    if not node.known_op:
        why = (f"{node.op} is not in the DLA support list (custom op in domain "
               f"{node.domain or 'ai.onnx'!r} with no ONNX schema: TensorRT would need a "
               "plugin, and plugins always run on the GPU)")
    else:
        note = rm.NOT_ON_DLA_NOTES.get(node.op)
        why = f"{node.op} is not in the DLA support list" + (f" ({note})" if note else "")
    return [refuse("support_list", "op", node.op, why, "[doc-latest], [hdr 8.4-10.16]")]


def _data_tensors(ctx: NodeCtx) -> list[tuple[str, str]]:
    """(role, tensor) of the non-constant inputs and the outputs."""
    ins = [(f"input {i}", t) for i, t in enumerate(ctx.node.inputs)
           if t and t not in ctx.model.constants]
    outs = [(f"output {i}", t) for i, t in enumerate(ctx.node.outputs) if t]
    return ins + outs


def _general_refusals(ctx: NodeCtx, family: str | None) -> list[Refusal]:
    out: list[Refusal] = []
    for role, tensor in _data_tensors(ctx):
        shape = ctx.shape(tensor)
        if shape is None:
            out.append(refuse("static_shape", role, tensor, f"shape of {tensor!r} is unknown "
                              "after shape inference; DLA needs static shapes in every "
                              "dimension", "[doc-latest], [log]"))
            continue
        elem = ctx.dtype(tensor)
        allowed = FLOAT_TYPES | (INT8_TYPES if ctx.target.precision == "int8" else set())
        if elem is not None and elem not in allowed and not (
                family == "comparison" and role.startswith("output")):
            out.append(refuse("data_type", role, dtype_name(elem), f"{tensor!r} is "
                              f"{dtype_name(elem)}: DLA only supports FP16 and INT8 tensors",
                              "[log], [dla-sw FAQ]"))
        if len(shape) > 1:
            big = [d for d in shape[1:] if d > MAX_DIM]
            if big:
                out.append(refuse("max_dim", role, shape, f"{tensor!r} {fmt(shape)} has a "
                                  f"non-batch dimension {big[0]} > {MAX_DIM}", "[doc-latest]"))
            batch = math.prod(shape[:-3]) if len(shape) > 3 else shape[0]
            if batch > MAX_BATCH:
                out.append(refuse("max_batch", role, batch, f"batch {batch} > {MAX_BATCH}",
                                  "[doc-latest]"))
        operand = role.startswith("input") and role != "input 0"  # may broadcast
        if family in RANK4_FAMILIES and (len(shape) > 4 or (len(shape) != 4 and not operand)):
            out.append(refuse("rank", role, shape, f"{tensor!r} is rank {len(shape)} "
                              f"{fmt(shape)}: DLA layers take 4-D NCHW tensors (2D spatial "
                              "only)", "[doc-latest]"))
    first: dict[str, Refusal] = {}
    for r in out:  # one refusal per general rule: the first tensor that breaks it
        first.setdefault(r.rule, r)
    return list(first.values())


def _dedupe(items: list[Refusal]) -> list[Refusal]:
    seen: set[tuple[str, str]] = set()
    out = []
    for r in items:
        key = (r.rule, r.message)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def check_node(ctx: NodeCtx) -> list[Refusal]:
    """Every refusal of one node (empty list: the node may run on the DLA)."""
    target = _target_refusals(ctx)
    if target:
        return target
    support = _support_refusal(ctx)
    if support:
        return support
    family = family_of(ctx.op)
    out = _general_refusals(ctx, family)
    if any(r.rule == "static_shape" for r in out):
        return out  # the family rules need the shapes
    return _dedupe(out + FAMILIES[ctx.op][1](ctx))


__all__ = ["FAMILIES", "MAX_BATCH", "MAX_DIM", "RANK4_FAMILIES", "check_node", "family_of"]

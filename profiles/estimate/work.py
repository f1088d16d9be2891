"""Per-node work of an ONNX model: FLOPs and the bytes each node reads and writes.

What is counted, per node of a shape-inferred graph (``Constant`` nodes are weights, not
nodes, as in `profiles.graph.LayerGraph`):

- **MACs and FLOPs** (FLOPs = 2 x MACs for the multiply-accumulate ops; one FLOP per
  element operation for the rest, with a small documented count per op for the
  transcendental ones). Conv: ``out_elems * Cin/groups * kH * kW``; ConvTranspose:
  ``in_elems * Cout/groups * kH * kW``; Gemm/MatMul: ``batch * M * N * K``; pooling:
  ``out_elems * window``; LRN: ``elems * (2 * size + 4)``; and so on (`_ELEMENTWISE_OPS`).
- **Bytes** as a list of tensor uses (weights, activations in, activations out), each with
  its element count and whether it is floating point. Floating-point tensors take the
  width of the precision the engine runs in (fp32 4, fp16 2, int8 1 byte); integer
  tensors (shapes, indices) keep their ONNX width. A *view* op (Reshape, Flatten, ...)
  moves no bytes: TensorRT makes it a no-op.

An op this module does not know is an `EstimateError` naming the node, unless the caller
asks for ``unknown="conservative"``: then the node gets 0 FLOPs and its full input +
output bytes (a memory-bound copy), and ``NodeWork.conservative`` is True so the table's
metadata can say which nodes were guessed. Nothing here is platform-specific.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from profiles.errors import ProfileError

PRECISION_BYTES: Mapping[str, int] = {"fp32": 4, "fp16": 2, "int8": 1}
PRECISIONS = tuple(PRECISION_BYTES)

# ONNX TensorProto element types: (bytes, is floating point)
_DTYPES: Mapping[int, tuple[int, bool]] = {
    1: (4, True), 2: (1, False), 3: (1, False), 4: (2, False), 5: (2, False), 6: (4, False),
    7: (8, False), 9: (1, False), 10: (2, True), 11: (8, True), 12: (4, False),
    13: (8, False), 16: (2, True), 17: (1, True), 18: (1, True), 19: (1, True), 20: (1, True),
}

# elementwise ops: FLOPs per output element (a count of arithmetic operations, not a
# speed: exp/tanh/erf are counted as a few operations each, as cuDNN's fused kernels do)
_ELEMENTWISE_OPS: Mapping[str, int] = {
    "Add": 1, "Sub": 1, "Mul": 1, "Div": 1, "Sum": 1, "Mean": 1, "Max": 1, "Min": 1,
    "Relu": 1, "LeakyRelu": 2, "PRelu": 2, "Clip": 2, "Abs": 1, "Neg": 1, "Sign": 1,
    "Reciprocal": 1, "Sqrt": 1, "Pow": 1, "Exp": 1, "Log": 1, "Floor": 1, "Ceil": 1,
    "Round": 1, "Sigmoid": 4, "Tanh": 4, "HardSigmoid": 3, "HardSwish": 4, "Elu": 3,
    "Selu": 3, "Celu": 3, "Softplus": 3, "Softsign": 3, "Erf": 4, "Gelu": 8, "Mish": 8,
    "Sin": 4, "Cos": 4, "Atanh": 4, "Equal": 1, "Greater": 1, "Less": 1,
    "GreaterOrEqual": 1, "LessOrEqual": 1, "Where": 1, "Not": 1, "And": 1, "Or": 1,
    "Xor": 1, "Mod": 1, "IsNaN": 1, "IsInf": 1, "ThresholdedRelu": 2,
    "BatchNormalization": 2, "InstanceNormalization": 5, "LayerNormalization": 5,
    "GroupNormalization": 5, "Softmax": 5, "LogSoftmax": 5, "Hardmax": 2,
}
# data movement: no arithmetic, every input and output byte moves
_MOVE_OPS = frozenset({
    "Concat", "Transpose", "Slice", "Split", "Pad", "Gather", "GatherElements", "GatherND",
    "Tile", "Expand", "Cast", "CastLike", "DepthToSpace", "SpaceToDepth", "ScatterND",
    "ScatterElements", "ReverseSequence", "Trilu", "OneHot",
})
# views: TensorRT turns them into no-ops (or they are removed at inference)
_VIEW_OPS = frozenset({
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Size",
    "ConstantOfShape", "Range",
})
_POOL_OPS = frozenset({"MaxPool", "AveragePool", "LpPool"})
_GLOBAL_POOL_OPS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
_REDUCE_OPS = frozenset({
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
    "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin",
})
_RESIZE_OPS = frozenset({"Resize", "Upsample"})

OP_CLASSES = ("conv", "deconv", "gemm", "pool", "norm", "elementwise", "move", "view",
              "unknown")
"""Op classes the roofline's efficiency factors are keyed on (see `op_class`)."""


class EstimateError(ProfileError):
    """The estimator cannot estimate this model (unknown op, unknown shape, bad option)."""


@dataclass(frozen=True)
class TensorUse:
    """One tensor a node reads or writes: element count and whether it is floating point."""

    name: str
    elems: int
    is_float: bool
    onnx_width: int  # bytes per element in the ONNX file

    def bytes(self, precision: str) -> int:
        width = PRECISION_BYTES[precision] if self.is_float else self.onnx_width
        return self.elems * width


@dataclass(frozen=True)
class NodeWork:
    """The work of one ONNX node, independent of the device that runs it."""

    name: str
    op_type: str
    op_class: str
    macs: int
    flops: int
    weights: tuple[TensorUse, ...]
    inputs: tuple[TensorUse, ...]   # activations read (graph inputs or other nodes' outputs)
    outputs: tuple[TensorUse, ...]
    conservative: bool = False      # unknown op: 0 FLOPs, full bytes (labelled guess)
    attributes: Mapping[str, Any] | None = None

    def weight_bytes(self, precision: str) -> int:
        return sum(t.bytes(precision) for t in self.weights)

    def in_bytes(self, precision: str) -> int:
        return sum(t.bytes(precision) for t in self.inputs)

    def out_bytes(self, precision: str) -> int:
        return sum(t.bytes(precision) for t in self.outputs)

    def bytes(self, precision: str) -> int:
        """Bytes moved running this node alone: weights + inputs + outputs (0 for views)."""
        if self.op_class == "view":
            return 0
        return self.weight_bytes(precision) + self.in_bytes(precision) + \
            self.out_bytes(precision)


def op_class(op_type: str) -> str:
    """The efficiency class of an ONNX op type (`OP_CLASSES`); ``unknown`` if unlisted."""
    if op_type == "Conv":
        return "conv"
    if op_type == "ConvTranspose":
        return "deconv"
    if op_type in ("Gemm", "MatMul"):
        return "gemm"
    if op_type in _POOL_OPS or op_type in _GLOBAL_POOL_OPS or op_type in _REDUCE_OPS:
        return "pool"
    if op_type in ("BatchNormalization", "InstanceNormalization", "LayerNormalization",
                   "GroupNormalization", "LRN", "Softmax", "LogSoftmax", "Hardmax"):
        return "norm"
    if op_type in _ELEMENTWISE_OPS:
        return "elementwise"
    if op_type in _MOVE_OPS or op_type in _RESIZE_OPS:
        return "move"
    if op_type in _VIEW_OPS:
        return "view"
    return "unknown"


def known_ops() -> frozenset[str]:
    """Every op type with an exact work formula."""
    return frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "LRN", *_ELEMENTWISE_OPS,
                      *_MOVE_OPS, *_VIEW_OPS, *_POOL_OPS, *_GLOBAL_POOL_OPS, *_REDUCE_OPS,
                      *_RESIZE_OPS})


# ---------------------------------------------------------------------- graph walk



def model_work(model: Any, *, unknown: str = "error", source: str | None = None
               ) -> tuple[NodeWork, ...]:
    """Work of every node (``Constant`` nodes skipped) of an ONNX model, in file order.

    ``model`` is an ``onnx.ModelProto`` (shape inference is run here) or a path.
    ``unknown``: ``"error"`` (default) raises `EstimateError` on an op without a formula;
    ``"conservative"`` estimates it as a memory-bound copy and labels it.
    """
    import onnx

    if unknown not in ("error", "conservative"):
        raise EstimateError(f"unknown= must be 'error' or 'conservative', not {unknown!r}")
    if not isinstance(model, onnx.ModelProto):
        src = str(model)
        try:
            model = onnx.load(src)
        except (OSError, ValueError, RuntimeError) as exc:
            raise EstimateError(f"cannot read the ONNX model ({exc})", source=src) from exc
        source = source or src
    source = source or f"<ModelProto {model.graph.name or 'unnamed'}>"
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError,
            ValueError) as exc:
        raise EstimateError(f"ONNX shape inference failed ({exc}); the estimator needs "
                            "static shapes (export with fixed input sizes)",
                            source=source) from exc
    graph = inferred.graph
    types: dict[str, tuple[tuple[int, ...] | None, int]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        types[vi.name] = _shape_of(vi.type)
    consts: dict[str, tuple[tuple[int, ...], int]] = {}
    for init in graph.initializer:
        consts[init.name] = (tuple(int(d) for d in init.dims), init.data_type)
    out = []
    for i, node in enumerate(graph.node):
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    consts[node.output[0]] = (tuple(int(d) for d in attr.t.dims),
                                              attr.t.data_type)
            if node.output and node.output[0] not in consts:
                consts[node.output[0]] = ((), 1)  # scalar-ish constant (value_float etc.)
            continue
        name = node.name or f"{node.op_type}_{i}"
        out.append(_node_work(node, name, types, consts, unknown, source))
    return tuple(out)


def _shape_of(type_proto: Any) -> tuple[tuple[int, ...] | None, int]:
    if not type_proto.HasField("tensor_type"):
        return None, 0
    tt = type_proto.tensor_type
    if not tt.HasField("shape"):
        return None, tt.elem_type
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            return None, tt.elem_type
        dims.append(int(d.dim_value))
    return tuple(dims), tt.elem_type


def _use(name: str, shape: Sequence[int], elem_type: int) -> TensorUse:
    width, is_float = _DTYPES.get(elem_type, (4, True))
    return TensorUse(name=name, elems=int(math.prod(shape)), is_float=is_float,
                     onnx_width=width)


def _node_work(node: Any, name: str, types: Mapping[str, tuple[tuple[int, ...] | None, int]],
               consts: Mapping[str, tuple[tuple[int, ...], int]], unknown: str,
               source: str) -> NodeWork:
    import onnx

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    weights: list[TensorUse] = []
    inputs: list[TensorUse] = []
    in_shapes: list[tuple[int, ...] | None] = []
    for tname in node.input:
        if not tname:
            in_shapes.append(None)
            continue
        if tname in consts:
            shape, et = consts[tname]
            weights.append(_use(tname, shape, et))
            in_shapes.append(shape)
            continue
        shape, et = types.get(tname, (None, 0))
        if shape is None:
            raise EstimateError(f"input tensor {tname!r} has no static shape after shape "
                                "inference; export the model with fixed input sizes",
                                source=source, entry=f"node {name} ({node.op_type})")
        inputs.append(_use(tname, shape, et))
        in_shapes.append(shape)
    outputs: list[TensorUse] = []
    out_shapes: list[tuple[int, ...]] = []
    for tname in node.output:
        if not tname:
            continue
        shape, et = types.get(tname, (None, 0))
        if shape is None:
            raise EstimateError(f"output tensor {tname!r} has no static shape after shape "
                                "inference; export the model with fixed input sizes",
                                source=source, entry=f"node {name} ({node.op_type})")
        outputs.append(_use(tname, shape, et))
        out_shapes.append(shape)
    op = node.op_type
    cls = op_class(op)
    out_elems = sum(math.prod(s) for s in out_shapes)
    macs = 0
    flops = 0
    conservative = False
    entry = f"node {name} ({op})"
    if op == "Conv":
        w = in_shapes[1] if len(in_shapes) > 1 else None
        if w is None or len(w) < 3:
            raise EstimateError("Conv weight shape unknown", source=source, entry=entry)
        macs = out_elems * w[1] * math.prod(w[2:])
        flops = 2 * macs + (out_elems if len(node.input) > 2 and node.input[2] else 0)
    elif op == "ConvTranspose":
        w = in_shapes[1] if len(in_shapes) > 1 else None
        x = in_shapes[0]
        if w is None or x is None or len(w) < 3:
            raise EstimateError("ConvTranspose weight/input shape unknown", source=source,
                                entry=entry)
        # weight (Cin, Cout/groups, kH, kW): every input element meets Cout/g * k outputs
        macs = math.prod(x) * w[1] * math.prod(w[2:])
        flops = 2 * macs + (out_elems if len(node.input) > 2 and node.input[2] else 0)
    elif op == "Gemm":
        a, b = in_shapes[0], in_shapes[1]
        if a is None or b is None:
            raise EstimateError("Gemm operand shape unknown", source=source, entry=entry)
        k = a[0] if attrs.get("transA", 0) else a[-1]
        macs = out_elems * k
        flops = 2 * macs + (out_elems if len(node.input) > 2 and node.input[2] else 0)
    elif op == "MatMul":
        a = in_shapes[0]
        if a is None:
            raise EstimateError("MatMul operand shape unknown", source=source, entry=entry)
        macs = out_elems * a[-1]
        flops = 2 * macs
    elif op in _POOL_OPS:
        kernel = attrs.get("kernel_shape") or [1]
        flops = out_elems * int(math.prod(kernel))
    elif op in _GLOBAL_POOL_OPS or op in _REDUCE_OPS:
        flops = sum(t.elems for t in inputs)
    elif op == "LRN":
        size = int(attrs.get("size", 5))
        flops = out_elems * (2 * size + 4)
    elif op in _ELEMENTWISE_OPS:
        arity = len([t for t in node.input if t])
        repeat = max(1, arity - 1) if op in ("Sum", "Mean", "Max", "Min") else 1
        flops = out_elems * _ELEMENTWISE_OPS[op] * repeat
    elif op in _RESIZE_OPS:
        mode = attrs.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        rank = len(out_shapes[0]) if out_shapes else 4
        per = 0 if mode == "nearest" else (2 ** max(rank - 2, 1)) * 2 - 1
        flops = out_elems * per
    elif cls in ("move", "view"):
        flops = 0
    elif unknown == "conservative":
        conservative = True
        cls = "unknown"
    else:
        raise EstimateError(
            f"no work formula for op {op!r}; estimate it anyway with unknown='conservative' "
            "(CLI: --unknown-ops conservative: 0 FLOPs, all its bytes moved, labelled in the "
            "table) or replace the op", source=source, entry=entry)
    return NodeWork(name=name, op_type=op, op_class=cls, macs=int(macs), flops=int(flops),
                    weights=tuple(weights), inputs=tuple(inputs), outputs=tuple(outputs),
                    conservative=conservative, attributes=_plain_attrs(attrs))


def _plain_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, bytes):
            out[key] = value.decode("utf-8", errors="replace")
        elif isinstance(value, int | float | str):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            out[key] = tuple(value)
    return out


__all__ = [
    "OP_CLASSES",
    "PRECISIONS",
    "PRECISION_BYTES",
    "EstimateError",
    "NodeWork",
    "TensorUse",
    "known_ops",
    "model_work",
    "op_class",
]

"""What a DLA rule sees of one ONNX node: attributes, static shapes, constant inputs.

`load_model` reads the model (path or ``ModelProto``), refuses dynamic graph inputs at model
level (DLA has no dynamic shapes [doc-latest]), runs ONNX shape inference so every rule can
ask for tensor ranks and sizes, and collects constant values (initializers and ``Constant``
nodes) so a rule can read a Reshape's target shape or a Resize's scales. The node names are
the ones `profiles.graph.LayerGraph.from_onnx` uses (``node.name`` or ``{op}_{index}``), and
``Constant`` nodes are weights, not layers, there as here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from profiles.dla.target import DlaError, Target
from profiles.graph import is_weight, without_weights

FLOAT_TYPES = {1, 10, 16}  # float32, float16, bfloat16 (TensorProto enum)
INT8_TYPES = {2, 3}  # uint8, int8
_DTYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64",
                9: "bool", 10: "float16", 11: "float64", 16: "bfloat16"}


def dtype_name(elem_type: int | None) -> str:
    return "unknown" if elem_type is None else _DTYPE_NAMES.get(elem_type, f"type {elem_type}")


@dataclass(frozen=True)
class ModelView:
    """A shape-inferred model: tensor shapes/types, constants, producers and consumers."""

    proto: Any
    source: str
    shapes: Mapping[str, tuple[int, ...] | None]
    types: Mapping[str, int]
    constants: Mapping[str, np.ndarray]
    producer: Mapping[str, str]            # tensor -> node name
    consumers: Mapping[str, tuple[str, ...]]  # tensor -> node names
    op_of: Mapping[str, str]               # node name -> op type
    graph_inputs: tuple[str, ...]
    graph_outputs: tuple[str, ...]
    nodes: tuple[NodeView, ...] = field(default=())


@dataclass(frozen=True)
class NodeView:
    """One ONNX node as the rules see it (``attrs`` are decoded attribute values)."""

    name: str
    op: str
    domain: str
    index: int
    inputs: tuple[str, ...]   # may contain "" for an omitted optional input
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any]
    known_op: bool            # ONNX has a schema for (domain, op)


@dataclass(frozen=True)
class NodeCtx:
    """A node plus the model and target: what every rule function receives."""

    node: NodeView
    model: ModelView
    target: Target

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def op(self) -> str:
        return self.node.op

    def attr(self, key: str, default: Any = None) -> Any:
        return self.node.attrs.get(key, default)

    def input(self, i: int) -> str | None:
        ins = self.node.inputs
        return ins[i] if i < len(ins) and ins[i] else None

    def shape(self, tensor: str | None) -> tuple[int, ...] | None:
        if tensor is None:
            return None
        if tensor in self.model.constants:
            return tuple(int(d) for d in self.model.constants[tensor].shape)
        return self.model.shapes.get(tensor)

    def in_shape(self, i: int = 0) -> tuple[int, ...] | None:
        return self.shape(self.input(i))

    def out_shape(self, i: int = 0) -> tuple[int, ...] | None:
        outs = self.node.outputs
        return self.shape(outs[i]) if i < len(outs) else None

    def const(self, tensor: str | None) -> np.ndarray | None:
        return None if tensor is None else self.model.constants.get(tensor)

    def is_const(self, i: int) -> bool:
        t = self.input(i)
        return t is not None and t in self.model.constants

    def dtype(self, tensor: str | None) -> int | None:
        if tensor is None:
            return None
        if tensor in self.model.constants:
            return _np_to_onnx(self.model.constants[tensor].dtype)
        return self.model.types.get(tensor)

    def neighbours_ops(self) -> tuple[set[str], set[str]]:
        """Op types of the producers of this node's inputs and of its outputs' consumers."""
        before = {self.model.op_of[self.model.producer[t]] for t in self.node.inputs
                  if t and t in self.model.producer}
        after = {self.model.op_of[c] for t in self.node.outputs
                 for c in self.model.consumers.get(t, ())}
        return before, after


def _np_to_onnx(dt: np.dtype) -> int:
    import onnx

    return int(onnx.helper.np_dtype_to_tensor_dtype(dt))


def _load(model: Any) -> tuple[Any, str]:
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(model, onnx.ModelProto):
        return model, f"<ModelProto {model.graph.name or 'unnamed'}>"
    if not isinstance(model, str | Path):
        raise DlaError(f"expected an ONNX file path or onnx.ModelProto, got {type(model).__name__}")
    p = Path(model)
    source = str(p)
    if not p.is_file():
        raise DlaError("ONNX file not found; check the path", source=source)
    try:
        proto = onnx.load(str(p))
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise DlaError(f"not an ONNX model file ({type(exc).__name__}); pass a .onnx file "
                       "(e.g. from torch.onnx.export, or a zoo model: `export.zoo.save`)",
                       source=source) from None
    if not proto.graph.node:
        raise DlaError("not an ONNX model file (no graph nodes found); pass a .onnx file",
                       source=source)
    return proto, source


def _check_static_inputs(proto: Any, source: str) -> None:
    initializers = {i.name for i in proto.graph.initializer}
    for vi in proto.graph.input:
        if vi.name in initializers:
            continue
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            raise DlaError(f"graph input {vi.name!r} has no shape; DLA needs static shapes: "
                           "re-export with fixed input shapes", source=source, entry=vi.name)
        for axis, d in enumerate(tt.shape.dim):
            if not d.HasField("dim_value") or d.dim_value <= 0:
                what = repr(d.dim_param) if d.dim_param else "unknown"
                raise DlaError(
                    f"graph input {vi.name!r} has a dynamic dimension {what} (axis {axis}); DLA "
                    "needs static shapes: re-export with fixed shapes (e.g. `onnxsim in.onnx "
                    f"out.onnx --overwrite-input-shape {vi.name}:1,3,H,W`)",
                    source=source, entry=vi.name)


def _tensor_info(type_proto: Any) -> tuple[tuple[int, ...] | None, int | None]:
    if not type_proto.HasField("tensor_type"):
        return None, None
    tt = type_proto.tensor_type
    elem = int(tt.elem_type) or None
    if not tt.HasField("shape"):
        return None, elem
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None, elem
        dims.append(int(d.dim_value))
    return tuple(dims), elem


def load_model(model: Any) -> ModelView:
    """Read, check static inputs, infer shapes and collect constants (see module doc)."""
    import onnx
    from onnx import helper, numpy_helper

    proto, source = _load(model)
    _check_static_inputs(proto, source)
    try:
        inferred = onnx.shape_inference.infer_shapes(without_weights(proto), data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError,
            ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DlaError(f"ONNX shape inference failed ({first[:200]}); the model is "
                       "inconsistent: check it with onnx.checker", source=source) from None
    graph = inferred.graph
    constants: dict[str, np.ndarray] = {}
    for init in proto.graph.initializer:
        if is_weight(init):
            # the rules need a weight's shape and dtype only: a NaN placeholder of the right
            # shape costs no memory, and a rule that ever read its values would see NaN
            dtype = helper.tensor_dtype_to_np_dtype(init.data_type)
            constants[init.name] = np.broadcast_to(np.array(np.nan, dtype), tuple(init.dims))
        else:
            constants[init.name] = numpy_helper.to_array(init)
    shapes: dict[str, tuple[int, ...] | None] = {}
    types: dict[str, int] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        shape, elem = _tensor_info(vi.type)
        shapes[vi.name] = shape
        if elem is not None:
            types[vi.name] = elem
    producer: dict[str, str] = {}
    consumers: dict[str, list[str]] = {}
    op_of: dict[str, str] = {}
    nodes: list[NodeView] = []
    used: set[str] = set()
    for i, node in enumerate(graph.node):
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        if node.op_type == "Constant" and domain == "":
            value = _constant_value(node)
            if value is not None:
                constants[node.output[0]] = value
            continue
        name = node.name or f"{node.op_type}_{i}"
        if name in used:
            raise DlaError(f"node name {name!r} appears twice; give every node a unique name",
                           source=source, entry=f"node {i}")
        used.add(name)
        attrs = {a.name: _attr(a) for a in node.attribute}
        nodes.append(NodeView(name=name, op=node.op_type, domain=domain, index=len(nodes),
                              inputs=tuple(node.input), outputs=tuple(node.output),
                              attrs=attrs, known_op=onnx.defs.has(node.op_type, domain)))
        op_of[name] = node.op_type
        for out in node.output:
            if out:
                producer[out] = name
        for inp in node.input:
            if inp and inp not in constants:
                consumers.setdefault(inp, [])
                if name not in consumers[inp]:
                    consumers[inp].append(name)
    if not nodes:
        raise DlaError("the model has no layers (only constants)", source=source)
    inits = {i.name for i in graph.initializer}
    return ModelView(
        proto=proto, source=source, shapes=shapes, types=types, constants=constants,
        producer=producer, consumers={k: tuple(v) for k, v in consumers.items()}, op_of=op_of,
        graph_inputs=tuple(vi.name for vi in graph.input if vi.name not in inits),
        graph_outputs=tuple(vi.name for vi in graph.output), nodes=tuple(nodes))


def _constant_value(node: Any) -> np.ndarray | None:
    from onnx import helper, numpy_helper

    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if a.name == "value":
            return numpy_helper.to_array(v)
        if a.name in ("value_float", "value_int"):
            return np.array(v)
        if a.name in ("value_floats", "value_ints"):
            return np.array(list(v))
    return None


def _attr(a: Any) -> Any:
    from onnx import helper, numpy_helper

    v = helper.get_attribute_value(a)
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, list):
        return tuple(x.decode("utf-8", errors="replace") if isinstance(x, bytes) else x
                     for x in v)
    if hasattr(v, "dims") and hasattr(v, "data_type"):  # TensorProto
        return numpy_helper.to_array(v)
    return v


__all__ = ["FLOAT_TYPES", "INT8_TYPES", "ModelView", "NodeCtx", "NodeView", "dtype_name",
           "load_model"]

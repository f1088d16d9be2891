"""A small, deterministic ONNX graph builder shared by the zoo models.

Why a builder: every zoo model must come out with static shapes, opset 17, unique stable
node names, seeded weights that do not depend on the order in which tensors are created,
filled ``value_info`` and a clean ``onnx.checker`` verdict. Doing that once here keeps the
model modules about the architecture only.

Conventions (all zoo models):

- a node's (first) output tensor has the node's name; further outputs get ``:1``-free
  suffixes ``_1``, ``_2`` (no ``:`` or ``,`` anywhere: trtexec's ``--layerPrecisions`` and
  ``--layerDeviceTypes`` split on them);
- a weight's values come from ``numpy.random.default_rng([seed, crc32(weight name)])``, so a
  weight depends only on the seed, its name and its shape;
- the serialized model is byte-identical for equal arguments (fixed producer fields,
  deterministic protobuf serialization in `serialize`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17; older TensorRT parsers accept it
PRODUCER = "layerswap.export.zoo"


def seeded_rng(seed: int, name: str) -> np.random.Generator:
    """The generator for one weight: depends only on the seed and the weight's name."""
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


class GraphBuilder:
    """Collects nodes and initializers in execution order, then makes a checked model."""

    def __init__(self, graph_name: str, seed: int) -> None:
        self.graph_name = graph_name
        self.seed = seed
        self.nodes: list[onnx.NodeProto] = []
        self.arrays: dict[str, np.ndarray] = {}  # initializers, in creation order
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._names: set[str] = set()
        self._tensors: set[str] = set()

    # ------------------------------------------------------------------ tensors
    def input(self, name: str, shape: Sequence[int]) -> str:
        """Declare a float32 graph input of a static shape."""
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        self._claim_tensor(name)
        return name

    def output(self, tensor: str, shape: Sequence[int] | None = None) -> None:
        """Mark a tensor as a float32 graph output (shape filled by inference if omitted)."""
        self.outputs.append(
            helper.make_tensor_value_info(tensor, TensorProto.FLOAT,
                                          list(shape) if shape is not None else None))

    def const(self, name: str, value: np.ndarray) -> str:
        """An exact constant initializer (shapes, scales, anchors: part of the function)."""
        self._claim_tensor(name)
        self.arrays[name] = np.ascontiguousarray(value)
        return name

    def normal(self, name: str, shape: Sequence[int], std: float, mean: float = 0.0) -> str:
        """A seeded float32 N(mean, std^2) initializer."""
        values = seeded_rng(self.seed, name).standard_normal(tuple(shape), dtype=np.float32)
        return self.const(name, (values * np.float32(std) + np.float32(mean)).astype(np.float32))

    def uniform(self, name: str, shape: Sequence[int], low: float, high: float) -> str:
        """A seeded float32 U(low, high) initializer."""
        values = seeded_rng(self.seed, name).uniform(low, high, tuple(shape))
        return self.const(name, values.astype(np.float32))

    # ------------------------------------------------------------------- nodes
    def node(self, op: str, name: str, inputs: Sequence[str], outputs: int = 1,
             **attrs: object) -> str:
        """Append one node; returns its first output (named like the node)."""
        names = self.node_multi(op, name, inputs, outputs, **attrs)
        return names[0]

    def node_multi(self, op: str, name: str, inputs: Sequence[str], outputs: int,
                   **attrs: object) -> list[str]:
        """Append one node with ``outputs`` outputs; returns their names."""
        if name in self._names:
            raise ValueError(f"duplicate node name {name!r}")
        self._names.add(name)
        out_names = [name] + [f"{name}_{i}" for i in range(1, outputs)]
        for tensor in out_names:
            self._claim_tensor(tensor)
        self.nodes.append(helper.make_node(op, list(inputs), out_names, name=name, **attrs))
        return out_names

    def conv(self, name: str, x: str, cin: int, cout: int, kernel: int | tuple[int, int],
             *, stride: int = 1, pad: int | tuple[int, int, int, int] = 0, group: int = 1,
             bias: bool = True, gain: float = 2.0 ** 0.5, dilation: int = 1) -> str:
        """Conv with seeded He-style weights (std = gain / sqrt(fan_in)) and small biases."""
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        pads = [pad] * 4 if isinstance(pad, int) else list(pad)
        fan_in = (cin // group) * kh * kw
        inputs = [x, self.normal(f"{name}.weight", (cout, cin // group, kh, kw),
                                 gain / fan_in ** 0.5)]
        if bias:
            inputs.append(self.normal(f"{name}.bias", (cout,), 0.02))
        return self.node("Conv", name, inputs, kernel_shape=[kh, kw], strides=[stride, stride],
                         pads=pads, group=group, dilations=[dilation, dilation])

    def batchnorm(self, name: str, x: str, channels: int, eps: float = 1e-5) -> str:
        """Inference-mode BatchNormalization with seeded, realistic running statistics.

        gamma ~ N(1, 0.02) and beta = 0 as the reference pix2pix init; running mean ~
        N(0, 0.1), running var ~ U(0.5, 1.5) as after some training."""
        inputs = [x,
                  self.normal(f"{name}.weight", (channels,), 0.02, mean=1.0),
                  self.normal(f"{name}.bias", (channels,), 0.02),
                  self.normal(f"{name}.running_mean", (channels,), 0.1),
                  self.uniform(f"{name}.running_var", (channels,), 0.5, 1.5)]
        return self.node("BatchNormalization", name, inputs, epsilon=eps, momentum=0.9)

    # ------------------------------------------------------------------- model
    def finish(self, doc: str) -> onnx.ModelProto:
        """Make the model, fill value_info by shape inference and check it."""
        return assemble(self.graph_name, self.nodes, self.inputs, self.outputs, self.arrays,
                        doc)

    def _claim_tensor(self, name: str) -> None:
        if name in self._tensors:
            raise ValueError(f"duplicate tensor name {name!r}")
        self._tensors.add(name)


def assemble(graph_name: str, nodes: Sequence[onnx.NodeProto],
             inputs: Sequence[onnx.ValueInfoProto], outputs: Sequence[onnx.ValueInfoProto],
             arrays: dict[str, np.ndarray], doc: str) -> onnx.ModelProto:
    """Shape-infer and check the structure, then attach the weights.

    Strict shape inference and the full checker run on a light copy in which every large
    float initializer is a typed graph input instead (shape inference needs only its
    shape; integer and tiny constants stay, data propagation needs them): on the 218 MB
    Pix2Pix that is seconds faster than inferring over the weights. The inferred
    ``value_info`` then goes into the real model, whose initializers are added once."""
    def light(name: str, value: np.ndarray) -> bool:
        return value.dtype.kind == "f" and value.size > 16

    light_inputs = [helper.make_tensor_value_info(
        name, helper.np_dtype_to_tensor_dtype(value.dtype), list(value.shape))
        for name, value in arrays.items() if light(name, value)]
    kept = [numpy_helper.from_array(value, name) for name, value in arrays.items()
            if not light(name, value)]
    probe = _model(helper.make_graph(list(nodes), graph_name, list(inputs) + light_inputs,
                                     list(outputs), initializer=kept), doc)
    probe = onnx.shape_inference.infer_shapes(probe, check_type=True, strict_mode=True,
                                              data_prop=True)
    onnx.checker.check_model(probe, full_check=True)
    known = {vi.name: vi for vi in [*probe.graph.value_info, *probe.graph.output]}
    out_infos = []
    for out in outputs:
        info = onnx.ValueInfoProto()
        info.CopyFrom(out)
        if not info.type.tensor_type.HasField("shape") and out.name in known:
            info.type.CopyFrom(known[out.name].type)
        out_infos.append(info)
    out_names = {out.name for out in outputs}
    graph = helper.make_graph(list(nodes), graph_name, list(inputs), out_infos,
                              value_info=[vi for vi in probe.graph.value_info
                                          if vi.name not in out_names])
    for name, value in arrays.items():
        tensor = graph.initializer.add()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(value.dtype)
        tensor.dims.extend(value.shape)
        tensor.raw_data = value.astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
    # the probe passed the full checker; the weights added here are typed numpy arrays of
    # the declared shapes (tests run onnx.checker on the finished models as well)
    return _model(graph, doc)


def _model(graph: onnx.GraphProto, doc: str) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=PRODUCER, producer_version="1", doc_string=doc)
    model.ir_version = IR_VERSION
    return model


def serialize(model: onnx.ModelProto) -> bytes:
    """Deterministic protobuf bytes (equal models -> equal bytes)."""
    return model.SerializeToString(deterministic=True)

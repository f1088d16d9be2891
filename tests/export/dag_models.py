"""Small DAG test models built with onnx.helper (seeded weights, unique node names, opset 17).

Each builder returns a checked, shape-inferred ``onnx.ModelProto`` that exercises a DAG case
the splitter must handle: a diamond, U-Net-like skip connections spanning several layers,
several model outputs, a model output produced early and read later, a model input read
only by the last layer, and one initializer shared by two distant layers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[str] = []

    def input(self, name: str, shape: list[int]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def weight(self, name: str, shape: tuple[int, ...]) -> str:
        data = (self.rng.standard_normal(shape) * 0.3).astype(np.float32)
        self.inits.append(numpy_helper.from_array(data, name))
        return name

    def node(self, op: str, name: str, inputs: list[str], **attrs: object) -> str:
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv(self, name: str, x: str, cin: int, cout: int, k: int = 3, stride: int = 1) -> str:
        w = self.weight(f"{name}.w", (cout, cin, k, k))
        b = self.weight(f"{name}.b", (cout,))
        return self.node("Conv", name, [x, w, b], kernel_shape=[k, k], strides=[stride, stride],
                         pads=[k // 2] * 4)

    def model(self, outputs: list[str]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, self.name, self.inputs,
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
            self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="layerswap-tests")
        m.ir_version = 8
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        for out in m.graph.output:  # inference fills the outputs' static shapes
            assert out.type.tensor_type.HasField("shape"), out.name
        onnx.checker.check_model(m, full_check=True)
        return m


def diamond(seed: int = 0) -> onnx.ModelProto:
    b = _Builder("diamond", seed)
    x = b.input("x", [1, 3, 16, 16])
    a = b.conv("stem", x, 3, 8)
    left = b.node("Relu", "left_relu", [a])
    left = b.conv("left_conv", left, 8, 8)
    right = b.node("Sigmoid", "right_sigmoid", [a])
    merged = b.node("Add", "merge", [left, right])
    y = b.conv("head", merged, 8, 4)
    return b.model([y])


def unet(seed: int = 0) -> onnx.ModelProto:
    """Encoder features reach the decoder: skips span several layers."""
    b = _Builder("unet", seed)
    x = b.input("x", [1, 1, 16, 16])
    e1 = b.node("LeakyRelu", "enc1_act", [b.conv("enc1", x, 1, 4)], alpha=0.2)
    e2 = b.node("LeakyRelu", "enc2_act", [b.conv("enc2", e1, 4, 8, stride=2)], alpha=0.2)
    e3 = b.node("Relu", "enc3_act", [b.conv("enc3", e2, 8, 16, stride=2)])
    w = b.weight("up3.w", (16, 8, 2, 2))
    d3 = b.node("ConvTranspose", "up3", [e3, w], kernel_shape=[2, 2], strides=[2, 2])
    c3 = b.node("Concat", "cat3", [d3, e2], axis=1)
    d2 = b.node("Relu", "dec2_act", [b.conv("dec2", c3, 16, 8)])
    w2 = b.weight("up2.w", (8, 4, 2, 2))
    u2 = b.node("ConvTranspose", "up2", [d2, w2], kernel_shape=[2, 2], strides=[2, 2])
    c2 = b.node("Concat", "cat2", [u2, e1], axis=1)
    y = b.node("Tanh", "out_tanh", [b.conv("dec1", c2, 8, 1)])
    return b.model([y])


def multi_output(seed: int = 0) -> onnx.ModelProto:
    b = _Builder("multi_output", seed)
    x = b.input("x", [1, 3, 16, 16])
    f = b.node("Relu", "trunk_act", [b.conv("trunk", x, 3, 8)])
    h1 = b.conv("head_a", f, 8, 2)
    h2 = b.node("Flatten", "head_b_flat", [b.conv("head_b", f, 8, 1, stride=2)], axis=1)
    s = b.node("Softmax", "head_b_softmax", [h2], axis=1)
    return b.model([h1, s])


def early_output(seed: int = 0) -> onnx.ModelProto:
    """A model output produced by the first layers and still read by the last one."""
    b = _Builder("early_output", seed)
    x = b.input("x", [1, 2, 12, 12])
    feat = b.node("Relu", "feat_act", [b.conv("feat", x, 2, 4)])
    mid = b.node("Sigmoid", "mid_act", [b.conv("mid", feat, 4, 4)])
    deep = b.conv("deep", mid, 4, 4)
    y = b.node("Add", "residual", [deep, feat])
    return b.model([feat, y])


def late_input(seed: int = 0) -> onnx.ModelProto:
    """A second model input read only by the last layer; a weight shared by two layers."""
    b = _Builder("late_input", seed)
    x = b.input("x", [1, 4, 8, 8])
    z = b.input("bias_map", [1, 4, 8, 8])
    shared_w = b.weight("shared.w", (4, 4, 3, 3))
    a = b.node("Conv", "first", [x, shared_w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    a = b.node("Relu", "first_act", [a])
    a = b.conv("middle", a, 4, 4)
    a = b.node("Conv", "last_conv", [a, shared_w], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    y = b.node("Add", "add_bias", [a, z])
    return b.model([y])


MODELS: dict[str, Callable[..., onnx.ModelProto]] = {
    "diamond": diamond, "unet": unet, "multi_output": multi_output,
    "early_output": early_output, "late_input": late_input,
}


def random_feeds(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds

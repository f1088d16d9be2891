"""Tiny ONNX graph builder for the DLA checker tests (static shapes, opset 17)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class G:
    """Build a small graph node by node; ``model()`` returns the checked ModelProto."""

    def __init__(self, name: str = "g") -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[str] = []
        self._n = 0

    def input(self, name: str, shape: list[Any], dtype: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, shape: tuple[int, ...], seed: int = 0) -> str:
        self._n += 1
        rng = np.random.default_rng(seed + self._n)
        return self.init(f"w{self._n}", rng.standard_normal(shape).astype(np.float32) * 0.1)

    def node(self, op: str, inputs: list[str], name: str | None = None, n_out: int = 1,
             domain: str = "", **attrs: Any) -> str:
        self._n += 1
        name = name or f"{op.lower()}{self._n}"
        outs = [name if i == 0 else f"{name}:{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, domain=domain, **attrs))
        return outs[0]

    def model(self, *outputs: str, opset: int = 17, check: bool = True) -> onnx.ModelProto:
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
        graph = helper.make_graph(self.nodes, self.name, self.inputs, outs, self.inits)
        imports = [helper.make_opsetid("", opset)]
        if any(n.domain for n in self.nodes):
            imports.append(helper.make_opsetid("custom.plugins", 1))
        m = helper.make_model(graph, opset_imports=imports)
        m.ir_version = 8
        if check:
            m = onnx.shape_inference.infer_shapes(m)
            onnx.checker.check_model(m)
        return m


def one_op(op: str, shape: list[int], *, extra: list[str] | None = None,
           g: G | None = None, **attrs: Any) -> onnx.ModelProto:
    """x -> op(x, *extra) -> y."""
    g = g or G()
    x = g.input("x", shape)
    y = g.node(op, [x, *(extra or [])], name="n", **attrs)
    return g.model(y)

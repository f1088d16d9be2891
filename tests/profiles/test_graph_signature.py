"""`onnx_graph_signature`: structure only (names, ops, wiring, boundary shapes), no weights."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from profiles.errors import ProfileError
from profiles.graph import onnx_graph_signature


def _model(*, weight: float = 1.0, name: str = "relu", size: int = 4,
           out_name: str = "y") -> onnx.ModelProto:
    w = numpy_helper.from_array(np.full((1, 1, 1, 1), weight, np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], [out_name], name=name)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, size, size])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, 1, size, size])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_signature_is_a_stable_hex_digest(tmp_path):
    sig = onnx_graph_signature(_model())
    assert len(sig) == 64 and int(sig, 16) >= 0
    path = tmp_path / "m.onnx"
    onnx.save(_model(), path)
    assert onnx_graph_signature(path) == sig == onnx_graph_signature(str(path))


def test_weights_do_not_change_the_signature():
    assert onnx_graph_signature(_model(weight=1.0)) == onnx_graph_signature(_model(weight=7.0))


@pytest.mark.parametrize("change", [{"name": "relu2"}, {"size": 8}, {"out_name": "z"}])
def test_structure_changes_the_signature(change):
    assert onnx_graph_signature(_model()) != onnx_graph_signature(_model(**change))


def test_node_order_changes_the_signature():
    m = _model()
    swapped = onnx.ModelProto()
    swapped.CopyFrom(m)
    nodes = list(swapped.graph.node)
    del swapped.graph.node[:]
    swapped.graph.node.extend(reversed(nodes))
    assert onnx_graph_signature(m) != onnx_graph_signature(swapped)


def test_missing_file_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError, match="not found"):
        onnx_graph_signature(tmp_path / "none.onnx")

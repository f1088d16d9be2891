"""LayerGraph: order, crossing tensors, valid cuts and grouping on small real ONNX models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from profiles.errors import ProfileError
from profiles.graph import LayerGraph


def _w(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def _model(nodes, inputs, outputs, inits=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _x(name: str = "x", shape=(1, 3, 8, 8)) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _y(name: str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, None)


def chain_model() -> onnx.ModelProto:
    """conv -> relu -> maxpool."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["y"], name="pool", kernel_shape=[2, 2],
                         strides=[2, 2]),
    ]
    return _model(nodes, [_x()], [_y("y")], [_w("w", 4, 3, 3, 3)])


def residual_model() -> onnx.ModelProto:
    """conv0 -> [conv1 -> relu1 -> conv2] + skip -> add -> relu_out; cuts inside cross 2."""
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], name="conv0", pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["a", "w1"], ["b"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b"], ["c"], name="relu1"),
        helper.make_node("Conv", ["c", "w1"], ["d"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["d", "a"], ["e"], name="add"),
        helper.make_node("Relu", ["e"], ["y"], name="relu_out"),
    ]
    return _model(nodes, [_x()], [_y("y")], [_w("w0", 4, 3, 3, 3), _w("w1", 4, 4, 3, 3)])


def diamond_model() -> onnx.ModelProto:
    """split into two branches listed interleaved, joined by a Concat."""
    nodes = [
        helper.make_node("Relu", ["x"], ["s"], name="stem"),
        helper.make_node("Sigmoid", ["s"], ["l1"], name="left1"),
        helper.make_node("Tanh", ["s"], ["r1"], name="right1"),
        helper.make_node("Relu", ["l1"], ["l2"], name="left2"),
        helper.make_node("Concat", ["l2", "r1"], ["y"], name="join", axis=1),
    ]
    return _model(nodes, [_x()], [_y("y")])


def unet_model() -> onnx.ModelProto:
    """tiny U-Net: down conv, pool, bottleneck, upsample, skip concat, head."""
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["d0"], name="down0", pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["d0"], ["p0"], name="pool0", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p0", "w1"], ["b0"], name="bottleneck", pads=[1, 1, 1, 1]),
        helper.make_node("Constant", [], ["roi"], name="roi_const",
                         value=numpy_helper.from_array(np.zeros(0, dtype=np.float32))),
        helper.make_node("Resize", ["b0", "roi", "scales"], ["u0"], name="up0"),
        helper.make_node("Concat", ["u0", "d0"], ["cat"], name="skip_cat", axis=1),
        helper.make_node("Conv", ["cat", "w2"], ["y"], name="head", pads=[1, 1, 1, 1]),
    ]
    inits = [_w("w0", 4, 3, 3, 3), _w("w1", 4, 4, 3, 3), _w("w2", 2, 8, 3, 3), scales]
    return _model(nodes, [_x()], [_y("y")], inits)


# ---------------------------------------------------------------------- order and cuts
def test_chain_order_cuts_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "chain.onnx"
    onnx.save(chain_model(), str(path))
    g = LayerGraph.from_onnx(path)
    assert g.order == ("conv", "relu", "pool")
    assert g.inputs == ("x",) and g.outputs == ("y",)
    cuts = g.cut_points()
    assert [c.after_layer for c in cuts] == ["conv", "relu"]
    assert [c.tensor_names for c in cuts] == [("c",), ("r",)]
    assert all(c.valid for c in cuts)
    assert cuts[0].bytes == 1 * 4 * 8 * 8 * 4  # float32 1x4x8x8 from shape inference
    assert g.layer("pool").attributes["kernel_shape"] == (2, 2)
    assert g.layer("conv").op_type == "Conv"
    # weights are not tensors between layers
    assert "w" not in g.tensors


def test_residual_cuts_cross_two_tensors() -> None:
    g = LayerGraph.from_onnx(residual_model())
    assert g.order == ("conv0", "conv1", "relu1", "conv2", "add", "relu_out")
    cuts = {c.after_layer: c for c in g.cut_points()}
    assert cuts["conv0"].tensor_names == ("a",)
    assert set(cuts["conv1"].tensor_names) == {"a", "b"}
    assert set(cuts["relu1"].tensor_names) == {"a", "c"}
    assert set(cuts["conv2"].tensor_names) == {"a", "d"}
    assert cuts["add"].tensor_names == ("e",)
    assert [c.after_layer for c in g.valid_cuts()] == ["conv0", "add"]
    assert len(g.valid_cuts(max_crossing=2)) == 5


def test_diamond_order_ties_follow_file_order() -> None:
    g = LayerGraph.from_onnx(diamond_model())
    assert g.order == ("stem", "left1", "right1", "left2", "join")
    cuts = {c.after_layer: set(c.tensor_names) for c in g.cut_points()}
    assert cuts == {"stem": {"s"}, "left1": {"s", "l1"}, "right1": {"l1", "r1"},
                    "left2": {"l2", "r1"}}
    assert [c.after_layer for c in g.valid_cuts()] == ["stem"]


def test_unet_skip_crosses_and_constant_is_not_a_layer() -> None:
    g = LayerGraph.from_onnx(unet_model())
    assert "roi_const" not in g.order
    assert g.order == ("down0", "pool0", "bottleneck", "up0", "skip_cat", "head")
    cuts = {c.after_layer: set(c.tensor_names) for c in g.cut_points()}
    assert cuts["down0"] == {"d0"}
    assert cuts["pool0"] == {"d0", "p0"}
    assert cuts["up0"] == {"d0", "u0"}
    assert cuts["skip_cat"] == {"cat"}
    assert [c.after_layer for c in g.valid_cuts()] == ["down0", "skip_cat"]


def test_graph_output_consumed_later_crosses() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["mid"], name="a"),
             helper.make_node("Relu", ["mid"], ["y"], name="b")]
    model = _model(nodes, [_x()], [_y("mid"), _y("y")])
    g = LayerGraph.from_onnx(model)
    assert g.cut_points()[0].tensor_names == ("mid",)
    assert g.tensor("mid").is_graph_output


# ---------------------------------------------------------------------- grouping
def test_group_without_costs_balances_counts() -> None:
    g = LayerGraph.from_onnx(chain_model())
    grouping = g.group(2)
    assert [grp.layers for grp in grouping.groups] in (
        [("conv",), ("relu", "pool")], [("conv", "relu"), ("pool",)])
    assert grouping.groups[0].out_cut is not None
    assert grouping.groups[-1].out_cut is None


def test_group_by_cost_respects_valid_cuts_and_balances() -> None:
    g = LayerGraph.from_onnx(residual_model())
    costs = {"conv0": 5.0, "conv1": 1.0, "relu1": 1.0, "conv2": 1.0, "add": 1.0,
             "relu_out": 5.0}
    grouping = g.group_by_cost(costs, 3)
    assert grouping.boundaries == (0, 4)  # only conv0 and add are valid cuts
    assert [grp.cost for grp in grouping.groups] == [5.0, 4.0, 5.0]
    rows = grouping.cost_rows(costs, {k: 2 * v for k, v in costs.items()})
    assert [r["gpu_ms"] for r in rows] == [5.0, 4.0, 5.0]
    assert [r["dla_ms"] for r in rows] == [10.0, 8.0, 10.0]
    assert rows[0]["out_bytes"] == 4 * 8 * 8 * 4
    with pytest.raises(ProfileError, match="K=4 groups need 3 valid cuts"):
        g.group_by_cost(costs, 4)
    assert len(g.group_by_cost(costs, 4, max_crossing=2)) == 4


def test_group_is_deterministic_and_cost_rows_refuse_missing() -> None:
    g = LayerGraph.from_onnx(unet_model())
    a = g.group(2)
    b = LayerGraph.from_onnx(unet_model()).group(2)
    assert a == b
    with pytest.raises(ProfileError, match="no gpu_ms"):
        a.cost_rows({"down0": 1.0})


def _brute_force_bottleneck(weights: list[float], valid: list[int], k: int) -> float:
    from itertools import combinations, pairwise

    best = float("inf")
    n = len(weights)
    for bounds in combinations(valid, k - 1):
        edges = [0, *(b + 1 for b in bounds), n]
        worst = max(sum(weights[a:b]) for a, b in pairwise(edges))
        best = min(best, worst)
    return best


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=20), min_size=2, max_size=9),
       st.integers(min_value=1, max_value=5))
def test_grouping_is_optimal_against_brute_force(weights: list[int], k: int) -> None:
    names = [f"l{i}" for i in range(len(weights))]
    nodes = [helper.make_node("Relu", [f"t{i}" if i else "x"], [f"t{i + 1}"], name=n)
             for i, n in enumerate(names)]
    g = LayerGraph.from_onnx(_model(nodes, [_x()], [_y(f"t{len(names)}")]))
    k = min(k, len(names))
    costs = dict(zip(names, map(float, weights), strict=True))
    grouping = g.group_by_cost(costs, k)
    assert len(grouping) == k
    assert [lay for grp in grouping.groups for lay in grp.layers] == names
    expected = _brute_force_bottleneck([float(w) for w in weights], list(range(len(names) - 1)),
                                       k)
    assert grouping.bottleneck == pytest.approx(expected)


# ---------------------------------------------------------------------- layer info JSON
def test_layer_info_detailed_and_names_only(tmp_path: Path) -> None:
    detailed = {"Layers": [
        {"Name": "Conv_0 + Relu_1", "LayerType": "CaskConvolution",
         "Inputs": [{"Name": "input", "Location": "Device", "Dimensions": [1, 3, 8, 8],
                     "Format/Datatype": "Row major linear FP32"}],
         "Outputs": [{"Name": "t1", "Location": "Device", "Dimensions": [1, 8, 8, 8],
                      "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
        {"Name": "Pool_2", "LayerType": "CudaPooling",
         "Inputs": [{"Name": "t1", "Dimensions": [1, 8, 8, 8], "Format/Datatype": "Half"}],
         "Outputs": [{"Name": "out", "Dimensions": [1, 8, 4, 4], "Format/Datatype": "Float"}]},
    ], "Bindings": ["input", "out"]}
    p = tmp_path / "detailed.json"
    p.write_text(json.dumps(detailed))
    g = LayerGraph.from_layer_info(p)
    assert g.order == ("Conv_0 + Relu_1", "Pool_2")
    cut = g.cut_points()[0]
    assert cut.tensor_names == ("t1",) and cut.bytes == 8 * 8 * 8 * 2
    assert g.inputs == ("input",) and g.outputs == ("out",)

    names = {"Layers": ["A", "B", "A", "C"], "Bindings": ["x", "y"]}
    q = tmp_path / "names.json"
    q.write_text(json.dumps(names))
    h = LayerGraph.from_layer_info(q)
    assert h.order == ("A", "B", "A_2", "C")
    assert all(c.valid and c.bytes is None for c in h.cut_points())


# ---------------------------------------------------------------------- errors
def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="not found"):
        LayerGraph.from_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_text("this is not protobuf at all \x00\xff")
    with pytest.raises(ProfileError, match="not an ONNX"):
        LayerGraph.from_onnx(bad)
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        LayerGraph.from_layer_info(junk)
    with pytest.raises(ProfileError, match="cannot read"):
        LayerGraph.from_layer_info(tmp_path / "nope.json")


def test_cycle_and_unknown_op_are_refused() -> None:
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")]
    graph = helper.make_graph(nodes, "cyc", [_x()], [_y("b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ProfileError, match="cycle"):
        LayerGraph.from_onnx(model)

    nodes = [helper.make_node("MyPlugin", ["x"], ["y"], name="plug", domain="trt.plugins")]
    graph = helper.make_graph(nodes, "plug", [_x()], [_y("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("trt.plugins", 1)])
    with pytest.raises(ProfileError, match="unknown op 'MyPlugin'"):
        LayerGraph.from_onnx(model)
    assert LayerGraph.from_onnx(model, allow_unknown_ops=True).order == ("plug",)


def test_duplicate_node_names_are_refused() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="same"),
             helper.make_node("Relu", ["a"], ["y"], name="same")]
    graph = helper.make_graph(nodes, "dup", [_x()], [_y("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ProfileError, match="appears twice"):
        LayerGraph.from_onnx(model)

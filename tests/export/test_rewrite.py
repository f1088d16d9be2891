"""Exact DLA rewrites: each pass makes its nodes DLA-eligible (checker before/after) and keeps
the function (ONNX Runtime on seeded inputs, fp32 max abs diff <= 1e-5)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export import zoo
from export.errors import ExportError
from export.rewrite import PASSES, pass_names, rewrite
from export.verify import verify
from profiles.dla import check_model

ORIN10 = {"platform": "orin-agx", "trt_version": "10.3"}
XAVIER = {"platform": "xavier-agx", "trt_version": "8.5.2"}


def _model(nodes, inputs, output, inits):
    rng = np.random.default_rng(7)
    tensors = [numpy_helper.from_array(
        v if isinstance(v, np.ndarray) and v.dtype != np.float64
        else (rng.standard_normal(v).astype(np.float32) * 0.2), k) for k, v in inits.items()]
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info(k, TensorProto.FLOAT, s)
                     for k, s in inputs.items()],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], tensors)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)


@pytest.fixture(scope="module")
def pix2pix():
    return zoo.build("pix2pix", ngf=4)


@pytest.mark.parametrize("target", [ORIN10, XAVIER])
def test_pix2pix_padded_convtransposes_flagged_then_fixed_exactly(pix2pix, target):
    padded = {n.name for n in pix2pix.graph.node if n.op_type == "ConvTranspose"
              and any(a.name == "pads" and any(a.ints) for a in n.attribute)}
    assert len(padded) == 8  # 8 up-sampling ConvTransposes, all padding 1
    before = check_model(pix2pix, **target)
    flagged = {v.name for v in before.nodes
               if any(r.rule == "deconv.padding" for r in v.reasons)}
    assert flagged == padded
    assert {v.name for v in before.gpu_fallbacks} == padded
    assert before.loadables.per_instance == 9  # the encoder + one island per decoder level

    result = rewrite(pix2pix)
    assert sorted(c.node for c in result.applied) == sorted(padded)
    after = check_model(result.model, **target)
    assert after.gpu_fallbacks == ()
    assert not any(r.rule.startswith("deconv") for v in after.nodes for r in v.reasons)
    assert after.loadables.per_instance == 1 and len(after.islands) == 1
    assert all(n.op_type != "ConvTranspose" or not any(
        a.name == "pads" and any(a.ints) for a in n.attribute) for n in result.model.graph.node)

    report = verify(pix2pix, result.model, seed=3, samples=2)
    assert report.passed and report.max_abs_diff <= 1e-5
    (out,) = report.outputs
    assert out.shape == (1, 1, 256, 256) and out.ssim is not None and out.ssim > 0.9999


def test_rewrite_is_deterministic_and_leaves_the_input_alone(pix2pix):
    before = pix2pix.SerializeToString()
    a = rewrite(pix2pix).model.SerializeToString()
    b = rewrite(pix2pix).model.SerializeToString()
    assert a == b and pix2pix.SerializeToString() == before
    out = rewrite(pix2pix).model
    assert (out.producer_name, out.graph.name, list(out.opset_import)) == (
        pix2pix.producer_name, pix2pix.graph.name, list(pix2pix.opset_import))


def test_asymmetric_padded_convtranspose_crop_is_exact():
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[5, 3],
                            strides=[3, 2], pads=[0, 1, 2, 1])
    m = _model([node], {"x": [1, 3, 7, 6]}, "y", {"w": (3, 4, 5, 3)})
    result = rewrite(m, ["convtranspose_pad_to_crop"])
    assert [c.node for c in result.applied] == ["up"]
    ops = [n.op_type for n in result.model.graph.node]
    assert ops == ["ConvTranspose", "Slice"]
    out_shape = [d.dim_value for d in result.model.graph.output[0].type.tensor_type.shape.dim]
    assert out_shape == [1, 4, (7 - 1) * 3 + 5 - 2, (6 - 1) * 2 + 3 - 2]
    assert verify(m, result.model, samples=2).passed
    assert check_model(result.model, **ORIN10).verdict("up").dla


def test_convtranspose_with_output_padding_is_left_alone_with_the_reason():
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[3, 3],
                            strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    m = _model([node], {"x": [1, 2, 4, 4]}, "y", {"w": (2, 2, 3, 3)})
    result = rewrite(m)
    assert result.applied == ()
    assert [(c.node, "output_padding" in c.detail) for c in result.skipped] == [("up", True)]


@pytest.mark.parametrize(("op", "new_op"), [("GlobalAveragePool", "AveragePool"),
                                            ("GlobalMaxPool", "MaxPool")])
def test_global_pool_to_whole_window_pool(op, new_op):
    nodes = [helper.make_node(op, ["x"], ["p"], name="gp"),
             helper.make_node("Relu", ["p"], ["y"], name="r")]
    m = _model(nodes, {"x": [1, 16, 7, 7]}, "y", {})
    assert not check_model(m, **XAVIER).verdict("gp").dla
    result = rewrite(m, "global_pool_to_pool")
    assert [n.op_type for n in result.model.graph.node] == [new_op, "Relu"]
    assert check_model(result.model, **XAVIER).verdict("gp").dla
    assert verify(m, result.model, samples=3).passed


def test_global_pool_beyond_the_dla_window_is_skipped():
    m = _model([helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gp")],
               {"x": [1, 4, 16, 16]}, "y", {})
    result = rewrite(m)
    assert result.applied == () and "exceeds the DLA pooling window" in result.skipped[0].detail


def _pad_conv(pads, *, mode="constant", value=None, kernel=3):
    ins = ["x", "pads"] + (["cv"] if value is not None else [])
    nodes = [helper.make_node("Pad", ins, ["xp"], name="pad", mode=mode),
             helper.make_node("Conv", ["xp", "w"], ["y"], name="conv",
                              kernel_shape=[kernel, kernel], pads=[0, 0, 0, 0])]
    inits = {"w": (4, 3, kernel, kernel), "pads": np.array(pads, np.int64)}
    if value is not None:
        inits["cv"] = np.array(value, np.float32)
    return _model(nodes, {"x": [1, 3, 9, 9]}, "y", inits)


def test_pad_folds_into_the_conv_exactly():
    m = _pad_conv([0, 0, 1, 2, 0, 0, 1, 0])
    before = check_model(m, **ORIN10)
    assert [r.rule for r in before.verdict("pad").reasons] == ["support_list"]
    assert before.loadables.per_instance == 1 and len(before.gpu_fallbacks) == 1
    result = rewrite(m, ["pad_into_conv"])
    assert [n.op_type for n in result.model.graph.node] == ["Conv"]
    conv = result.model.graph.node[0]
    assert next(a.ints for a in conv.attribute if a.name == "pads") == [1, 2, 1, 0]
    assert check_model(result.model, **ORIN10).gpu_fallbacks == ()
    assert verify(m, result.model, samples=2).passed


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"pads": [0, 0, 1, 1, 0, 0, 1, 1], "value": 0.5}, "constant_value"),
    ({"pads": [0, 0, 1, 1, 0, 0, 1, 1], "mode": "reflect"}, "mode reflect"),
    ({"pads": [0, 0, 3, 3, 0, 0, 3, 3]}, "DLA conv padding limit"),
    ({"pads": [0, 1, 1, 1, 0, 0, 1, 1]}, "only non-negative padding of H and W"),
])
def test_pad_that_is_not_a_conv_padding_is_left_alone(kwargs, why):
    result = rewrite(_pad_conv(**kwargs), ["pad_into_conv"])
    assert result.applied == () and why in result.skipped[0].detail


def test_unknown_pass_is_a_domain_error():
    with pytest.raises(ExportError, match="unknown rewrite pass 'nope'; choose from"):
        rewrite(_pad_conv([0, 0, 1, 1, 0, 0, 1, 1]), "nope")


def test_registry_names_reasons_and_exactness():
    assert pass_names() == ["convtranspose_pad_to_crop", "global_pool_to_pool", "pad_into_conv"]
    assert pass_names(default_only=False) == ["convtranspose_pad_to_crop",
                                              "convtranspose_pad_to_conv",
                                              "global_pool_to_pool", "pad_into_conv"]
    assert all(p.exact and p.reason for p in PASSES.values())


def test_pix2pix_on_trt_8_4_exceeds_the_4_loadable_limit_until_rewritten(pix2pix):
    target = {"platform": "orin-agx", "trt_version": "8.4.10"}  # DRIVE OS 6.0.x
    before = check_model(pix2pix, **target).loadables
    assert (before.limit_per_core, before.within_limit) == (4, False)
    assert before.fallback_islands == (4, 5, 6, 7, 8)
    after = check_model(rewrite(pix2pix).model, **target).loadables
    assert after.within_limit and after.instances_per_core == 4

"""DLA checker rules on hand-built ONNX graphs: each family refuses what dla_rules.md
refuses (naming rule, parameter, value, source) and accepts what it allows."""

from __future__ import annotations

import numpy as np
import pytest
from dla_graphs import G, one_op
from onnx import TensorProto

from profiles.dla import DlaError, check_model, make_target
from profiles.errors import LayerswapError

ORIN10 = {"platform": "orin-agx", "trt_version": "10.3"}
ORIN86 = {"platform": "orin-agx", "trt_version": "8.6.2"}
XAVIER = {"platform": "xavier-agx", "trt_version": "8.5.2"}


def verdict(model, target=ORIN10, node="n", precision="fp16"):
    return check_model(model, precision=precision, **target).verdict(node)


def rules(model, target=ORIN10, node="n", precision="fp16") -> set[str]:
    return {r.rule for r in verdict(model, target, node, precision).reasons}


def conv_model(k=3, stride=1, pad=1, dilation=1, group=1, cin=8, cout=8, hw=16,
               op="Conv", **extra):
    g = G()
    x = g.input("x", [1, cin, hw, hw])
    wshape = (cout, cin // group, k, k) if op == "Conv" else (cin, cout // group, k, k)
    w = g.weight(wshape)
    y = g.node(op, [x, w], name="n", kernel_shape=[k, k], strides=[stride, stride],
               pads=[pad] * 4, dilations=[dilation, dilation], group=group, **extra)
    return g.model(y)


# ------------------------------------------------------------------ convolution
def test_conv_within_limits_is_eligible():
    v = verdict(conv_model())
    assert v.dla and v.reasons == () and v.family == "convolution"


@pytest.mark.parametrize(("kwargs", "rule", "param", "value"), [
    ({"k": 33, "pad": 0, "hw": 40}, "conv.kernel", "kernel_shape", "[33, 33]"),
    ({"stride": 9, "pad": 0}, "conv.stride", "strides", "[9, 9]"),
    ({"k": 1, "pad": 1}, "conv.padding", "pads", "[1, 1, 1, 1]"),
    ({"dilation": 33, "k": 2, "pad": 0, "hw": 40}, "conv.dilation", "dilations", "[33, 33]"),
])
def test_conv_limits_refuse_with_parameter_value_and_source(kwargs, rule, param, value):
    v = verdict(conv_model(**kwargs))
    assert not v.dla
    hit = [r for r in v.reasons if r.rule == rule]
    assert hit, v.reasons
    assert hit[0].parameter == param and hit[0].value == value
    assert hit[0].source.startswith("[hdr")


def test_conv_cbuf_check_refuses_wide_deep_input():
    g = G()
    x = g.input("x", [1, 1024, 8, 2048])
    y = g.node("Conv", [x, g.weight((1, 1024, 7, 7))], name="n", kernel_shape=[7, 7],
               pads=[3, 3, 3, 3])
    r = [r for r in verdict(g.model(y)).reasons if r.rule == "conv.cbuf"]
    assert r and "[doc-8.4]" in r[0].source


def test_conv_with_runtime_weights_is_refused():
    g = G()
    x = g.input("x", [1, 4, 8, 8])
    w = g.input("w", [4, 4, 3, 3])
    y = g.node("Conv", [x, w], name="n", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    assert "conv.weights" in rules(g.model(y))


# ------------------------------------------------------------------ deconvolution
def test_padded_convtranspose_is_refused_and_unpadded_accepted():
    v = verdict(conv_model(k=4, stride=2, pad=1, op="ConvTranspose"))
    assert [r.rule for r in v.reasons] == ["deconv.padding"]
    assert v.reasons[0].value == "[1, 1, 1, 1]" and "[hdr 7.1-10.16]" in v.reasons[0].source
    assert verdict(conv_model(k=4, stride=2, pad=0, op="ConvTranspose")).dla


def test_grouped_or_dilated_convtranspose_is_refused():
    assert "deconv.groups" in rules(conv_model(k=2, stride=2, pad=0, group=2,
                                               op="ConvTranspose"))
    assert "deconv.dilation" in rules(conv_model(k=2, stride=2, pad=0, dilation=2,
                                                 op="ConvTranspose"))


# ------------------------------------------------------------------ pooling / reduce
def test_pooling_window_and_padding_limits():
    assert "pool.window" in rules(one_op("MaxPool", [1, 4, 32, 32], kernel_shape=[9, 9]))
    assert verdict(one_op("MaxPool", [1, 4, 32, 32], kernel_shape=[3, 3], strides=[2, 2],
                          pads=[1, 1, 1, 1])).dla


def test_exclusive_average_pooling_refused_on_xavier_only():
    m = one_op("AveragePool", [1, 4, 16, 16], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
               count_include_pad=0)
    assert rules(m, XAVIER) == {"pool.avg_exclusive"}
    assert verdict(m, ORIN10).dla


def test_global_pools_are_reduce_layers():
    gap = one_op("GlobalAveragePool", [1, 8, 7, 7])
    r = verdict(gap).reasons
    assert [x.rule for x in r] == ["reduce.avg"] and "global_pool_to_pool" in r[0].message
    gmp = one_op("GlobalMaxPool", [1, 8, 7, 7])
    assert rules(gmp, ORIN86) == {"reduce.max"}
    assert verdict(gmp, ORIN10).dla


# ------------------------------------------------------------------ other families
def test_softmax_not_on_xavier_and_axis_rules_on_orin():
    m = one_op("Softmax", [1, 16, 4, 64], axis=1)
    assert rules(m, XAVIER) == {"softmax.platform"}
    assert verdict(m, ORIN10).dla
    assert "softmax.axis" in rules(one_op("Softmax", [1, 16, 64], axis=1))
    assert "softmax.axis_size" in rules(one_op("Softmax", [1, 2048, 4, 4], axis=1))


def test_concat_only_on_channels_of_4d():
    g = G()
    a, b = g.input("a", [1, 2, 4, 4]), g.input("b", [1, 2, 4, 4])
    ok = g.node("Concat", [a, b], name="n", axis=1)
    assert verdict(g.model(ok)).dla
    g = G()
    a, b = g.input("a", [1, 2, 4, 4]), g.input("b", [1, 2, 4, 4])
    bad = g.node("Concat", [a, b], name="n", axis=3)
    r = verdict(g.model(bad)).reasons
    assert [x.rule for x in r] == ["concat.axis"] and r[0].value == "3"


def _resize(scales, mode="nearest", ctm="asymmetric", nearest="floor", sizes=None):
    g = G()
    x = g.input("x", [1, 4, 8, 8])
    roi = g.init("roi", np.zeros(0, np.float32))
    ins = [x, roi, g.init("scales", np.array(scales, np.float32))]
    if sizes is not None:
        ins = [x, roi, "", g.init("sizes", np.array(sizes, np.int64))]
    y = g.node("Resize", ins, name="n", mode=mode, coordinate_transformation_mode=ctm,
               nearest_mode=nearest)
    return g.model(y)


def test_resize_scales_and_modes():
    assert verdict(_resize([1, 1, 2, 2])).dla
    assert "resize.scales" in rules(_resize([1, 1, 1.5, 1.5]))
    assert "resize.scales" in rules(_resize([1, 1, 8, 8], mode="linear", ctm="half_pixel"))
    assert "resize.mode" in rules(_resize([1, 1, 2, 2], ctm="align_corners"))
    assert "resize.sizes" in rules(_resize(None, sizes=[1, 4, 16, 16]))


def _slice(shape, axes, starts, ends, steps=None):
    g = G()
    x = g.input("x", shape)
    ins = [x, g.init("st", np.array(starts, np.int64)), g.init("en", np.array(ends, np.int64)),
           g.init("ax", np.array(axes, np.int64))]
    if steps:
        ins.append(g.init("sp", np.array(steps, np.int64)))
    return g.model(g.node("Slice", ins, name="n"))


def test_slice_rules():
    assert verdict(_slice([1, 4, 8, 8], [2, 3], [1, 1], [7, 7])).dla
    assert "slice.batch_axis" in rules(_slice([2, 4, 8, 8], [0], [0], [1]))
    assert "slice.rank" in rules(_slice([1, 4, 64], [2], [0], [32]))
    assert "slice.stride" in rules(_slice([1, 4, 8, 8], [2], [0], [8], [2]))


def test_reshape_next_to_concat_refused_on_orin_not_xavier():
    g = G()
    a, b = g.input("a", [1, 2, 4, 4]), g.input("b", [1, 2, 4, 4])
    c = g.node("Concat", [a, b], name="cat", axis=1)
    y = g.node("Reshape", [c, g.init("s", np.array([1, 4, 2, 8], np.int64))], name="n")
    m = g.model(y)
    r = verdict(m, ORIN10).reasons
    assert [x.rule for x in r] == ["shuffle.next_to_slice_concat"] and r[0].source == "[log]"
    assert verdict(m, XAVIER).dla


def test_div_needs_8_6_12_and_clip_is_clipped_relu():
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    m = g.model(g.node("Div", [x, g.init("c", np.full((1, 4, 1, 1), 2, np.float32))], name="n"))
    assert rules(m, ORIN86) == {"elementwise.op"}
    assert verdict(m, ORIN10).dla
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    lo, hi = g.init("lo", np.array(0, np.float32)), g.init("hi", np.array(6, np.float32))
    assert verdict(g.model(g.node("Clip", [x, lo, hi], name="n"))).dla
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    lo, hi = g.init("lo", np.array(-1, np.float32)), g.init("hi", np.array(1, np.float32))
    assert rules(g.model(g.node("Clip", [x, lo, hi], name="n"))) == {"activation.clip"}


def test_clip_bounds_as_one_element_tensors_are_scalars_and_longer_ones_are_refused():
    """Exporters write Clip's min/max as 1-D one-element tensors (the checker raised
    TypeError on them); more than one value is no Clipped ReLU, refused with the count."""
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    lo, hi = g.init("lo", np.array([0], np.float32)), g.init("hi", np.array([6], np.float32))
    assert verdict(g.model(g.node("Clip", [x, lo, hi], name="n"))).dla
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    lo, hi = g.init("lo", np.array([-1], np.float32)), g.init("hi", np.array([1], np.float32))
    assert rules(g.model(g.node("Clip", [x, lo, hi], name="n"))) == {"activation.clip"}
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    lo, hi = g.init("lo", np.array(0, np.float32)), g.init("hi", np.array([6, 7], np.float32))
    v = verdict(g.model(g.node("Clip", [x, lo, hi], name="n")))
    assert not v.dla
    (reason,) = v.reasons
    assert reason.parameter == "max" and "2 values" in reason.message


def test_rank3_elementwise_and_big_dims_refused():
    assert "rank" in rules(one_op("Sigmoid", [1, 80, 64]))
    r = verdict(one_op("Relu", [1, 4, 1, 8400])).reasons
    assert [x.rule for x in r] == ["max_dim"] and "8400" in r[0].message


def test_lrn_window():
    assert verdict(one_op("LRN", [1, 8, 8, 8], size=5)).dla
    assert rules(one_op("LRN", [1, 8, 8, 8], size=4)) == {"lrn.window"}


# ------------------------------------------------------------------ support list, dtypes
def test_op_outside_support_list_is_refused_not_raised():
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    m = g.model(g.node("Elu", [x], name="n"))
    r = verdict(m).reasons
    assert [x.rule for x in r] == ["support_list"]
    assert "not in the DLA support list" in r[0].message


def test_custom_op_is_refused_as_a_gpu_plugin():
    g = G()
    x = g.input("x", [1, 4, 4, 4])
    c = g.node("MyPlugin", [x], name="n", domain="custom.plugins")
    y = g.node("Relu", [c], name="after")
    rep = check_model(g.model(y, check=False), **ORIN10)
    r = rep.verdict("n").reasons
    assert r[0].rule == "support_list" and "plugin" in r[0].message
    assert "not in the DLA support list" in r[0].message
    # shape inference cannot see through the plugin: the consumer is refused for that
    assert [x.rule for x in rep.verdict("after").reasons] == ["static_shape"]


def test_int64_tensors_are_refused():
    g = G()
    x = g.input("x", [1, 4, 4, 4], TensorProto.INT64)
    m = g.model(g.node("Relu", [x], name="n"), check=False)
    assert "data_type" in rules(m)


# ------------------------------------------------------------------ target
def test_fp32_refuses_every_node_with_the_precision_rule():
    rep = check_model(conv_model(), precision="fp32", **ORIN10)
    assert all(not v.dla and v.reasons[0].rule == "target.precision" for v in rep.nodes)
    assert rep.islands == () and rep.loadables.per_instance == 0


@pytest.mark.parametrize(("platform", "version", "needle"), [
    ("orin-agx", "11.0", "11.0 through 11.3"),
    ("orin-agx", "11.3.1", "11.0 through 11.3"),
    ("orin-agx", "10.8", "10.7 was the last"),
    ("orin-agx", "11.4.0", "Windows on ARM"),
    ("orin-nx", "11.4.1", "AGX Orin"),
    ("xavier-agx", "8.6.2", "Xavier"),
    ("xavier-agx", "10.3", "Xavier"),
])
def test_targets_without_dla_refuse_every_node_with_the_reason(platform, version, needle):
    rep = check_model(conv_model(), platform=platform, trt_version=version)
    (v,) = rep.nodes
    assert not v.dla and v.reasons[0].rule == "target.trt_version"
    assert needle in v.reasons[0].message and v.reasons[0].source


def test_targets_with_dla():
    for platform, version in [("orin-agx", "11.4.1"), ("orin-nx", "10.7"),
                              ("xavier-agx", "8.5"), ("orin-agx", "8.6")]:
        assert make_target(platform, version).dla_unavailable is None
        assert check_model(conv_model(), platform=platform, trt_version=version).nodes[0].dla


@pytest.mark.parametrize(("platform", "version", "precision"), [
    ("nano", "8.5", "fp16"), ("orin-agx", "ten", "fp16"), ("orin-agx", "7.1.3", "fp16"),
    ("orin-agx", "12.0", "fp16"), ("orin-agx", "10.3", "bf16")])
def test_bad_targets_are_domain_errors(platform, version, precision):
    with pytest.raises(DlaError) as e:
        make_target(platform, version, precision)
    assert isinstance(e.value, LayerswapError) and "\n" not in str(e.value)


# ------------------------------------------------------------------ model-level errors
def test_dynamic_graph_input_is_a_one_line_error():
    g = G()
    x = g.input("images", ["batch", 3, 32, 32])
    m = g.model(g.node("Relu", [x], name="n"))
    with pytest.raises(DlaError, match=r"images.*dynamic dimension 'batch'.*static") as e:
        check_model(m, **ORIN10)
    assert "\n" not in str(e.value)


def test_non_onnx_and_missing_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a protobuf\n" * 3)
    with pytest.raises(DlaError, match="not an ONNX model file") as e:
        check_model(bad, **ORIN10)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DlaError, match="not found"):
        check_model(tmp_path / "missing.onnx", **ORIN10)

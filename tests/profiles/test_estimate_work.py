"""Per-node work (FLOPs, bytes) and the roofline on small hand-built ONNX graphs."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from profiles.estimate import EstimateError, load_params, load_platform, model_work
from profiles.estimate.roofline import build_kernels, kernel_time
from profiles.graph import LayerGraph


def make_model(nodes, inputs, outputs, inits=(), value_info=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits),
                              value_info=list(value_info))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, shape, dtype=np.float32, value=None):
    arr = np.zeros(shape, dtype) if value is None else np.asarray(value, dtype)
    return numpy_helper.from_array(arr, name)


def by_name(model, unknown="error"):
    return {w.name: w for w in model_work(model, unknown=unknown)}


def test_conv_flops_and_bytes_per_precision():
    m = make_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1])],
        [vi("x", [1, 3, 8, 8])], [vi("y", [1, 4, 8, 8])],
        [init("w", [4, 3, 3, 3]), init("b", [4])])
    w = by_name(m)["conv"]
    assert w.macs == 256 * 3 * 9
    assert w.flops == 2 * w.macs + 256  # bias: one add per output
    assert w.weight_bytes("fp16") == (108 + 4) * 2
    assert w.in_bytes("fp16") == 192 * 2 and w.out_bytes("fp16") == 256 * 2
    assert w.bytes("fp32") == 2 * w.bytes("fp16") == 4 * w.bytes("int8")


def test_grouped_conv_and_conv_transpose_macs():
    m = make_model(
        [helper.make_node("Conv", ["x", "wg"], ["g"], name="dw", kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1], group=4),
         helper.make_node("ConvTranspose", ["g", "wt"], ["y"], name="up", kernel_shape=[4, 4],
                          strides=[2, 2], pads=[1, 1, 1, 1])],
        [vi("x", [1, 4, 8, 8])], [vi("y", [1, 3, 16, 16])],
        [init("wg", [4, 1, 3, 3]), init("wt", [4, 3, 4, 4])])
    w = by_name(m)
    assert w["dw"].macs == 4 * 64 * 1 * 9
    # every input element (4*8*8) meets Cout * k*k = 3 * 16 outputs
    assert w["up"].macs == 256 * 3 * 16
    assert w["up"].op_class == "deconv"


def test_gemm_matmul_pool_lrn_softmax_resize():
    scales = init("scales", [4], value=[1, 1, 2, 2])
    m = make_model(
        [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2],
                          strides=[2, 2]),
         helper.make_node("LRN", ["p"], ["l"], name="lrn", size=5),
         helper.make_node("Resize", ["l", "", "scales"], ["r"], name="up", mode="nearest"),
         helper.make_node("Flatten", ["r"], ["f"], name="flat"),
         helper.make_node("Gemm", ["f", "wg"], ["g"], name="fc", transB=1),
         helper.make_node("MatMul", ["g", "wm"], ["mm"], name="mm"),
         helper.make_node("Softmax", ["mm"], ["y"], name="sm", axis=1)],
        [vi("x", [1, 2, 4, 4])], [vi("y", [1, 5])],
        [scales, init("wg", [10, 32]), init("wm", [10, 5])])
    w = by_name(m)
    assert w["pool"].flops == 8 * 4
    assert w["lrn"].flops == 8 * (2 * 5 + 4)
    assert w["up"].flops == 0 and w["up"].out_bytes("fp16") == 32 * 2
    assert w["flat"].op_class == "view" and w["flat"].bytes("fp16") == 0
    assert w["fc"].macs == 10 * 32 and w["mm"].macs == 5 * 10
    assert w["sm"].flops == 5 * 5


def test_integer_tensors_keep_their_width():
    m = make_model(
        [helper.make_node("Concat", ["x", "x"], ["c"], name="cat", axis=1),
         helper.make_node("Reshape", ["c", "shape"], ["y"], name="rs")],
        [vi("x", [1, 2, 2, 2])], [vi("y", [1, 16])],
        [init("shape", [2], np.int64, [1, 16])])
    w = by_name(m)
    assert w["cat"].bytes("fp16") == (8 + 8 + 16) * 2
    assert w["rs"].weights[0].bytes("fp16") == 16  # int64 shape stays 8 bytes/elem


def custom_op_model():
    node = helper.make_node("FancyOp", ["x"], ["y"], name="fancy", domain="com.example")
    relu = helper.make_node("Relu", ["y"], ["z"], name="relu")
    graph = helper.make_graph([node, relu], "g", [vi("x", [1, 4])], [vi("z", [1, 4])],
                              value_info=[vi("y", [1, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                   helper.make_opsetid("com.example", 1)])


def test_unknown_op_is_an_error_naming_the_node_or_a_labelled_guess():
    m = custom_op_model()
    with pytest.raises(EstimateError, match=r"fancy.*FancyOp|FancyOp.*conservative"):
        model_work(m)
    w = by_name(m, unknown="conservative")["fancy"]
    assert w.conservative and w.flops == 0 and w.bytes("fp16") == 16
    assert not by_name(m, unknown="conservative")["relu"].conservative


def test_missing_static_shape_is_an_error():
    m = make_model([helper.make_node("Relu", ["x"], ["y"], name="r")],
                   [vi("x", ["n", 4])], [vi("y", ["n", 4])])
    with pytest.raises(EstimateError, match="static shape"):
        model_work(m)


def conv_relu_model(cin=8, cout=8, k=3, hw=16):
    return make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[k, k],
                          pads=[k // 2] * 4),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("MaxPool", ["r"], ["y"], name="pool", kernel_shape=[2, 2],
                          strides=[2, 2])],
        [vi("x", [1, cin, hw, hw])], [vi("y", [1, cout, hw // 2, hw // 2])],
        [init("w", [cout, cin, k, k])])


def test_conv_relu_fuse_into_one_kernel_without_the_intermediate_tensor():
    m = conv_relu_model()
    work = by_name(m)
    order = LayerGraph.from_onnx(m).order
    params = load_params()
    kernels = build_kernels(order, work, precision="fp16", params=params, graph_outputs=["y"])
    assert [k.nodes for k in kernels] == [("conv", "relu"), ("pool",)]
    fused = kernels[0]
    assert fused.in_bytes == 8 * 256 * 2 and fused.out_bytes == 8 * 256 * 2  # no c tensor
    assert fused.weight_bytes == 8 * 8 * 9 * 2


def test_roofline_time_grows_on_the_smaller_module():
    m = conv_relu_model(cin=64, cout=64, hw=32)
    work = by_name(m)
    order = LayerGraph.from_onnx(m).order
    params = load_params()
    kernels = build_kernels(order, work, precision="fp16", params=params, graph_outputs=["y"])
    big, small = load_platform("orin-agx-64"), load_platform("orin-nx-8")
    for k in kernels:
        t_big = kernel_time(k, platform=big, params=params, precision="fp16")
        t_small = kernel_time(k, platform=small, params=params, precision="fp16")
        assert t_small.gpu_ms > t_big.gpu_ms
        assert t_small.dla_ms > t_big.dla_ms
        assert t_big.gpu_ms >= params.gpu.overhead_us * 1e-3


def test_dla_reads_the_input_again_when_conv_weights_overflow_the_cbuf():
    small = conv_relu_model(cin=8, cout=8)
    large = conv_relu_model(cin=256, cout=256, hw=8)  # 256*256*9*2 B = 1.2 MB of weights
    params = load_params()
    plat = load_platform("xavier-agx")
    for model, extra in ((small, False), (large, True)):
        order = LayerGraph.from_onnx(model).order
        k = build_kernels(order, by_name(model), precision="fp16", params=params,
                          graph_outputs=["y"])[0]
        t = kernel_time(k, platform=plat, params=params, precision="fp16")
        assert (t.dla_bytes > t.gpu_bytes) is extra
        if extra:
            passes = math.ceil(k.conv_weight_bytes / (plat.dla_cbuf_bytes *
                                                      params.dla_cbuf_weight_share))
            assert t.dla_bytes - t.gpu_bytes == (passes - 1) * k.in_bytes


def test_fp32_has_no_dla_time():
    m = conv_relu_model()
    order = LayerGraph.from_onnx(m).order
    params = load_params()
    k = build_kernels(order, by_name(m), precision="fp32", params=params,
                      graph_outputs=["y"])[0]
    t = kernel_time(k, platform=load_platform("orin-agx"), params=params, precision="fp32")
    assert t.dla_ms is None and t.gpu_ms > 0


def test_model_work_reads_a_file(tmp_path):
    m = conv_relu_model()
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    assert [w.name for w in model_work(str(path))] == ["conv", "relu", "pool"]
    with pytest.raises(EstimateError, match="cannot read"):
        model_work(str(tmp_path / "missing.onnx"))

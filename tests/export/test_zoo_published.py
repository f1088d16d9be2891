"""The zoo's calibration networks against their published structure figures.

Each network here is one the published Orin measurements name
(profiles/data/calibration): ResNet-50 v1.5 and SSD-MobileNetV1 as MLPerf / NVIDIA's DLA-SW
run them, and the YOLO11 family of the Ultralytics Jetson table. Counts come from the
sources cited in each test.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

from export.zoo import build
from profiles.estimate import model_work

# Ultralytics YOLO11 documentation (docs/en/models/yolo11.md, "params (M)" and
# "FLOPs (B)" at 640): n 2.6 / 6.5, s 9.4 / 21.5, m 20.1 / 68.0, l 25.3 / 86.9, x 56.9 / 194.9
YOLO11_PUBLISHED = {"yolo11n": (2.6, 6.5), "yolo11s": (9.4, 21.5), "yolo11m": (20.1, 68.0),
                    "yolo11l": (25.3, 86.9), "yolo11x": (56.9, 194.9)}


def conv_params(model, skip: str = "") -> int:
    init = {i.name: i for i in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv" and not (skip and skip in node.name):
            total += sum(int(np.prod(init[x].dims)) for x in node.input[1:] if x in init)
    return total


def gmacs(model, ops=("Conv", "MatMul", "Gemm")) -> float:
    return sum(w.macs for w in model_work(model) if w.op_type in ops) / 1e9


@pytest.mark.parametrize("name", sorted(YOLO11_PUBLISHED))
def test_yolo11_parameters_and_flops_match_ultralytics(name: str) -> None:
    model = build(name)
    params_m, gflops = YOLO11_PUBLISHED[name]
    # Conv weights and biases (BatchNorm fused as ultralytics fuses it; not the DFL kernel)
    assert round(conv_params(model, skip="dfl") / 1e6, 1) == params_m
    # Ultralytics' FLOPs are 2 x the multiply-accumulates of the network
    assert 2 * gmacs(model) == pytest.approx(gflops, rel=0.02)
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == \
        [1, 84, 8400]


def test_yolo11_scales_share_topology_where_ultralytics_does() -> None:
    def ops(name: str) -> collections.Counter[str]:
        return collections.Counter(n.op_type for n in build(name).graph.node)
    # n and s: depth 0.50, C3k2 without C3k; l and x: depth 1.0 with C3k (the yaml scales)
    assert ops("yolo11n") == ops("yolo11s")
    assert ops("yolo11l") == ops("yolo11x")
    assert ops("yolo11m") != ops("yolo11n")
    n = ops("yolo11n")
    assert (n["Conv"], n["MatMul"], n["Softmax"]) == (88, 2, 2)   # C2PSA attention + DFL


def test_resnet50_mlperf_structure() -> None:
    model = build("resnet50_mlperf")
    ops = collections.Counter(n.op_type for n in model.graph.node)
    # 53 convs of ResNet-50 + the dense layer as a 1x1 Conv (DLA-SW resnet50.py)
    assert ops == {"Conv": 54, "Relu": 49, "Add": 16, "MaxPool": 1, "AveragePool": 1}
    # TF counts 25,559,081 parameters (torchvision's 25,557,032 with 1001 instead of 1000
    # classes); folding BatchNorm replaces gamma and beta (2 per channel) by one bias
    channels = sum(int(np.prod(i.dims)) for i in model.graph.initializer
                   if i.name.endswith(".bias") and "dense" not in i.name)
    assert channels == 26_560
    assert conv_params(model) + channels == 25_557_032 + 2048 + 1 == 25_559_081
    out = model.graph.output[0]
    assert out.name == "resnet_model/dense/BiasAdd"
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 1001, 1, 1]
    # ~4.1 G multiply-accumulates at 224 (torchvision: 4.09 GFLOPS counted as MACs)
    assert gmacs(model) == pytest.approx(4.09, rel=0.01)
    # TF numbering: the first block's shortcut is conv2d_1, built before the block's conv1
    names = [n.name for n in model.graph.node]
    assert names.index("resnet_model/conv2d_1/Conv2D") < names.index(
        "resnet_model/conv2d_2/Conv2D")


def test_resnet50_mlperf_batch_option() -> None:
    model = build("resnet50_mlperf", batch=2)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2


def test_ssd_mobilenet_v1_structure() -> None:
    model = build("ssd_mobilenet_v1")
    ops = collections.Counter(n.op_type for n in model.graph.node)
    # 27 MobileNetV1 convs (13 depthwise) + 8 extra-layer convs + 6 fused predictor convs
    assert ops == {"Conv": 41, "Clip": 35}
    depthwise = [n for n in model.graph.node if n.name.endswith("/depthwise")]
    assert len(depthwise) == 13
    backbone = sum(1 for n in model.graph.node
                   if n.op_type == "Conv" and "MobilenetV1/Conv2d_" in n.name
                   and "Conv2d_13_pointwise_" not in n.name)
    assert backbone == 27
    # MobileNet paper (Howard et al. 2017, Table 8): 1.0 MobileNet-224 has 4.2 M
    # parameters; without its 1024 -> 1000 classifier (1,025,000) the convs hold 3.185 M
    init = {i.name: i for i in model.graph.initializer}
    backbone_weights = sum(int(np.prod(init[n.input[1]].dims)) for n in model.graph.node
                           if n.op_type == "Conv" and "MobilenetV1/Conv2d_" in n.name
                           and "Conv2d_13_pointwise_" not in n.name)
    assert backbone_weights == 3_185_088
    assert round((backbone_weights + 1_025_000) / 1e6, 1) == 4.2
    shapes = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim]
              for o in model.graph.output}
    # 19, 10, 5, 3, 2, 1 feature maps; 3 then 6 anchors x (4 box + 91 classes)
    assert [s[2] for s in shapes.values()] == [19, 10, 5, 3, 2, 1]
    assert [s[1] for s in shapes.values()] == [285, 570, 570, 570, 570, 570]
    # 1917 anchors: the TF model's box count at 300x300
    assert sum(s[1] // 95 * s[2] * s[3] for s in shapes.values()) == 1917


@pytest.mark.parametrize("name", ["ssd_mobilenet_v1", "yolo11n", "resnet50_mlperf"])
def test_calibration_networks_are_checked_and_run(name: str) -> None:
    import onnx
    import onnxruntime as ort

    from export.zoo._builder import serialize

    model = build(name)
    onnx.checker.check_model(model, full_check=True)
    assert not any(c in n.name for n in model.graph.node for c in ":,")
    session = ort.InferenceSession(serialize(model), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.random.default_rng(0).uniform(-1, 1, i.shape).astype(np.float32)
             for i in session.get_inputs()}
    for out in session.run(None, feeds):
        assert np.isfinite(out).all()
    assert serialize(build(name)) == serialize(model)  # deterministic


def test_retinanet_resnext50_structure() -> None:
    model = build("retinanet_resnext50", size=256)
    ops = collections.Counter(n.op_type for n in model.graph.node)
    # 53 backbone convs, 8 FPN convs (3 lateral, 3 output, P6, P7), 5 levels x 2 heads x
    # (4 + 1) head convs; torchvision's ReLUs; 16 residual Adds + 2 top-down Adds
    assert ops == {"Conv": 53 + 8 + 50, "Relu": 49 + 1 + 40, "Add": 18, "Resize": 2,
                   "MaxPool": 1}
    init = {i.name: i for i in model.graph.initializer}
    grouped = [n for n in model.graph.node if n.op_type == "Conv"
               and any(a.name == "group" and a.i == 32 for a in n.attribute)]
    assert len(grouped) == 16                               # one 3x3 per bottleneck
    weights = sum(int(np.prod(init[n.input[1]].dims)) for n in model.graph.node
                  if n.op_type == "Conv" and n.name.startswith("backbone"))
    channels = sum(int(np.prod(init[n.input[2]].dims)) for n in model.graph.node
                   if n.op_type == "Conv" and n.name.startswith("backbone"))
    # torchvision resnext50_32x4d: 25,028,904 parameters, of which the fc 2048 -> 1000 is
    # 2,049,000; BatchNorm's gamma and beta are the 2 per channel folded into each bias
    assert weights + 2 * channels == 25_028_904 - 2_049_000
    shapes = [[d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output]
    assert [s[1] for s in shapes] == [9 * 264] * 5 + [36] * 5
    assert [s[2] for s in shapes[:5]] == [32, 16, 8, 4, 2]  # P3..P7 at 256 pixels
    # MLPerf's 800 x 800: P3..P7 at 100, 50, 25, 13, 7
    big = build("retinanet_resnext50")
    assert [o.type.tensor_type.shape.dim[2].dim_value for o in big.graph.output[:5]] == \
        [100, 50, 25, 13, 7]

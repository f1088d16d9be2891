"""The model zoo: checked, shape-inferred, runnable, deterministic ONNX models.

Small sizes keep it fast (pix2pix ngf 4-8, yolov8n at 320); the full-size architecture
facts (parameter counts, node counts, layer order) are asserted where they are cheap.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from export import zoo
from export.errors import ExportError
from export.zoo._builder import serialize
from profiles.errors import LayerswapError


def _run(model: onnx.ModelProto, seed: int = 1) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(serialize(model), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    feeds = {i.name: rng.uniform(-1, 1, i.shape).astype(np.float32)
             for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds), strict=True))


def _assert_well_formed(model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    graph = model.graph
    names = [n.name for n in graph.node]
    assert all(names) and len(set(names)) == len(names)
    assert not any(c in name for name in names for c in ":,")  # trtexec layer-spec safe
    # static shapes everywhere: inputs, outputs and every intermediate tensor
    produced = {o for n in graph.node for o in n.output} - {o.name for o in graph.output}
    infos = {vi.name: vi for vi in graph.value_info}
    assert produced <= set(infos), sorted(produced - set(infos))[:5]
    for vi in [*graph.input, *graph.output, *graph.value_info]:
        dims = vi.type.tensor_type.shape.dim
        assert dims and all(d.HasField("dim_value") and d.dim_value > 0 for d in dims), vi.name
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1


def test_names_are_the_contract() -> None:
    names = zoo.names()
    assert names[:4] == ["pix2pix", "yolov8n", "googlenet", "resnet50"]
    # the seed paper's generator (tests/export/test_zoo_pix2pix_tf.py) and the networks of
    # the published Orin measurements (tests/export/test_zoo_published.py)
    assert {"pix2pix_tf", "resnet50_mlperf", "ssd_mobilenet_v1", "retinanet_resnext50",
            "yolo11n", "yolo11s", "yolo11m", "yolo11l", "yolo11x"} <= set(names)


# ------------------------------------------------------------------------ pix2pix
def _reference_unet_parameters(in_nc: int, out_nc: int, ngf: int) -> int:
    """torch's parameter count of the reference UnetGenerator(num_downs=8, BatchNorm2d):
    convs without bias (use_bias False), outermost ConvTranspose with bias, BN gamma+beta."""
    inner = [ngf * m for m in (1, 2, 4, 8, 8, 8, 8, 8)]
    outer = [out_nc, *inner[:-1]]
    total = in_nc * inner[0] * 16 + 2 * inner[0] * out_nc * 16 + out_nc  # outermost
    for d in range(1, 8):
        i, o = inner[d], outer[d]
        total += o * i * 16 + (2 * i if d < 7 else 0)  # downconv (+ downnorm)
        total += (i if d == 7 else 2 * i) * o * 16 + 2 * o  # upconv + upnorm
    return total


def test_reference_unet_count_is_the_published_one() -> None:
    # pix2pix prints "[Network G] Total number of parameters : 54.414 M" for unet_256, RGB
    assert _reference_unet_parameters(3, 3, 64) == 54_413_955
    assert round(_reference_unet_parameters(3, 3, 64) / 1e6, 3) == 54.414


def _pix2pix_parameters(model: onnx.ModelProto) -> int:
    """Parameters as torch counts them, from the exported graph: initializers minus BN
    running statistics, plus the BN gamma/beta the Conv+BN folding absorbed (one per
    channel of each folded Conv's bias)."""
    total = 0
    for init in model.graph.initializer:
        if init.name.endswith((".running_mean", ".running_var")):
            continue
        size = int(np.prod(init.dims))
        total += size
        if init.name.startswith("enc") and init.name.endswith("/conv.bias"):
            total += size  # folded BN: gamma + beta (2 per channel) became one bias
    return total


def test_pix2pix_full_size_structure_and_parameter_count() -> None:
    model = zoo.build("pix2pix")  # ngf 64, 1 -> 1 channels, 256 x 256
    assert _pix2pix_parameters(model) == _reference_unet_parameters(1, 1, 64)
    assert abs(_pix2pix_parameters(model) - 54.4e6) < 0.05e6
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops == {"Conv": 8, "LeakyRelu": 7, "Relu": 8, "ConvTranspose": 8,
                   "BatchNormalization": 7, "Concat": 7, "Tanh": 1}
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            attrs = {a.name: list(a.ints) for a in node.attribute if a.ints}
            assert attrs["kernel_shape"] == [4, 4] and attrs["strides"] == [2, 2]
            assert attrs["pads"] == [1, 1, 1, 1]
    dims = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
            for vi in model.graph.value_info}
    assert dims["enc8/conv"] == [1, 512, 1, 1]  # innermost: 1 x 1
    assert dims["skip2/concat"] == [1, 128, 128, 128]  # ngf (skip) + ngf (decoder)
    # the skip carries the in-place LeakyReLU's output, as the reference's forward does
    concat = next(n for n in model.graph.node if n.name == "skip5/concat")
    assert list(concat.input) == ["enc5/lrelu", "dec5/bn"]


def test_pix2pix_small_runs_and_is_well_formed() -> None:
    model = zoo.build("pix2pix", ngf=8, in_channels=1, out_channels=2, seed=3)
    _assert_well_formed(model)
    assert [n.name for n in model.graph.node][:3] == ["enc1/conv", "enc2/lrelu", "enc2/conv"]
    assert model.graph.node[-1].name == "dec1/tanh"
    y = _run(model)["output"]
    assert y.shape == (1, 2, 256, 256)
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
    assert 0.05 < float(y.std()) < 0.9  # neither vanished nor saturated


# ---------------------------------------------------------------------- googlenet
def test_googlenet_has_haxconn_layer_order() -> None:
    model = zoo.build("googlenet")
    _assert_well_formed(model)
    names = [n.name for n in model.graph.node]
    assert len(names) == 141  # HaX-CoNN's TensorRT layer count for BVLC GoogleNet
    assert names[:10] == ["conv1/7x7_s2", "conv1/relu_7x7", "pool1/3x3_s2", "pool1/norm1",
                          "conv2/3x3_reduce", "conv2/relu_3x3_reduce", "conv2/3x3",
                          "conv2/relu_3x3", "conv2/norm2", "pool2/3x3_s2"]
    # HaX-CoNN group first layers 39, 110, 124 open inception 4a, 5a, 5b
    assert names[39] == "inception_4a/1x1"
    assert names[110] == "inception_5a/1x1"
    assert names[124] == "inception_5b/1x1"
    assert names[-3:] == ["pool5/7x7_s1", "loss3/classifier", "prob"]
    # HaX-CoNN measured GoogleNet transitions at layers k = 10 24 38 53 67 81 95 110 124:
    # in this order each k opens a stage (the cut falls between modules)
    opened = [names[k] for k in (10, 24, 38, 53, 67, 81, 95, 110, 124)]
    assert opened == ["inception_3a/1x1", "inception_3b/1x1", "pool3/3x3_s2",
                      "inception_4b/1x1", "inception_4c/1x1", "inception_4d/1x1",
                      "inception_4e/1x1", "inception_5a/1x1", "inception_5b/1x1"]
    params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
    assert params == 6_998_552  # BVLC GoogleNet without the auxiliary classifiers
    prob = _run(model)["prob"]
    assert prob.shape == (1, 1000, 1, 1) and np.isfinite(prob).all()
    assert prob.sum() == pytest.approx(1.0, abs=1e-4)


# ------------------------------------------------------------------------ yolov8n
def test_yolov8n_is_the_exporters_graph() -> None:
    model = zoo.build("yolov8n", size=320)
    _assert_well_formed(model)
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops == {"Conv": 64, "Sigmoid": 58, "Mul": 58, "Concat": 17, "Split": 8, "Add": 8,
                   "Reshape": 8, "MaxPool": 3, "Resize": 2, "Slice": 2, "Sub": 2,
                   "Transpose": 1, "Softmax": 1, "Div": 1}
    nodes = {n.name: n for n in model.graph.node}
    assert [n.name for n in model.graph.node][:3] == ["/model.0/conv/Conv",
                                                      "/model.0/act/Sigmoid",
                                                      "/model.0/act/Mul"]
    consts = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    # the DFL kernel is arange(16), not a learned weight
    dfl = nodes["/model.22/dfl/conv/Conv"].input[1]
    assert np.array_equal(consts[dfl].ravel(), np.arange(16, dtype=np.float32))
    # every Conv has its own seeded weight and bias (no sharing left from the export)
    params = [x for n in model.graph.node if n.op_type == "Conv" for x in n.input[1:]]
    assert len(params) == len(set(params))
    # ultralytics: "YOLOv8n summary (fused): 72 layers, 3,151,904 parameters" (input-size
    # independent; the DFL kernel included)
    assert sum(consts[p].size for p in params) == 3_151_904
    resize = {a.name: a.s for a in nodes["/model.10/Resize"].attribute}
    assert resize["mode"] == b"nearest"


def test_yolov8n_decodes_boxes_against_its_anchors() -> None:
    """output0[:, :4] = (centre xy, wh) * stride from the DFL distances, as ultralytics'
    dist2bbox does: recomputed here from the exposed DFL output and our own anchor grid."""
    size = 96
    model = zoo.build("yolov8n", size=size, num_classes=3, seed=2)
    infos = {vi.name: vi for vi in model.graph.value_info}
    model.graph.output.append(infos["/model.22/dfl/Reshape_1_output_0"])
    out = _run(model)
    y, dist = out["output0"], out["/model.22/dfl/Reshape_1_output_0"]
    levels = [size // s for s in (8, 16, 32)]
    assert y.shape == (1, 4 + 3, sum(n * n for n in levels))
    anchors = np.concatenate([np.stack(np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5,
                                                   indexing="xy")).reshape(2, -1)
                              for n in levels], axis=1)
    strides = np.concatenate([np.full(n * n, s) for n, s in zip(levels, (8, 16, 32),
                                                                 strict=True)])
    lt, rb = dist[0, :2], dist[0, 2:]
    x1y1, x2y2 = anchors - lt, anchors + rb
    expected = np.concatenate([(x1y1 + x2y2) / 2, x2y2 - x1y1]) * strides
    np.testing.assert_allclose(y[0, :4], expected, rtol=1e-5, atol=1e-4)
    cls = y[0, 4:]
    assert np.isfinite(y).all() and ((cls >= 0) & (cls <= 1)).all()
    assert 0.01 < float(cls.std()) < 0.45  # class logits neither vanished nor saturated


def test_yolov8n_structure_file_round_trips() -> None:
    from export.zoo import yolov8n

    stored = yolov8n.load_structure()
    assert all("values" not in i for i in stored["initializers"] if i["kind"] == "weight")
    built = zoo.build("yolov8n")  # 640, 80 classes: the exported configuration
    again = yolov8n.strip(built, size=640, num_classes=80, symbolic=True)
    for key in ("inputs", "outputs", "initializers", "nodes"):
        assert again[key] == stored[key], key
    for size, nc in ((320, 80), (640, 2)):
        assert yolov8n.canonical(yolov8n.strip(zoo.build("yolov8n", size=size,
                                                         num_classes=nc),
                                               size=size, num_classes=nc, symbolic=False)) \
            == yolov8n.canonical(yolov8n.resolve(stored, size=size, num_classes=nc))


# ----------------------------------------------------------------------- resnet50
def test_resnet50_is_torchvision_resnet50_folded() -> None:
    model = zoo.build("resnet50", size=64, num_classes=10)
    _assert_well_formed(model)
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops == {"Conv": 53, "Relu": 49, "Add": 16, "MaxPool": 1, "GlobalAveragePool": 1,
                   "Flatten": 1, "Gemm": 1}
    names = [n.name for n in model.graph.node]
    assert names.index("/layer2/layer2.0/downsample/downsample.0/Conv") == \
        names.index("/layer2/layer2.0/Add") - 1
    y = _run(model)["output"]
    assert y.shape == (1, 10) and np.isfinite(y).all() and float(y.std()) > 1e-3


def test_resnet50_parameter_count_matches_torchvision() -> None:
    model = zoo.build("resnet50")
    sizes = {i.name: int(np.prod(i.dims)) for i in model.graph.initializer}
    folded_bn = sum(v for k, v in sizes.items() if k.endswith("Conv.bias"))
    # torchvision counts BN gamma + beta (2 per channel) where the folded Conv has 1 bias
    assert sum(sizes.values()) + folded_bn == 25_557_032


# -------------------------------------------------------------------- determinism
@pytest.mark.parametrize(("name", "opts"), [("pix2pix", {"ngf": 4}),
                                           ("googlenet", {"size": 64}),
                                           ("resnet50", {"size": 32}),
                                           ("yolov8n", {"size": 64})])
def test_build_is_byte_identical_and_seed_matters(name: str, opts: dict) -> None:
    first = serialize(zoo.build(name, seed=5, **opts))
    assert first == serialize(zoo.build(name, seed=5, **opts))
    assert first != serialize(zoo.build(name, seed=6, **opts))


def test_save_writes_the_built_model(tmp_path) -> None:
    path = zoo.save("pix2pix", tmp_path / "sub" / "gan.onnx", ngf=4)
    assert path.read_bytes() == serialize(zoo.build("pix2pix", ngf=4))
    assert [p.name for p in path.parent.iterdir()] == ["gan.onnx"]  # no temp file left


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("name", "opts", "needle"), [
    ("alexnet", {}, "unknown zoo model 'alexnet': choose one of pix2pix"),
    ("pix2pix", {"num_downs": 7}, "unknown option(s) num_downs"),
    ("pix2pix", {"size": 128}, "size=128 must be a multiple of 256"),
    ("pix2pix", {"ngf": 0}, "ngf=0 must be a positive integer"),
    ("googlenet", {"size": 100}, "size=100 must be a multiple of 32"),
    ("googlenet", {"seed": -1}, "seed=-1 must be a non-negative integer"),
    ("resnet50", {"num_classes": 0}, "num_classes=0 must be a positive integer"),
    ("yolov8n", {"size": 100}, "size=100 must be a multiple of 32"),
    ("yolov8n", {"num_classes": 0}, "num_classes=0 must be a positive integer"),
    ("yolov8n", {"imgsz": 640}, "unknown option(s) imgsz"),
])
def test_bad_names_and_options_are_one_line_errors(name: str, opts: dict, needle: str) -> None:
    with pytest.raises(ExportError) as info:
        zoo.build(name, **opts)
    assert isinstance(info.value, LayerswapError)
    assert needle in str(info.value) and "\n" not in str(info.value)

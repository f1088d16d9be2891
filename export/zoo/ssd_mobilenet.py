"""SSD-MobileNetV1 (300 x 300) as MLPerf Inference runs it on the DLA.

The model: TF Object Detection API ``ssd_mobilenet_v1_coco_2018_01_28`` as MLPerf converts
it to ONNX (Zenodo record 4735652), after NVIDIA's DLA preparation
(``NVIDIA/Deep-Learning-Accelerator-SW: scripts/prepare_models/ssd_mobilenetv1.py``):
the graph from ``Preprocessor/sub:0`` (N x 3 x 300 x 300, the normalised image) to the
twelve ``BoxPredictor_<i>/{BoxEncodingPredictor,ClassPredictor}/BiasAdd:0`` outputs
(anchor decoding and NMS run on the GPU), with the Conv + Mul + Add chains folded into
the Convs and each level's box and class 1x1 convs fused horizontally into one Conv
(``common.fuse_convs_horizontally``): six outputs ``BoxPredictor_<i>/fused`` with
anchors x (4 + 91) channels, box encodings first.

Structure (the TF model's ``MobilenetV1`` feature extractor, depth multiplier 1.0):
``Conv2d_0`` 3x3/2 (32) + ReLU6, then 13 depthwise-separable blocks (3x3 depthwise +
ReLU6, 1x1 pointwise + ReLU6; strides 2 at blocks 2, 4, 6, 12; widths 64, 128, 128, 256,
256, 512 x 6, 1024, 1024); SSD's four extra layers on ``Conv2d_13_pointwise`` (1x1 256 ->
3x3/2 512, 1x1 128 -> 3x3/2 256, 1x1 128 -> 3x3/2 256, 1x1 64 -> 3x3/2 128, each + ReLU6);
box predictors on the six feature maps 19x19 (``Conv2d_11_pointwise``, 3 anchors),
10x10, 5x5, 3x3, 2x2 and 1x1 (6 anchors each), 91 classes (90 COCO + background).
BatchNorm is folded into every Conv (bias); ReLU6 is ``Clip(0, 6)`` as tf2onnx writes
it; TF's SAME padding is written in the Conv's ``pads`` (asymmetric where the input size
is even, e.g. 300 -> 150: one row/column after). Conv parameters of the MobileNetV1
backbone: 3,185,088 (+ 1,025,000 for the classifier MobileNet has and SSD drops = the
4.2 M of the MobileNet paper, Howard et al. 2017, Table 8).
"""

from __future__ import annotations

import numpy as np
import onnx

from export.errors import ExportError
from export.zoo._builder import GraphBuilder

# (stride, pointwise width) of the 13 depthwise-separable blocks
BLOCKS = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512),
          (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024))
# SSD extra layers: (1x1 width, 3x3/2 width)
EXTRAS = ((256, 512), (128, 256), (128, 256), (64, 128))
ANCHORS = (3, 6, 6, 6, 6, 6)
CLASSES = 91
SIZE = 300


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, list[int]]:
    """TF SAME padding: the output size and the [top, left, bottom, right] pads."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before = total // 2
    return out, [before, before, total - before, total - before]


def _scalar(b: GraphBuilder, name: str, value: float) -> str:
    """A 0-d float32 initializer (Clip's min and max are scalars in ONNX; `const` would
    make them 1-d)."""
    b.const(name, np.zeros((), dtype=np.float32))
    b.arrays[name] = np.asarray(value, dtype=np.float32)   # keep it 0-d
    return name


def build_ssd_mobilenet_v1(*, seed: int = 0, batch: int = 1) -> onnx.ModelProto:
    """SSD-MobileNetV1 300x300 (MLPerf, DLA-prepared), ``batch`` x 3 x 300 x 300 input."""
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ExportError(f"zoo model 'ssd_mobilenet_v1': option batch={batch!r} must be a "
                          "positive integer")
    b = GraphBuilder("ssd_mobilenet_v1_coco_2018_01_28_prepared", seed)
    relu6 = (_scalar(b, "relu6_min", 0.0), _scalar(b, "relu6_max", 6.0))
    fe = "FeatureExtractor/MobilenetV1"

    def conv_relu6(name: str, x: str, cin: int, cout: int, k: int, stride: int, size: int,
                   group: int = 1) -> tuple[str, int]:
        out, pads = _same_pads(size, k, stride)
        h = b.conv(f"{name}/Conv2D" if group == 1 else f"{name}/depthwise", x, cin, cout, k,
                   stride=stride, pad=tuple(pads), group=group)  # type: ignore[arg-type]
        return b.node("Clip", f"{name}/Relu6", [h, *relu6]), out

    h = b.input("Preprocessor/sub", [batch, 3, SIZE, SIZE])
    h, size = conv_relu6(f"{fe}/Conv2d_0", h, 3, 32, 3, 2, SIZE)
    cin = 32
    features: list[tuple[str, int, int]] = []
    for i, (stride, width) in enumerate(BLOCKS, start=1):
        h, size = conv_relu6(f"{fe}/Conv2d_{i}_depthwise", h, cin, cin, 3, stride, size,
                             group=cin)
        h, size = conv_relu6(f"{fe}/Conv2d_{i}_pointwise", h, cin, width, 1, 1, size)
        cin = width
        if i in (11, 13):
            features.append((h, cin, size))
    for j, (mid, width) in enumerate(EXTRAS, start=2):
        base = f"{fe}/Conv2d_13_pointwise"
        h, size = conv_relu6(f"{base}_1_Conv2d_{j}_1x1_{mid}", h, cin, mid, 1, 1, size)
        h, size = conv_relu6(f"{base}_2_Conv2d_{j}_3x3_s2_{width}", h, mid, width, 3, 2, size)
        cin = width
        features.append((h, cin, size))
    for i, ((x, channels, size), anchors) in enumerate(zip(features, ANCHORS, strict=True)):
        name = f"BoxPredictor_{i}/fused"
        b.conv(name, x, channels, anchors * (4 + CLASSES), 1, gain=1.0)
        b.output(name, [batch, anchors * (4 + CLASSES), size, size])
    return b.finish(f"SSD-MobileNetV1 300x300 as MLPerf runs it on the DLA (TF "
                    f"ssd_mobilenet_v1_coco_2018_01_28 prepared by NVIDIA's DLA-SW "
                    f"ssd_mobilenetv1.py), batch {batch}, seeded weights (seed={seed}); "
                    "BatchNorm folded into Conv, box and class predictors fused per level")

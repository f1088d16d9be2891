"""GoogleNet (Inception v1) as BVLC's Caffe ``deploy.prototxt`` defines it, in its layer order.

Why BVLC and not torchvision: HaX-CoNN's published GoogleNet cost table (domain.md section 3:
141 layers in 10 groups, first layers 0 10 25 39 52 66 81 94 110 124) comes from TensorRT
running the BVLC Caffe model. This graph has exactly one ONNX node per Caffe layer of the
deploy net (Dropout dropped, as at inference), in prototxt order, with the Caffe layer
names, so node index k here is layer k of TensorRT's Caffe-parsed GoogleNet:

- stem (nodes 0-9): ``conv1/7x7_s2`` (7x7/2 pad 3, 64), ``conv1/relu_7x7``,
  ``pool1/3x3_s2`` (max 3x3/2, Caffe ceil rounding), ``pool1/norm1`` (LRN 5, alpha 1e-4,
  beta 0.75), ``conv2/3x3_reduce`` (1x1, 64), ``conv2/relu_3x3_reduce``, ``conv2/3x3``
  (3x3 pad 1, 192), ``conv2/relu_3x3``, ``conv2/norm2``, ``pool2/3x3_s2``;
- nine Inception modules of 14 nodes each, ``inception_XY/`` + ``1x1``, ``relu_1x1``,
  ``3x3_reduce``, ``relu_3x3_reduce``, ``3x3``, ``relu_3x3``, ``5x5_reduce``,
  ``relu_5x5_reduce``, ``5x5``, ``relu_5x5``, ``pool`` (max 3x3/1 pad 1), ``pool_proj``,
  ``relu_pool_proj``, ``output`` (Concat), with ``pool3/3x3_s2`` after 3b and
  ``pool4/3x3_s2`` after 4e;
- head: ``pool5/7x7_s1`` (average over the final 7x7 map), ``loss3/classifier`` (the
  1024->1000 InnerProduct, written as the equivalent 1x1 Conv so the count stays one node
  per Caffe layer: TensorRT runs a FullyConnected layer as a 1x1 convolution too) and
  ``prob`` (Softmax over channels). Output ``prob`` is [1, 1000, 1, 1].

HaX-CoNN's transition measurements (layers k = 10 24 38 53 67 81 95 110 124) fall exactly on
the first nodes of inception 3a, 3b, pool3, 4b, 4c, 4d, 4e, 5a and 5b in this order.

141 nodes at any size; 6.99 M parameters. Weights are seeded (He-scaled), not trained.
Tensor names equal node names (Caffe's in-place ReLU blobs cannot be reused in ONNX).
"""

from __future__ import annotations

import onnx

from export.errors import ExportError
from export.zoo._builder import GraphBuilder

# (name, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) from BVLC deploy.prototxt
INCEPTION = (
    ("inception_3a", 64, 96, 128, 16, 32, 32),
    ("inception_3b", 128, 128, 192, 32, 96, 64),
    ("inception_4a", 192, 96, 208, 16, 48, 64),
    ("inception_4b", 160, 112, 224, 24, 64, 64),
    ("inception_4c", 128, 128, 256, 24, 64, 64),
    ("inception_4d", 112, 144, 288, 32, 64, 64),
    ("inception_4e", 256, 160, 320, 32, 128, 128),
    ("inception_5a", 256, 160, 320, 32, 128, 128),
    ("inception_5b", 384, 192, 384, 48, 128, 128),
)
POOL_AFTER = {"inception_3b": "pool3/3x3_s2", "inception_4e": "pool4/3x3_s2"}
NUM_CLASSES = 1000


def build_googlenet(*, seed: int = 0, size: int = 224) -> onnx.ModelProto:
    """BVLC GoogleNet, batch 1, 3 x ``size`` x ``size`` input (``size`` a multiple of 32)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 32 or size % 32:
        raise ExportError(f"zoo model 'googlenet': option size={size!r} must be a multiple "
                          "of 32 (5 stride-2 stages), e.g. 224")
    b = GraphBuilder("googlenet_bvlc", seed)
    h = b.input("data", [1, 3, size, size])
    h = _conv_relu(b, "conv1/7x7_s2", "conv1/relu_7x7", h, 3, 64, 7, stride=2, pad=3)
    h = _maxpool_ceil(b, "pool1/3x3_s2", h)
    h = _lrn(b, "pool1/norm1", h)
    h = _conv_relu(b, "conv2/3x3_reduce", "conv2/relu_3x3_reduce", h, 64, 64, 1)
    h = _conv_relu(b, "conv2/3x3", "conv2/relu_3x3", h, 64, 192, 3, pad=1)
    h = _lrn(b, "conv2/norm2", h)
    h = _maxpool_ceil(b, "pool2/3x3_s2", h)
    cin = 192
    for name, c1, c3r, c3, c5r, c5, cp in INCEPTION:
        p = f"{name}/"
        a = _conv_relu(b, p + "1x1", p + "relu_1x1", h, cin, c1, 1)
        t = _conv_relu(b, p + "3x3_reduce", p + "relu_3x3_reduce", h, cin, c3r, 1)
        t = _conv_relu(b, p + "3x3", p + "relu_3x3", t, c3r, c3, 3, pad=1)
        f = _conv_relu(b, p + "5x5_reduce", p + "relu_5x5_reduce", h, cin, c5r, 1)
        f = _conv_relu(b, p + "5x5", p + "relu_5x5", f, c5r, c5, 5, pad=2)
        q = b.node("MaxPool", p + "pool", [h], kernel_shape=[3, 3], strides=[1, 1],
                   pads=[1, 1, 1, 1])
        q = _conv_relu(b, p + "pool_proj", p + "relu_pool_proj", q, cin, cp, 1)
        h = b.node("Concat", p + "output", [a, t, f, q], axis=1)
        cin = c1 + c3 + c5 + cp
        if name in POOL_AFTER:
            h = _maxpool_ceil(b, POOL_AFTER[name], h)
    final = size // 32
    h = b.node("AveragePool", "pool5/7x7_s1", [h], kernel_shape=[final, final],
               strides=[1, 1])
    # InnerProduct 1024 -> 1000 as a 1x1 Conv (same function, one node); gain 1: logits
    h = b.conv("loss3/classifier", h, cin, NUM_CLASSES, 1, gain=1.0)
    h = b.node("Softmax", "prob", [h], axis=1)
    b.output("prob", [1, NUM_CLASSES, 1, 1])
    return b.finish(f"GoogleNet (BVLC Caffe deploy structure, {size}x{size}), seeded "
                    f"weights (seed={seed}); one node per Caffe layer, prototxt order")


def _conv_relu(b: GraphBuilder, conv: str, relu: str, x: str, cin: int, cout: int,
               kernel: int, *, stride: int = 1, pad: int = 0) -> str:
    return b.node("Relu", relu, [b.conv(conv, x, cin, cout, kernel, stride=stride, pad=pad)])


def _maxpool_ceil(b: GraphBuilder, name: str, x: str) -> str:
    """Caffe's 3x3/2 max pooling rounds the output size up (ceil_mode)."""
    return b.node("MaxPool", name, [x], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0],
                  ceil_mode=1)


def _lrn(b: GraphBuilder, name: str, x: str) -> str:
    """Caffe LRN across channels: local_size 5, alpha 1e-4, beta 0.75 (k = 1)."""
    return b.node("LRN", name, [x], size=5, alpha=1e-4, beta=0.75, bias=1.0)

"""ResNet-50 as torchvision builds it (v1.5: stride on the 3x3 conv), as ``torch.onnx`` exports
it in eval mode.

Structure: stem Conv 7x7/2 pad 3 (64) + ReLU + MaxPool 3x3/2 pad 1; four stages of
Bottleneck blocks [3, 4, 6, 3] with widths 64, 128, 256, 512 (expansion 4); each block is
conv1 1x1, ReLU, conv2 3x3 (stride 2 in the first block of stages 2-4), ReLU, conv3 1x1,
the projection shortcut ``downsample`` (1x1 conv, first block of each stage), Add, ReLU;
then GlobalAveragePool, Flatten and the fc Gemm (2048 -> ``num_classes``).

As in Pix2Pix (and as the exporter does in eval mode), every BatchNorm follows a Conv and is
folded into it: each Conv carries a bias, there is no BatchNormalization node. Node names are
the exporter's (``/layer2/layer2.0/conv2/Conv``, ``/layer2/layer2.0/relu_1/Relu``,
``/layer2/layer2.0/downsample/downsample.0/Conv``, ``/layer2/layer2.0/Add``, ...), in its
order; tensors carry their node's name. 25.56 M parameters as torch counts them (BN gamma
and beta included) at 1000 classes; 53 Conv, 49 Relu, 16 Add nodes.

Weights are seeded, He-scaled; the last conv of each residual branch gets a small gain so
the residual sum grows slowly over the 16 blocks (as zero/low-init residuals do).
"""

from __future__ import annotations

import onnx

from export.errors import ExportError
from export.zoo._builder import GraphBuilder

STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))
EXPANSION = 4


def build_resnet50(*, seed: int = 0, size: int = 224, num_classes: int = 1000
                   ) -> onnx.ModelProto:
    """torchvision ResNet-50, batch 1, 3 x ``size`` x ``size`` input (a multiple of 32)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 32 or size % 32:
        raise ExportError(f"zoo model 'resnet50': option size={size!r} must be a multiple of "
                          "32 (5 stride-2 stages), e.g. 224")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ExportError(f"zoo model 'resnet50': option num_classes={num_classes!r} must be "
                          "a positive integer")
    b = GraphBuilder("resnet50_torchvision", seed)
    h = b.input("input", [1, 3, size, size])
    h = b.node("Relu", "/relu/Relu", [b.conv("/conv1/Conv", h, 3, 64, 7, stride=2, pad=3)])
    h = b.node("MaxPool", "/maxpool/MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2],
               pads=[1, 1, 1, 1])
    cin = 64
    for stage, (width, blocks) in enumerate(STAGES, start=1):
        for index in range(blocks):
            stride = 2 if index == 0 and stage > 1 else 1
            h = _bottleneck(b, f"/layer{stage}/layer{stage}.{index}", h, cin, width, stride,
                            project=index == 0)
            cin = width * EXPANSION
    h = b.node("GlobalAveragePool", "/avgpool/GlobalAveragePool", [h])
    h = b.node("Flatten", "/Flatten", [h], axis=1)
    weight = b.normal("fc.weight", (num_classes, cin), 1.0 / cin ** 0.5)
    bias = b.normal("fc.bias", (num_classes,), 0.02)
    b.node("Gemm", "/fc/Gemm", [h, weight, bias], alpha=1.0, beta=1.0, transB=1)
    b.nodes[-1].output[0] = "output"
    b.output("output", [1, num_classes])
    return b.finish(f"ResNet-50 (torchvision structure, {size}x{size}, {num_classes} classes), "
                    f"seeded weights (seed={seed}); eval-mode export: BatchNorm folded into "
                    "Conv")


def _bottleneck(b: GraphBuilder, p: str, x: str, cin: int, width: int, stride: int, *,
                project: bool) -> str:
    out = width * EXPANSION
    h = b.node("Relu", f"{p}/relu/Relu", [b.conv(f"{p}/conv1/Conv", x, cin, width, 1)])
    h = b.conv(f"{p}/conv2/Conv", h, width, width, 3, stride=stride, pad=1)
    h = b.node("Relu", f"{p}/relu_1/Relu", [h])
    h = b.conv(f"{p}/conv3/Conv", h, width, out, 1, gain=0.5)
    shortcut = x
    if project:
        shortcut = b.conv(f"{p}/downsample/downsample.0/Conv", x, cin, out, 1, stride=stride,
                          gain=1.0)
    h = b.node("Add", f"{p}/Add", [h, shortcut])
    return b.node("Relu", f"{p}/relu_2/Relu", [h])


# --------------------------------------------------------------------------- MLPerf
MLPERF_CLASSES = 1001  # the TF model's 1000 ImageNet classes + background (index 0)


def build_resnet50_mlperf(*, seed: int = 0, batch: int = 1) -> onnx.ModelProto:
    """ResNet-50 v1.5 as MLPerf Inference runs it on the DLA: the TF official model
    (``resnet50_v1.onnx``, Zenodo record 4735647) after NVIDIA's DLA preparation
    (``NVIDIA/Deep-Learning-Accelerator-SW: scripts/prepare_models/resnet50.py``).

    What the preparation keeps: the graph from ``input_tensor:0`` (N x 3 x 224 x 224) to
    ``resnet_model/dense/BiasAdd:0`` (the logits; the ArgMax/Softmax after it run on the GPU
    in MLPerf), with the head rewritten for the DLA: ReduceMean -> AveragePool 7x7, and
    Squeeze + MatMul + BiasAdd -> one 1x1 Conv (2048 -> 1001 classes, index 0 is TF's
    background class), output N x 1001 x 1 x 1.

    The network is TF's ResNet v1.5 (``official/resnet`` ``_bottleneck_block_v1``): stride
    on the 3x3 conv, projection shortcut (1x1 conv, stride of the block) computed before
    the block's conv1, stages [3, 4, 6, 3], widths 64..512, expansion 4; TF's explicit
    "fixed padding" of strided convs and its SAME padding are written as the Conv's and
    MaxPool's ``pads`` (TensorRT fuses a constant Pad into the next Conv). Each
    BatchNormalization is folded into its Conv (TensorRT does the same at build time), so
    every Conv carries a bias. Names follow TF's layer numbering (``resnet_model/conv2d_1``
    is the first block's shortcut, ``resnet_model/Relu_3``, ``resnet_model/add_15``) without
    the ``:0`` tensor suffix (trtexec's per-layer flags split on ``:``).
    Parameters: 25,559,081 as TF counts them (BatchNorm gamma and beta, no conv biases);
    folded here: conv weights + one bias per conv channel + the dense layer.
    ``batch``: the leading dimension (the DLA-SW throughput table ran batch 2).
    """
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ExportError(f"zoo model 'resnet50_mlperf': option batch={batch!r} must be a "
                          "positive integer")
    b = GraphBuilder("resnet50_v1_mlperf_prepared", seed)
    names = _TfNames()
    h = b.input("input_tensor", [batch, 3, 224, 224])
    h = b.conv(names.conv(), h, 3, 64, 7, stride=2, pad=3)        # fixed padding 3
    h = b.node("Relu", names.relu(), [h])
    # TF SAME pooling 112 -> 56: one row/column of padding after
    h = b.node("MaxPool", "resnet_model/max_pooling2d/MaxPool", [h], kernel_shape=[3, 3],
               strides=[2, 2], pads=[0, 0, 1, 1])
    cin = 64
    for stage, (width, blocks) in enumerate(STAGES, start=1):
        for index in range(blocks):
            stride = 2 if index == 0 and stage > 1 else 1
            h = _tf_bottleneck(b, names, h, cin, width, stride, project=index == 0)
            cin = width * EXPANSION
    h = b.node("AveragePool", "resnet_model/Mean", [h], kernel_shape=[7, 7])
    h = b.conv("resnet_model/dense/MatMul", h, cin, MLPERF_CLASSES, 1, gain=1.0)
    b.nodes[-1].output[0] = "resnet_model/dense/BiasAdd"
    b.output("resnet_model/dense/BiasAdd", [batch, MLPERF_CLASSES, 1, 1])
    return b.finish(f"ResNet-50 v1.5 as MLPerf Inference runs it on the DLA (TF official "
                    f"model prepared by NVIDIA's DLA-SW resnet50.py), batch {batch}, seeded "
                    f"weights (seed={seed}); BatchNorm folded into Conv")


class _TfNames:
    """TF's per-type layer counters: conv2d, conv2d_1, ...; Relu, Relu_1, ...; add, add_1."""

    def __init__(self) -> None:
        self.counts = {"conv2d": 0, "Relu": 0, "add": 0}

    def _next(self, kind: str) -> str:
        n = self.counts[kind]
        self.counts[kind] += 1
        return kind if n == 0 else f"{kind}_{n}"

    def conv(self) -> str:
        return f"resnet_model/{self._next('conv2d')}/Conv2D"

    def relu(self) -> str:
        return f"resnet_model/{self._next('Relu')}"

    def add(self) -> str:
        return f"resnet_model/{self._next('add')}"


def _tf_bottleneck(b: GraphBuilder, names: _TfNames, x: str, cin: int, width: int,
                   stride: int, *, project: bool) -> str:
    out = width * EXPANSION
    shortcut = x
    if project:  # TF builds the projection before conv1 (it takes the next conv2d number)
        shortcut = b.conv(names.conv(), x, cin, out, 1, stride=stride, gain=1.0)
    h = b.node("Relu", names.relu(), [b.conv(names.conv(), x, cin, width, 1)])
    h = b.conv(names.conv(), h, width, width, 3, stride=stride, pad=1)
    h = b.node("Relu", names.relu(), [h])
    h = b.conv(names.conv(), h, width, out, 1, gain=0.5)
    h = b.node("Add", names.add(), [h, shortcut])
    return b.node("Relu", names.relu(), [h])

"""RetinaNet ResNeXt-50 FPN (800 x 800) as MLPerf Inference runs it on the DLA.

The model: MLPerf's ``resnext50_32x4d_fpn.onnx`` (Zenodo record 6617879; torchvision's
RetinaNet with a ResNeXt-50 32x4d backbone, 264 OpenImages classes) after NVIDIA's DLA
preparation (``NVIDIA/Deep-Learning-Accelerator-SW: scripts/prepare_models/
retinanet_resnext50.py``): the graph from ``input`` (N x 3 x 800 x 800) to the ten head
outputs (class logits and box deltas of the five pyramid levels, before their reshape, the
anchor decoding and NMS), FrozenBatchNorm's Mul + Add folded into the convs, the FPN's
Resize ops with scales.

Structure (torchvision ``resnext50_32x4d``, ``resnet_fpn_backbone(returned_layers=[2, 3,
4], extra_blocks=LastLevelP6P7(256, 256))``, ``RetinaNetHead``): stem conv 7x7/2 + ReLU +
max pool; bottleneck stages [3, 4, 6, 3] with grouped 3x3 convs (32 groups, widths 128,
256, 512, 1024; outputs 256..2048; stride on the 3x3), projection shortcuts; FPN: 1x1
lateral convs on C3, C4, C5 to 256 channels, nearest 2x upsampling and Add top-down, 3x3
output convs; P6 = conv 3x3/2 on P5, P7 = conv 3x3/2 on ReLU(P6); the heads, applied to
each of P3..P7 with their own nodes (shared weights in torchvision, shared initializers
here): 4 x (conv 3x3 256 + ReLU) then conv 3x3 to 9 anchors x 264 classes (2376) or
9 x 4 box deltas (36). Backbone parameters (no classifier) 22,979,904: torchvision's
25,028,904 for resnext50_32x4d minus its 2048 -> 1000 fc.
"""

from __future__ import annotations

import numpy as np
import onnx

from export.errors import ExportError
from export.zoo._builder import GraphBuilder

STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))
GROUPS, WIDTH_PER_GROUP, EXPANSION = 32, 4, 4
CLASSES, ANCHORS, FPN = 264, 9, 256
SIZE = 800


def build_retinanet_resnext50(*, seed: int = 0, batch: int = 1, size: int = SIZE
                              ) -> onnx.ModelProto:
    """RetinaNet ResNeXt-50 FPN (MLPerf, DLA-prepared), ``batch`` x 3 x ``size`` x ``size``
    (800 as MLPerf runs it; any multiple of 32: the FPN's 2x upsampling must meet C4 and C3
    exactly)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 64 or size % 32:
        raise ExportError(f"zoo model 'retinanet_resnext50': option size={size!r} must be a "
                          "multiple of 32 (the backbone's stride), e.g. 800")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise ExportError(f"zoo model 'retinanet_resnext50': option batch={batch!r} must be "
                          "a positive integer")
    b = GraphBuilder("resnext50_32x4d_fpn_prepared", seed)
    h = b.input("input", [batch, 3, size, size])
    h = b.node("Relu", "backbone/relu", [b.conv("backbone/conv1", h, 3, 64, 7, stride=2,
                                                 pad=3)])
    h = b.node("MaxPool", "backbone/maxpool", [h], kernel_shape=[3, 3], strides=[2, 2],
               pads=[1, 1, 1, 1])
    cin, feats = 64, []
    for stage, (planes, blocks) in enumerate(STAGES, start=1):
        width = planes * WIDTH_PER_GROUP * GROUPS // 64
        for i in range(blocks):
            stride = 2 if i == 0 and stage > 1 else 1
            p = f"backbone/layer{stage}.{i}"
            x = h
            h = b.node("Relu", f"{p}/relu1", [b.conv(f"{p}/conv1", x, cin, width, 1)])
            h = b.node("Relu", f"{p}/relu2", [b.conv(f"{p}/conv2", h, width, width, 3,
                                                      stride=stride, pad=1, group=GROUPS)])
            h = b.conv(f"{p}/conv3", h, width, planes * EXPANSION, 1, gain=0.5)
            short = x if i else b.conv(f"{p}/downsample", x, cin, planes * EXPANSION, 1,
                                       stride=stride, gain=1.0)
            h = b.node("Relu", f"{p}/relu3", [b.node("Add", f"{p}/add", [h, short])])
            cin = planes * EXPANSION
        if stage > 1:
            feats.append((h, cin))
    # FPN: laterals, top-down, outputs
    lat = [b.conv(f"fpn/inner{i}", x, c, FPN, 1, gain=1.0) for i, (x, c) in enumerate(feats)]
    top = lat[2]
    outs = [b.conv("fpn/layer2", top, FPN, FPN, 3, pad=1, gain=1.0)]
    scale = b.const("fpn/scales", np.asarray([1.0, 1.0, 2.0, 2.0], dtype=np.float32))
    for i in (1, 0):
        up = b.node("Resize", f"fpn/upsample{i}", [top, "", scale], mode="nearest")
        top = b.node("Add", f"fpn/add{i}", [lat[i], up])
        outs.insert(0, b.conv(f"fpn/layer{i}", top, FPN, FPN, 3, pad=1, gain=1.0))
    p6 = b.conv("fpn/p6", outs[2], FPN, FPN, 3, stride=2, pad=1, gain=1.0)
    p7 = b.conv("fpn/p7", b.node("Relu", "fpn/p6_relu", [p6]), FPN, FPN, 3, stride=2, pad=1,
                gain=1.0)
    levels = [*outs, p6, p7]
    for head, cout in (("classification", ANCHORS * CLASSES), ("regression", ANCHORS * 4)):
        shared = {j: (b.normal(f"head/{head}/conv{j}.weight", (FPN, FPN, 3, 3),
                               2 ** 0.5 / (FPN * 9) ** 0.5),
                      b.normal(f"head/{head}/conv{j}.bias", (FPN,), 0.02)) for j in range(4)}
        last = (b.normal(f"head/{head}/out.weight", (cout, FPN, 3, 3), 0.01),
                b.normal(f"head/{head}/out.bias", (cout,), 0.02))
        for lvl, x in enumerate(levels):
            for j in range(4):
                w, bias = shared[j]
                x = b.node("Conv", f"head/{head}/p{lvl + 3}/conv{j}", [x, w, bias],
                           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
                x = b.node("Relu", f"head/{head}/p{lvl + 3}/relu{j}", [x])
            name = f"head/{head}/p{lvl + 3}/out"
            b.node("Conv", name, [x, *last], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            b.output(name)
    return b.finish(f"RetinaNet ResNeXt-50 32x4d FPN {size}x{size} as MLPerf runs it on the DLA "
                    f"(DLA-SW retinanet_resnext50.py), batch {batch}, seeded weights "
                    f"(seed={seed}); FrozenBatchNorm folded into Conv")

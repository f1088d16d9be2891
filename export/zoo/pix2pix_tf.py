"""The seed paper's Pix2Pix generator: the TensorFlow Pix2Pix tutorial's U-Net ``Generator()``.

Reference: the TensorFlow tutorial "pix2pix: Image-to-image translation with a conditional
GAN" (tensorflow/docs, ``site/en/tutorials/generative/pix2pix.ipynb``), the model the seed
paper (Majeed, Meribout, Sali) trained for CT -> MRI; its Table II gives 54,425,859
parameters. The Keras model, batch 1, inference mode (Dropout is the identity)::

    downsample(f, 4, apply_batchnorm=True):  Conv2D(f, 4, strides=2, padding='same',
        use_bias=False) -> [BatchNormalization()] -> LeakyReLU()
    upsample(f, 4, apply_dropout=False):     Conv2DTranspose(f, 4, strides=2,
        padding='same', use_bias=False) -> BatchNormalization() -> [Dropout(0.5)] -> ReLU()
    down_stack = [downsample(64, 4, apply_batchnorm=False), downsample(128, 4),
                  downsample(256, 4), downsample(512, 4) x 5]                 # 8 blocks
    up_stack   = [upsample(512, 4, apply_dropout=True) x 3, upsample(512, 4),
                  upsample(256, 4), upsample(128, 4), upsample(64, 4)]        # 7 blocks
    last = Conv2DTranspose(3, 4, strides=2, padding='same', activation='tanh')   # with bias
    x = down_stack(inputs), keeping every output as a skip;
    for up, skip in zip(up_stack, reversed(skips[:-1])): x = Concatenate()([up(x), skip])
    return last(x)

Widths scale with ``ngf`` (64 in the tutorial): ``ngf * (1, 2, 4, 8, 8, 8, 8, 8)`` down,
``ngf * (8, 8, 8, 8, 4, 2, 1)`` up. Keras defaults that matter: LeakyReLU slope 0.3
(``alpha``/``negative_slope`` default), BatchNormalization epsilon 1e-3.

What the ONNX looks like (NCHW, as a Keras-to-ONNX export after the NHWC transposes are
folded away): every Keras layer is one node, BatchNormalization stays a node (nothing is
folded), so the float initializers are exactly the Keras weights: kernels, the last
layer's bias and each BatchNormalization's gamma, beta, moving mean and moving variance.
Hence `export.zoo.parameter_count` of this graph is Keras's "Total params" (54,425,859
at ngf 64, 3 -> 3 channels: Table II). TF's 'same' padding of a 4x4 stride-2 layer on an
even input pads one pixel on each side, so Conv and ConvTranspose carry ``pads`` 1: the
padded ConvTranspose DLA refuses (``dla_rules.md``, Deconvolution).

Weights are seeded (He-style scaling so that activations stay in range), not trained: the
graph computes the function of *a* network of this architecture, which is what timing,
partitioning and exact rewrites need.

Node names: ``down{i}/conv``, ``down{i}/bn`` (i >= 2), ``down{i}/lrelu`` (i = 1..8);
``up{i}/convT``, ``up{i}/bn``, ``up{i}/relu``, ``up{i}/concat`` (i = 1..7); ``last/convT``,
``last/tanh``. Graph input ``input`` [1, in, S, S], output ``output`` [1, out, S, S].
"""

from __future__ import annotations

import onnx

from export.errors import ExportError
from export.zoo._builder import GraphBuilder

NAME = "pix2pix_tf"
DOWN_MULT = (1, 2, 4, 8, 8, 8, 8, 8)
UP_MULT = (8, 8, 8, 8, 4, 2, 1)
KERAS_BN_EPS = 1e-3
KERAS_LEAKY_SLOPE = 0.3


def build_pix2pix_tf(*, seed: int = 0, in_channels: int = 3, out_channels: int = 3,
                     ngf: int = 64, size: int = 256) -> onnx.ModelProto:
    """The tutorial's ``Generator()`` with batch 1 and a static ``size`` x ``size`` input."""
    for label, value in (("in_channels", in_channels), ("out_channels", out_channels),
                         ("ngf", ngf)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ExportError(f"zoo model {NAME!r}: option {label}={value!r} must be a "
                              "positive integer")
    if not isinstance(size, int) or isinstance(size, bool) or size < 256 or size % 256:
        raise ExportError(f"zoo model {NAME!r}: option size={size!r} must be a multiple of "
                          "256 (8 stride-2 downsamplings; the tutorial trains at 256)")
    b = GraphBuilder(f"{NAME}_generator", seed)
    x = b.input("input", [1, in_channels, size, size])
    lrelu_gain = (2.0 / (1 + KERAS_LEAKY_SLOPE ** 2)) ** 0.5

    skips: list[tuple[str, int]] = []
    h, cin = x, in_channels
    for i, mult in enumerate(DOWN_MULT, start=1):
        cout = ngf * mult
        h = b.conv(f"down{i}/conv", h, cin, cout, 4, stride=2, pad=1, bias=False,
                   gain=lrelu_gain)
        if i > 1:
            h = b.batchnorm(f"down{i}/bn", h, cout, eps=KERAS_BN_EPS)
        h = b.node("LeakyRelu", f"down{i}/lrelu", [h], alpha=KERAS_LEAKY_SLOPE)
        skips.append((h, cout))
        cin = cout

    for i, (mult, (skip, skip_ch)) in enumerate(
            zip(UP_MULT, reversed(skips[:-1]), strict=True), start=1):
        cout = ngf * mult
        h = _conv_transpose(b, f"up{i}/convT", h, cin, cout, bias=False, gain=2.0 ** 0.5)
        h = b.batchnorm(f"up{i}/bn", h, cout, eps=KERAS_BN_EPS)
        h = b.node("Relu", f"up{i}/relu", [h])
        h = b.node("Concat", f"up{i}/concat", [h, skip], axis=1)
        cin = cout + skip_ch

    # gain 1 keeps the seeded output mostly out of Tanh's saturation
    h = _conv_transpose(b, "last/convT", h, cin, out_channels, bias=True, gain=1.0)
    b.node("Tanh", "last/tanh", [h])
    b.nodes[-1].output[0] = "output"  # the graph output keeps a plain name
    b.output("output", [1, out_channels, size, size])
    return b.finish(f"Pix2Pix generator of the TensorFlow pix2pix tutorial (ngf={ngf}, "
                    f"in={in_channels}, out={out_channels}, {size}x{size}), seeded weights "
                    f"(seed={seed}); Keras layers one node each, BatchNormalization kept")


def _conv_transpose(b: GraphBuilder, name: str, x: str, cin: int, cout: int, *,
                    bias: bool, gain: float) -> str:
    """Conv2DTranspose 4x4 stride 2 'same' = ONNX ConvTranspose pads 1 (weight [cin, cout,
    4, 4])."""
    inputs = [x, b.normal(f"{name}.weight", (cin, cout, 4, 4), gain / (cin * 4) ** 0.5)]
    if bias:
        inputs.append(b.normal(f"{name}.bias", (cout,), 0.02))
    return b.node("ConvTranspose", name, inputs, kernel_shape=[4, 4], strides=[2, 2],
                  pads=[1, 1, 1, 1], dilations=[1, 1], group=1)

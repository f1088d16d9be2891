"""Pix2Pix U-Net generator (``unet_256``), as the reference implementation builds it.

Reference: junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py``: ``UnetGenerator``
with ``num_downs=8`` nested ``UnetSkipConnectionBlock``s and ``norm_layer=BatchNorm2d``
(hence ``use_bias=False`` on every conv except the outermost ConvTranspose). Block ``d``
(1 = outermost, 8 = innermost) at inference, Dropout being a no-op in eval mode:

- outermost (d=1): ``downconv`` -> submodule -> ``uprelu``, ``upconv``, ``tanh`` (no skip);
- innermost (d=8): ``downrelu``, ``downconv`` -> ``uprelu``, ``upconv``, ``upnorm``;
- middle (d=2..7): ``downrelu``, ``downconv``, ``downnorm`` -> submodule -> ``uprelu``,
  ``upconv``, ``upnorm``;
- every non-outermost block returns ``cat([x, model(x)], 1)``.

Channels: d=1 in->ngf / 2*ngf->out, d=2 ngf->2ngf, d=3 2ngf->4ngf, d=4 4ngf->8ngf, d=5..8
8ngf->8ngf; ``downconv`` is Conv 4x4 stride 2 pad 1, ``upconv`` ConvTranspose 4x4 stride 2
pad 1 (the padding DLA refuses), LeakyReLU slope 0.2. 54.4 M parameters at ngf=64.

What the ONNX looks like (= what ``torch.onnx.export`` writes for the reference in eval mode):

- BatchNorm after a Conv (``downnorm``) is folded into that Conv (the exporter's eval-mode
  Conv+BN fusion): the Conv gets a bias. BatchNorm after a ConvTranspose (``upnorm``) is
  not folded by the exporter and stays a ``BatchNormalization`` node with seeded running
  statistics. The folded weights are computed from seeded conv weights and seeded BN
  statistics, so the function is the one of a (random) BN network.
- ``downrelu`` is ``LeakyReLU(0.2, inplace=True)`` in the reference: it overwrites the block
  input ``x``, so the skip Concat carries ``LeakyReLU(x)``, not ``x``; the exporter traces
  exactly that, and so does this graph (Concat inputs: ``enc{d}/lrelu``, ``dec{d}/bn``).

Checked (``tools/check_pix2pix_reference.py``, torch 2.14): the reference loaded with these
weights gives the same output (max abs diff 3e-6 at ngf 64), and its ``torch.onnx.export``
has this graph's op sequence and Concat inputs.

Node names: ``enc{d}/lrelu``, ``enc{d}/conv``, ``dec{d}/relu``, ``dec{d}/convT``,
``dec{d}/bn``, ``skip{d}/concat``, ``dec1/tanh``; graph input ``input`` [1, in, S, S], output
``output`` [1, out, S, S]. Execution order = the reference forward order (encoder 1..8, then
decoder 8..1).
"""

from __future__ import annotations

import numpy as np
import onnx

from export.errors import ExportError
from export.zoo._builder import GraphBuilder, seeded_rng

NUM_DOWNS = 8
BN_EPS = 1e-5
LEAKY_SLOPE = 0.2


def build_pix2pix(*, seed: int = 0, in_channels: int = 1, out_channels: int = 1,
                  ngf: int = 64, size: int = 256) -> onnx.ModelProto:
    """The ``unet_256`` generator with batch 1, static ``size`` x ``size`` input."""
    for label, value in (("in_channels", in_channels), ("out_channels", out_channels),
                         ("ngf", ngf)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ExportError(f"zoo model 'pix2pix': option {label}={value!r} must be a "
                              "positive integer")
    if not isinstance(size, int) or isinstance(size, bool) or size < 256 or size % 256:
        raise ExportError(f"zoo model 'pix2pix': option size={size!r} must be a multiple of "
                          "256 (8 stride-2 downsamplings; the reference trains at 256)")
    b = GraphBuilder("pix2pix_unet256", seed)
    x = b.input("input", [1, in_channels, size, size])

    # (outer_nc, inner_nc) per depth d=1..8, as UnetGenerator nests them
    mult = [1, 2, 4, 8, 8, 8, 8, 8]
    inner = [ngf * m for m in mult]
    outer = [out_channels, *inner[:-1]]
    down_in = [in_channels, *inner[:-1]]

    # ---- encoder: forward order of the nested blocks
    skips: dict[int, str] = {}
    h = _conv_bn_folded(b, "enc1/conv", x, down_in[0], inner[0], with_bn=False)
    for d in range(2, NUM_DOWNS + 1):
        skip = b.node("LeakyRelu", f"enc{d}/lrelu", [h], alpha=LEAKY_SLOPE)
        skips[d] = skip
        h = _conv_bn_folded(b, f"enc{d}/conv", skip, down_in[d - 1], inner[d - 1],
                            with_bn=d != NUM_DOWNS)

    # ---- decoder: innermost first; upconv input is inner (innermost) or 2*inner
    for d in range(NUM_DOWNS, 0, -1):
        cin = inner[d - 1] if d == NUM_DOWNS else 2 * inner[d - 1]
        cout = outer[d - 1]
        r = b.node("Relu", f"dec{d}/relu", [h])
        # the last upconv feeds Tanh: gain 1 keeps the seeded output mostly unsaturated
        u = _conv_transpose(b, f"dec{d}/convT", r, cin, cout, bias=d == 1,
                            gain=1.0 if d == 1 else 2.0 ** 0.5)
        if d == 1:
            h = b.node("Tanh", "dec1/tanh", [u])
        else:
            n = b.batchnorm(f"dec{d}/bn", u, cout, eps=BN_EPS)
            h = b.node("Concat", f"skip{d}/concat", [skips[d], n], axis=1)
    b.nodes[-1].output[0] = "output"  # the graph output keeps a plain name
    b.output("output", [1, out_channels, size, size])
    return b.finish(f"Pix2Pix U-Net generator unet_256 (ngf={ngf}, in={in_channels}, "
                    f"out={out_channels}, {size}x{size}), seeded weights (seed={seed}); "
                    "structure of junyanz/pytorch-CycleGAN-and-pix2pix UnetGenerator, "
                    "eval mode, Conv+BatchNorm folded, ConvTranspose+BatchNorm kept")


def _conv_bn_folded(b: GraphBuilder, name: str, x: str, cin: int, cout: int, *,
                    with_bn: bool) -> str:
    """Conv 4x4/2 pad 1 without bias, followed (if ``with_bn``) by a BatchNorm folded in."""
    fan_in = cin * 16
    rng = seeded_rng(b.seed, f"{name}.weight")
    w = rng.standard_normal((cout, cin, 4, 4), dtype=np.float32) * np.float32(
        (2.0 / (1 + LEAKY_SLOPE ** 2)) ** 0.5 / fan_in ** 0.5)
    inputs = [x]
    if with_bn:
        gamma, beta, mean, var = _bn_stats(b.seed, name.replace("/conv", "/bn"), cout)
        scale = gamma / np.sqrt(var + np.float32(BN_EPS))
        w = w * scale[:, None, None, None]
        bias = beta - mean * scale
        inputs += [b.const(f"{name}.weight", w.astype(np.float32)),
                   b.const(f"{name}.bias", bias.astype(np.float32))]
    else:
        inputs.append(b.const(f"{name}.weight", w.astype(np.float32)))
    return b.node("Conv", name, inputs, kernel_shape=[4, 4], strides=[2, 2],
                  pads=[1, 1, 1, 1], dilations=[1, 1], group=1)


def _bn_stats(seed: int, name: str, channels: int) -> tuple[np.ndarray, ...]:
    """Seeded gamma, beta, running mean, running var (same law as GraphBuilder.batchnorm)."""
    rng = seeded_rng(seed, name)
    gamma = 1.0 + 0.02 * rng.standard_normal(channels, dtype=np.float32)
    beta = 0.02 * rng.standard_normal(channels, dtype=np.float32)
    mean = 0.1 * rng.standard_normal(channels, dtype=np.float32)
    var = rng.uniform(0.5, 1.5, channels).astype(np.float32)
    return (gamma.astype(np.float32), beta.astype(np.float32), mean.astype(np.float32), var)


def _conv_transpose(b: GraphBuilder, name: str, x: str, cin: int, cout: int, *,
                    bias: bool, gain: float) -> str:
    """ConvTranspose 4x4 stride 2 pad 1 (weight layout [cin, cout, 4, 4])."""
    # each output pixel sums cin * (4/2)^2 products: He scaling over that fan-in
    inputs = [x, b.normal(f"{name}.weight", (cin, cout, 4, 4), gain / (cin * 4) ** 0.5)]
    if bias:
        inputs.append(b.normal(f"{name}.bias", (cout,), 0.02))
    return b.node("ConvTranspose", name, inputs, kernel_shape=[4, 4], strides=[2, 2],
                  pads=[1, 1, 1, 1], dilations=[1, 1], group=1)

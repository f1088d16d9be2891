"""Check the zoo's Pix2Pix against the reference implementation, numerically and by graph.

Run by hand, in a throwaway environment with torch (never a layerswap dependency), given
the reference's ``models/networks.py`` (a clone of junyanz/pytorch-CycleGAN-and-pix2pix)::

    /tmp/yolo-venv/bin/pip install torch onnx onnxruntime
    /tmp/yolo-venv/bin/python export/zoo/tools/check_pix2pix_reference.py \\
        --networks ../pytorch-CycleGAN-and-pix2pix/models/networks.py [--ngf 64]

What it checks:

1. numerically: the reference ``UnetGenerator(in, out, 8, ngf, BatchNorm2d,
   use_dropout=True)`` in eval mode, loaded with the zoo model's seeded weights (a folded
   Conv+BN becomes the Conv's weight plus an identity BatchNorm carrying the bias), gives
   the zoo model's output (ONNX Runtime) on a seeded input, max abs diff <= 1e-4;
2. by graph: ``torch.onnx.export`` of that reference (opset 17, TorchScript exporter, eval)
   has the zoo model's op sequence (ignoring the Identity nodes the exporter adds for
   deduplicated initializers) and every skip Concat takes the same producers' outputs.

Exits non-zero on a difference.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from export import zoo  # noqa: E402
from export.zoo._builder import serialize  # noqa: E402


def load_reference(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("reference_networks", path)
    if spec is None or spec.loader is None:
        sys.exit(f"{path}: cannot import")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_weights(net, module, weights: dict[str, np.ndarray]) -> int:  # type: ignore[no-untyped-def]
    """Copy the zoo weights into the reference blocks, outermost (d=1) to innermost."""
    import torch
    from torch import nn

    def put(param: torch.Tensor, value: np.ndarray) -> None:
        assert tuple(param.shape) == value.shape, (tuple(param.shape), value.shape)
        param.data.copy_(torch.from_numpy(value.copy()))

    block, depth = net.model, 0
    with torch.no_grad():
        while block is not None:
            depth += 1
            layers = list(block.model)
            conv = next(m for m in layers if type(m) is nn.Conv2d)
            up = next(m for m in layers if type(m) is nn.ConvTranspose2d)
            norms = [m for m in layers if isinstance(m, nn.BatchNorm2d)]
            subs = [m for m in layers if isinstance(m, module.UnetSkipConnectionBlock)]
            put(conv.weight, weights[f"enc{depth}/conv.weight"])
            if block.outermost:
                put(up.bias, weights["dec1/convT.bias"])
            if len(norms) == 2:  # middle block: downnorm was folded into the Conv
                down = norms[0]
                down.weight.fill_(1.0)
                put(down.bias, weights[f"enc{depth}/conv.bias"])
                down.running_mean.zero_()
                down.running_var.fill_(1.0 - down.eps)
            put(up.weight, weights[f"dec{depth}/convT.weight"])
            if norms:
                upnorm = norms[-1]
                for attr, key in (("weight", "weight"), ("bias", "bias"),
                                  ("running_mean", "running_mean"),
                                  ("running_var", "running_var")):
                    put(getattr(upnorm, attr), weights[f"dec{depth}/bn.{key}"])
            block = subs[0] if subs else None
    return depth


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=Path, required=True,
                        help="the reference's models/networks.py")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--out-channels", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import onnxruntime as ort
    import torch
    from torch import nn

    module = load_reference(args.networks)
    norm = functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    net = module.UnetGenerator(args.in_channels, args.out_channels, 8, args.ngf,
                               norm_layer=norm, use_dropout=True).eval()
    ours = zoo.build("pix2pix", seed=args.seed, in_channels=args.in_channels,
                     out_channels=args.out_channels, ngf=args.ngf)
    weights = {i.name: numpy_helper.to_array(i) for i in ours.graph.initializer}
    depth = load_weights(net, module, weights)
    torch_params = sum(p.numel() for p in net.parameters())
    print(f"reference: {depth} blocks, {torch_params:,} parameters")

    x = np.random.default_rng(args.seed).uniform(-1, 1, (1, args.in_channels, 256, 256))
    x = x.astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    session = ort.InferenceSession(serialize(ours), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    diff = float(np.abs(expected - got).max())
    print(f"numeric: max abs diff {diff:.3g} (output std {float(got.std()):.3f})")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.onnx"
        torch.onnx.export(net, torch.from_numpy(x), str(path), opset_version=17,
                          dynamo=False)
        exported = onnx.load(str(path))
    ref_nodes = [n for n in exported.graph.node if n.op_type != "Identity"]
    ref_ops = [n.op_type for n in ref_nodes]
    our_ops = [n.op_type for n in ours.graph.node]
    producer = {o: n.op_type for n in ref_nodes for o in n.output}
    ref_concat = [[producer.get(i, "input") for i in n.input] for n in ref_nodes
                  if n.op_type == "Concat"]
    our_producer = {o: n.op_type for n in ours.graph.node for o in n.output}
    our_concat = [[our_producer.get(i, "input") for i in n.input] for n in ours.graph.node
                  if n.op_type == "Concat"]
    ok = True
    if ref_ops != our_ops:
        print(f"graph: op sequences differ:\n  reference {ref_ops}\n  zoo       {our_ops}")
        ok = False
    elif ref_concat != our_concat:
        print(f"graph: Concat inputs differ: {ref_concat} vs {our_concat}")
        ok = False
    else:
        print(f"graph: the exporter's {len(ref_ops)} nodes have the zoo's op sequence; "
              f"Concat inputs {our_concat[0]}")
    if diff > 1e-4:
        print("numeric: FAILED (> 1e-4)")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

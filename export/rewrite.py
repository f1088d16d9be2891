"""Exact ONNX rewrites that make layers DLA-eligible, as small named passes.

Each pass is a function over an onnx-graphsurgeon graph that changes only what its name
says, records every change (and every candidate it left alone, with why), and keeps the
function the model computes: the same weights give the same outputs up to floating-point
summation order. `verify` (export/verify.py) checks that on seeded inputs with ONNX Runtime.
A rewrite that changes the function is not offered here.

Passes (`PASSES`; every pass but ``convtranspose_pad_to_conv`` is applied, in this order, by
default):

- ``convtranspose_pad_to_crop``: DLA deconvolution needs padding 0 (dla_rules.md,
  Deconvolution) but Pix2Pix's ConvTransposes have padding 1. ConvTranspose with pads 0
  computes the full (n-1)*s + k output of which the padded one is the centre; a Slice
  crops ``pads`` from each border: output size 2n+2-2 = 2n for k=4, s=2, p=1 (the seed
  paper's cropping layer). The Slice is a DLA slice (4-D, spatial axes, stride 1).
- ``convtranspose_pad_to_conv`` (on request only; the seed paper's "convolution" variant):
  the padded ConvTranspose with pads 0, followed by a valid convolution without bias whose
  kernel is (begin + end + 1) per axis, 3x3 for padding 1, initialised as a per-channel
  identity at the tap (begin_h, begin_w) (the centre for symmetric padding): it crops the
  same border as the Slice, so the function is the same. Its point is the new weights: the
  paper retrained them (its Table II: 54,425,859 -> 64,637,268 parameters for the
  TensorFlow tutorial's generator); the rewrite starts training from the exact function.
  The 3x3 stride-1 valid convolution is a DLA convolution.
- ``global_pool_to_pool``: TensorRT makes GlobalAveragePool/GlobalMaxPool a Reduce layer,
  not native on DLA (GlobalMaxPool only from TRT 8.6.12). A pooling window equal to the
  whole H x W with stride 1 and no padding is the same mean / max; it is a DLA pooling layer
  when H, W <= 8 (ResNet-50 and GoogleNet at 224: 7x7).
- ``pad_into_conv``: a zero-valued constant Pad on spatial axes feeding only a Conv is the
  Conv's own padding; folding it removes a layer DLA does not have (Pad) when the summed
  padding stays within DLA limits ([0, 31] and below the kernel size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from export.errors import ExportError

CONV_PAD_MAX = 31  # dla_rules.md: Convolution padding [0, 31] and < kernel
CONV_KERNEL_MAX = 32  # dla_rules.md: Convolution kernel size [1, 32]
POOL_WINDOW_MAX = 8  # dla_rules.md: Pooling window [1, 8]


@dataclass(frozen=True)
class Change:
    """One node a pass rewrote (``applied``) or left alone (``applied`` False, with why)."""

    pass_name: str
    node: str
    detail: str
    applied: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"pass": self.pass_name, "node": self.node, "detail": self.detail,
                "applied": self.applied}


PassFn = Callable[[Any], list[Change]]


@dataclass(frozen=True)
class RewritePass:
    """A named pass, the reason it exists, whether it keeps the function exactly and
    whether `rewrite` applies it when no passes are named (``default``)."""

    name: str
    reason: str
    exact: bool
    run: PassFn = field(repr=False)
    default: bool = True
    targets: str = ""  # what it rewrites, for "changed nothing" messages


@dataclass(frozen=True)
class RewriteResult:
    """The rewritten model plus what each pass did."""

    model: Any  # onnx.ModelProto
    passes: tuple[str, ...]
    changes: tuple[Change, ...]

    @property
    def applied(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.applied)

    @property
    def skipped(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if not c.applied)

    def to_dict(self) -> dict[str, Any]:
        return {"passes": list(self.passes),
                "applied": [c.to_dict() for c in self.applied],
                "skipped": [c.to_dict() for c in self.skipped]}


# ------------------------------------------------------------------ helpers
def _ints(values: Any) -> list[int]:
    return [int(v) for v in values]


def _static_shape(tensor: Any) -> list[int] | None:
    shape = getattr(tensor, "shape", None)
    if shape is None or any(not isinstance(d, int | np.integer) or d <= 0 for d in shape):
        return None
    return [int(d) for d in shape]


def _const(name: str, values: Sequence[int]) -> Any:
    import onnx_graphsurgeon as gs

    return gs.Constant(name, np.asarray(values, dtype=np.int64))


def _insert_after(graph: Any, anchor: Any, node: Any) -> None:
    """Insert ``node`` right after ``anchor`` so the node list stays in execution order
    (`LayerGraph` order ties are broken by position)."""
    graph.nodes.insert(graph.nodes.index(anchor) + 1, node)


# ------------------------------------------------------------------ passes
@dataclass(frozen=True)
class _PaddedDeconv:
    """A padded ConvTranspose a pass can rewrite: its node, pads, the unpadded ("full")
    spatial output size and output channels."""

    node: Any
    pads: list[int]
    full: list[int]
    batch: int
    channels: int


def _padded_convtransposes(graph: Any, name: str,
                           changes: list[Change]) -> list[_PaddedDeconv]:
    """ConvTranspose nodes with non-zero explicit pads that can be unpadded; the ones that
    cannot are recorded in ``changes`` as left alone, with why."""
    found: list[_PaddedDeconv] = []
    for node in [n for n in graph.nodes if n.op == "ConvTranspose"]:
        pads = _ints(node.attrs.get("pads", []))
        if not any(pads):
            continue
        why = None
        if str(node.attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", ""):
            why = f"auto_pad {node.attrs['auto_pad']}: explicit pads only"
        elif "output_shape" in node.attrs:
            why = "output_shape attribute: the padding is implied, not explicit"
        elif any(_ints(node.attrs.get("output_padding", []))):
            why = "output_padding is non-zero (DLA refuses it anyway)"
        x = _static_shape(node.inputs[0])
        w = node.inputs[1] if len(node.inputs) > 1 else None
        w_shape = _static_shape(w) if w is not None else None
        if why is None and (x is None or w_shape is None or len(x) != 4):
            why = "needs a static 4-D input and weight shape (run shape inference)"
        if why is not None:
            changes.append(Change(name, node.name, why, applied=False))
            continue
        assert x is not None and w_shape is not None
        k = _ints(node.attrs.get("kernel_shape", w_shape[2:]))
        s = _ints(node.attrs.get("strides", [1, 1]))
        d = _ints(node.attrs.get("dilations", [1, 1]))
        group = int(node.attrs.get("group", 1))
        full = [(x[2 + i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 for i in range(2)]
        found.append(_PaddedDeconv(node, pads, full, x[0], w_shape[1] * group))
    return found


def _unpad(graph: Any, c: _PaddedDeconv, next_node: Any) -> Any:
    """Set ``c``'s pads to 0, send its output through ``next_node`` (which must produce the
    original output tensor) and return the new unpadded tensor."""
    import onnx_graphsurgeon as gs

    out = c.node.outputs[0]
    raw = gs.Variable(f"{c.node.name}/uncropped", dtype=out.dtype,
                      shape=[c.batch, c.channels, *c.full])
    c.node.attrs["pads"] = [0, 0, 0, 0]
    c.node.outputs = [raw]
    next_node.inputs.insert(0, raw)
    next_node.outputs = [out]
    _insert_after(graph, c.node, next_node)
    return raw


def _cropped_size(c: _PaddedDeconv) -> str:
    begin, end = c.pads[:2], c.pads[2:]
    return (f"{c.full[0]}x{c.full[1]} to "
            f"{c.full[0] - begin[0] - end[0]}x{c.full[1] - begin[1] - end[1]}")


def convtranspose_pad_to_crop(graph: Any) -> list[Change]:
    """Padded ConvTranspose -> ConvTranspose(pads 0) + Slice crop (module doc)."""
    import onnx_graphsurgeon as gs

    name = "convtranspose_pad_to_crop"
    changes: list[Change] = []
    for c in _padded_convtransposes(graph, name, changes):
        begin, end = c.pads[:2], c.pads[2:]
        node_name = c.node.name
        crop = gs.Node("Slice", name=f"{node_name}/crop", inputs=[
            _const(f"{node_name}/crop_starts", begin),
            _const(f"{node_name}/crop_ends", [c.full[0] - end[0], c.full[1] - end[1]]),
            _const(f"{node_name}/crop_axes", [2, 3])])
        _unpad(graph, c, crop)
        changes.append(Change(name, node_name, f"pads {c.pads} -> 0; Slice "
                              f"'{crop.name}' crops {_cropped_size(c)}"))
    return changes


def convtranspose_pad_to_conv(graph: Any) -> list[Change]:
    """Padded ConvTranspose -> ConvTranspose(pads 0) + identity-initialised valid Conv
    without bias (module doc)."""
    import onnx_graphsurgeon as gs

    name = "convtranspose_pad_to_conv"
    changes: list[Change] = []
    for c in _padded_convtransposes(graph, name, changes):
        begin, end = c.pads[:2], c.pads[2:]
        kernel = [begin[0] + end[0] + 1, begin[1] + end[1] + 1]
        if max(kernel) > CONV_KERNEL_MAX:
            changes.append(Change(name, c.node.name, f"pads {c.pads} need a {kernel[0]}x"
                                  f"{kernel[1]} kernel, beyond the DLA's {CONV_KERNEL_MAX}",
                                  applied=False))
            continue
        dtype = np.dtype(c.node.inputs[1].dtype) if c.node.inputs[1].dtype is not None \
            else np.dtype(np.float32)
        weight = np.zeros((c.channels, c.channels, *kernel), dtype=dtype)
        weight[np.arange(c.channels), np.arange(c.channels), begin[0], begin[1]] = 1
        node_name = c.node.name
        conv = gs.Node("Conv", name=f"{node_name}/conv3x3" if kernel == [3, 3]
                       else f"{node_name}/conv", attrs={
                           "kernel_shape": kernel, "strides": [1, 1], "pads": [0, 0, 0, 0],
                           "dilations": [1, 1], "group": 1},
                       inputs=[gs.Constant(f"{node_name}/conv.weight", weight)])
        _unpad(graph, c, conv)
        changes.append(Change(name, node_name, f"pads {c.pads} -> 0; Conv '{conv.name}' "
                              f"{kernel[0]}x{kernel[1]} valid, no bias, identity at tap "
                              f"({begin[0]}, {begin[1]}), {_cropped_size(c)}; "
                              f"+{weight.size} parameters (to retrain)"))
    return changes


def global_pool_to_pool(graph: Any) -> list[Change]:
    """GlobalAveragePool / GlobalMaxPool -> AveragePool / MaxPool over the whole H x W."""
    name = "global_pool_to_pool"
    changes: list[Change] = []
    for node in [n for n in graph.nodes if n.op in ("GlobalAveragePool", "GlobalMaxPool")]:
        x = _static_shape(node.inputs[0])
        if x is None or len(x) != 4:
            changes.append(Change(name, node.name, "needs a static 4-D input", applied=False))
            continue
        h, w = x[2], x[3]
        if h > POOL_WINDOW_MAX or w > POOL_WINDOW_MAX:
            changes.append(Change(name, node.name, f"window {h}x{w} exceeds the DLA pooling "
                                  f"window {POOL_WINDOW_MAX}: no gain", applied=False))
            continue
        old = node.op
        node.op = "AveragePool" if old == "GlobalAveragePool" else "MaxPool"
        node.attrs = {"kernel_shape": [h, w], "strides": [1, 1], "pads": [0, 0, 0, 0]}
        changes.append(Change(name, node.name, f"{old} -> {node.op} kernel {h}x{w}"))
    return changes


def pad_into_conv(graph: Any) -> list[Change]:
    """Zero constant Pad on H/W feeding only a Conv -> the Conv's pads (within DLA limits)."""
    import onnx_graphsurgeon as gs

    name = "pad_into_conv"
    changes: list[Change] = []
    for pad in [n for n in graph.nodes if n.op == "Pad"]:
        out = pad.outputs[0]
        consumers = list(out.outputs)
        why = None
        amounts = pad.inputs[1] if len(pad.inputs) > 1 else None
        value = pad.inputs[2] if len(pad.inputs) > 2 else None
        if str(pad.attrs.get("mode", "constant")) != "constant":
            why = f"mode {pad.attrs.get('mode')}: only zero constant padding is a conv padding"
        elif not isinstance(amounts, gs.Constant) or (len(pad.inputs) > 3 and pad.inputs[3]
                                                      is not None and pad.inputs[3].name):
            why = "pads must be a constant over all axes (no 'axes' input)"
        elif value is not None and value.name and (
                not isinstance(value, gs.Constant) or np.any(np.asarray(value.values) != 0)):
            why = "constant_value is not 0"
        elif len(consumers) != 1 or consumers[0].op != "Conv" or consumers[0].inputs[0] is not out:
            why = "the padded tensor does not feed exactly one Conv as its data input"
        elif out in graph.outputs:
            why = "the padded tensor is a graph output"
        if why is None:
            p = _ints(np.asarray(amounts.values).ravel())
            rank = len(p) // 2
            conv = consumers[0]
            if rank != 4 or any(v < 0 for v in p) or p[0] or p[1] or p[4] or p[5]:
                why = f"pads {p}: only non-negative padding of H and W of a 4-D tensor"
            elif str(conv.attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", ""):
                why = "the Conv uses auto_pad"
            else:
                old = _ints(conv.attrs.get("pads", [0, 0, 0, 0]))
                new = [old[0] + p[2], old[1] + p[3], old[2] + p[6], old[3] + p[7]]
                w = _static_shape(conv.inputs[1])
                k = _ints(conv.attrs.get("kernel_shape", (w or [0, 0, 0, 0])[2:]))
                if len(k) != 2 or any(v > CONV_PAD_MAX or v >= k[i % 2]
                                      for i, v in enumerate(new)):
                    why = (f"folded pads {new} would break the DLA conv padding limit "
                           f"([0, {CONV_PAD_MAX}] and < kernel {k})")
        if why is not None:
            changes.append(Change(name, pad.name, why, applied=False))
            continue
        conv.attrs["pads"] = new
        conv.inputs[0] = pad.inputs[0]
        pad.outputs.clear()
        changes.append(Change(name, pad.name, f"folded into '{conv.name}': pads {old} -> {new}"))
    graph.cleanup()
    return changes


PASSES: dict[str, RewritePass] = {
    p.name: p for p in (
        RewritePass("convtranspose_pad_to_crop", "DLA deconvolution padding must be 0; "
                    "pads 0 + Slice crop is the same function (Pix2Pix upconvs)", True,
                    convtranspose_pad_to_crop, targets="ConvTranspose with non-zero pads"),
        RewritePass("convtranspose_pad_to_conv", "DLA deconvolution padding must be 0; pads 0 "
                    "+ an identity-initialised valid Conv without bias is the same function "
                    "with new weights to retrain (the seed paper's convolution variant; on "
                    "request only)", True, convtranspose_pad_to_conv, default=False,
                    targets="ConvTranspose with non-zero pads"),
        RewritePass("global_pool_to_pool", "Global pools are TensorRT Reduce layers, not native "
                    "on DLA; a whole-window pooling (<= 8x8) is the same function", True,
                    global_pool_to_pool, targets="GlobalAveragePool or GlobalMaxPool"),
        RewritePass("pad_into_conv", "Pad is not a DLA layer; zero padding before a Conv is the "
                    "Conv's own padding when it stays within DLA limits", True, pad_into_conv,
                    targets="Pad"),
    )
}


def pass_names(*, default_only: bool = True) -> list[str]:
    """The passes `rewrite` applies by default, or (``default_only=False``) every pass."""
    return [n for n, p in PASSES.items() if p.default or not default_only]


def _resolve(passes: Sequence[str] | str | None) -> list[RewritePass]:
    if passes is None:
        return [p for p in PASSES.values() if p.default]
    names = [p.strip() for p in passes.split(",")] if isinstance(passes, str) else list(passes)
    unknown = [n for n in names if n not in PASSES]
    if unknown or not names:
        raise ExportError(f"unknown rewrite pass {', '.join(map(repr, unknown)) or '(none)'}; "
                          f"choose from {', '.join(PASSES)}")
    return [PASSES[n] for n in names]


def rewrite(model: Any, passes: Sequence[str] | str | None = None, *,
            strict: bool = False) -> RewriteResult:
    """Apply ``passes`` (names, or a comma-separated string; default: every default pass) to
    ``model`` (a ``ModelProto`` or path); the input model is not modified.

    ``strict``: a pass that changes nothing is an `ExportError` (one line: what the pass
    looks for, and why it left each candidate alone) instead of an empty change list."""
    import onnx
    import onnx_graphsurgeon as gs

    from profiles.dla.context import load_model

    chosen = _resolve(passes)
    view = load_model(model)  # one-line errors for bad files, dynamic inputs
    proto = onnx.shape_inference.infer_shapes(view.proto)
    graph = gs.import_onnx(proto)
    changes: list[Change] = []
    for p in chosen:
        done = p.run(graph)
        if strict and not any(c.applied for c in done):
            left = "; ".join(f"{c.node}: {c.detail}" for c in done)
            raise ExportError(f"{view.source}: rewrite pass {p.name!r} cannot apply: "
                              + (f"every candidate left alone ({left})" if left else
                                 f"the model has no {p.targets or 'node it rewrites'}"))
        changes += done
    graph.cleanup()
    out = gs.export_onnx(graph, do_type_check=True)
    out.ir_version = proto.ir_version
    del out.opset_import[:]
    out.opset_import.extend(proto.opset_import)
    out.graph.name = proto.graph.name
    for key in ("producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(out, key, getattr(proto, key))
    del out.metadata_props[:]
    out.metadata_props.extend(proto.metadata_props)
    for vi in list(out.graph.value_info):  # stale shapes: re-infer from scratch
        out.graph.value_info.remove(vi)
    try:
        out = onnx.shape_inference.infer_shapes(out, strict_mode=True)
        onnx.checker.check_model(out)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"{view.source}: the rewritten model is invalid ({exc}); this is a "
                          "bug in a rewrite pass, please report it") from exc
    return RewriteResult(model=out, passes=tuple(p.name for p in chosen),
                         changes=tuple(changes))


__all__ = ["PASSES", "Change", "RewritePass", "RewriteResult", "convtranspose_pad_to_conv",
           "convtranspose_pad_to_crop", "global_pool_to_pool", "pad_into_conv", "pass_names",
           "rewrite"]

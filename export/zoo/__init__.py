"""Model zoo: real DNN graphs as ONNX, with static shapes and seeded weights (no downloads).

API::

    export.zoo.names() -> ["pix2pix", "yolov8n", "googlenet", "resnet50", "pix2pix_tf",
                           "resnet50_mlperf", "ssd_mobilenet_v1", "retinanet_resnext50",
                           "yolo11n", "yolo11s", "yolo11m", "yolo11l", "yolo11x"]
    export.zoo.build(name, *, seed=0, **options) -> onnx.ModelProto
    export.zoo.save(name, path, *, seed=0, **options) -> pathlib.Path   (atomic write)
    export.zoo.parameter_count(model) -> int   (float weights, as Keras/torch count them)

Every model: batch 1, float32, opset 17 (IR 8), unique stable node names (the first output
tensor of a node carries the node's name), ``value_info`` filled by strict shape
inference, ``onnx.checker`` clean (full check), deterministic: the same arguments give
byte-identical serializations. Options (defaults):

- ``pix2pix``: ``in_channels=1, out_channels=1, ngf=64, size=256`` (size a multiple of 256);
- ``yolov8n``: ``size=640`` (a multiple of 32), ``num_classes=80``;
- ``googlenet``: ``size=224``; ``resnet50``: ``size=224``, ``num_classes=1000``;
- ``pix2pix_tf`` (the seed paper's generator, the TensorFlow tutorial's U-Net):
  ``in_channels=3, out_channels=3, ngf=64, size=256`` (size a multiple of 256).
- ``resnet50_mlperf`` and ``ssd_mobilenet_v1`` (the MLPerf models as NVIDIA prepares them
  for the DLA): ``batch=1``; ``retinanet_resnext50``: ``batch=1``, ``size=800``;
- ``yolo11n`` .. ``yolo11x``: none (the 640 x 640, 80-class export only).

The model modules' docstrings say what each graph is and where its structure comes from.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path

import onnx

from export.errors import ExportError
from export.zoo._builder import serialize

# model name -> (module, builder function); imported on first use
_BUILDERS = {
    "pix2pix": ("export.zoo.pix2pix", "build_pix2pix"),
    "yolov8n": ("export.zoo.yolov8n", "build_yolov8n"),
    "googlenet": ("export.zoo.googlenet", "build_googlenet"),
    "resnet50": ("export.zoo.resnet", "build_resnet50"),
    "pix2pix_tf": ("export.zoo.pix2pix_tf", "build_pix2pix_tf"),
    "resnet50_mlperf": ("export.zoo.resnet", "build_resnet50_mlperf"),
    "ssd_mobilenet_v1": ("export.zoo.ssd_mobilenet", "build_ssd_mobilenet_v1"),
    "retinanet_resnext50": ("export.zoo.retinanet", "build_retinanet_resnext50"),
    "yolo11n": ("export.zoo.yolo11", "build_yolo11n"),
    "yolo11s": ("export.zoo.yolo11", "build_yolo11s"),
    "yolo11m": ("export.zoo.yolo11", "build_yolo11m"),
    "yolo11l": ("export.zoo.yolo11", "build_yolo11l"),
    "yolo11x": ("export.zoo.yolo11", "build_yolo11x"),
}
_NAMES = tuple(_BUILDERS)


def names() -> list[str]:
    """The zoo's model names."""
    return list(_NAMES)


def options(name: str) -> dict[str, object]:
    """The options of model ``name`` with their defaults (``seed`` excluded)."""
    builder = _builder(name)
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()
            if p.name != "seed"}


def build(name: str, *, seed: int = 0, **opts: object) -> onnx.ModelProto:
    """Build zoo model ``name`` with weights drawn from ``seed``.

    Raises `ExportError` (one line) for an unknown name or option, or a bad option value."""
    builder = _builder(name)
    allowed = options(name)
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        listing = ", ".join(f"{k}={v!r}" for k, v in allowed.items())
        raise ExportError(f"zoo model {name!r}: unknown option(s) {', '.join(unknown)}; "
                          f"its options are {listing}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ExportError(f"zoo model {name!r}: seed={seed!r} must be a non-negative integer")
    return builder(seed=seed, **opts)


def save(name: str, path: str | Path, *, seed: int = 0, **opts: object) -> Path:
    """Build ``name`` and write it to ``path`` atomically (temp file + rename)."""
    from profiles.fileio import atomic_write_bytes

    target = Path(path)
    atomic_write_bytes(target, serialize(build(name, seed=seed, **opts)))
    return target


def parameter_count(model: onnx.ModelProto) -> int:
    """The model's parameters: elements of its floating-point initializers.

    That is what Keras's "Total params" and torch's ``numel`` sum count when every weight is
    an initializer (BatchNormalization's gamma, beta and running statistics included);
    integer initializers (Slice bounds, shapes) are not parameters."""
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
              onnx.TensorProto.BFLOAT16}
    total = 0
    for tensor in model.graph.initializer:
        if tensor.data_type in floats:
            count = 1
            for d in tensor.dims:
                count *= int(d)
            total += count
    return total


def _builder(name: str) -> Callable[..., onnx.ModelProto]:
    if name not in _NAMES:
        raise ExportError(f"unknown zoo model {name!r}: choose one of {', '.join(_NAMES)}")
    module, function = _BUILDERS[name]
    return getattr(importlib.import_module(module), function)


__all__ = ["build", "names", "options", "parameter_count", "save"]

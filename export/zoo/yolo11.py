"""YOLO11 (n, s, m, l, x) exactly as the ultralytics ONNX exporter writes it, rebuilt from
structure files.

The structure-only approach of `export.zoo.yolov8n`: ``tools/regenerate_yolo11.py`` (run by
hand in a throwaway environment with torch and ultralytics; never a dependency of the
package or the tests) exports the untrained ``YOLO("yolo11<scale>.yaml")`` with
``format="onnx", imgsz=640, opset=17, dynamic=False, simplify=True, batch=1`` and strips it
to ``data/yolo11<scale>.structure.json``: every node (name, op, inputs, outputs,
attributes), and every initializer's name, dtype and shape; weights carry no values,
constants keep theirs, anchors and strides are stored as recipes checked against the
export. The graph is the exporter's op for op: Conv + SiLU (Sigmoid, Mul), C3k2 blocks
(Split, Concat, residual Adds), SPPF, C2PSA attention (Split, MatMul, Softmax, Transpose),
the Detect head (model.23) with depthwise-separable class branches and the DFL box decode.

Only the exported setting is stored: 640 x 640 input and 80 classes (the Ultralytics
Jetson benchmark table, `profiles/data/calibration`, uses exactly this export), so these
builders take no size or class options. Weights are seeded as in YOLOv8n (zero-sum
kernels, gain 1.82, linear head convs gain 1); the gain was measured on YOLOv8n and is
not re-tuned here: the graphs serve the estimator, the DLA checker and the exporter.

Parameter counts (Conv weights and biases, BatchNorm fused by ultralytics) equal the
counts ultralytics reports for the fused models; tests/export/test_zoo_published.py
checks them against the figures of the Ultralytics YOLO11 documentation.
"""

from __future__ import annotations

import onnx

from export.zoo import yolov8n

SCALES = ("n", "s", "m", "l", "x")


def structure_file(scale: str) -> str:
    return f"yolo11{scale}.structure.json"


def build_yolo11(scale: str, *, seed: int = 0) -> onnx.ModelProto:
    """YOLO11 of ``scale`` (one of `SCALES`) at batch 1, 3 x 640 x 640, 80 classes."""
    structure = yolov8n.load_structure(structure_file(scale))
    return yolov8n.model_from_structure(structure, seed=seed)


def build_yolo11n(*, seed: int = 0) -> onnx.ModelProto:
    """YOLO11n, 640 x 640, 80 classes."""
    return build_yolo11("n", seed=seed)


def build_yolo11s(*, seed: int = 0) -> onnx.ModelProto:
    """YOLO11s, 640 x 640, 80 classes."""
    return build_yolo11("s", seed=seed)


def build_yolo11m(*, seed: int = 0) -> onnx.ModelProto:
    """YOLO11m, 640 x 640, 80 classes."""
    return build_yolo11("m", seed=seed)


def build_yolo11l(*, seed: int = 0) -> onnx.ModelProto:
    """YOLO11l, 640 x 640, 80 classes."""
    return build_yolo11("l", seed=seed)


def build_yolo11x(*, seed: int = 0) -> onnx.ModelProto:
    """YOLO11x, 640 x 640, 80 classes."""
    return build_yolo11("x", seed=seed)

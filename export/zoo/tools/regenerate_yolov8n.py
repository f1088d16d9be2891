"""Regenerate ``export/zoo/data/yolov8n.structure.json`` from the real ultralytics exporter.

Run by hand, in a throwaway environment (torch and ultralytics are never dependencies of
layerswap or its tests)::

    python3.11 -m venv /tmp/yolo-venv
    /tmp/yolo-venv/bin/pip install torch ultralytics onnx onnxslim onnxruntime
    /tmp/yolo-venv/bin/python export/zoo/tools/regenerate_yolov8n.py

What it does: builds the untrained ``YOLO("yolov8n.yaml")`` (no weights are downloaded),
exports it with ``format="onnx", imgsz=640, opset=17, dynamic=False, simplify=True,
batch=1`` (the exporter's defaults otherwise), strips the weights (`export.zoo.yolov8n.strip`)
and writes the symbolic structure file. Then it checks the symbols against the exporter
itself: it exports again at imgsz=320 and with 2 classes and requires the stored structure,
resolved at (320, 80) and (640, 2), to equal those exports node for node (constants by
value, `export.zoo.yolov8n.canonical`). It also checks that the anchor points and stride
tensors match their recipes (inside `strip`) and that the rebuilt 640 model has the
exported model's op counts and output shape. Exits non-zero on any difference.
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from export.zoo import yolov8n as zoo_yolo  # noqa: E402

OUT = REPO / "export" / "zoo" / "data" / zoo_yolo.STRUCTURE_FILE
EXPORT_ARGS = {"format": "onnx", "opset": 17, "dynamic": False, "simplify": True, "batch": 1}


def export(workdir: Path, imgsz: int, nc: int) -> Path:
    """Export an untrained yolov8n at ``imgsz`` with ``nc`` classes; returns the .onnx."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import yaml_model_load

    sub = workdir / f"s{imgsz}-nc{nc}"
    sub.mkdir()
    cfg = yaml_model_load("yolov8n.yaml")  # bundled with ultralytics, scale 'n'
    cfg["nc"] = nc
    yaml_path = sub / "yolov8n.yaml"
    import yaml

    yaml_path.write_text(yaml.safe_dump(cfg))
    with contextlib.chdir(sub):
        model = YOLO(str(yaml_path))
        path = model.export(imgsz=imgsz, **EXPORT_ARGS)
    return Path(sub / path) if not Path(path).is_absolute() else Path(path)


def versions() -> dict[str, str]:
    import onnx
    import torch
    import ultralytics

    found = {"ultralytics": ultralytics.__version__, "torch": torch.__version__.split("+")[0],
             "onnx": onnx.__version__}
    try:
        import onnxslim

        found["onnxslim"] = onnxslim.__version__
    except ImportError:
        sys.exit("onnxslim is missing: the exporter would skip simplification "
                 "(pip install onnxslim)")
    return found


def main() -> int:
    import onnx

    os.environ.setdefault("YOLO_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        main_model = onnx.load(export(work, 640, 80))
        structure = zoo_yolo.strip(main_model, size=640, num_classes=80, symbolic=True)
        head = {
            "format": zoo_yolo.STRUCTURE_FORMAT,
            "version": 1,
            "model": "yolov8n",
            "generated_by": "export/zoo/tools/regenerate_yolov8n.py",
            "source": {**versions(),
                       "call": "YOLO('yolov8n.yaml').export(format='onnx', imgsz=640, "
                               "opset=17, dynamic=False, simplify=True, batch=1)",
                       "opset": main_model.opset_import[0].version,
                       "ir_version": main_model.ir_version},
            "params": {"size": 640, "num_classes": 80},
            "symbols": {"size": "input height and width",
                        "nc": "number of classes",
                        "c3": "class branch width max(64, min(nc, 100))",
                        "anchors": "sum over strides 8, 16, 32 of (size / stride)^2"},
        }
        structure = {**head, **structure}
        problems = []
        for size, nc in ((640, 80), (320, 80), (640, 2)):
            exported = main_model if (size, nc) == (640, 80) else onnx.load(
                export(work, size, nc))
            want = zoo_yolo.canonical(zoo_yolo.strip(exported, size=size, num_classes=nc,
                                                     symbolic=False))
            got = zoo_yolo.canonical(zoo_yolo.resolve(structure, size=size, num_classes=nc))
            if want != got:
                diff = next((w, g) for w, g in zip(want, got, strict=False) if w != g) \
                    if len(want) == len(got) else (len(want), len(got))
                problems.append(f"size {size}, {nc} classes: first difference {diff}")
            else:
                print(f"ok: structure resolved at size {size}, {nc} classes equals the "
                      "exporter's graph")
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        rebuilt = zoo_yolo.model_from_structure(
            zoo_yolo.resolve(structure, size=640, num_classes=80), seed=0)
        ops = collections.Counter(n.op_type for n in main_model.graph.node)
        if collections.Counter(n.op_type for n in rebuilt.graph.node) != ops:
            print("rebuilt op counts differ from the export", file=sys.stderr)
            return 1
        OUT.write_text(zoo_yolo.dump_structure(structure), encoding="utf-8")
        print(f"wrote {OUT.relative_to(REPO)} ({OUT.stat().st_size} bytes, "
              f"{len(structure['nodes'])} nodes: {dict(sorted(ops.items()))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

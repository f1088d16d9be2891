"""Regenerate ``export/zoo/data/yolo11{n,s,m,l,x}.structure.json`` from the ultralytics exporter.

Run by hand, in a throwaway environment (torch and ultralytics are never dependencies of
layerswap or its tests)::

    python3.11 -m venv /tmp/yolo-venv
    /tmp/yolo-venv/bin/pip install torch ultralytics onnx onnxslim onnxruntime
    /tmp/yolo-venv/bin/python export/zoo/tools/regenerate_yolo11.py [n s m l x]

For each scale: builds the untrained ``YOLO("yolo11<scale>.yaml")`` (no weights are
downloaded), exports it with ``format="onnx", imgsz=640, opset=17, dynamic=False,
simplify=True, batch=1`` (the settings of the Ultralytics Jetson benchmark table, which
exports at 640 with the 80 COCO classes), strips the weights
(`export.zoo.yolov8n.strip`, not symbolic: these files hold the 640 / 80 graph only) and
checks that the stored structure rebuilds the exporter's graph node for node
(`export.zoo.yolov8n.canonical`), with the exporter's op counts and the parameter count
that ultralytics reports for the model. Exits non-zero on any difference.
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

from export.zoo import yolo11 as zoo_yolo11  # noqa: E402
from export.zoo import yolov8n as zoo_yolo  # noqa: E402

EXPORT_ARGS = {"format": "onnx", "opset": 17, "dynamic": False, "simplify": True, "batch": 1,
               "imgsz": 640}


def export(workdir: Path, scale: str) -> tuple[Path, int]:
    """Export an untrained yolo11<scale>; returns the .onnx and torch's parameter count."""
    from ultralytics import YOLO

    sub = workdir / scale
    sub.mkdir()
    with contextlib.chdir(sub):
        model = YOLO(f"yolo11{scale}.yaml")  # bundled with ultralytics
        params = sum(p.numel() for p in model.model.parameters())
        path = Path(model.export(**EXPORT_ARGS))
    return (path if path.is_absolute() else sub / path), int(params)


def versions() -> dict[str, str]:
    import onnx
    import onnxslim
    import torch
    import ultralytics

    return {"ultralytics": ultralytics.__version__, "torch": torch.__version__.split("+")[0],
            "onnx": onnx.__version__, "onnxslim": onnxslim.__version__}


def main(scales: list[str]) -> int:
    import onnx

    os.environ.setdefault("YOLO_OFFLINE", "1")
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in scales:
            path, torch_params = export(Path(tmp), scale)
            exported = onnx.load(path)
            structure = zoo_yolo.strip(exported, size=640, num_classes=80, symbolic=False)
            structure = {
                "format": zoo_yolo.STRUCTURE_FORMAT,
                "version": 1,
                "model": f"yolo11{scale}",
                "head_layer": 23,
                "generated_by": "export/zoo/tools/regenerate_yolo11.py",
                "source": {**versions(),
                           "call": f"YOLO('yolo11{scale}.yaml').export(format='onnx', "
                                   "imgsz=640, opset=17, dynamic=False, simplify=True, "
                                   "batch=1)",
                           "opset": exported.opset_import[0].version,
                           "ir_version": exported.ir_version,
                           "torch_parameters": torch_params},
                "params": {"size": 640, "num_classes": 80},
                **structure,
            }
            want = zoo_yolo.canonical(zoo_yolo.strip(exported, size=640, num_classes=80,
                                                     symbolic=False))
            if zoo_yolo.canonical(structure) != want:
                problems.append(f"yolo11{scale}: the structure does not canonicalise to the "
                                "export")
                continue
            rebuilt = zoo_yolo.model_from_structure(structure, seed=0)
            ops = collections.Counter(n.op_type for n in exported.graph.node)
            if collections.Counter(n.op_type for n in rebuilt.graph.node) != ops:
                problems.append(f"yolo11{scale}: rebuilt op counts differ from the export")
                continue
            out = REPO / "export" / "zoo" / "data" / zoo_yolo11.structure_file(scale)
            out.write_text(zoo_yolo.dump_structure(structure), encoding="utf-8")
            print(f"wrote {out.relative_to(REPO)} ({out.stat().st_size} bytes, "
                  f"{len(structure['nodes'])} nodes, torch parameters {torch_params}: "
                  f"{dict(sorted(ops.items()))})")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or list(zoo_yolo11.SCALES)))

"""The runtime ships to a Jetson alone: no module of it imports the rest of layerswap, and
none imports TensorRT, CUDA bindings or the ONNX Runtime at import time."""

from __future__ import annotations

import subprocess
import sys


def test_every_runtime_module_imports_alone():
    code = (
        "import importlib, pkgutil, sys\n"
        "import runtime\n"
        "names = [m.name for m in pkgutil.walk_packages(runtime.__path__, prefix='runtime.')]\n"
        "for n in names: importlib.import_module(n)\n"
        "assert 'runtime.executor' in names and 'runtime.backends.trt' in names, names\n"
        "ours = [m for m in sys.modules if m.split('.')[0] in "
        "('profiles', 'solvers', 'export', 'optimizer')]\n"
        "assert not ours, ours\n"
        "heavy = [m for m in ('tensorrt', 'cuda', 'pycuda', 'onnxruntime') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

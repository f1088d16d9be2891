"""Every module imports without TensorRT or a GPU, and none imports tensorrt eagerly."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

PACKAGES = ("profiles", "solvers", "export", "optimizer", "runtime")


def all_modules() -> list[str]:
    names = []
    for pkg in PACKAGES:
        module = importlib.import_module(pkg)
        names.append(pkg)
        # __main__ modules run the program when imported (python -m): not library modules
        names += [m.name for m in pkgutil.walk_packages(module.__path__, prefix=f"{pkg}.")
                  if not m.name.endswith(".__main__")]
    return sorted(names)


@pytest.mark.parametrize("name", all_modules())
def test_module_imports(name):
    importlib.import_module(name)


def test_no_module_imports_tensorrt_or_heavy_plotting_eagerly():
    code = (
        "import sys\n"
        f"import importlib\nfor m in {all_modules()!r}: importlib.import_module(m)\n"
        "bad = [m for m in ('tensorrt', 'pycuda', 'cuda') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

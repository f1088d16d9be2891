"""The runtime ships to a Jetson alone: no module of it imports the rest of layerswap, and
none imports TensorRT, CUDA bindings or the ONNX Runtime at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import networkx as nx

import runtime


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


def _runtime_imports(tree: ast.AST) -> Iterator[str]:
    """Every `runtime...` module a module imports: top level, inside functions (lazy imports)
    and under ``if TYPE_CHECKING:`` (a circle that only type checkers close is still one)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "runtime":
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "runtime")


def test_no_import_circle_inside_the_runtime():
    """runtime.manifest <-> runtime._checks was a circle (a function-level import one way,
    the types the other); the checks now live in runtime.manifest."""
    root = Path(runtime.__file__).parent
    graph = nx.DiGraph()
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph.add_node(name)
        for target in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if target != name:
                graph.add_edge(name, target)
    assert graph.has_edge("runtime.api", "runtime.executor")  # the walker sees imports
    assert list(nx.simple_cycles(graph)) == []

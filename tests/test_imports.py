"""Every module imports without TensorRT or a GPU, and none imports tensorrt eagerly."""

from __future__ import annotations

import importlib
import importlib.util
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


def _import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, at any depth of the file (lazy imports
    inside functions and under TYPE_CHECKING count: a circle that only closes at run time is
    still a circle)."""
    import ast

    modules = set(all_modules())
    graph: dict[str, set[str]] = {}
    for name in modules:
        spec = importlib.util.find_spec(name)
        source = open(spec.origin, encoding="utf-8").read()  # noqa: SIM115
        package = name if spec.origin.endswith("__init__.py") else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_no_import_circles():
    """No module imports itself through others (docs/design.md: imports flow one way)."""
    import networkx as nx

    cycles = list(nx.simple_cycles(nx.DiGraph(
        [(a, b) for a, targets in _import_graph().items() for b in targets])))
    assert not cycles, "import circles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles)

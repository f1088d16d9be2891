"""Shared pytest options: ``--solvers`` picks the exact backends the solver tests run on.

``--solvers cpsat,ilp`` runs every test that takes the ``backend`` fixture once per named
backend; the default is every exact backend (cpsat, ilp, sat) whose module imports. Tests
that take ``any_backend`` also run on the exhaustive oracle (unless ``--solvers`` names
the backends, which it then takes as given). A
backend may raise `UnsupportedFeatureError` for a feature: tests then assert that it is
raised, never skip a wrong answer.
"""

from __future__ import annotations

import importlib
import os

import pytest
from hypothesis import settings

# CI runs the same examples every time (a red run can be replayed); locally hypothesis
# explores new ones on each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

EXACT_BACKENDS = ("cpsat", "ilp", "sat")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--solvers", action="store", default=None,
                     help="comma-separated exact backends for the solver tests "
                          f"(default: every importable one of {', '.join(EXACT_BACKENDS)})")


def _importable(name: str) -> bool:
    from solvers.solve import backend_function

    try:
        backend_function(name)
    except ImportError:
        return False
    return True


def selected_backends(config: pytest.Config) -> list[str]:
    raw = config.getoption("--solvers")
    if raw:
        names = [n.strip() for n in raw.split(",") if n.strip()]
        from solvers.solve import SOLVERS

        unknown = [n for n in names if n not in SOLVERS]
        if unknown:
            raise pytest.UsageError(f"--solvers: unknown backend(s) {', '.join(unknown)}; "
                                    f"choose from {', '.join(SOLVERS)}")
        return names
    importlib.import_module("solvers.solve")
    return [n for n in EXACT_BACKENDS if _importable(n)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", selected_backends(metafunc.config))
    if "any_backend" in metafunc.fixturenames:
        names = selected_backends(metafunc.config)
        if not metafunc.config.getoption("--solvers"):
            names = [*names, "exhaustive"]
        metafunc.parametrize("any_backend", names)

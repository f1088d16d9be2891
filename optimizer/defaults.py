"""Defaults shared by the CLI and the notebook API, in one place so they cannot drift
(light: no imports, so `layerswap --help` stays fast)."""

from __future__ import annotations

COMPARE_SOLVERS: tuple[str, ...] = ("cpsat", "ilp", "sat")
"""Backends `layerswap compare` and `optimizer.api.compare` run by default."""

TIME_LIMIT_S = 10.0
"""Per-solve time limit (seconds) of `solve`, `compare` and the sweeps."""

MAX_TRANSITIONS = 2
"""Device transitions allowed within each model unless told otherwise."""

MAX_TRANSITIONS_SWEEP: tuple[int, ...] = (0, 1, 2, 3)
"""The max transitions values `plot pareto` / `api.sweep_max_transitions` solve for."""

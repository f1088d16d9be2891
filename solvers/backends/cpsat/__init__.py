"""CP-SAT backend: the exact model of docs/model.md as a slot-based scheduling model
(`model`: variables and the core constraint families; `contention`: the contention family;
`solve`: the search; `params`: measured settings)."""

from solvers.backends.cpsat.params import HORIZON_LIMIT
from solvers.backends.cpsat.solve import solve_cpsat, solve_interruptibly

__all__ = ["HORIZON_LIMIT", "solve_cpsat", "solve_interruptibly"]

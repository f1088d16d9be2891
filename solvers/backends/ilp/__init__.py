"""ILP backend (HiGHS): `model` holds the MIP and its constraint families, `contention` the
contention family (a subclass of the model), `solve` the search and its checks."""

from solvers.backends.ilp.solve import exact_value_ns, solve_ilp

__all__ = ["exact_value_ns", "solve_ilp"]

"""SAT backend (glucose + a timing theory): `model` holds the encoding, `contention` the
simulator-judged contention checks, `solve` the search."""

from solvers.backends.sat.solve import solve_sat

__all__ = ["solve_sat"]

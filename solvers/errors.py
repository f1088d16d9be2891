"""Errors of the scheduling layer."""

from __future__ import annotations

from profiles.errors import LayerswapError


class ProblemError(LayerswapError):
    """A `Problem` (or a schedule for it) is malformed: says what is wrong and how to fix it."""


class UnsupportedFeatureError(LayerswapError):
    """A backend cannot express a feature of this problem; it refuses instead of answering
    a different problem. The message names the feature and the backends that support it."""


class BackendClaimError(RuntimeError):
    """A backend claimed something the cross-check in `solvers.solve.judge` refutes: an
    ``optimal`` objective above a schedule already known, or below the cheap lower bound,
    or a lower bound above a known schedule. A bug (or numerical failure) in that backend,
    never a user error: the message starts with ``internal error: backend X claimed ...``
    and the result is never returned. ``solver``, ``claim`` and ``evidence`` carry the
    facts for a report."""

    def __init__(self, solver: str, claim: str, evidence: str) -> None:
        self.solver = solver
        self.claim = claim
        self.evidence = evidence
        super().__init__(f"internal error: backend {solver} claimed {claim} but {evidence}; "
                         "please report it with the input tables")

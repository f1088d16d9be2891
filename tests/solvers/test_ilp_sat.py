"""The ILP (HiGHS via OR-Tools MathOpt) and SAT (glucose4 + an exact timing theory)
backends: hand-checked optima, the oracle on random small problems, refusals,
infeasibility, determinism and time limits (cases in exact_backend_cases.py).

Both model latency contention exactly (solvers/backends/ilp/contention.py,
solvers/backends/sat/contention.py),
also checked against the oracle by the shared properties in test_backends_vs_oracle.py."""

from __future__ import annotations

import exact_backend_cases as cases
import pytest

BACKENDS = pytest.mark.parametrize("backend_name", ["ilp", "sat"])


@BACKENDS
def test_hand_checked_optima(backend_name: str) -> None:
    cases.hand_cases(backend_name)


@BACKENDS
@pytest.mark.parametrize("seed", range(12))
def test_matches_exhaustive_oracle(backend_name: str, seed: int) -> None:
    cases.check_against_oracle(backend_name, seed)


@BACKENDS
def test_contention_exact_in_latency_bounded_in_throughput(backend_name: str) -> None:
    cases.contention_cases(backend_name)


@BACKENDS
def test_infeasible_is_a_status(backend_name: str) -> None:
    cases.infeasible_cases(backend_name)


@BACKENDS
def test_same_problem_same_schedule(backend_name: str) -> None:
    cases.deterministic(backend_name)


@BACKENDS
def test_time_limit_gives_feasible_or_unknown(backend_name: str) -> None:
    cases.time_limited(backend_name)


def test_ilp_survives_a_highs_presolve_failure() -> None:
    # HiGHS's presolve answered kError [INTERNAL] on this model in ns units (found by the
    # oracle property test); the backend retries without presolve. In the scaled units of
    # solvers.backends.ilp.model.mip_units_per_ns presolve no longer fails here; the answer must
    # match the
    # oracle either way
    from profiles.synthetic import synthetic_table
    from solvers.model.problem import Problem
    from solvers.model.schedule import SolveStatus
    from solvers.solve import solve

    tables = [synthetic_table(2, 1, model="m0"), synthetic_table(3, 1, model="m1"),
              synthetic_table(3, 0, model="m2")]
    problem = Problem.create(tables, "xavier-agx", objective="throughput", max_transitions=0,
                             contention="none")
    result = solve(problem, "ilp", time_limit=30)
    assert result.status is SolveStatus.OPTIMAL
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    assert result.objective == pytest.approx(oracle.objective, rel=1e-9)

"""The SAT backend (SAT + exact timing theory): hand-checked optima, the oracle on random small
problems, refusals, infeasibility, determinism and time limits (cases in
exact_backend_cases.py, shared with the other exact backend)."""

from __future__ import annotations

import exact_backend_cases as cases
import pytest

BACKEND = "sat"


def test_hand_checked_optima() -> None:
    cases.hand_cases(BACKEND)


@pytest.mark.parametrize("seed", range(12))
def test_matches_exhaustive_oracle(seed: int) -> None:
    cases.check_against_oracle(BACKEND, seed)


def test_contention_refused_in_latency_and_bounded_in_throughput() -> None:
    cases.contention_cases(BACKEND)


def test_infeasible_is_a_status() -> None:
    cases.infeasible_cases(BACKEND)


def test_same_problem_same_schedule() -> None:
    cases.deterministic(BACKEND)


def test_time_limit_gives_feasible_or_unknown() -> None:
    cases.time_limited(BACKEND)

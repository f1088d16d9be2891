"""Property tests: every exact backend's optimum equals the exhaustive oracle's.

Random small problems (1-3 jobs, 2-5 groups, 1-3 devices, 0-2 switches, both objectives,
with and without contention, some DLA-ineligible groups, occasional pins, deadlines and
loadable limits). For each: the backend's status is optimal (no backend refuses latency
contention), its objective equals the oracle's to 1e-6 relative, and its own objective
equals the simulator's judgement of its schedule.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from profiles.synthetic import synthetic_table
from solvers.backends.ilp.solve import UNTRUSTED_CONTENTION_JOBS
from solvers.errors import ProblemError
from solvers.judges.oracle import count_space
from solvers.model.problem import Device, Objective, Pin, Problem
from solvers.model.schedule import SolveStatus
from solvers.solve import solve

CONTENTION_ATOL_MS = 2e-5
"""With contention, backends round k * overlap to ns: allow a few ns (model.md section 6)."""


@st.composite
def small_problems(draw: st.DrawFn, latency_contention: bool = False) -> Problem:
    n_jobs = draw(st.integers(2, 3) if latency_contention else st.integers(1, 3))
    platform = draw(st.sampled_from(["xavier-agx"] if latency_contention else
                                    ["gpu-only", "xavier-agx", "xavier-agx"]))
    objective = draw(st.sampled_from(["latency"] if latency_contention else
                                     ["latency", "throughput"]))
    contention = draw(st.sampled_from(["auto"] if latency_contention else ["none", "auto"]))
    max_tr = draw(st.integers(0, 2))
    tables = []
    for j in range(n_jobs):
        groups = draw(st.integers(2, 5 if n_jobs < 3 else 3))
        seed = draw(st.integers(0, 10_000))
        frac = draw(st.sampled_from([0.0, 0.0, 0.3]))
        tables.append(synthetic_table(groups, seed, model=f"m{j}", ineligible_fraction=frac))
    pins: list[Pin] = []
    if platform != "gpu-only" and draw(st.integers(0, 4)) == 0:
        t = tables[0]
        g = draw(st.integers(0, t.n_groups - 1))
        pins.append(Pin.forbid("m0", g, g, [draw(st.sampled_from(list(Device)))]))
    loadable = draw(st.sampled_from([None, None, None, 1, 2]))
    deadlines = None
    if objective == "latency" and draw(st.integers(0, 4)) == 0:
        gpu_total = sum(tables[0].gpu_ms)
        deadlines = {"m0": round(gpu_total * draw(st.sampled_from([0.7, 1.0, 1.5])), 4)}
    frames = 1
    if objective == "throughput" and n_jobs == 1:
        frames = draw(st.integers(1, 2))
    try:
        return Problem.create(tables, platform, objective=objective, max_transitions=max_tr,
                              contention=contention, pins=pins, loadable_limit=loadable,
                              deadlines=deadlines, frames_per_round=frames)
    except ProblemError:
        reject()  # e.g. a pin forbidding the GPU on a DLA-ineligible group: no such problem


def _oracle(problem: Problem):  # -> Result
    return solve(problem, "exhaustive", time_limit=None, hint=None)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=small_problems())
def test_backend_optimum_equals_oracle(backend: str, problem: Problem) -> None:
    check_against_oracle(backend, problem)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=small_problems(latency_contention=True))
def test_latency_contention_optimum_equals_oracle(backend: str, problem: Problem) -> None:
    """Exact contention (overlap-linear slowdown, semi-active starts) against the oracle."""
    check_against_oracle(backend, problem)


def check_against_oracle(backend: str, problem: Problem) -> None:
    approx_contention = (problem.objective is Objective.THROUGHPUT
                         and problem.contention.enabled and len(problem.devices) > 1)
    # keep the oracle cheap (hypothesis draws plenty of smaller ones); throughput with
    # contention simulates up to thousands of rounds per order, so only tiny spaces there
    if count_space(problem) > (30 if approx_contention else 20_000):
        event("skipped: oracle space too large")
        return
    event(f"compared: {problem.objective.value}, contention "
          f"{'on' if problem.contention.enabled else 'off'}")
    oracle = _oracle(problem)
    # generous: this checks correctness, not speed (a loaded CI box must not flake); every
    # backend models the whole problem (latency contention exactly), none may refuse
    result = solve(problem, backend, time_limit=120)
    if oracle.status is SolveStatus.INFEASIBLE:
        assert result.status is SolveStatus.INFEASIBLE, result
        assert result.message
        return
    # throughput with drifting phases: periods are estimates within a stated error (model.md
    # 4.1), and the oracle is optimal only where that error separates its answer
    drift = oracle.stats.get("max_period_error_ms", 0.0)
    assert oracle.status is SolveStatus.OPTIMAL or (approx_contention and drift > 0)
    assert result.schedule is not None
    atol = CONTENTION_ATOL_MS if problem.contention.enabled else 0.0
    if approx_contention:
        atol += drift + result.timeline.period_error_ms
        # model.md section 4: contention-free model + simulator-guided local search; optimal
        # only where the schedule meets the (contention-free) lower bound
        assert result.status is SolveStatus.FEASIBLE or (
            result.status is SolveStatus.OPTIMAL
            and result.objective <= result.lower_bound * (1 + 1e-9))
        assert result.objective >= oracle.objective * (1 - 1e-6) - atol
        assert result.lower_bound <= oracle.objective * (1 + 1e-6) + atol
        return
    if (backend == "ilp" and problem.contention.enabled and len(problem.devices) > 1
            and len(problem.jobs) >= UNTRUSTED_CONTENTION_JOBS):
        # HiGHS's OPTIMAL stands there only if CP-SAT proves the same value, and a refuted
        # one is replaced by CP-SAT's schedule (solvers/backends/ilp/): the oracle's value either
        # way, unless CP-SAT ran out of time (then a valid schedule and bound)
        distrusted = str(result.stats.get("distrusted", ""))
        if result.status is SolveStatus.OPTIMAL or "refuted" in distrusted:
            assert math.isclose(result.objective, oracle.objective, rel_tol=1e-6,
                                abs_tol=atol), (result.objective, oracle.objective)
        assert result.objective >= oracle.objective * (1 - 1e-6) - atol
        assert result.lower_bound <= oracle.objective * (1 + 1e-6) + atol
        return
    assert result.status is SolveStatus.OPTIMAL, result.message
    assert math.isclose(result.objective, oracle.objective, rel_tol=1e-6, abs_tol=atol), (
        result.objective, oracle.objective, result.schedule, oracle.schedule)
    assert result.stats.get("objective_mismatch") is False, result.stats
    assert result.lower_bound <= result.objective * (1 + 1e-9)

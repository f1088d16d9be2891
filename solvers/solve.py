"""`solve`: one entry point for every backend, judged by the simulator.

The backend (looked up lazily by module path: no import-time registry) returns a
`BackendAnswer`; `solve` then validates the schedule, re-times it with the simulator
(`solvers.simulator.simulate`), and reports the simulator's objective, never the
backend's own claim. The lower bound is the larger of the backend's proven bound and a
cheap bound (`solvers.bounds.lower_bound`), capped at the objective. The
backend's objective is compared with the simulator's; the difference goes to ``stats``
(``objective_mismatch`` is set when it exceeds 1e-6 relative plus a few ns, which on an
``optimal`` claim is a bug that the tests make loud).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from solvers.backend import Backend, BackendAnswer, SolveOptions
from solvers.baselines import greedy
from solvers.bounds import lower_bound
from solvers.errors import ProblemError
from solvers.problem import Objective, Problem
from solvers.schedule import Result, Schedule, SolveStatus, Timeline
from solvers.simulator import simulate

SOLVERS: tuple[str, ...] = ("cpsat", "ilp", "sat", "exhaustive")
"""Backend names accepted by `solve` (the default first)."""

_BACKENDS: dict[str, tuple[str, str]] = {
    "cpsat": ("solvers.cpsat", "solve_cpsat"),
    "ilp": ("solvers.ilp", "solve_ilp"),
    "sat": ("solvers.sat", "solve_sat"),
    "exhaustive": ("solvers.oracle", "solve_exhaustive"),
}

LOCAL_SEARCH_SHARE = 0.25
"""With contention: share of the time limit left to the simulator-guided local search
(`solvers.local_search`) after the backend's answer (see `needs_local_search`)."""
OBJECTIVE_RTOL = 1e-6
"""Backend objective vs simulator: relative tolerance (docs/model.md section 6)."""
OBJECTIVE_ATOL_NS_PER_SEGMENT = 4
"""Plus a few ns per segment for integer rounding of contention products."""


def backend_function(name: str) -> Backend:
    """Import and return the backend function ``name`` (ProblemError if unknown)."""
    if name not in _BACKENDS:
        raise ProblemError(f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}")
    module, attr = _BACKENDS[name]
    return getattr(importlib.import_module(module), attr)


def available_solvers() -> tuple[str, ...]:
    """The backends whose modules import in this environment."""
    out = []
    for name in SOLVERS:
        try:
            backend_function(name)
        except ImportError:
            continue
        out.append(name)
    return tuple(out)


def solve(
    problem: Problem,
    solver: str = "cpsat",
    *,
    time_limit: float | None = 10.0,
    workers: int = 2,
    seed: int = 0,
    hint: str | Schedule | None = "greedy",
    log: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Solve ``problem`` with backend ``solver`` and judge the answer with the simulator."""
    backend = backend_function(solver)
    if time_limit is not None and not time_limit > 0:
        raise ProblemError(f"time_limit must be > 0 seconds (or None), got {time_limit}")
    if workers < 1:
        raise ProblemError(f"workers must be >= 1, got {workers}")
    t0 = time.perf_counter()
    # the oracle enumerates everything: a hint would only cost the greedy run
    hint_schedule, hint_note = _hint(problem, None if solver == "exhaustive" else hint)
    polish = needs_local_search(problem) and solver != "exhaustive"
    backend_limit = time_limit
    if polish and time_limit is not None:
        backend_limit = time_limit * (1 - LOCAL_SEARCH_SHARE)
    options = SolveOptions(time_limit=backend_limit, workers=workers, seed=seed,
                           hint=hint_schedule, log=log, progress=progress)
    answer = backend(problem, options)
    if polish:
        deadline = None if time_limit is None else t0 + time_limit
        answer = _local_search(problem, answer, hint_schedule, deadline, progress, seed)
    seconds = time.perf_counter() - t0
    return judge(problem, solver, answer, seconds, hint_note=hint_note)


def needs_local_search(problem: Problem) -> bool:
    """Contention on more than one device. Throughput: the backends optimise it
    contention-free (model.md section 4), so `solve` improves their schedule with the
    simulator as the judge. Latency: CP-SAT's model is exact, but where it stops at the
    time limit with a gap the local search often finds better (measured on 3 x 30: 14.19
    -> 13.53 ms in 6 s); an answer proven optimal is kept as it is."""
    return problem.contention.enabled and len(problem.devices) > 1


def _local_search(problem: Problem, answer: BackendAnswer, hint: Schedule | None,
                  deadline: float | None, progress: Callable[[str], None] | None,
                  seed: int = 0) -> BackendAnswer:
    from solvers.local_search import improve

    candidates = [s for s in (answer.schedule, hint) if s is not None]
    if not candidates or answer.status in (SolveStatus.INFEASIBLE, SolveStatus.OPTIMAL):
        return answer
    if progress:
        progress("local search: improving the placement under contention (simulator-judged)")
    found = improve(problem, candidates, deadline=deadline, seed=seed, progress=progress)
    if found is None:
        return answer
    stats = dict(answer.stats)
    stats["local_search"] = {"start_ms": found.start_objective_ms,
                             "result_ms": found.objective_ms,
                             "evaluations": found.evaluations, "moves": found.moves,
                             "kicks": found.kicks, "stopped": found.stopped}
    if found.schedule is answer.schedule:
        # nothing better than the backend's own schedule: keep its answer (and its
        # objective, which judge() still checks against the simulator)
        return replace(answer, stats=stats)
    message = "; ".join(m for m in (answer.message, "then a simulator-guided local search "
                                    "(solvers.local_search)") if m)
    # no proof: the backend's answer was feasible, or unknown (nothing found in its share)
    return BackendAnswer(SolveStatus.FEASIBLE, found.schedule, None, answer.bound_ms, stats,
                         message)


def judge(problem: Problem, solver: str, answer: BackendAnswer, seconds: float, *,
          hint_note: str = "") -> Result:
    """Turn a backend's answer into a `Result` whose numbers come from the simulator."""
    stats: dict[str, Any] = dict(answer.stats)
    if hint_note:
        stats["hint"] = hint_note
    cheap = cheap_lower_bound(problem)
    stats["cheap_lower_bound_ms"] = cheap
    if answer.schedule is None:
        status = answer.status
        if status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            raise RuntimeError(f"backend {solver} claimed {status} without a schedule")
        return Result(status, solver, None, None, None,
                      None if status is SolveStatus.INFEASIBLE else
                      _max_opt(answer.bound_ms, cheap),
                      seconds, stats, answer.message)
    schedule = answer.schedule
    schedule.validate(problem)
    timeline: Timeline = simulate(problem, schedule)
    objective = timeline.objective_ms
    status = answer.status
    message = answer.message
    if timeline.violations:
        # the simulator says this schedule misses a deadline: never report it as a solution
        stats["violations"] = list(timeline.violations)
        raise RuntimeError(f"backend {solver} returned a schedule that violates "
                           f"{'; '.join(timeline.violations)}")
    if answer.objective_ms is not None:
        diff = answer.objective_ms - objective
        n_segments = sum(len(s) for s in schedule.segments)
        atol = OBJECTIVE_ATOL_NS_PER_SEGMENT * n_segments * 1e-6
        if problem.objective is Objective.THROUGHPUT:
            atol /= problem.frames_per_round
        # a backend that knows its own rounding bound declares it
        atol = max(atol, float(stats.get("objective_tolerance_ms", 0.0)))
        stats["backend_objective_ms"] = answer.objective_ms
        stats["objective_difference_ms"] = diff
        stats["objective_mismatch"] = abs(diff) > OBJECTIVE_RTOL * abs(objective) + atol
    bound = _max_opt(answer.bound_ms, cheap)
    if bound is not None:
        if status is SolveStatus.FEASIBLE and objective <= bound * (1 + 1e-9):
            status = SolveStatus.OPTIMAL  # the schedule meets a proven lower bound
        bound = min(bound, objective)
    return Result(status, solver, schedule, timeline, objective, bound, seconds, stats,
                  message)


def cheap_lower_bound(problem: Problem) -> float:
    """The load/chain bound of `solvers.bounds.lower_bound` (ms)."""
    return float(lower_bound(problem))


def _max_opt(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None


def _hint(problem: Problem, hint: str | Schedule | None) -> tuple[Schedule | None, str]:
    if hint is None:
        return None, ""
    if isinstance(hint, Schedule):
        hint.validate(problem)
        return hint, "given schedule"
    if hint != "greedy":
        raise ProblemError(f"hint must be 'greedy', a Schedule or None, not {hint!r}")
    result = greedy(problem)
    if result.schedule is None:
        return None, f"greedy baseline found no schedule ({result.message})"
    return result.schedule, f"greedy baseline ({result.objective} ms)"

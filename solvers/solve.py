"""`solve`: one entry point for every backend, judged by the simulator.

The backend (looked up lazily by module path: no import-time registry) returns a
`BackendAnswer`; `solve` then validates the schedule, re-times it with the simulator
(`solvers.judges.simulator.simulate`), and reports the simulator's objective, never the
backend's own claim. The lower bound is the larger of the backend's proven bound and a
cheap bound (`solvers.bounds.lower.lower_bound`), capped at the objective. The
backend's objective is compared with the simulator's; the difference goes to ``stats``
(``objective_mismatch`` is set when it exceeds 1e-6 relative plus a few ns, which on an
``optimal`` claim is a bug that the tests make loud).

Cross-check (issue 11): an ``optimal`` claim whose (simulated) objective exceeds a schedule
already known (the hint, the all-GPU baseline), or lies below the cheap lower bound, and a
backend bound above a known schedule, raise `BackendClaimError` ("internal error: backend
X claimed optimal ... but ..."), never a result. The tolerance follows the declared
rounding: 1e-6 relative plus ``stats["objective_tolerance_ms"]`` and a few ns per segment.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from solvers.backends.base import MAX_WORKERS, Backend, BackendAnswer, SolveOptions
from solvers.bounds.lower import lower_bound
from solvers.errors import BackendClaimError, ProblemError
from solvers.heuristics.baselines import gpu_only, greedy
from solvers.judges.simulator import simulate
from solvers.model.problem import Objective, Problem
from solvers.model.schedule import Result, Schedule, SolveStatus, Timeline

SOLVERS: tuple[str, ...] = ("cpsat", "ilp", "sat", "exhaustive")
"""Backend names accepted by `solve` (the default first)."""

_BACKENDS: dict[str, tuple[str, str]] = {
    "cpsat": ("solvers.backends.cpsat.solve", "solve_cpsat"),
    "ilp": ("solvers.backends.ilp.solve", "solve_ilp"),
    "sat": ("solvers.backends.sat.solve", "solve_sat"),
    "exhaustive": ("solvers.judges.oracle", "solve_exhaustive"),
}

LOCAL_SEARCH_SHARE = 0.25
"""With contention: share of the time limit left to the simulator-guided local search
(`solvers.heuristics.local_search`) after the backend's answer (see `needs_local_search`)."""
PAIR_BOUND_SHARE = 0.55
"""Throughput with contention and two jobs: share of the time limit kept after the backend
for the segmentation-pair bound (`solvers.bounds.pair`; 2 x 30 groups: 6.9-9.2 s on the
2-core benchmark box at load 3-5), which runs before the local search and seeds it; the
backend, whose contention-free optimum bounds far lower (7.41 vs 9.00 ms there), keeps
what is left (20 % of the limit)."""
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
    time_limit: float | str | None = 10.0,
    workers: int = 2,
    seed: int = 0,
    hint: str | Schedule | None = "greedy",
    log: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Result:
    """Solve ``problem`` with backend ``solver`` and judge the answer with the simulator.

    ``time_limit`` (seconds, ``"auto"`` for `suggested_time_limit`, or None) is one
    deadline for every phase: the greedy hint, the backend (model build, search, its
    canonical phase or retries) and the local search each get what is left of it; only the
    final simulation of the answer comes after it. ``stats["phases_s"]`` records where the
    time went, and a run stopped by the limit without a proof says in ``stats["advice"]``
    that more time may pay."""
    backend = backend_function(solver)
    if time_limit == AUTO:
        time_limit = suggested_time_limit(problem)
    if isinstance(time_limit, str) or (time_limit is not None and not time_limit > 0):
        raise ProblemError(f"time limit must be > 0 seconds, 'auto' or None, got {time_limit}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ProblemError(f"workers must be in 1..{MAX_WORKERS}, got {workers}")
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    # the oracle enumerates everything: a hint would only cost the greedy run
    hint_deadline = None if time_limit is None else t0 + HINT_SHARE * time_limit
    hint_schedule, hint_note, known = _hint(problem, None if solver == "exhaustive" else hint,
                                            hint_deadline)
    t_hint = time.perf_counter()
    polish = needs_local_search(problem) and solver != "exhaustive"
    pair = polish and pair_bound_applies(problem)
    backend_limit = None
    if deadline is not None:
        left = deadline - t_hint
        if polish:
            left -= time_limit * (LOCAL_SEARCH_SHARE + (PAIR_BOUND_SHARE if pair else 0.0))
        backend_limit = max(MIN_BACKEND_SECONDS, left)
    options = SolveOptions(time_limit=backend_limit, workers=workers, seed=seed,
                           hint=hint_schedule, log=log, progress=progress)
    answer = backend(problem, options)
    t_backend = time.perf_counter()
    seeds: tuple = ()
    if pair:
        bound_deadline = None
        if deadline is not None and time_limit is not None:
            bound_deadline = deadline - LOCAL_SEARCH_SHARE * time_limit
        answer, seeds = _pair_bound(problem, answer, known, bound_deadline, progress)
    t_bound = time.perf_counter()
    if polish:
        answer = _local_search(problem, answer, hint_schedule, deadline, progress, seed, seeds)
    t_end = time.perf_counter()
    seconds = t_end - t0
    phases = {"hint_s": round(t_hint - t0, 4), "backend_s": round(t_backend - t_hint, 4)}
    if pair:
        phases["pair_bound_s"] = round(t_bound - t_backend, 4)
    phases["local_search_s"] = round(t_end - t_bound, 4)
    answer = replace(answer, stats={**answer.stats, "phases_s": phases,
                                    "time_limit_s": time_limit})
    result = judge(problem, solver, answer, seconds, hint_note=hint_note,
                   known=known + _cheap_known(problem))
    return _advise(problem, result, time_limit)


HINT_SHARE = 0.25
"""The greedy hint starts no new pass after this share of the time limit."""
AUTO = "auto"
"""``time_limit=AUTO`` picks `suggested_time_limit` from the problem's size."""
MIN_BACKEND_SECONDS = 0.05
"""A backend always gets at least this long (it returns the hint if it finds nothing)."""
SECONDS_PER_GROUP = 0.025
"""`suggested_time_limit`: measured, CP-SAT proves 2 x 600 groups optimal in ~40 s on the
2-core benchmark box (benchmarks/results/solvers.md) and the default 10 s left a 28 % gap."""


def suggested_time_limit(problem: Problem) -> float:
    """A time limit that suits the problem's size: 10 s, plus `SECONDS_PER_GROUP` per group
    of every job (2 x 600 groups: 40 s)."""
    groups = sum(problem.n_groups(j.index) for j in problem.jobs)
    return round(10.0 + SECONDS_PER_GROUP * groups, 1)


def _advise(problem: Problem, result: Result, time_limit: float | None) -> Result:
    """Say in ``stats`` whether more time may pay (``more_time_may_help`` and a one-line
    ``advice``): a time limit was set and the answer is not proven optimal although the
    backend's own search did not finish (CP-SAT or HiGHS did not report OPTIMAL for their
    model, or a SAT/oracle search was cut) and its numbers were not distrusted."""
    stats = dict(result.stats)
    unproven = result.status in (SolveStatus.FEASIBLE, SolveStatus.UNKNOWN)
    finished = (stats.get("cpsat_status") == "OPTIMAL" or stats.get("termination") == "OPTIMAL"
                or "distrusted" in stats)
    more = bool(unproven and not finished and time_limit is not None)
    stats["more_time_may_help"] = more
    if more:
        assert time_limit is not None
        suggest = max(2 * time_limit, suggested_time_limit(problem))
        gap = "" if result.gap is None else f" with a {100 * result.gap:.1f} % gap"
        stats["advice"] = (f"stopped at the {time_limit:g} s time limit{gap}: a longer limit "
                           f"(e.g. {suggest:g} s) may find a better schedule or prove it optimal")
    return replace(result, stats=stats)


def needs_local_search(problem: Problem) -> bool:
    """Contention on more than one device. Throughput: the backends optimise it
    contention-free (model.md section 4), so `solve` improves their schedule with the
    simulator as the judge. Latency: CP-SAT's model is exact, but where it stops at the
    time limit with a gap the local search often finds better (measured on 3 x 30: 14.19
    -> 13.53 ms in 6 s); an answer proven optimal is kept as it is."""
    return problem.contention.enabled and len(problem.devices) > 1


def _local_search(problem: Problem, answer: BackendAnswer, hint: Schedule | None,
                  deadline: float | None, progress: Callable[[str], None] | None,
                  seed: int = 0, seeds: Sequence = ()) -> BackendAnswer:
    from solvers.heuristics.local_search import improve

    candidates = [s for s in (answer.schedule, hint) if s is not None]
    if not candidates or answer.status in (SolveStatus.INFEASIBLE, SolveStatus.OPTIMAL):
        return answer
    if progress:
        progress("local search: improving the placement under contention (simulator-judged)")
    found = improve(problem, candidates, deadline=deadline, seed=seed, progress=progress,
                    seeds=seeds)
    if found is None:
        return answer
    stats = dict(answer.stats)
    stats["local_search"] = {"start_ms": found.start_objective_ms,
                             "result_ms": found.objective_ms,
                             "evaluations": found.evaluations, "moves": found.moves,
                             "kicks": found.kicks, "stopped": found.stopped,
                             "bound_evaluations": found.bound_evaluations,
                             "pruned": found.pruned}
    if found.schedule is answer.schedule:
        # nothing better than the backend's own schedule: keep its answer (and its
        # objective, which judge() still checks against the simulator)
        return replace(answer, stats=stats)
    message = "; ".join(m for m in (answer.message, "then a simulator-guided local search "
                                    "(solvers.heuristics.local_search)") if m)
    # no proof: the backend's answer was feasible, or unknown (nothing found in its share)
    return BackendAnswer(SolveStatus.FEASIBLE, found.schedule, None, answer.bound_ms, stats,
                         message)


def pair_bound_applies(problem: Problem) -> bool:
    """`solvers.bounds.pair` bounds this problem (throughput, contention, two jobs)."""
    from solvers.bounds.pair import applies

    return applies(problem)


def _pair_bound(problem: Problem, answer: BackendAnswer, known: Sequence[tuple[str, float]],
                deadline: float | None, progress: Callable[[str], None] | None
                ) -> tuple[BackendAnswer, tuple]:
    """Raise the answer's bound by `solvers.bounds.pair` at the best period known; also its
    candidate segmentation pairs (seeds of the local search)."""
    from solvers.bounds.pair import pair_bound
    from solvers.heuristics.baselines import simulated_value

    values = [v for _, v in known]
    if answer.schedule is not None:
        values.append(simulated_value(problem, answer.schedule))
    target = min(values, default=math.inf)
    if not math.isfinite(target):
        return answer, ()
    if progress:
        progress("lower bound: every segmentation pair charged its own loss rates "
                 "(solvers.bounds.pair)")
    found = pair_bound(problem, target, deadline)
    stats = dict(answer.stats)
    if found is None:
        return answer, ()
    stats["pair_bound"] = {"bound_ms": found.bound_ms, "target_ms": found.target_ms,
                           "pairs": found.pairs, "below_target": found.below_target,
                           "refined": found.refined, "seconds": round(found.seconds, 3),
                           "complete": found.complete,
                           "finished": found.bound_ms is not None}
    if found.bound_ms is None:
        # cut by the deadline: no bound, but the pairs tested so far still seed the search
        return replace(answer, stats=stats), found.candidates
    bound = found.bound_ms if answer.bound_ms is None else max(answer.bound_ms,
                                                               found.bound_ms)
    return replace(answer, bound_ms=bound, stats=stats), found.candidates


def judge(problem: Problem, solver: str, answer: BackendAnswer, seconds: float, *,
          hint_note: str = "", known: Sequence[tuple[str, float]] = ()) -> Result:
    """Turn a backend's answer into a `Result` whose numbers come from the simulator.
    ``known``: (name, simulated objective ms) of schedules already known, for the
    cross-check of optimality claims (`BackendClaimError`)."""
    stats: dict[str, Any] = dict(answer.stats)
    if hint_note:
        stats["hint"] = hint_note
    cheap = cheap_lower_bound(problem)
    stats["cheap_lower_bound_ms"] = cheap
    if known:
        stats["known_schedules_ms"] = dict(known)
    if answer.schedule is None:
        _cross_check(solver, answer, None, cheap, known, float(stats.get(
            "objective_tolerance_ms", 0.0)))
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
    # throughput whose phases drift: the period is an estimate within this (model.md 4.1)
    error = timeline.period_error_ms or 0.0
    if error:
        stats["period_error_ms"] = error
    # secondary objective (model.md 5): CP-SAT's canonical phase and the oracle prove it
    stats.setdefault("tie_break", "best_effort")
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
        atol = max(atol, float(stats.get("objective_tolerance_ms", 0.0))) + error
        stats["backend_objective_ms"] = answer.objective_ms
        stats["objective_difference_ms"] = diff
        stats["objective_mismatch"] = abs(diff) > OBJECTIVE_RTOL * abs(objective) + atol
    _cross_check(solver, answer, objective, cheap, known,
                 atol if answer.objective_ms is not None else float(stats.get(
                     "objective_tolerance_ms", 0.0)) + error)
    bound = _max_opt(answer.bound_ms, cheap)
    if bound is not None:
        if status is SolveStatus.FEASIBLE and objective + error <= bound * (1 + 1e-9):
            status = SolveStatus.OPTIMAL  # the schedule meets a proven lower bound
        bound = min(bound, objective)
    return Result(status, solver, schedule, timeline, objective, bound, seconds, stats,
                  message)


def _cross_check(solver: str, answer: BackendAnswer, objective: float | None, cheap: float,
                 known: Sequence[tuple[str, float]], atol: float) -> None:
    """Refute impossible claims (see the module docstring): raise `BackendClaimError`."""
    def tol(value: float) -> float:
        return OBJECTIVE_RTOL * abs(value) + atol + 1e-9

    if answer.status is SolveStatus.OPTIMAL and objective is not None:
        for name, value in known:
            if objective > value + tol(value):
                raise BackendClaimError(solver, f"optimal {objective:.6f} ms",
                                        f"the {name} schedule achieves {value:.6f} ms")
        if objective < cheap - tol(cheap):
            raise BackendClaimError(solver, f"optimal {objective:.6f} ms",
                                    f"the cheap lower bound is {cheap:.6f} ms")
    if answer.status is SolveStatus.INFEASIBLE and known:
        name, value = known[0]
        raise BackendClaimError(solver, "infeasible",
                                f"the {name} schedule is feasible ({value:.6f} ms)")
    if answer.bound_ms is not None:
        for name, value in known:
            if answer.bound_ms > value + tol(value):
                raise BackendClaimError(solver, f"a lower bound of {answer.bound_ms:.6f} ms",
                                        f"the {name} schedule achieves {value:.6f} ms")


def _cheap_known(problem: Problem) -> list[tuple[str, float]]:
    """Schedules known at almost no cost: the all-GPU baseline, when it is feasible."""
    result = gpu_only(problem)
    if result.objective is None or result.status not in (SolveStatus.OPTIMAL,
                                                         SolveStatus.FEASIBLE):
        return []
    return [("all-GPU baseline", result.objective)]


def cheap_lower_bound(problem: Problem) -> float:
    """The load/chain bound of `solvers.bounds.lower.lower_bound` (ms)."""
    return float(lower_bound(problem))


def _max_opt(a: float | None, b: float | None) -> float | None:
    values = [v for v in (a, b) if v is not None]
    return max(values) if values else None


def _hint(problem: Problem, hint: str | Schedule | None, deadline: float | None = None
          ) -> tuple[Schedule | None, str, list[tuple[str, float]]]:
    """The starting schedule, a note for ``stats``, and its (name, simulated ms) for the
    cross-check (empty when it misses a deadline: then it bounds nothing)."""
    if hint is None:
        return None, "", []
    if isinstance(hint, Schedule):
        hint.validate(problem)
        timeline = simulate(problem, hint, streaming=False)
        # the most its true value can be (an estimated period: plus its error bound)
        known = [] if timeline.violations else [
            ("given hint", timeline.objective_ms + (timeline.period_error_ms or 0.0))]
        return hint, "given schedule", known
    if hint != "greedy":
        raise ProblemError(f"hint must be 'greedy', a Schedule or None, not {hint!r}")
    result = greedy(problem, deadline=deadline)
    if result.schedule is None:
        return None, f"greedy baseline found no schedule ({result.message})", []
    known = []
    if result.objective is not None and result.status in (SolveStatus.OPTIMAL,
                                                          SolveStatus.FEASIBLE):
        error = (result.timeline.period_error_ms or 0.0) if result.timeline else 0.0
        known = [("greedy baseline", result.objective + error)]
    return result.schedule, f"greedy baseline ({result.objective} ms)", known

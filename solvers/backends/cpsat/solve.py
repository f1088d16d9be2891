"""CP-SAT backend, the search: solver set-up, interrupts, progress and the canonical
re-solve that makes optimal answers deterministic and applies the secondary objective
(fewest transitions, then loadables; see `solvers.backends.cpsat.model`)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from ortools.sat.python import cp_model

from solvers.backends.base import (
    NS_PER_MS,
    BackendAnswer,
    SolveOptions,
    contention_free,
    contention_ignored,
)
from solvers.backends.cpsat.model import (
    CpSatModel,
)
from solvers.backends.cpsat.params import (
    FEW_JOBS_WORKERS,
    GROUP_VIEW_MIN_JOBS,
    LINEARIZATION,
    LINEARIZATION_MANY_JOBS,
    LINEARIZATION_THROUGHPUT,
    MANY_JOBS_WORKERS,
    PROBING_WITH_SPAN_TABLES,
    SPAN_LIMIT,
)
from solvers.bounds.diagnose import diagnose_infeasible
from solvers.judges.simulator import simulate
from solvers.model.problem import Problem
from solvers.model.schedule import Schedule, SegmentRef, SolveStatus


class _Progress(cp_model.CpSolverSolutionCallback):
    """Forwards every improving solution to ``options.progress``."""

    def __init__(self, report: Any, scale: float) -> None:
        super().__init__()
        self.report = report
        self.scale = scale
        self.t0 = time.perf_counter()

    def on_solution_callback(self) -> None:
        self.report(f"cpsat: objective {self.objective_value * self.scale:.6f} ms, "
                    f"bound {self.best_objective_bound * self.scale:.6f} ms, "
                    f"{time.perf_counter() - self.t0:.2f} s")


def solve_cpsat(problem: Problem, options: SolveOptions) -> BackendAnswer:
    """Solve ``problem`` exactly with CP-SAT (see the module docstring)."""
    t0 = time.perf_counter()
    model = CpSatModel(problem, options)
    model.build()
    if options.hint is not None and not (options.workers <= 1 and model.throughput):
        # one worker follows a throughput hint and stalls there (SINGLE_WORKER docstring);
        # the hint still comes back below when the search finds nothing
        model.add_hint(options.hint)
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.random_seed = options.seed
    params.num_workers = max(1, options.workers)
    deadline = None if options.time_limit is None else t0 + options.time_limit
    if deadline is not None:
        # the model build counts against the limit (on 2 x 600 groups it takes seconds)
        params.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
    params.log_search_progress = bool(options.log)
    params.linearization_level = LINEARIZATION_THROUGHPUT if model.throughput else LINEARIZATION
    if (len(model.jobs) >= GROUP_VIEW_MIN_JOBS and not model.throughput
            and not model.contention):
        params.linearization_level = LINEARIZATION_MANY_JOBS
    many_latency = (len(model.jobs) >= GROUP_VIEW_MIN_JOBS and not model.throughput
                    and not model.contention)
    if many_latency and params.num_workers == 2:
        # two full workers: the LP tree search raises the bound, the LP-free search refutes
        # orders by propagation alone (measured: 3 x 30 proven optimal in 3.3 s, vs a 2-4 %
        # gap at 40 s with lb_tree_search + interleaved LNS only)
        params.subsolvers.extend(MANY_JOBS_WORKERS)
        params.num_full_subsolvers = len(MANY_JOBS_WORKERS)
    elif params.num_workers == 2 and (
            (model.contention and len(model.jobs) >= GROUP_VIEW_MIN_JOBS)
            or (not model.contention and len(model.jobs) < GROUP_VIEW_MIN_JOBS)):
        # two LP-based full searches instead of CP-SAT's 2-worker portfolio (measured in
        # FEW_JOBS_WORKERS' docstring)
        params.subsolvers.extend(FEW_JOBS_WORKERS)
        params.num_full_subsolvers = len(FEW_JOBS_WORKERS)
    elif many_latency and params.num_workers == 1:
        # one thread: interleave the same two full searches (SINGLE_WORKER docstring)
        params.interleave_search = True
        params.subsolvers.extend(MANY_JOBS_WORKERS)
        params.num_full_subsolvers = len(MANY_JOBS_WORKERS)
    elif len(model.jobs) >= GROUP_VIEW_MIN_JOBS and params.num_workers > 1:
        # measured on 4 x 30: the LB-tree-search worker lifts the proven bound from 13.33
        # to 13.85 ms (incumbent 13.99) in 60 s; on 2 jobs the default portfolio is faster
        params.extra_subsolvers.append("lb_tree_search")
    if model.span_tables:
        params.cp_model_probing_level = PROBING_WITH_SPAN_TABLES
    if model.contention:
        # the model is exact only up to the rounding slack of each duration: stop once the
        # gap is inside it instead of chasing picoseconds (docs/model.md section 6)
        params.absolute_gap_limit = float(model.weight_scale * model.rounding_bound_units)
    if model.throughput:
        to_ms_factor = 1.0 / (model.units_per_ms * problem.frames_per_round)
    else:
        to_ms_factor = 1.0 / (model.units_per_ms * model.weight_scale)
    callback = _Progress(options.progress, to_ms_factor) if options.progress else None
    build_s = time.perf_counter() - t0
    code = solve_interruptibly(solver, model.m, callback)
    stats: dict[str, Any] = {
        "build_seconds": round(build_s, 4),
        "cpsat_wall_seconds": round(solver.wall_time, 4),
        "branches": solver.num_branches,
        "conflicts": solver.num_conflicts,
        "cpsat_status": solver.status_name(code),
        "horizon_units": model.horizon,
        "time_unit_ns": NS_PER_MS / model.units_per_ms,
        "slots_per_job": model.n_slots,
        "notes": list(model.notes),
    }
    relaxed = model.relaxed_contention
    if relaxed:
        stats["notes"].append(
            f"segment-level contention loss only bounded in middle slots with more than "
            f"{SPAN_LIMIT} group spans: a relaxation (valid bound, not proven optimal)")
    if model.contention:
        stats["time_unit_ps"] = 1_000_000_000 // model.units_per_ms
        stats["objective_tolerance_ms"] = model.rounding_bound_units / model.units_per_ms
    rounding_ms = 0.0
    if model.rounding_units:
        # coarse units that do not hold the times exactly: the model's optimum may sit this
        # far from the true one, so it proves no optimality (and its bound is lowered)
        weight = 1.0 if model.throughput else max(problem.weight(j.index)
                                                  for j in problem.jobs)
        frames = problem.frames_per_round if model.throughput else 1
        rounding_ms = model.rounding_units / model.units_per_ms * weight / frames
        stats["objective_tolerance_ms"] = max(stats.get("objective_tolerance_ms", 0.0),
                                              rounding_ms)
        stats["notes"].append(f"times rounded to {NS_PER_MS / model.units_per_ms:g} ns "
                              f"units (within {rounding_ms:g} ms): not proven optimal")
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        schedule, starts = model.extract(solver)
        left = None if deadline is None else deadline - time.perf_counter()
        stats["tie_break"] = "best_effort"
        if code == cp_model.OPTIMAL and not relaxed and (
                left is None or left > 2 * build_s + CANONICAL_MIN_SECONDS):
            canonical = _canonical_solution(problem, options, round(solver.objective_value),
                                            lp_free=many_latency, deadline=deadline)
            stats["canonical_phase"] = "done" if canonical else "skipped (limit), parallel answer"
            if canonical is not None:
                schedule, starts, proven = canonical
                stats["tie_break"] = "proven" if proven else "best_effort"
        elif code == cp_model.OPTIMAL and not relaxed:
            stats["canonical_phase"] = ("skipped (no time left before the limit), parallel "
                                        "answer")
        objective = solver.objective_value * to_ms_factor
        bound = solver.best_objective_bound * to_ms_factor
        status = SolveStatus.OPTIMAL if code == cp_model.OPTIMAL else SolveStatus.FEASIBLE
        if rounding_ms:
            status, bound = SolveStatus.FEASIBLE, bound - rounding_ms
        if relaxed:
            # the model's own objective is not the schedule's (the simulator judges it), and
            # its timing may meet a deadline that the true timing misses
            status, objective = SolveStatus.FEASIBLE, None
            if simulate(problem, schedule).violations:
                stats["relaxed_schedule_missed_a_deadline"] = True
                hint = options.hint
                if hint is None or simulate(problem, hint).violations:
                    return BackendAnswer(SolveStatus.UNKNOWN, None, None, bound, stats,
                                         "the relaxed contention model's schedule misses "
                                         "a deadline")
                schedule, starts = hint, {}
        stats["start_units"] = {f"{j},{k}": v for (j, k), v in sorted(starts.items())}
        answer = BackendAnswer(status, schedule, objective, bound, stats)
        return contention_free(answer) if contention_ignored(problem) else answer
    if code == cp_model.INFEASIBLE:
        return BackendAnswer(SolveStatus.INFEASIBLE, None, None, None, stats,
                             diagnose_infeasible(problem))
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {model.m.validate()}")
    raw_bound = solver.best_objective_bound
    bound = raw_bound * to_ms_factor - rounding_ms if math.isfinite(raw_bound) else None
    if options.hint is not None:
        # the hint is a valid schedule: the best one known when the search found none
        stats["returned_hint"] = True
        return BackendAnswer(SolveStatus.FEASIBLE, options.hint, None, bound, stats,
                             "time limit reached before CP-SAT improved on the hint; "
                             "returning the hint schedule")
    return BackendAnswer(SolveStatus.UNKNOWN, None, None, bound, stats,
                         "time limit reached before any schedule was found")


CANONICAL_DETERMINISTIC_LIMIT = 20.0
"""Deterministic-time budget of the canonicalisation phase (not wall-clock: reproducible)."""
CANONICAL_MIN_SECONDS = 0.2
"""The canonical phase runs only if this much (plus twice the model build) is left before
the time limit; it also stops at the limit (wall clock), keeping the parallel answer."""


def solve_interruptibly(solver: cp_model.CpSolver, model: cp_model.CpModel,
                        callback: cp_model.CpSolverSolutionCallback | None = None) -> int:
    """``solver.solve(model, callback)`` that leaves Ctrl-C to Python.

    By default CP-SAT installs its own C-level SIGINT handler for the solve (Ctrl-C merely
    stops the search, which then looks like a time limit: the command went on and exited 0)
    and on return resets SIGINT to the C default, so a later Ctrl-C killed the process
    outright (no ``layerswap: interrupted``, no exit 130; the runtime's executor had to
    re-install Python's handler after a solve). Here CP-SAT never touches the handler
    (``catch_sigint_signal = False``); on the main thread the solve runs in a helper thread
    while the main thread waits, so Ctrl-C raises KeyboardInterrupt at once: the search is
    stopped, its thread awaited, and the KeyboardInterrupt re-raised for the caller (the
    CLI prints one line and exits 130).
    """
    solver.parameters.catch_sigint_signal = False
    if threading.current_thread() is not threading.main_thread():
        return solver.solve(model, callback)  # signals are delivered to the main thread only
    outcome: list[int] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append(solver.solve(model, callback))
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="layerswap-cpsat", daemon=True).start()
    try:
        while not done.wait(0.25):
            pass
    except KeyboardInterrupt:
        solver.stop_search()
        done.wait()  # returns promptly after stop_search; a second Ctrl-C still interrupts
        raise
    if failure:
        raise failure[0]
    return outcome[0]


def _canonical_solution(problem: Problem, options: SolveOptions, optimum: int,
                        lp_free: bool = False, deadline: float | None = None
                        ) -> tuple[Schedule, dict[SegmentRef, int], bool] | None:
    """Re-find an optimal schedule with one deterministic worker and no hint, the simplest.

    Parallel CP-SAT workers race, so two runs may return different optimal schedules on
    ties. Knowing the optimum, a single-worker search with the objective fixed to it (and a
    deterministic-time limit) returns the same schedule on every run. It minimises the
    secondary objective (docs/model.md 5): transitions, then DLA loadables, as one weighted
    sum (a transition outweighs every loadable). The flag: that minimum was proven.
    """
    model = CpSatModel(problem, options)
    model.build()
    assert model.objective_var is not None
    model.m.clear_objective()
    model.m.add(model.objective_var <= optimum)
    slots = [s for row in model.slots for s in row]
    loadables = sum(s.is_kind["dla"] for s in slots)
    transitions = sum(s.used for s in slots) - len(model.slots)
    model.m.minimize((len(slots) + 1) * transitions + loadables)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = options.seed
    solver.parameters.max_deterministic_time = CANONICAL_DETERMINISTIC_LIMIT
    if model.span_tables:
        solver.parameters.cp_model_probing_level = PROBING_WITH_SPAN_TABLES
    if deadline is not None:
        # the time limit is a promise: past it, keep the parallel answer (not reproducible)
        solver.parameters.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
    if lp_free:
        # 3+ jobs carry the group-level LP view: with the LP the single worker ran out of
        # its budget on 3 x 30 (20 deterministic s); without it, it found the schedule in 1 s
        solver.parameters.linearization_level = 0
    code = solve_interruptibly(solver, model.m)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return (*model.extract(solver), code == cp_model.OPTIMAL)

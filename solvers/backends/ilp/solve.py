"""ILP backend, the search: HiGHS through OR-Tools MathOpt, its answer re-timed exactly,
and the checks its OPTIMAL must pass (see `solvers.backends.ilp.model`)."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import solvers.backends.ilp.contention as ilp_contention
from solvers.backends.base import (
    NS_PER_MS,
    BackendAnswer,
    IntegerJob,
    SolveOptions,
    SolverTimeout,
    contention_free,
    contention_ignored,
    integer_view,
    refuse_gpu_fallback,
    run_killably,
)
from solvers.backends.exact_common import (
    evaluate,
)
from solvers.backends.ilp.model import (
    ENGINE,
    TRUST_RTOL,
    IlpModel,
)
from solvers.bounds.diagnose import diagnose_infeasible
from solvers.model.problem import Objective, Problem
from solvers.model.schedule import Schedule, SolveStatus


class _Mip:
    """A MathOpt model with the few calls `IlpModel` uses (names as in pywraplp)."""

    def __init__(self) -> None:
        from ortools.math_opt.python import mathopt

        self.model = mathopt.Model(name="layerswap")
        self.n_vars = 0
        self.n_cons = 0

    @staticmethod
    def infinity() -> float:
        return math.inf

    def BoolVar(self, name: str) -> Any:
        self.n_vars += 1
        return self.model.add_binary_variable(name=name)

    def NumVar(self, lb: float, ub: float, name: str) -> Any:
        self.n_vars += 1
        return self.model.add_variable(lb=lb, ub=ub, name=name)

    def Add(self, constraint: Any) -> None:
        self.n_cons += 1
        self.model.add_linear_constraint(constraint)

    def Minimize(self, expr: Any) -> None:
        self.model.minimize(expr)


@contextmanager
def _stdout_silenced(keep: bool) -> Iterator[None]:
    """The bundled HiGHS build prints debug lines on file descriptor 1 from C++, which
    would corrupt ``--json`` output: send fd 1 to stderr (``log``) or /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.dup(2) if keep else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def _parameters(options: SolveOptions, *, presolve: bool = True,
                time_limit: float | None = None) -> Any:
    from ortools.math_opt.python import mathopt
    from ortools.math_opt.solvers import highs_pb2

    highs = highs_pb2.HighsOptionsProto(
        double_options={"mip_feasibility_tolerance": 1e-7,
                        "primal_feasibility_tolerance": 1e-7},
        int_options={"threads": 1, "random_seed": options.seed},
        string_options={} if presolve else {"presolve": "off"})
    limit = None if time_limit is None else timedelta(seconds=time_limit)
    return mathopt.SolveParameters(time_limit=limit, relative_gap_tolerance=0.0,
                                   absolute_gap_tolerance=0.0, enable_output=options.log,
                                   highs=highs)


def _known_schedule(problem: Problem, jobs: tuple[IntegerJob, ...],
                    hint: Schedule | None, deadline: float | None = None,
                    value_ns: Any = None
                    ) -> tuple[Schedule, int] | None:
    """A feasible schedule and its exact objective (integer ns, weighted; throughput: the
    round's cycle time): the hint, else the greedy baseline. It bounds the big-Ms (latency)
    and checks HiGHS's claim of optimality afterwards."""
    from solvers.heuristics.baselines import greedy

    candidate = hint
    if candidate is None:
        candidate = greedy(problem, deadline=deadline).schedule
    if candidate is None:
        return None
    if candidate.order is None:
        from solvers.judges.simulator import simulate

        candidate = Schedule(candidate.segments, simulate(problem, candidate).order)
    value = (value_ns or exact_value_ns)(problem, jobs, candidate)
    return None if value is None else (candidate, value)


def exact_value_ns(problem: Problem, jobs: tuple[IntegerJob, ...],
                   schedule: Schedule) -> int | None:
    """The exact contention-free objective of ``schedule`` in integer ns, rounded up
    (weighted makespan, or the round's cycle time); None if it deadlocks or misses a
    deadline."""
    exact = evaluate(problem, jobs, schedule)
    if exact.objective_ms is None or not exact.meets_deadlines:
        return None
    frames = problem.frames_per_round if problem.objective is Objective.THROUGHPUT else 1
    return math.ceil(exact.objective_ms * NS_PER_MS * frames * (1 + 1e-12))


def solve_ilp(problem: Problem, options: SolveOptions) -> BackendAnswer:
    """Solve ``problem`` exactly with a MIP (see the module docstring)."""
    refuse_gpu_fallback(problem, "ilp")
    from ortools.math_opt.python import mathopt


    contention = ilp_contention.models_contention(problem)
    value_ns = (ilp_contention.exact_value_ns_with_contention if contention
                else exact_value_ns)
    t0 = time.perf_counter()
    deadline = None if options.time_limit is None else t0 + options.time_limit
    mip = _Mip()
    # without a hint, greedy starts no new pass after a quarter of the limit
    known = _known_schedule(problem, integer_view(problem), options.hint,
                            None if deadline is None else t0 + 0.25 * options.time_limit,
                            value_ns)
    size = model_size(problem, contention)
    if size > MAX_MODEL_SIZE:
        stats0 = {"engine": ENGINE, "model_size_estimate": size,
                  "seconds": time.perf_counter() - t0}
        return _distrust(problem, known, stats0,
                         f"the ILP would need about {size:,} variables and constraints "
                         f"(over {MAX_MODEL_SIZE:,}): its build alone would outrun the time "
                         "limit and memory; use cpsat (the default) or a smaller "
                         "--max-transitions")
    model_class = ilp_contention.ContentionIlpModel if contention else IlpModel
    model = model_class(problem, mip, known_ns=None if known is None else known[1] + 1)
    model.build()
    model_params = None
    if options.hint is not None:
        model_params = mathopt.ModelSolveParameters(
            solution_hints=[mathopt.SolutionHint(variable_values=model.hint_values(options.hint))])
    if options.progress:
        options.progress(f"ilp: {mip.n_vars} variables, {mip.n_cons} constraints, "
                         f"engine {ENGINE}, time unit {1 / model.unit:g} ns")

    def highs(presolve: bool) -> Any:
        """One HiGHS solve, in a child process that Ctrl-C kills at once and that is killed
        past its deadline (HiGHS through MathOpt can be neither interrupted nor trusted to
        stop on time: it ran 10 s on a 3.6 s limit while presolving a 12-slot model;
        `solvers.backends.base.run_killably`)."""
        from ortools.math_opt import result_pb2

        left = None if deadline is None else max(0.01, deadline - time.perf_counter())
        params = _parameters(options, presolve=presolve, time_limit=left)
        answer = run_killably(
            lambda: mathopt.solve(mip.model, mathopt.SolverType.HIGHS, params=params,
                                  model_params=model_params).to_proto().SerializeToString(),
            "HiGHS", deadline=None if deadline is None else deadline + KILL_GRACE_SECONDS)
        return mathopt.parse_solve_result(result_pb2.SolveResultProto.FromString(answer),
                                          mip.model)

    presolve = True
    with _stdout_silenced(keep=options.log):
        try:
            result = highs(presolve)
        except SolverTimeout as late:
            stats0 = {"engine": ENGINE, "variables": mip.n_vars, "constraints": mip.n_cons,
                      "time_unit_ns": 1 / model.unit, "seconds": time.perf_counter() - t0,
                      "termination": "KILLED_AT_TIME_LIMIT"}
            return _distrust(problem, known, stats0, str(late))
        except Exception as first:  # HiGHS reports kError through a wrapper exception
            # HiGHS's presolve fails with "kError [INTERNAL]" on some tiny models (found by
            # the oracle property test: 3 jobs of 2-3 groups, throughput, no switches);
            # the same model solves without presolve
            presolve = False
            try:
                result = highs(presolve)
            except Exception as second:
                why = (f"HiGHS failed on this model with and without presolve "
                       f"({_describe(first)}; {_describe(second)})")
                stats0 = {"engine": ENGINE, "variables": mip.n_vars,
                          "constraints": mip.n_cons, "time_unit_ns": 1 / model.unit,
                          "seconds": time.perf_counter() - t0}
                return _distrust(problem, known, stats0, why)
    reason = result.termination.reason
    stats: dict[str, Any] = {
        "engine": ENGINE, "variables": mip.n_vars, "constraints": mip.n_cons,
        "termination": reason.name, "seconds": time.perf_counter() - t0,
        "presolve": presolve, "time_unit_ns": 1 / model.unit,
    }
    frames = problem.frames_per_round if problem.objective is Objective.THROUGHPUT else 1
    per_ns = NS_PER_MS * frames   # MIP value in ns -> objective in ms: / per_ns
    if reason in (mathopt.TerminationReason.INFEASIBLE,
                  mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED):
        if known is not None:
            # HiGHS says infeasible although a valid schedule is known: its numbers failed
            return _distrust(problem, known, stats,
                             f"HiGHS reported {reason.name} although a valid schedule exists")
        return BackendAnswer(SolveStatus.INFEASIBLE, None, stats=stats,
                             message=diagnose_infeasible(problem))
    if not result.has_primal_feasible_solution():
        if known is not None and options.hint is not None:
            stats["returned_hint"] = True
            return BackendAnswer(SolveStatus.FEASIBLE, known[0], known[1] / per_ns, None,
                                 stats, "time limit reached before HiGHS found a schedule; "
                                        "returning the hint schedule")
        return BackendAnswer(SolveStatus.UNKNOWN, None, stats=stats,
                             message="no schedule found within the time limit "
                                     f"({result.termination.detail or reason.name})")
    optimal = reason is mathopt.TerminationReason.OPTIMAL
    raw_bound = result.dual_bound()
    bound_ns = raw_bound / model.unit if math.isfinite(raw_bound) else None
    mip_ns = result.objective_value() / model.unit
    schedule = model.decode(result.variable_values())
    exact_ns = value_ns(problem, model.jobs, schedule)
    stats["mip_objective_ms"] = mip_ns / per_ns
    if exact_ns is None:
        return _distrust(problem, known, stats, "HiGHS's solution decodes to a schedule that "
                         "deadlocks or misses a deadline (numerical trouble)")
    slack = TRUST_RTOL * max(exact_ns, 1) + 1
    if known is not None and known[1] < exact_ns - slack:
        # a schedule better than HiGHS's is known: its "optimal" (and bound) are wrong
        return _distrust(problem, known, stats,
                         f"HiGHS returned {exact_ns / per_ns} ms ({reason.name}) but a known "
                         f"schedule achieves {known[1] / per_ns} ms")
    notes = []
    if abs(mip_ns - exact_ns) > slack:
        notes.append(f"HiGHS's objective {mip_ns / per_ns} ms differs from the exact value "
                     f"{exact_ns / per_ns} ms of its schedule")
    if bound_ns is not None and bound_ns > exact_ns + slack:
        notes.append(f"HiGHS's bound {bound_ns / per_ns} ms exceeds the exact value of its "
                     "schedule")
        bound_ns = None
    if (optimal and not notes and contention
            and len(problem.jobs) >= UNTRUSTED_CONTENTION_JOBS):
        check = _cpsat_check(problem, schedule, options, deadline)
        stats["cpsat_check"] = "none" if check is None else check.status.value
        exact_ms = exact_ns / per_ns
        if check is not None and check.status is SolveStatus.OPTIMAL:
            other_ms = (ilp_contention.simulated_value(problem, check.schedule)
                        or (math.inf,))[0]
            tol = TRUST_RTOL * exact_ms + check.stats.get("objective_tolerance_ms", 0.0)
            if other_ms < exact_ms - tol:
                # a schedule better than HiGHS's "optimum" exists: return it, unproven here
                stats["distrusted"] = (f"HiGHS's OPTIMAL {exact_ms} ms refuted by the CP-SAT "
                                       f"check, which proves {other_ms} ms")
                return BackendAnswer(SolveStatus.FEASIBLE, check.schedule, other_ms, None,
                                     stats, stats["distrusted"] + "; returning that "
                                     "schedule (not proven optimal by HiGHS)")
            stats["confirmed_by"] = "cpsat"
        else:
            notes.append(f"HiGHS's OPTIMAL on the contention model of {len(problem.jobs)} "
                         "jobs is not trusted unless CP-SAT confirms it (it has been "
                         "0.02-0.4 % above the optimum there), and CP-SAT did not finish; "
                         "its bound is not used")
            bound_ns = None
    if notes:
        stats["distrusted"] = "; ".join(notes)
        optimal = False
    bound_ms = None if bound_ns is None else min(bound_ns, exact_ns) / per_ns
    if not optimal and bound_ms is not None and bound_ns is not None and notes:
        bound_ms = None   # a bound from a run whose numbers disagree is not a proof
    status = SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE
    message = "" if optimal else (
        "HiGHS's answer is not taken as a proof (" + "; ".join(notes) + "): not optimal"
        if notes else "time limit reached: best schedule found, with the MIP's bound")
    objective_ms = (ilp_contention.simulated_value(problem, schedule) or (None,))[0] \
        if contention else evaluate(problem, model.jobs, schedule).objective_ms
    answer = BackendAnswer(status, schedule, objective_ms=objective_ms,
                           bound_ms=bound_ms, stats=stats, message=message)
    return contention_free(answer) if contention_ignored(problem) else answer


MAX_MODEL_SIZE = 1_500_000
"""Most variables and constraints (`model_size`'s estimate) the ILP builds. The model is
built in Python before HiGHS starts, so the time limit cannot stop it: 2 x 250 groups with
65 slots per model and contention (about 4 M span indicators) grew past 2.8 GB in 2.5 min
on a 5 s limit (benchmarks/results/option_limits.md)."""


def model_size(problem: Problem, contention: bool) -> int:
    """An estimate of the MIP's variables: group-slot-device assignments, one order binary
    per pair of slots per device, and with contention one span indicator per (first, cut)
    pair of every slot."""
    slots = problem.max_transitions + 1
    devices = len(problem.devices)
    groups = [problem.n_groups(j.index) for j in problem.jobs]
    total_slots = slots * len(groups)
    size = sum(groups) * slots * devices + total_slots * (total_slots - 1) // 2 * devices
    if contention:
        size += sum(slots * g * (g + 1) // 2 for g in groups)
    return size


KILL_GRACE_SECONDS = 0.25
"""HiGHS's process is killed this long after the backend's deadline (it may overrun its own
time limit in presolve; the issue allows 10 % + 1 s in all, the rest of `solve` included)."""
UNTRUSTED_CONTENTION_JOBS = 3
"""From this many jobs on, HiGHS's OPTIMAL on the latency contention model needs CP-SAT's
confirmation (`_cpsat_check`, from HiGHS's schedule, in the time left): on 3-model problems
found by the oracle property test HiGHS (OR-Tools 9.15) answered OPTIMAL 0.02-0.4 % above
the optimum of its own model, at feasibility tolerances 1e-9 and 1e-7 alike
(`tests/solvers/test_ilp_contention.py`), and no check of HiGHS's own numbers can see it
(the value is that of its schedule). CP-SAT proving the same value confirms it; CP-SAT
proving a better one refutes it (that schedule is returned, ``feasible``); no answer in time
leaves it ``feasible`` without HiGHS's bound. No such case was seen with two jobs."""
MIN_CHECK_SECONDS = 0.5
"""Least time left for the CP-SAT check to be worth starting."""


def _cpsat_check(problem: Problem, schedule: Schedule, options: SolveOptions,
                 deadline: float | None) -> BackendAnswer | None:
    """CP-SAT on the same problem from HiGHS's schedule, in the time left (None: no time)."""
    from solvers.backends.cpsat import solve_cpsat

    left = None if deadline is None else deadline - time.perf_counter()
    if left is not None and left < MIN_CHECK_SECONDS:
        return None
    return solve_cpsat(problem, SolveOptions(time_limit=left, workers=options.workers,
                                             seed=options.seed, hint=schedule))


def _distrust(problem: Problem, known: tuple[Schedule, int] | None, stats: dict[str, Any],
              why: str) -> BackendAnswer:
    """HiGHS's answer failed a check: return the known schedule, ``feasible``, no bound."""
    stats["distrusted"] = why
    if known is None:
        return BackendAnswer(SolveStatus.UNKNOWN, None, stats=stats,
                             message=f"{why}; no trustworthy schedule")

    if ilp_contention.models_contention(problem):
        value = (ilp_contention.simulated_value(problem, known[0]) or (None,))[0]
    else:
        value = evaluate(problem, integer_view(problem), known[0]).objective_ms
    answer = BackendAnswer(SolveStatus.FEASIBLE, known[0], value, None, stats,
                           f"{why}; returning the known schedule (not proven optimal)")
    return contention_free(answer) if contention_ignored(problem) else answer


def _describe(error: BaseException) -> str:
    """A one-line description of a HiGHS/MathOpt failure. OR-Tools' own handler of
    HiGHS's ``StatusNotOk`` raises AttributeError (``canonical_code``; seen with times of
    1e9 ms in ns units): describe the StatusNotOk it was handling instead."""
    inner = error.__context__
    if isinstance(error, AttributeError) and inner is not None:
        error = inner
    try:
        text = str(error)
    except Exception:  # a broken __str__ must not hide the original failure
        text = "<no message>"
    return f"{type(error).__name__}: {text}"

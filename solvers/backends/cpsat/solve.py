"""CP-SAT backend, the search: solver set-up, interrupts, progress and the canonical
re-solve that makes optimal answers deterministic and applies the secondary objective
(fewest transitions, then loadables; see `solvers.backends.cpsat.model`). Latency with
contention first tries what proves more than the model's own LP: with two jobs the
segmentation-pair search (`solvers.bounds.latency_pair`), from three jobs on the loss-mass
bound (`solvers.bounds.loss_mass`, `_loss_mass_bound`) and with three the triple branch and bound
(`solvers.bounds.latency_triple`), then the contention-free model's
bound (`_contention_free_bound`), each within a share of the limit (`params`). Latency
without contention with two jobs and at most two switches first runs the cut-position
branch and bound (`solvers.bounds.latency_cuts`), with three or four jobs the tuple search
(`solvers.bounds.latency_jobs`; both in `_latency_cuts_first`)."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ortools.sat.python import cp_model

from solvers.backends.base import (
    NS_PER_MS,
    BackendAnswer,
    SolveOptions,
    contention_free,
    contention_ignored,
    run_interruptibly,
)
from solvers.backends.cpsat.model import (
    CpSatModel,
)
from solvers.backends.cpsat.params import (
    CONTENTION_FREE_SHARE,
    FALLBACK_WORKERS,
    FEW_JOBS_WORKERS,
    GROUP_VIEW_MIN_JOBS,
    LATENCY_CUTS,
    LATENCY_CUTS_SHARE,
    LATENCY_JOBS,
    LATENCY_PAIR,
    LATENCY_PAIR_SHARE,
    LATENCY_PAIR_WARMUP_EVALUATIONS,
    LATENCY_PAIR_WARMUP_KICKS,
    LATENCY_PAIR_WARMUP_SHARE,
    LATENCY_TRIPLE_SHARE,
    LATENCY_TRIPLE_WARMUP_EVALUATIONS,
    LATENCY_TRIPLE_WARMUP_KICKS,
    LATENCY_TRIPLE_WARMUP_SHARE,
    LINEARIZATION,
    LINEARIZATION_MANY_JOBS,
    LINEARIZATION_THROUGHPUT,
    LOSS_MASS_MIN_JOBS,
    LOSS_MASS_SHARE,
    MANY_JOBS_WORKERS,
    PROBING_WITH_SPAN_TABLES,
    SPAN_LIMIT,
)
from solvers.bounds import latency_cuts, latency_jobs, latency_pair, latency_triple, loss_mass
from solvers.bounds.diagnose import diagnose_infeasible
from solvers.bounds.lower import lower_bound
from solvers.judges.simulator import simulate
from solvers.model.contention import no_contention
from solvers.model.problem import Objective, Problem
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
    """Solve ``problem`` exactly with CP-SAT (see the module docstring). Two jobs in latency
    with contention first go through `solvers.bounds.latency_pair` (`_latency_pair_first`):
    its proof, when it finishes, is the answer; otherwise its bound and best schedule
    carry over to the model's search in the time left."""
    t0 = time.perf_counter()
    free_cuts = functools.cache(lambda: _contention_free_cuts(problem, options))
    first, options, pair_stats, pair_bound = _latency_pair_first(problem, options, t0,
                                                                 free_cuts)
    if first is not None:
        return first
    first, options, cuts_stats, cuts_bound = _latency_cuts_first(problem, options, t0)
    if first is not None:
        return first
    mass_bound, mass_stats, listed = _loss_mass_bound(problem, options, t0)
    triple_bound, triple_stats, options, first = _latency_triple_bound(
        problem, options, t0, mass_bound, listed)
    if first is not None:
        return first
    free_bound, free_stats = _contention_free_bound(problem, options, free_cuts())
    floors = [v for v in (free_bound if cuts_bound is None else cuts_bound, mass_bound,
                          triple_bound) if v is not None]
    answer = _solve_model(problem, options if free_stats is None and mass_stats is None
                          else replace(options, time_limit=None if options.time_limit is None
                                       else max(0.05, t0 + options.time_limit
                                                - time.perf_counter())),
                          floor_ms=max(floors) if floors else None)
    if triple_stats is not None:
        answer = _at_least_the_hint(problem, answer, options.hint)
    stats = dict(answer.stats)
    bound = answer.bound_ms
    for name, extra, value in (("latency_pair", pair_stats, pair_bound),
                               ("latency_cuts" if cuts_stats is None else cuts_stats["by"],
                                cuts_stats, cuts_bound),
                               ("loss_mass", mass_stats, mass_bound),
                               ("latency_triple", triple_stats, triple_bound),
                               ("contention_free_bound", free_stats, free_bound)):
        if extra is None:
            continue
        stats[name] = extra
        if value is not None and answer.status is not SolveStatus.INFEASIBLE:
            bound = value if bound is None else max(bound, value)
    return replace(answer, stats=stats, bound_ms=bound)


def _at_least_the_hint(problem: Problem, answer: BackendAnswer, hint: Schedule | None
                       ) -> BackendAnswer:
    """The model's answer, or the hint where the model stopped unproven with nothing as good
    (3 x 30 with contention: the model, hinted 13.278 ms after the triple search, ended at
    27.76 ms within its ~1 s)."""
    if hint is None or answer.status not in (SolveStatus.FEASIBLE, SolveStatus.UNKNOWN):
        return answer
    from solvers.heuristics.baselines import simulated_value

    value = simulated_value(problem, hint)
    if not math.isfinite(value) or (answer.schedule is not None
                                    and answer.objective_ms is not None
                                    and answer.objective_ms <= value):
        return answer
    return replace(answer, status=SolveStatus.FEASIBLE, schedule=hint, objective_ms=value,
                   message="; ".join(m for m in (answer.message, "the model's search ended "
                                                 "above its hint: the hint is kept") if m))


def _contention_free_cuts(problem: Problem, options: SolveOptions
                          ) -> latency_cuts.LatencyCutsResult | None:
    """Latency with contention, two jobs, at most two switches: the contention-free optimum
    by the cut-position branch and bound (2 x 250: ~0.3 s), within `CONTENTION_FREE_SHARE`
    of the limit. Its bound bounds the contention problem (`_contention_free_bound`), and
    its schedule, judged with contention, starts the pair search's warm-up (2 x 250: the
    climb from it reached 82.37 ms in 3,000 simulations, from the greedy hint 85.24)."""
    if (problem.objective is not Objective.LATENCY or not problem.contention.enabled
            or len(problem.devices) < 2 or not CONTENTION_FREE_SHARE or not LATENCY_CUTS):
        return None
    free = replace(problem, contention=no_contention())
    if not latency_cuts.applies(free):
        return None
    limit = options.time_limit
    return latency_cuts.latency_cuts_search(
        free, deadline=None if limit is None
        else time.perf_counter() + CONTENTION_FREE_SHARE * limit)


def _loss_mass_bound(problem: Problem, options: SolveOptions, t0: float
                     ) -> tuple[float | None, dict[str, Any] | None, tuple[Any, ...] | None]:
    """Latency with contention and `LOSS_MASS_MIN_JOBS` jobs or more: the loss-mass bound
    (`solvers.bounds.loss_mass`; the listing of the segmentations stops at
    `LOSS_MASS_SHARE` of the limit). Returns (its bound in ms, its stats, the listing)."""
    if (not LOSS_MASS_SHARE or len(problem.jobs) < LOSS_MASS_MIN_JOBS
            or not loss_mass.applies(problem)):
        return None, None, None
    limit = options.time_limit
    deadline = None if limit is None else t0 + LOSS_MASS_SHARE * limit
    listed = loss_mass.segmentations(problem, deadline)
    found = None if listed is None else loss_mass.loss_mass_bound(problem, deadline, listed)
    if found is None:
        return None, {"status": "cut by its share of the limit"}, None
    return found.bound_ms, {"bound_ms": found.bound_ms, "segmentations": found.options,
                            "weights": [round(w, 6) for w in found.weights],
                            "seconds": round(found.seconds, 4)}, listed


def _latency_triple_bound(problem: Problem, options: SolveOptions, t0: float,
                          start_ms: float | None, listed: tuple[Any, ...] | None
                          ) -> tuple[float | None, dict[str, Any] | None, SolveOptions,
                                     BackendAnswer | None]:
    """Latency with contention and three jobs: improve the hint with a short
    simulator-guided climb (`LATENCY_TRIPLE_WARMUP_*`: the triple search's second target is
    a share of the best value known), then the triple branch and bound of
    `solvers.bounds.latency_triple`, its targets raised from ``start_ms`` (the loss-mass
    bound) toward the best value until `LATENCY_TRIPLE_SHARE` of the limit, over the
    segmentations ``listed`` for that bound. Returns (its bound in ms, its stats, the
    options with the best schedule known as hint, the answer if it proved optimality)."""
    if (not LATENCY_TRIPLE_SHARE or start_ms is None
            or not latency_triple.applies(problem)):
        return None, None, options, None
    from solvers.heuristics.baselines import simulated_value
    from solvers.heuristics.local_search import improve

    limit = options.time_limit
    incumbent = options.hint
    cap = math.inf if incumbent is None else simulated_value(problem, incumbent)
    stats: dict[str, Any] = {}
    if incumbent is not None and LATENCY_TRIPLE_WARMUP_EVALUATIONS:
        warm = improve(problem, [incumbent], seed=options.seed,
                       deadline=None if limit is None
                       else t0 + LATENCY_TRIPLE_WARMUP_SHARE * limit,
                       max_evaluations=LATENCY_TRIPLE_WARMUP_EVALUATIONS,
                       stall_kicks=LATENCY_TRIPLE_WARMUP_KICKS)
        if warm is not None and warm.objective_ms < cap:
            incumbent, cap = warm.schedule, warm.objective_ms
            stats.update(warmup_ms=cap, warmup_seconds=round(time.perf_counter() - t0, 4))
    if options.progress:
        options.progress(f"latency triple search: every segmentation triple against "
                         f"{cap:.6f} ms (solvers.bounds.latency_triple)")
    found = latency_triple.latency_triple_bound(
        problem, start_ms, cap, None if limit is None else t0 + LATENCY_TRIPLE_SHARE * limit,
        listed)
    options = replace(options, hint=incumbent)
    if found is None or found.bound_ms is None:
        return None, {**stats, "status": "cut by its share of the limit"}, options, None
    stats.update(bound_ms=found.bound_ms, targets=found.targets, joined=found.joined,
                 passed=found.passed, sequenced=found.sequenced, orders=found.orders,
                 optimal=found.optimal, seconds=round(found.seconds, 4),
                 settled=[[round(x, 6) for x in t] for t in found.settled])
    if found.schedule is not None:
        incumbent, cap = found.schedule, float(found.value_ms)  # type: ignore[arg-type]
        options = replace(options, hint=incumbent)
    if found.optimal and incumbent is not None:
        return found.bound_ms, stats, options, BackendAnswer(
            SolveStatus.OPTIMAL, incumbent, cap, found.bound_ms,
            {"latency_triple": stats, "proven_by": "latency_triple"},
            "proven by the segmentation-triple search (solvers.bounds.latency_triple)")
    return found.bound_ms, stats, options, None


def _contention_free_bound(problem: Problem, options: SolveOptions,
                           cuts: latency_cuts.LatencyCutsResult | None = None
                           ) -> tuple[float | None, dict[str, Any] | None]:
    """Latency with contention: the contention-free optimum is a lower bound (for any
    segments and order, contention only lengthens durations, and ``start = max(ready, end
    of the device predecessor)`` is monotone in them, so every end is at least the
    contention-free one of the same order; deadlines met with contention are met without).
    The contention-free model (exact, a much stronger LP) runs for at most
    `CONTENTION_FREE_SHARE` of the limit; its proven bound (ms) also floors the contention
    model's objective. Measured on 3 x 30 groups: 10.676 ms where the model's own bound
    stayed at 9.90 ms (2 x 250: 74.6 vs 55.2 ms)."""
    if (problem.objective is not Objective.LATENCY or not problem.contention.enabled
            or len(problem.devices) < 2 or not CONTENTION_FREE_SHARE):
        return None, None
    t0 = time.perf_counter()
    limit = options.time_limit
    free = replace(problem, contention=no_contention())
    if cuts is not None:
        # two jobs: the cut-position branch and bound proved the contention-free optimum
        # (`_contention_free_cuts`; 2 x 250: 74.606 ms in ~0.3 s, where this model took
        # 10.7 s on a quiet box)
        stats = {"status": "optimal" if cuts.optimal else "cut by its share of the limit",
                 "bound_ms": cuts.bound_ms, "seconds": round(cuts.seconds, 4),
                 "by": "latency_cuts"}
        return cuts.bound_ms, stats   # None when infeasible: the contention model says so
    answer = _solve_model(free, replace(
        options, progress=None,
        time_limit=None if limit is None else CONTENTION_FREE_SHARE * limit),
        canonical=False)
    stats = {"status": answer.status.value, "bound_ms": answer.bound_ms,
             "seconds": round(time.perf_counter() - t0, 4)}
    if answer.status is SolveStatus.INFEASIBLE:
        return None, stats   # the contention model will say so itself
    return answer.bound_ms, stats


def _latency_pair_first(problem: Problem, options: SolveOptions, t0: float,
                        free: Callable[[], latency_cuts.LatencyCutsResult | None] | None = None
                        ) -> tuple[BackendAnswer | None, SolveOptions, dict[str, Any] | None,
                                   float | None]:
    """Latency with contention and two jobs (`latency_pair.applies`): improve the hint with
    a short simulator-guided climb (`LATENCY_PAIR_WARMUP_*`: the pair search's test is
    strongest at a tight incumbent; where the pairs are too many to test one by one, the
    climb also starts from ``free()``, the contention-free optimum), then run
    `latency_pair_search` until
    `LATENCY_PAIR_SHARE` of the time limit. Returns (the answer if it proved optimality,
    the options for the model's search with the best schedule as hint and the time left,
    its stats, its lower bound)."""
    if not (LATENCY_PAIR and options.hint is not None and latency_pair.applies(problem)):
        return None, options, None, None
    from solvers.heuristics.baselines import simulated_value
    from solvers.heuristics.local_search import improve

    limit = options.time_limit
    listed = latency_pair.segmentations(
        problem, deadline=None if limit is None else t0 + LATENCY_PAIR_SHARE * limit)
    hint_value = simulated_value(problem, options.hint)
    if listed is None or not latency_pair.fits(problem, hint_value, listed):
        # too many segmentations per job for the search's sets (or listed too late)
        return None, options, None, None
    starts = [options.hint]
    pairs = latency_pair.pair_count(problem, hint_value, listed)
    if free is not None and pairs is not None and pairs > latency_pair.MAX_PAIRS:
        # the sets' search: its cost grows fast with the incumbent (2 x 250: 41 s at
        # 82.37 ms, more than 8 M open set pairs at 85.24)
        found = free()
        if found is not None and found.schedule is not None:
            starts.append(found.schedule)
    warm = improve(problem, starts, seed=options.seed,
                   deadline=None if limit is None else t0 + LATENCY_PAIR_WARMUP_SHARE * limit,
                   max_evaluations=LATENCY_PAIR_WARMUP_EVALUATIONS,
                   stall_kicks=LATENCY_PAIR_WARMUP_KICKS)
    if warm is None:   # the hint misses a deadline: nothing to bound with
        return None, options, None, None
    incumbent, value = warm.schedule, warm.objective_ms
    t_warm = time.perf_counter()
    if options.progress:
        options.progress(f"latency pair search: every segmentation pair against "
                         f"{value:.6f} ms (solvers.bounds.latency_pair)")
    found = latency_pair.latency_pair_search(
        problem, value, None if limit is None else t0 + LATENCY_PAIR_SHARE * limit, listed)
    if found is None:
        return None, replace(options, hint=incumbent), None, None
    stats: dict[str, Any] = {
        "warmup_ms": value, "warmup_seconds": round(t_warm - t0, 4),
        "bound_ms": found.bound_ms, "optimal": found.optimal, "pairs": found.pairs,
        "passed": found.passed, "sequenced": found.solved, "orders": found.orders,
        "seconds": round(found.seconds, 4)}
    if found.schedule is not None:
        incumbent, value = found.schedule, float(found.value_ms)  # type: ignore[arg-type]
    if found.optimal:
        return BackendAnswer(SolveStatus.OPTIMAL, incumbent, value, found.bound_ms,
                             {"latency_pair": stats, "proven_by": "latency_pair"},
                             "proven by the segmentation-pair search "
                             "(solvers.bounds.latency_pair)"), options, stats, found.bound_ms
    left = None if limit is None else max(0.05, t0 + limit - time.perf_counter())
    return None, replace(options, hint=incumbent, time_limit=left), stats, found.bound_ms


def _latency_cuts_first(problem: Problem, options: SolveOptions, t0: float
                        ) -> tuple[BackendAnswer | None, SolveOptions, dict[str, Any] | None,
                                   float | None]:
    """Latency without contention: with two jobs and at most two switches
    (`latency_cuts.applies`) the cut-position branch and bound, with three or four jobs
    (`latency_jobs.applies`) the tuple search, started from the hint, until
    `LATENCY_CUTS_SHARE` of the time limit. Returns (the answer when it proved optimality
    and holds a schedule, the options for the model's search with the best schedule as
    hint and the time left, its stats, its lower bound)."""
    if LATENCY_CUTS and latency_cuts.applies(problem):
        name, search, what = ("latency_cuts", latency_cuts.latency_cuts_search,
                              "cut-position branch and bound")
    elif LATENCY_JOBS and latency_jobs.applies(problem):
        name, search, what = ("latency_jobs", latency_jobs.latency_jobs_search,
                              "tuple search")
    else:
        return None, options, None, None
    from solvers.heuristics.baselines import simulated_value

    limit = options.time_limit
    hint = options.hint
    value = math.inf if hint is None else simulated_value(problem, hint)
    if not math.isfinite(value):   # no hint, or one that misses a deadline
        hint = None
    report = options.progress
    found = search(
        problem, hint, None if hint is None else value,
        None if limit is None else t0 + LATENCY_CUTS_SHARE * limit,
        None if report is None else lambda v, b, t: report(
            f"cpsat: objective {v:.6f} ms, bound {b:.6f} ms, {t:.2f} s ({what}, "
            f"solvers.bounds.{name})"), floor_ms=lower_bound(problem))
    if found is None:
        return None, options, None, None
    stats: dict[str, Any] = {
        key: getattr(found, key) for key in ("bound_ms", "optimal", "configurations",
                                             "boxes", "tuples", "sequenced", "levels")
        if hasattr(found, key)}
    stats.update(seconds=round(found.seconds, 4), by=name)
    proven = found.optimal
    if found.schedule is not None:
        judged = simulated_value(problem, found.schedule)
        if math.isfinite(judged):
            hint, value = found.schedule, judged
        else:   # a deadline met only within the search's float margin: the model decides
            proven = False
    if proven and hint is not None:
        return BackendAnswer(SolveStatus.OPTIMAL, hint, value, value,
                             {name: stats, "proven_by": name, "tie_break": "proven"},
                             f"proven by the {what} (solvers.bounds.{name})"
                             ), options, stats, value
    left = None if limit is None else max(0.05, t0 + limit - time.perf_counter())
    bound = None if proven and hint is None else found.bound_ms   # proven: no schedule
    return None, replace(options, hint=hint, time_limit=left), stats, bound


def _solve_model(problem: Problem, options: SolveOptions, *, canonical: bool = True,
                 floor_ms: float | None = None) -> BackendAnswer:
    """The CP-SAT model and its search (the time limit counts from here); ``canonical``:
    run the deterministic re-solve after a proof; ``floor_ms``: a proven lower bound on the
    objective (`_contention_free_bound`), added as a constraint."""
    t0 = time.perf_counter()
    model = CpSatModel(problem, options)
    model.build()
    if floor_ms is not None and model.objective_var is not None and not model.throughput:
        # the model's objective may sit its rounding bound (times the largest weight)
        # below the true value
        units = model.units_per_ms * model.weight_scale
        weight = math.ceil(model.weight_scale * max(problem.weight(j.index)
                                                    for j in problem.jobs))
        model.m.add(model.objective_var >= math.floor(floor_ms * units * (1 - 1e-9))
                    - weight * (model.rounding_bound_units + 1))
    if options.hint is not None and not (options.workers <= 1 and model.throughput):
        # one worker follows a throughput hint and stalls there (SINGLE_WORKER docstring);
        # the hint still comes back below when the search finds nothing
        model.add_hint(options.hint)
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.random_seed = options.seed
    params.num_workers = max(1, options.workers)
    params.cp_model_presolve = model.presolve
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
    elif (params.num_workers == 2 and model.throughput and problem.any_fallback
          and len(model.jobs) < GROUP_VIEW_MIN_JOBS):
        # GPU fallback: the LP tree search beside max_lp (FALLBACK_WORKERS' docstring)
        params.subsolvers.extend(FALLBACK_WORKERS)
        params.num_full_subsolvers = len(FALLBACK_WORKERS)
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
        # units that do not hold the times exactly: the model's optimum may sit this
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
        if code == cp_model.OPTIMAL and not relaxed and canonical and (
                left is None or left > 2 * build_s + CANONICAL_MIN_SECONDS):
            simplest = _canonical_solution(problem, options, round(solver.objective_value),
                                           lp_free=many_latency, deadline=deadline)
            stats["canonical_phase"] = "done" if simplest else "skipped (limit), parallel answer"
            if simplest is not None:
                schedule, starts, proven = simplest
                stats["tie_break"] = "proven" if proven else "best_effort"
        elif code == cp_model.OPTIMAL and not relaxed and canonical:
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
    return run_interruptibly(lambda: solver.solve(model, callback), solver.stop_search,
                             "layerswap-cpsat")


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
    solver.parameters.cp_model_presolve = model.presolve
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

"""SAT backend, the search: glucose with the timing theory of `solvers.backends.sat.model`
(lazy clauses from the longest-path check; contention judged by the simulator, see
`solvers.backends.sat.contention`)."""

from __future__ import annotations

import threading
import time
from typing import Any

import solvers.backends.sat.contention as sat_contention
from solvers.backends.base import (
    NS_PER_MS,
    BackendAnswer,
    SolveOptions,
    contention_free,
    contention_ignored,
    refuse_gpu_fallback,
    to_ms,
    to_ns,
)
from solvers.backends.exact_common import (
    evaluate,
    longest_path,
    max_cycle_ratio,
    path_to,
)
from solvers.backends.sat.model import ENGINE, SatModel, _Decoded, _Search
from solvers.bounds.diagnose import diagnose_infeasible
from solvers.model.problem import Problem
from solvers.model.schedule import Schedule, SolveStatus


def _check(model: SatModel, dec: _Decoded, search: _Search) -> tuple[Any, list[list[int]]]:
    """Exact timing of a decoded model: (its value or None, clauses to learn). A model
    with no clause to learn is a new incumbent; the caller records it."""
    p, g = model.p, dec.graph
    if model.contention:

        return sat_contention.check(model, dec, search)
    if model.throughput:
        lam, cycle = max_cycle_ratio(g)
        nodes = [g.arcs[a].src for a in cycle]
        if lam is None:
            return None, [model.explain(dec, cycle, nodes)]
        if search.best_value is not None and lam >= search.best_value:
            return lam, [model.explain(dec, cycle, nodes)]
        return lam, []
    res = longest_path(g)
    if not isinstance(res, tuple):
        return None, [model.explain(dec, res, [g.arcs[a].src for a in res])]
    start, pred = res
    clauses = []
    value = 0.0
    for j, last in enumerate(g.last_node):
        c = start[last] + g.base[last]
        value = max(value, p.weight(j) * c)
        dl = p.deadline(j)
        late = dl is not None and c > to_ns(dl)
        worse = search.best_value is not None and p.weight(j) * c >= search.best_value
        if late or worse:
            arcs = path_to(g, pred, last)
            clauses.append(model.explain(dec, arcs, [g.arcs[a].src for a in arcs] + [last]))
    return value, clauses


def _start_from_hint(model: SatModel, hint: Schedule, search: _Search) -> None:
    """A valid hint meeting the deadlines is the first incumbent (the search must beat it)."""
    hint.validate(model.p)
    if hint.order is None:
        return
    if model.contention:

        value = sat_contention.hint_value(model.p, hint)
        if value is not None:
            search.best_value, search.best_schedule = value, hint
        return
    graph_model = model.p
    exact = evaluate(graph_model, model.jobs, hint)
    if exact.objective_ms is None or not exact.meets_deadlines:
        return
    from solvers.backends.exact_common import build_graph

    graph = build_graph(graph_model, model.jobs, hint.segments, hint.order)
    if model.throughput:
        search.best_value, _ = max_cycle_ratio(graph)
    else:
        res = longest_path(graph)
        assert isinstance(res, tuple)
        start = res[0]
        search.best_value = max(graph_model.weight(j) * (start[n] + graph.base[n])
                                for j, n in enumerate(graph.last_node))
    search.best_schedule = hint


def _solve_call(solver: Any, deadline: float | None) -> bool | None:
    """One SAT call, interrupted at ``deadline`` (None: the call was interrupted)."""
    if deadline is None:
        return bool(solver.solve())
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    timer = threading.Timer(remaining, solver.interrupt)
    timer.start()
    try:
        answer = solver.solve_limited(expect_interrupt=True)
    finally:
        timer.cancel()
        solver.clear_interrupt()
    return answer


def solve_sat(problem: Problem, options: SolveOptions) -> BackendAnswer:
    """Solve ``problem`` exactly with SAT + timing theory (see the module docstring)."""
    refuse_gpu_fallback(problem, "sat")
    from pysat.solvers import Solver


    t0 = time.perf_counter()
    deadline = None if options.time_limit is None else t0 + options.time_limit
    model = SatModel(problem)
    model.build()
    search = _Search()
    scale = problem.frames_per_round if model.throughput else 1
    with Solver(name=ENGINE, bootstrap_with=model.clauses) as solver:
        if options.hint is not None:
            _start_from_hint(model, options.hint, search)
            solver.set_phases(model.hint_phases(options.hint))
        proven = False
        while True:
            answer = _solve_call(solver, deadline)
            if answer is None:
                break
            if not answer:
                proven = True
                break
            search.iterations += 1
            dec = model.decode(solver.get_model())
            value, clauses = _check(model, dec, search)
            if not clauses:
                search.best_value = value
                search.best_schedule = model.schedule_of(dec)
                search.incumbents += 1
                if options.progress:
                    shown = to_ms(float(value)) / scale
                    options.progress(f"sat: incumbent {shown:.6f} ms after "
                                     f"{search.iterations} models")
                value, clauses = _check(model, dec, search)
            for clause in clauses:
                solver.add_clause(clause)
            search.lemmas += len(clauses)
    stats: dict[str, Any] = {
        "engine": ENGINE, "variables": model.pool.top, "clauses": len(model.clauses),
        "models": search.iterations, "lemmas": search.lemmas,
        "incumbents": search.incumbents, "seconds": time.perf_counter() - t0,
    }
    if search.best_schedule is None:
        if proven:
            return BackendAnswer(SolveStatus.INFEASIBLE, None, stats=stats,
                                 message=diagnose_infeasible(problem))
        return BackendAnswer(SolveStatus.UNKNOWN, None, stats=stats,
                             message="no schedule found within the time limit")
    schedule = search.best_schedule
    if model.contention:
        objective_ms = sat_contention.simulated(problem, schedule)[0] / NS_PER_MS
    else:
        objective_ms = evaluate(problem, model.jobs, schedule).objective_ms
    status = SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE
    bound_ms = objective_ms if proven else None
    message = "" if proven else "time limit reached: best schedule found so far"
    answer = BackendAnswer(status, schedule, objective_ms=objective_ms, bound_ms=bound_ms,
                           stats=stats, message=message)
    return contention_free(answer) if contention_ignored(problem) else answer

"""SAT backend: CDCL over the combinatorial choices plus an exact timing theory (lazy SMT).

How the model works (docs/model.md; integer ns times, see `solvers.backend.integer_view`):

- **Boolean variables**, named after what they mean: ``X[j,g,k]`` group ``g`` of job ``j``
  is in slot ``k`` (its ``k``-th segment, ``k <= T``); ``A[j,k,d]`` slot ``k`` runs on
  device ``d``; ``K[j,k]`` slot ``k`` is on a DLA core; ``O[p,q]`` slot ``p`` runs before
  slot ``q`` when both are on one device (``p``, ``q`` of different jobs).
- **Clauses** (one method each): every group in exactly one slot, slots contiguous (group
  ``g + 1`` in the slot of ``g`` or the next), one allowed device per used slot (eligibility
  and pins), consecutive segments on different devices, no cut where a transition cost is
  missing, at most ``dla_loadable_limit`` slots per DLA core (cardinality encoding), DLA0/1
  symmetry breaking when no pin tells them apart, transitivity of the device orders.
- **Theory** (`exact_common`): a model fixes segments and device orders, hence the exact
  contention-free timing: the latency of every job by longest path, or the round's cycle
  time by maximum cycle ratio. When that misses a deadline, or does not beat the best
  value found so far, the solver learns a clause that forbids the *explanation*: the
  literals behind the critical path or cycle. A segment ``[a, b]`` on a kind is explained
  by ``X[j,a,k] & X[j,b,k] & kind`` (contiguity makes every group between them part of the
  slot, so its base time can only be larger); a device arc by both slots' device literals
  and the order literal. A zero-token cycle (deadlock) is blocked the same way.
- **Bound search** (SAT-UNSAT, from above): every model that passes the check is a new
  incumbent and immediately blocked, so each later model must be strictly better. All
  learnt lemmas stay valid as the bound only tightens, so one incremental solver instance
  (`ENGINE`, Glucose 4) serves the whole search; UNSAT proves the incumbent optimal (or
  the problem infeasible).

Memory contention in latency mode: the theory judges models with the simulator and learns
the contention-free critical path where it suffices, else a clause forbidding the one
schedule (`solvers.sat_contention`); in throughput mode the contention-free optimum is
only a lower bound and the answer ``feasible`` (model.md section 4).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Any

from solvers.backend import (
    NS_PER_MS,
    BackendAnswer,
    IntegerJob,
    SolveOptions,
    contention_free,
    contention_ignored,
    integer_view,
    to_ms,
    to_ns,
)
from solvers.diagnose import diagnose_infeasible
from solvers.exact_common import (
    Arc,
    Slot,
    TimingGraph,
    dla_symmetric,
    evaluate,
    longest_path,
    max_cycle_ratio,
    path_to,
    segment_base_ns,
    transition_ns,
)
from solvers.problem import Device, Objective, Problem
from solvers.schedule import Schedule, Segment, SolveStatus

ENGINE = "glucose4"



@dataclass
class _Decoded:
    """One SAT model as segments, plus what the timing theory needs to explain itself."""

    segments: list[list[Segment]]
    graph: TimingGraph
    node_lits: list[list[int]]       # per node: literals that imply its base (and cuts)
    arc_lits: list[list[int]]        # per arc: literals that make the arc exist
    rank: list[int]                  # per node: how many slots precede it on its device


@dataclass
class _Search:
    best_value: float | Fraction | None = None
    best_schedule: Schedule | None = None
    iterations: int = 0
    lemmas: int = 0
    incumbents: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


class _Holds:
    """Truth of a literal in a model (a variable the solver never saw is false)."""

    def __init__(self, positive: set[int]) -> None:
        self.positive = positive

    def __contains__(self, lit: int) -> bool:
        return (lit in self.positive) if lit > 0 else (-lit not in self.positive)


class SatModel:
    """The CNF of one problem (variables, then one method per clause family) and its theory."""

    def __init__(self, problem: Problem) -> None:
        from pysat.formula import IDPool

        self.p = problem
        self.jobs: tuple[IntegerJob, ...] = integer_view(problem)
        self.T = problem.max_transitions
        self.pool = IDPool()
        self.clauses: list[list[int]] = []
        self.slots: list[Slot] = [(j, k) for j in range(len(self.jobs))
                                  for k in range(self.T + 1)]
        self.throughput = problem.objective is Objective.THROUGHPUT
        from solvers import sat_contention

        # latency contention: the theory judges models with the simulator
        self.contention = sat_contention.models_contention(problem)

    # ------------------------------------------------------------------ variables
    def X(self, j: int, g: int, k: int) -> int:
        return self.pool.id(("X", j, g, k))

    def A(self, j: int, k: int, d: Device) -> int:
        return self.pool.id(("A", j, k, d.value))

    def K(self, j: int, k: int) -> int:
        return self.pool.id(("K", j, k))

    def kind_lit(self, j: int, k: int, kind: str) -> int:
        """Literal 'slot k of job j runs on a device of this kind'."""
        return self.A(j, k, Device.GPU) if kind == "gpu" else self.K(j, k)

    def before(self, p: Slot, q: Slot) -> int:
        """Literal 'p runs before q' (p, q of different jobs, meaningful on a shared device)."""
        return self.pool.id(("O", p, q)) if p < q else -self.pool.id(("O", q, p))

    def slots_of(self, j: int, g: int) -> range:
        return range(min(g, self.T) + 1)

    # ------------------------------------------------------------------ clause families
    def add_group_in_one_slot(self) -> None:
        for j, job in enumerate(self.jobs):
            for g in range(job.n_groups):
                lits = [self.X(j, g, k) for k in self.slots_of(j, g)]
                self.clauses.append(lits)
                self.clauses.extend([-a, -b] for a, b in combinations(lits, 2))

    def add_contiguity(self) -> None:
        for j, job in enumerate(self.jobs):
            self.clauses.append([self.X(j, 0, 0)])
            for g in range(job.n_groups - 1):
                for k in self.slots_of(j, g + 1):
                    prev = [self.X(j, g, kk) for kk in (k, k - 1) if 0 <= kk <= min(g, self.T)]
                    self.clauses.append([-self.X(j, g + 1, k), *prev])

    def add_devices(self) -> None:
        """A used slot has exactly one device, allowed for all its groups; an unused slot
        has none; K is 'on a DLA'; consecutive slots differ."""
        devs = self.p.devices
        dlas = [d for d in devs if d.kind == "dla"]
        for j, job in enumerate(self.jobs):
            for k in range(self.T + 1):
                a = [self.A(j, k, d) for d in devs]
                self.clauses.extend([-x, -y] for x, y in combinations(a, 2))
                holders = [self.X(j, g, k) for g in range(k, job.n_groups)]
                for lit in a:
                    self.clauses.append([-lit, *holders])
                self.clauses.append([-self.K(j, k), *(self.A(j, k, d) for d in dlas)])
                for d in dlas:
                    self.clauses.append([-self.A(j, k, d), self.K(j, k)])
                if k < self.T:
                    for d in devs:
                        self.clauses.append([-self.A(j, k, d), -self.A(j, k + 1, d)])
            for g in range(job.n_groups):
                for k in self.slots_of(j, g):
                    ok = [self.A(j, k, d) for d in devs if d in job.allowed[g]]
                    self.clauses.append([-self.X(j, g, k), *ok])
                    for d in devs:
                        if d not in job.allowed[g]:
                            self.clauses.append([-self.X(j, g, k), -self.A(j, k, d)])

    def add_missing_transitions(self) -> None:
        """No cut after group g towards a kind pair whose transition cost is missing."""
        for j, job in enumerate(self.jobs):
            for (src, dst), values in job.transition.items():
                for g, value in enumerate(values[:-1]):
                    if value is not None:
                        continue
                    for k in range(min(g, self.T - 1) + 1):
                        self.clauses.append([-self.X(j, g, k), -self.X(j, g + 1, k + 1),
                                             -self.kind_lit(j, k, src),
                                             -self.kind_lit(j, k + 1, dst)])

    def add_loadable_limit(self) -> None:
        from pysat.card import CardEnc, EncType

        limit = self.p.dla_loadable_limit
        for d in self.p.platform.dla_cores:
            lits = [self.A(j, k, d) for j, k in self.slots]
            if limit >= len(lits):
                continue
            if limit == 0:
                self.clauses.extend([-lit] for lit in lits)
                continue
            enc = CardEnc.atmost(lits, bound=limit, vpool=self.pool, encoding=EncType.seqcounter)
            self.clauses.extend(enc.clauses)

    def add_dla_symmetry(self) -> None:
        """DLA0 and DLA1 are identical: the first used DLA slot (fixed order) is on DLA0."""
        if not dla_symmetric(self.p):
            return
        for i, (j, k) in enumerate(self.slots):
            earlier = [self.A(jj, kk, Device.DLA0) for jj, kk in self.slots[:i]]
            self.clauses.append([-self.A(j, k, Device.DLA1), *earlier])

    def add_order_transitivity(self) -> None:
        """On each device, 'before' among slots of three different jobs is transitive."""
        for d in self.p.devices:
            for p in self.slots:
                for q in self.slots:
                    if q[0] == p[0]:
                        continue
                    for r in self.slots:
                        if r[0] in (p[0], q[0]):
                            continue
                        self.clauses.append([-self.A(*p, d), -self.A(*q, d), -self.A(*r, d),
                                             -self.before(p, q), -self.before(q, r),
                                             self.before(p, r)])

    def add_order_variables(self) -> None:
        """One 'before' variable per pair of slots of different jobs (fixed numbering)."""
        for p, q in combinations(self.slots, 2):
            if p[0] != q[0]:
                self.before(p, q)

    def build(self) -> None:
        self.add_order_variables()
        self.add_group_in_one_slot()
        self.add_contiguity()
        self.add_devices()
        self.add_missing_transitions()
        self.add_loadable_limit()
        self.add_dla_symmetry()
        self.add_order_transitivity()

    # ------------------------------------------------------------------ hint as phases
    def hint_phases(self, schedule: Schedule) -> list[int]:
        """Literals describing ``schedule``: the search tries them first."""
        phases = []
        where: dict[Slot, Device] = {}
        for j, segs in enumerate(schedule.segments):
            for k, seg in enumerate(segs):
                where[(j, k)] = seg.device
                for g in range(seg.first_group, seg.last_group + 1):
                    phases.append(self.X(j, g, k))
        for j, k in self.slots:
            for d in self.p.devices:
                lit = self.A(j, k, d)
                phases.append(lit if where.get((j, k)) == d else -lit)
        if schedule.order is not None:
            for refs in schedule.order.values():
                for a, b in combinations(refs, 2):
                    if a[0] != b[0]:
                        phases.append(self.before(a, b))
        return phases

    # ------------------------------------------------------------------ theory
    def decode(self, model: Sequence[int]) -> _Decoded:
        positive = {lit for lit in model if lit > 0}
        true = _Holds(positive)
        segments: list[list[Segment]] = []
        for j, job in enumerate(self.jobs):
            slot_of = [next(k for k in self.slots_of(j, g) if self.X(j, g, k) in true)
                       for g in range(job.n_groups)]
            segs: list[Segment] = []
            first = 0
            for g in range(job.n_groups):
                if g + 1 == job.n_groups or slot_of[g + 1] != slot_of[g]:
                    k = slot_of[g]
                    dev = next(d for d in self.p.devices if self.A(j, k, d) in true)
                    segs.append(Segment(first, g, dev))
                    first = g + 1
            segments.append(segs)
        return self._graph(segments, true)

    def _graph(self, segments: list[list[Segment]], true: _Holds) -> _Decoded:
        refs: list[Slot] = []
        base: list[int] = []
        node_lits: list[list[int]] = []
        arcs: list[Arc] = []
        arc_lits: list[list[int]] = []
        index: dict[Slot, int] = {}
        last_node = []
        for j, segs in enumerate(segments):
            job = self.jobs[j]
            for k, seg in enumerate(segs):
                index[(j, k)] = len(refs)
                refs.append((j, k))
                base.append(segment_base_ns(job, seg.first_group, seg.last_group, seg.device))
                node_lits.append([self.X(j, seg.first_group, k), self.X(j, seg.last_group, k),
                                  self.kind_lit(j, k, seg.device.kind)])
                if k:
                    prev = segs[k - 1]
                    tr = transition_ns(job, prev.last_group, prev.device, seg.device)
                    arcs.append(Arc(index[(j, k - 1)], index[(j, k)], base[-2] + tr, 0, "job"))
                    arc_lits.append([])
            last_node.append(index[(j, len(segs) - 1)])
        by_device: dict[Device, list[Slot]] = {}
        for j, k in index:
            by_device.setdefault(segments[j][k].device, []).append((j, k))
        rank = [0] * len(refs)
        for d in sorted(by_device, key=lambda dev: dev.value):
            on_d = by_device[d]
            for p in on_d:
                a = index[p]
                rank[a] = sum(1 for q in on_d if q != p and (
                    q[1] < p[1] if q[0] == p[0] else self.before(q, p) in true))
                if self.throughput:
                    arcs.append(Arc(a, a, base[a], 1, "self", d))
                    arc_lits.append([])
                for q in on_d:
                    if p == q:
                        continue
                    if p[0] == q[0]:
                        if not (self.throughput and p[1] < q[1]):
                            continue
                        why = [self.A(*p, d), self.A(*q, d)]
                    elif self.before(p, q) in true:
                        why = [self.A(*p, d), self.A(*q, d), self.before(p, q)]
                    else:
                        continue
                    b = index[q]
                    arcs.append(Arc(a, b, base[a], 0, "order", d))
                    arc_lits.append(why)
                    if self.throughput:
                        arcs.append(Arc(b, a, base[b], 1, "wrap", d))
                        arc_lits.append(why)
        graph = TimingGraph(tuple(refs), tuple(base), tuple(arcs), tuple(last_node))
        return _Decoded(segments, graph, node_lits, arc_lits, rank)

    def explain(self, dec: _Decoded, arcs: Iterable[int], nodes: Iterable[int]) -> list[int]:
        """The blocking clause: not all of these literals together."""
        lits: set[int] = set()
        for n in nodes:
            lits.update(dec.node_lits[n])
        for a in arcs:
            lits.update(dec.arc_lits[a])
        return sorted(-lit for lit in lits)

    def schedule_of(self, dec: _Decoded) -> Schedule:
        """The decoded schedule; device orders follow the (acyclic, total) 'before'."""
        order: dict[Device, list[tuple[int, Slot]]] = {}
        for n, (j, k) in enumerate(dec.graph.refs):
            order.setdefault(dec.segments[j][k].device, []).append((dec.rank[n], (j, k)))
        return Schedule(tuple(tuple(s) for s in dec.segments),
                        {d: tuple(r for _, r in sorted(v)) for d, v in order.items()})


def _check(model: SatModel, dec: _Decoded, search: _Search) -> tuple[Any, list[list[int]]]:
    """Exact timing of a decoded model: (its value or None, clauses to learn). A model
    with no clause to learn is a new incumbent; the caller records it."""
    p, g = model.p, dec.graph
    if model.contention:
        from solvers import sat_contention

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
        from solvers import sat_contention

        value = sat_contention.hint_value(model.p, hint)
        if value is not None:
            search.best_value, search.best_schedule = value, hint
        return
    graph_model = model.p
    exact = evaluate(graph_model, model.jobs, hint)
    if exact.objective_ms is None or not exact.meets_deadlines:
        return
    from solvers.exact_common import build_graph

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
    from pysat.solvers import Solver

    from solvers import sat_contention

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

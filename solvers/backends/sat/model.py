"""SAT backend: CDCL over the combinatorial choices plus an exact timing theory (lazy SMT).

How the model works (docs/model.md; integer ns times, see `solvers.backends.base.integer_view`):

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
schedule (`solvers.backends.sat.contention`); in throughput mode the contention-free optimum is
only a lower bound and the answer ``feasible`` (model.md section 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from typing import Any

from solvers.backends.base import (
    IntegerJob,
    integer_view,
)
from solvers.backends.exact_common import (
    Arc,
    Slot,
    TimingGraph,
    segment_base_ns,
    transition_ns,
)
from solvers.model.problem import Device, Objective, Problem, dla_symmetric
from solvers.model.schedule import Schedule, Segment

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

        # latency contention: the theory judges models with the simulator
        self.contention = models_contention(problem)

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


def models_contention(problem: Problem) -> bool:
    """The SAT backend models contention exactly here: latency with contention (on one
    device the simulator charges nothing and the judgement equals the contention-free one)."""
    return problem.contention.enabled and problem.objective is Objective.LATENCY

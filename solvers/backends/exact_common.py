"""What the exact ILP and SAT backends share: feature checks, the slot view of a job, and
the contention-free timing graph of a schedule (docs/model.md sections 3 and 4).

Both backends describe a job with ``T + 1`` *slots* (``T = max_transitions``): slot ``k``
holds the ``k``-th segment; unused slots come last and are empty. Times are integers in
ns (`solvers.backends.base.integer_view`), so the exact timing below is integer arithmetic.

The timing graph has one node per segment, weighted by its base time, and arcs:

- ``job``: segment ``k`` -> ``k + 1`` of a job, weight ``base_k + transition``, 0 tokens;
- ``order``: every earlier -> later pair on one device, weight ``base_earlier``, 0 tokens
  (all pairs, not just neighbours: the longest paths are the same, and an explanation can
  name exactly the pair it uses);
- throughput only: ``wrap`` later -> earlier on one device, weight ``base_later``, 1 token
  (the device's round fits in a window of length ``P``), and ``self`` loops (``base <= P``).

Latency: start = longest path from time 0; the objective is ``max_j w_j * C_j``.
Throughput: the round's cycle time is the maximum cycle ratio (weight / tokens), found
exactly with integer arithmetic by iterated positive-cycle detection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from solvers.backends.base import IntegerJob, to_ms
from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import Schedule, Segment, SegmentRef

Slot = tuple[int, int]
"""(job, slot index): the k-th segment position of a job in the ILP and SAT models."""


def segment_base_ns(job: IntegerJob, first: int, last: int, device: Device) -> int:
    prefix = job.prefix[device.kind]
    return prefix[last + 1] - prefix[first]


def transition_ns(job: IntegerJob, after_group: int, src: Device, dst: Device) -> int:
    """Delay between segments (model.md section 2); 0 when the cost is missing, which only
    happens where the next group cannot run on ``dst`` anyway (the cut is forbidden)."""
    value = job.transition[(src.kind, dst.kind)][after_group]
    return 0 if value is None else value


def transition_allowed(job: IntegerJob, after_group: int, src: Device, dst: Device) -> bool:
    return job.transition[(src.kind, dst.kind)][after_group] is not None


def horizon_ns(problem: Problem, jobs: Sequence[IntegerJob]) -> int:
    """An upper bound on every time of a semi-active round: everything run serially with the
    slowest allowed device and the dearest transitions."""
    total = 0
    for job in jobs:
        for g in range(job.n_groups):
            total += max(segment_base_ns(job, g, g, d) for d in job.allowed[g])
            if g + 1 < job.n_groups:
                total += max((v for v in (job.transition[p][g] for p in job.transition)
                              if v is not None), default=0)
    return total + 1


# ---------------------------------------------------------------------------- timing graph
@dataclass(frozen=True)
class Arc:
    src: int
    dst: int
    weight: int          # ns
    tokens: int          # 0 or 1 (throughput wrap/self arcs)
    kind: str            # 'job' | 'order' | 'wrap' | 'self'
    device: Device | None = None


@dataclass(frozen=True)
class TimingGraph:
    refs: tuple[SegmentRef, ...]          # node -> (job, segment index)
    base: tuple[int, ...]                 # ns
    arcs: tuple[Arc, ...]
    last_node: tuple[int, ...]            # per job: the node of its last segment


def build_graph(problem: Problem, jobs: Sequence[IntegerJob],
                segments: Sequence[Sequence[Segment]],
                order: Mapping[Device, Sequence[SegmentRef]]) -> TimingGraph:
    """The contention-free timing graph of segments plus a total order per device."""
    throughput = problem.objective is Objective.THROUGHPUT
    refs: list[SegmentRef] = []
    base: list[int] = []
    index: dict[SegmentRef, int] = {}
    arcs: list[Arc] = []
    last_node = []
    for j, segs in enumerate(segments):
        for k, seg in enumerate(segs):
            index[(j, k)] = len(refs)
            refs.append((j, k))
            base.append(segment_base_ns(jobs[j], seg.first_group, seg.last_group, seg.device))
            if k:
                prev = segs[k - 1]
                tr = transition_ns(jobs[j], prev.last_group, prev.device, seg.device)
                arcs.append(Arc(index[(j, k - 1)], index[(j, k)], base[-2] + tr, 0, "job"))
        last_node.append(index[(j, len(segs) - 1)])
    for dev in sorted(order, key=lambda d: d.value):
        seq = [index[r] for r in order[dev]]
        for p, a in enumerate(seq):
            if throughput:
                arcs.append(Arc(a, a, base[a], 1, "self", dev))
            for b in seq[p + 1:]:
                arcs.append(Arc(a, b, base[a], 0, "order", dev))
                if throughput:
                    arcs.append(Arc(b, a, base[b], 1, "wrap", dev))
    return TimingGraph(tuple(refs), tuple(base), tuple(arcs), tuple(last_node))


def longest_path(graph: TimingGraph) -> tuple[list[int], list[int | None]] | list[int]:
    """Latency timing: earliest starts (ns) and, per node, the arc that sets its start
    (None: starts at 0). A zero-token cycle (deadlock) is returned as its list of arcs."""
    n = len(graph.base)
    incoming: list[list[int]] = [[] for _ in range(n)]
    outgoing: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for ai, arc in enumerate(graph.arcs):
        if arc.tokens:
            continue
        incoming[arc.dst].append(ai)
        outgoing[arc.src].append(ai)
        indeg[arc.dst] += 1
    ready = [v for v in range(n) if indeg[v] == 0]
    topo: list[int] = []
    while ready:
        v = ready.pop()
        topo.append(v)
        for ai in outgoing[v]:
            w = graph.arcs[ai].dst
            indeg[w] -= 1
            if indeg[w] == 0:
                ready.append(w)
    if len(topo) < n:
        return _zero_token_cycle(graph, {v for v in range(n) if indeg[v] > 0})
    start = [0] * n
    pred: list[int | None] = [None] * n
    for v in topo:
        for ai in incoming[v]:
            arc = graph.arcs[ai]
            t = start[arc.src] + arc.weight
            if t > start[v]:
                start[v], pred[v] = t, ai
    return start, pred


def _zero_token_cycle(graph: TimingGraph, stuck: set[int]) -> list[int]:
    """A cycle of 0-token arcs inside ``stuck`` (every stuck node has a stuck predecessor)."""
    into: dict[int, int] = {}
    for ai, arc in enumerate(graph.arcs):
        if not arc.tokens and arc.src in stuck and arc.dst in stuck and arc.dst not in into:
            into[arc.dst] = ai
    v = min(stuck)
    seen: dict[int, int] = {}
    walk: list[int] = []
    while v not in seen:
        seen[v] = len(walk)
        ai = into[v]
        walk.append(ai)
        v = graph.arcs[ai].src
    return list(reversed(walk[seen[v]:]))


def path_to(graph: TimingGraph, pred: Sequence[int | None], node: int) -> list[int]:
    """Arcs of the critical path ending at ``node`` (first arc first)."""
    out = []
    while pred[node] is not None:
        ai = pred[node]
        assert ai is not None
        out.append(ai)
        node = graph.arcs[ai].src
    return list(reversed(out))


def path_nodes(graph: TimingGraph, arcs: Sequence[int], end: int) -> list[int]:
    return [graph.arcs[a].src for a in arcs] + [end]


def max_cycle_ratio(graph: TimingGraph) -> tuple[Fraction | None, list[int]]:
    """Throughput timing: the exact cycle time (ns per round) and a critical cycle (arcs).
    ``None`` means a zero-token cycle (the order deadlocks)."""
    n = len(graph.base)
    best = max(range(n), key=lambda v: graph.base[v])
    ratio = Fraction(graph.base[best])
    cycle = [ai for ai, a in enumerate(graph.arcs) if a.kind == "self" and a.src == best]
    while True:
        found = _positive_cycle(graph, ratio)
        if found is None:
            return ratio, cycle
        weight = sum(graph.arcs[a].weight for a in found)
        tokens = sum(graph.arcs[a].tokens for a in found)
        if tokens == 0:
            return None, found
        new = Fraction(weight, tokens)
        assert new > ratio
        ratio, cycle = new, found


def _positive_cycle(graph: TimingGraph, ratio: Fraction) -> list[int] | None:
    """A cycle whose weight - ratio * tokens is > 0 (Bellman-Ford, integer weights)."""
    num, den = ratio.numerator, ratio.denominator
    weights = [a.weight * den - num * a.tokens for a in graph.arcs]
    n = len(graph.base)
    dist = [0] * n
    pred: list[int | None] = [None] * n
    changed_node = -1
    for _ in range(n + 1):
        changed_node = -1
        for ai, arc in enumerate(graph.arcs):
            t = dist[arc.src] + weights[ai]
            if t > dist[arc.dst]:
                dist[arc.dst], pred[arc.dst] = t, ai
                changed_node = arc.dst
        if changed_node < 0:
            return None
    v = changed_node
    for _ in range(n):
        ai = pred[v]
        assert ai is not None
        v = graph.arcs[ai].src
    out = []
    u = v
    while True:
        ai = pred[u]
        assert ai is not None
        out.append(ai)
        u = graph.arcs[ai].src
        if u == v:
            break
    return list(reversed(out))


# ---------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class Evaluation:
    """Exact contention-free value of a schedule (ms), as the backend's own objective."""

    objective_ms: float | None    # None: deadlock
    meets_deadlines: bool


def evaluate(problem: Problem, jobs: Sequence[IntegerJob], schedule: Schedule) -> Evaluation:
    assert schedule.order is not None
    graph = build_graph(problem, jobs, schedule.segments, schedule.order)
    if problem.objective is Objective.THROUGHPUT:
        lam, _ = max_cycle_ratio(graph)
        if lam is None:
            return Evaluation(None, False)
        return Evaluation(to_ms(float(lam)) / problem.frames_per_round, True)
    res = longest_path(graph)
    if not isinstance(res, tuple):
        return Evaluation(None, False)
    start, _ = res
    value, ok = 0.0, True
    for j, last in enumerate(graph.last_node):
        c = start[last] + graph.base[last]
        value = max(value, problem.weight(j) * c)
        dl = problem.deadline(j)
        if dl is not None and to_ms(c) > dl * (1 + 1e-12):
            ok = False
    return Evaluation(to_ms(value), ok)


def order_by_start(segments: Sequence[Sequence[Segment]],
                   start: Mapping[SegmentRef, float]) -> dict[Device, tuple[SegmentRef, ...]]:
    """Per device, its segments sorted by start time (ties by job, then index)."""
    out: dict[Device, list[SegmentRef]] = {}
    for j, segs in enumerate(segments):
        for k, seg in enumerate(segs):
            out.setdefault(seg.device, []).append((j, k))
    return {d: tuple(sorted(refs, key=lambda r: (start[r], r))) for d, refs in out.items()}

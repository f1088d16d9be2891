"""The contention term in the SAT backend (latency objective): exact, by the timing theory.

The CNF of `solvers.backends.sat` fixes segments, devices and device orders; with contention the
theory judges a complete model by the overlap-linear slowdown of docs/model.md section 3
(the simulator's event engine: semi-active starts, ``end - start = base + sum k *
overlap``). Learned clauses explain violations in two strengths:

- **Contention-free explanation first.** Contention only lengthens durations and the
  semi-active timing is monotone in durations, so a job's contention-free completion is a
  lower bound on its completion with contention. When that bound alone misses a deadline
  or does not beat the incumbent, the usual critical-path clause of `solvers.backends.sat` is
  learned: it forbids every model sharing that path (strong).
- **Otherwise, the exact value decides.** When only the contention-aware timing misses a
  deadline or fails to beat the incumbent, the theory learns the clause that forbids this
  one schedule: every slot's first and last group and exact device, and every device order
  literal between slots sharing a device (weak, but sound: nothing else is excluded).

Both stay sound under the segment-level term (a co-runner's loss rate set by its own
segment's groups, `Problem.loss_rate`): the first needs only loss rates >= 0; the second
fixes every slot's group range and device, which is all a segment's loss rate depends on.

Values are the simulator's weighted makespan in ns (floats); an incumbent must be
strictly better than the last one (relative `STRICT_RTOL`), so UNSAT proves optimality.
"""

from __future__ import annotations

from typing import Any

from solvers.backends.base import NS_PER_MS, to_ns
from solvers.backends.exact_common import longest_path, path_to
from solvers.backends.sat.model import SatModel, _Decoded, _Search
from solvers.model.problem import Problem
from solvers.model.schedule import Schedule

STRICT_RTOL = 1e-9
"""A model counts as better than the incumbent only below ``best * (1 - STRICT_RTOL)``:
floating noise of the event simulation must not pass for an improvement."""


def simulated(problem: Problem, schedule: Schedule) -> tuple[float, bool]:
    """(weighted makespan in ns, meets every deadline) under the simulator."""
    from solvers.judges.simulator import simulate

    timeline = simulate(problem, schedule)
    return timeline.objective_ms * NS_PER_MS, not timeline.violations


def _block_schedule(model: SatModel, dec: _Decoded) -> list[int]:
    """The clause that forbids exactly this schedule (segments, devices, orders)."""
    lits: set[int] = set()
    by_device: dict[Any, list[tuple[int, int]]] = {}
    for j, segs in enumerate(dec.segments):
        for k, seg in enumerate(segs):
            lits.update((model.X(j, seg.first_group, k), model.X(j, seg.last_group, k),
                         model.A(j, k, seg.device)))
            by_device.setdefault(seg.device, []).append((j, k))
    for slots in by_device.values():
        for i, p in enumerate(slots):
            for q in slots[i + 1:]:
                if p[0] == q[0]:
                    continue   # one job's slots are ordered by its chain
                before = model.before(p, q)
                rank_p = dec.rank[dec.graph.refs.index(p)]
                rank_q = dec.rank[dec.graph.refs.index(q)]
                lits.add(before if rank_p < rank_q else -before)
    return sorted(-lit for lit in lits)


def check(model: SatModel, dec: _Decoded, search: _Search) -> tuple[Any, list[list[int]]]:
    """`solvers.backends.sat.solve._check` with contention: (value in ns or None, clauses
    to learn)."""
    p, g = model.p, dec.graph
    res = longest_path(g)
    if not isinstance(res, tuple):   # deadlock: the contention-free explanation holds
        return None, [model.explain(dec, res, [g.arcs[a].src for a in res])]
    start, pred = res
    clauses = []
    best = search.best_value
    for j, last in enumerate(g.last_node):
        c = start[last] + g.base[last]
        dl = p.deadline(j)
        late = dl is not None and c > to_ns(dl)
        worse = best is not None and p.weight(j) * c >= best * (1 - STRICT_RTOL)
        if late or worse:
            arcs = path_to(g, pred, last)
            clauses.append(model.explain(dec, arcs, [g.arcs[a].src for a in arcs] + [last]))
    if clauses:
        return None, clauses
    value, ok = simulated(p, model.schedule_of(dec))
    if not ok or (best is not None and value >= best * (1 - STRICT_RTOL)):
        return value, [_block_schedule(model, dec)]
    return value, []


def hint_value(problem: Problem, hint: Schedule) -> float | None:
    """The incumbent value (ns) of a valid hint with contention, None if it is late."""
    value, ok = simulated(problem, hint)
    return value if ok else None

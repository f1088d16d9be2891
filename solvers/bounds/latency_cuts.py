"""Latency without contention, two jobs, at most two switches each: the exact optimum by
branch and bound over the cut positions, one device pattern pair and device order at a time.

Why. CP-SAT's model of a 2 x 600 problem reads every segment's time from 601-entry element
tables with enforcement literals; its presolve alone took 28-40 s on the loaded 2-core box
and its LP bound stayed at the fastest chain (125.8 ms for a 177.5 ms optimum). The pair
enumeration of `solvers.bounds.latency_pair` faces 2.15 M segmentations per job. But with
two jobs of at most three segments each, what is left once the devices are chosen is small.

A *configuration* fixes each job's device pattern (at most ``max_transitions + 1``
segments, consecutive ones on different devices: 21 patterns per job on GPU + 2 DLAs) and,
on every device, the order of the segments placed there (each job's in its own order;
orders that deadlock are dropped). Without contention every duration is the segment's
base time, and the semi-active timing of docs/model.md section 3 makes every segment's end
the longest path to it in the DAG of job edges (with the transition paid on the edge) and
device-order edges. Each such path is a sum of *atoms*, each atom a function of one job's
cuts only: a segment's base time (a difference of prefix sums of its device's costs) or a
transition cost at a cut. So the objective of a configuration at cuts ``x`` (job 0) and
``y`` (job 1) is ``max_p w_end(p) (g_p(x) + h_p(y))`` over its paths into each job's last
segment (those whose atoms are a subset of another path's into the same segment dropped).

Boxes of cut positions (one interval per cut, four cuts) are searched best first. A path's
length is a sum of one term per cut ``c`` between segments on devices ``a`` and ``b``:
``P_a(c)`` if the segment before it is on the path, ``-P_b(c)`` if the one after it is,
plus ``T_ab(c)`` if the transition is (``P``: prefix sums of the device's costs, ``T``: the
transition cost at the cut; the job's start and end are constant terms). So a path's least
length over a box is the sum of each term's least value over its cut's interval, read from
range-minimum tables: exact per path (only the max over paths and ``c1 < c2`` are relaxed).
Before bounding, each box's intervals shrink to cuts that can belong to a valid schedule:
non-empty segments, no group its device may not run (pins, DLA-ineligible groups), a
transition cost at each cut; an interval left empty, or a path past its job's deadline,
drops the box. When all intervals are points the bound is the exact objective. Each step
(numpy, over a batch of the boxes with the least bounds) splits each box's widest interval
in halves, bounds the halves, drops those that cannot beat the incumbent and evaluates one
point of each survivor exactly (incumbents early). The least bound left is a valid lower
bound at any time; no box left means the incumbent is optimal. Measured
(benchmarks/results/solvers.md): 2 x 600 groups, 775 configurations, 116 k boxes, 0.4 s.

Secondary objective (docs/model.md section 5): a configuration's transitions and DLA
loadables are fixed by its patterns, so the search compares (objective, simplicity) with
`solvers.model.schedule.better` and keeps a box that could hold an equal objective with a
simpler configuration: the answer is the simplest schedule at the optimum, proven.

Covers: latency, contention off, two jobs (any weights, deadlines, pins, DLA-ineligible
groups, missing transition costs, loadable limits), ``max_transitions <= 2``, no GPU
fallback. Anything else: `applies` says no and the CP-SAT model runs alone.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from solvers.bounds.latency_pair import job_tables
from solvers.model.problem import Device, Objective, Problem, dla_symmetric
from solvers.model.schedule import TIE_RTOL, Schedule, Segment, better, simplicity

MAX_SEGMENTS = 3
"""Segments per job the search handles (``max_transitions <= 2``)."""
ATOMS = 2 * MAX_SEGMENTS - 1
"""Atoms per job: the segments' base times, then the transitions after segments 0 and 1."""
BATCH = 40_000
"""Open boxes split per step (the ones with the least bounds)."""
MAX_OPEN = 2_000_000
"""Most open boxes kept (80 bytes each); past it the search stops with its bound."""
MARGIN = 1e-9
"""Relative margin taken off every bound (prefix-sum differences round differently from
the simulator's sums)."""


@dataclass(frozen=True)
class LatencyCutsResult:
    bound_ms: float | None     # valid lower bound on the objective (None: nothing proven)
    schedule: Schedule | None  # best schedule found (None: none beats the incumbent given)
    value_ms: float | None     # its objective, as the search computed it
    optimal: bool              # no box left: the schedule (or the incumbent given) is optimal
    configurations: int        # pattern pairs x device orders searched
    boxes: int                 # boxes bounded
    seconds: float


def applies(problem: Problem) -> bool:
    """Latency, no contention, two jobs, at most two switches, no GPU fallback."""
    return (problem.objective is Objective.LATENCY and len(problem.jobs) == 2
            and (not problem.contention.enabled or len(problem.devices) < 2)
            and problem.max_transitions + 1 <= MAX_SEGMENTS and not problem.any_fallback)


@dataclass(frozen=True)
class _Config:
    patterns: tuple[tuple[int, ...], tuple[int, ...]]  # device index per segment, per job
    order: tuple[tuple[tuple[int, int], ...], ...]     # per device: (job, segment) in order
    paths: np.ndarray                                  # (P, 2 * ATOMS) 0/1 atom matrix
    ends: np.ndarray                                   # (P,) job whose last segment ends it
    simplicity: tuple[int, int]


def _interleavings(a: list, b: list) -> Iterator[tuple]:
    """Every merge of ``a`` and ``b`` that keeps each in its order."""
    n = len(a) + len(b)
    for pos in itertools.combinations(range(n), len(a)):
        chosen, ia, ib, out = set(pos), iter(a), iter(b), []
        for i in range(n):
            out.append(next(ia) if i in chosen else next(ib))
        yield tuple(out)


def _paths(patterns: tuple[tuple[int, ...], ...], order: tuple[tuple[tuple[int, int], ...], ...]
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """The atom sets of the longest-path candidates into each job's last segment (None if
    the order deadlocks)."""
    nodes = [(j, k) for j, p in enumerate(patterns) for k in range(len(p))]
    preds: dict[tuple[int, int], list[tuple[tuple[int, int], int | None]]] = {
        v: [] for v in nodes}
    for j, k in nodes:
        if k:
            preds[(j, k)].append(((j, k - 1), j * ATOMS + MAX_SEGMENTS + k - 1))
    for seq in order:
        for u, v in itertools.pairwise(seq):
            preds[v].append((u, None))
    # topological order (Kahn); a cycle is a deadlock
    indeg = {v: len(preds[v]) for v in nodes}
    succ: dict[tuple[int, int], list[tuple[int, int]]] = {v: [] for v in nodes}
    for v in nodes:
        for u, _ in preds[v]:
            succ[u].append(v)
    ready = [v for v in nodes if not indeg[v]]
    seen = 0
    while ready:
        u = ready.pop()
        seen += 1
        for v in succ[u]:
            indeg[v] -= 1
            if not indeg[v]:
                ready.append(v)
    if seen < len(nodes):
        return None

    def into(v: tuple[int, int]) -> set[frozenset[int]]:
        own = v[0] * ATOMS + v[1]
        if not preds[v]:
            return {frozenset([own])}
        out = set()
        for u, atom in preds[v]:
            for s in into(u):
                out.add(s | {own} | ({atom} if atom is not None else set()))
        return out

    rows, ends = [], []
    for j, p in enumerate(patterns):
        sets = into((j, len(p) - 1))
        for s in sets:
            if not any(s < t for t in sets):
                row = np.zeros(2 * ATOMS)
                row[list(s)] = 1.0
                rows.append(row)
                ends.append(j)
    return np.array(rows), np.array(ends, dtype=np.int64)


def _configurations(problem: Problem) -> list[_Config]:
    devices = problem.devices
    nd = len(devices)
    dla = [i for i, d in enumerate(devices) if d.kind == "dla"]
    dla0 = devices.index(Device.DLA0) if Device.DLA0 in devices else -1
    symmetric = dla_symmetric(problem)
    limit = problem.dla_loadable_limit
    per_job = []
    for j in range(2):
        most = min(problem.max_transitions + 1, problem.n_groups(j))
        per_job.append([p for m in range(1, most + 1)
                        for p in itertools.product(range(nd), repeat=m)
                        if all(a != b for a, b in itertools.pairwise(p))])
    out = []
    for pa, pb in itertools.product(*per_job):
        pats = (pa, pb)
        if any(pa.count(d) + pb.count(d) > limit for d in dla):
            continue
        if symmetric:
            first = next((d for d in pa + pb if d in dla), None)
            if first is not None and first != dla0:
                continue
        simple = simplicity([[Segment(0, 0, devices[d]) for d in p] for p in pats])
        per_device = []
        for d in range(nd):
            own = [[(j, k) for k, e in enumerate(pats[j]) if e == d] for j in range(2)]
            per_device.append(list(_interleavings(own[0], own[1])))
        for order in itertools.product(*per_device):
            found = _paths(pats, order)
            if found is not None:
                out.append(_Config(pats, order, found[0], found[1], simple))
    return out


@dataclass
class _Job:
    n: int
    terms: np.ndarray    # (levels, 4 * D * D, n + 1) range minima of the cut terms (`TERMS`)
    last_blocked: np.ndarray  # (D, n + 1) last group before cut c the device may not run (-1)
    next_blocked: np.ndarray  # (D, n + 1) first group from c on it may not run (n: none)
    next_cut: np.ndarray      # (D * D, n + 1) first cut >= c with a transition a -> b (n + 1)
    prev_cut: np.ndarray      # (D * D, n + 1) last cut <= c with a transition a -> b (-1)


TERMS = ("left", "right", "both", "both+transition")
"""What a path holds of the two segments around a cut ``c`` (device ``a`` before it, ``b``
after it), and its term in ``c``: ``P_a(c)`` (the segment before ends at ``c``), ``-P_b(c)``
(the one after starts there), both, or both and the transition ``T_ab(c)``. A path's
length is the sum of its cuts' terms (plus nothing else: the first segment starts at 0, the
last ends at ``n``, itself a cut term), so its least value over a box of cuts is the sum of
each term's least value over its cut's interval: exact per path."""


def _sparse(values: np.ndarray) -> np.ndarray:
    """Range-minimum table of ``values`` (rows, n): level ``l`` holds the minima of the
    ``2^l`` entries from each position."""
    levels = [values]
    while (1 << len(levels)) <= values.shape[1]:
        prev, half = levels[-1], 1 << (len(levels) - 1)
        nxt = prev.copy()
        nxt[:, :-half] = np.minimum(prev[:, :-half], prev[:, half:])
        levels.append(nxt)
    return np.stack(levels)


def _range_min(table: np.ndarray, row: np.ndarray, lo: np.ndarray, hi: np.ndarray
               ) -> np.ndarray:
    """Minimum of ``table``'s rows ``row`` over ``[lo, hi]`` (``row`` of shape (N,) or
    (N, P), ``lo`` and ``hi`` of shape (N,))."""
    level = np.floor(np.log2(hi - lo + 1)).astype(np.int64)
    rows, width = table.shape[1], table.shape[2]
    base = level * rows
    if row.ndim == 2:
        base, lo, hi, level = base[:, None], lo[:, None], hi[:, None], level[:, None]
    flat = table.reshape(-1)
    start = (base + row) * width
    return np.minimum(flat[start + lo], flat[start + hi - (1 << level) + 1])


def _job(problem: Problem, job: int) -> _Job:
    nd = len(problem.devices)
    n = problem.n_groups(job)
    prefix, blocked, table = job_tables(problem, job)
    # row a * nd + b: the transition a -> b after each group; a missing one (NaN) forbids
    # that cut (inf)
    trans = np.where(np.isnan(table), np.inf, table).reshape(nd * nd, -1)
    at_cut = np.full((nd * nd, n + 1), np.inf)   # transition at cut c (after group c - 1)
    at_cut[:, 1:n] = trans[:, :n - 1]
    left = np.repeat(prefix, nd, axis=0)          # row a * nd + b: P_a
    right = np.tile(prefix, (nd, 1))              # row a * nd + b: P_b
    terms = np.concatenate([left, -right, left - right, left - right + at_cut])
    groups = np.arange(n)
    bad = np.diff(blocked, axis=1) > 0
    last_blocked = np.full((nd, n + 1), -1, dtype=np.int64)
    next_blocked = np.full((nd, n + 1), n, dtype=np.int64)
    if n:
        last_blocked[:, 1:] = np.maximum.accumulate(np.where(bad, groups, -1), axis=1)
        next_blocked[:, :n] = np.minimum.accumulate(np.where(bad, groups, n)[:, ::-1],
                                                    axis=1)[:, ::-1]
    cuts = np.arange(n + 1)
    ok = np.isfinite(at_cut)
    next_cut = np.minimum.accumulate(np.where(ok, cuts, n + 1)[:, ::-1], axis=1)[:, ::-1]
    prev_cut = np.maximum.accumulate(np.where(ok, cuts, -1), axis=1)
    return _Job(n, _sparse(terms), last_blocked, next_blocked, next_cut, prev_cut)


class _Search:
    """The boxes of every configuration and their bounds (module docstring)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.configs = _configurations(problem)
        self.jobs = [_job(problem, j) for j in range(2)]
        self.nd = len(problem.devices)
        most = max((len(c.paths) for c in self.configs), default=1)
        count = len(self.configs)
        self.pattern = np.full((count, 2, MAX_SEGMENTS), -1, dtype=np.int64)
        # (config, path, job, cut 1..3): the row of the job's `terms` table, -1 for none
        self.rows = np.full((count, most, 2, MAX_SEGMENTS), -1, dtype=np.int64)
        self.ends = np.zeros((count, most), dtype=np.int64)
        self.valid = np.zeros((count, most), dtype=bool)
        self.simple = np.array([c.simplicity for c in self.configs],
                               dtype=np.int64).reshape(count, 2)
        nd = self.nd
        for i, c in enumerate(self.configs):
            for j in range(2):
                pat = c.patterns[j]
                self.pattern[i, j, :len(pat)] = pat
                for p, path in enumerate(c.paths):
                    for s in range(1, MAX_SEGMENTS + 1):
                        left = s - 1 < len(pat) and path[j * ATOMS + s - 1] > 0
                        right = s < len(pat) and path[j * ATOMS + s] > 0
                        if not (left or right):
                            continue
                        both = left and right
                        kind = (3 if both and path[j * ATOMS + MAX_SEGMENTS + s - 1] > 0
                                else 2 if both else 0 if left else 1)
                        a = pat[s - 1] if s - 1 < len(pat) else 0
                        b = pat[s] if s < len(pat) else 0
                        self.rows[i, p, j, s - 1] = (kind * nd + a) * nd + b
            self.ends[i, :len(c.ends)] = c.ends
            self.valid[i, :len(c.ends)] = True
        self.weight = np.array([problem.weight(j) for j in range(2)])
        self.deadline = np.array([problem.deadline(j) if problem.deadline(j) is not None
                                  else math.inf for j in range(2)])

    def roots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One box per configuration: cuts ``(job 0: c1, c2, job 1: c1, c2)``, cuts past a
        job's last segment fixed at its group count."""
        count = len(self.configs)
        lo = np.zeros((count, 4), dtype=np.int64)
        hi = np.zeros((count, 4), dtype=np.int64)
        for i, c in enumerate(self.configs):
            for j in range(2):
                n, m = self.jobs[j].n, len(c.patterns[j])
                for k in range(2):
                    free = k + 1 < m
                    lo[i, 2 * j + k] = k + 1 if free else n
                    hi[i, 2 * j + k] = n - (m - 1 - k) if free else n
        return np.arange(count), lo, hi

    def _tighten(self, cfg: np.ndarray, j: int, clo: np.ndarray, chi: np.ndarray) -> None:
        """Shrink the cut intervals ``clo``/``chi`` (N, 4: c0 = 0, c1, c2, c3 = n) of job
        ``j`` to the cuts that can belong to a valid schedule (in place): segments are
        non-empty, hold only groups their device may run, and the cut after each has a
        transition cost. An interval left empty means the box holds no valid schedule."""
        job = self.jobs[j]
        n = job.n
        for k in range(MAX_SEGMENTS):
            dev = self.pattern[cfg, j, k]
            used = dev >= 0
            d = np.where(used, dev, 0)
            clo[:, k + 1] = np.where(used, np.maximum(clo[:, k + 1], clo[:, k] + 1),
                                     clo[:, k + 1])
            end = job.next_blocked[d, np.clip(chi[:, k], 0, n)]
            chi[:, k + 1] = np.where(used, np.minimum(chi[:, k + 1], end), chi[:, k + 1])
            start = job.last_blocked[d, np.clip(clo[:, k + 1], 0, n)] + 1
            clo[:, k] = np.where(used, np.maximum(clo[:, k], start), clo[:, k])
            if k + 1 < MAX_SEGMENTS:
                nxt = self.pattern[cfg, j, k + 1]
                cut = nxt >= 0
                pair = d * self.nd + np.where(cut, nxt, 0)
                clo[:, k + 1] = np.where(cut, job.next_cut[pair, np.clip(clo[:, k + 1], 0, n)],
                                         clo[:, k + 1])
                chi[:, k + 1] = np.where(cut, job.prev_cut[pair, np.clip(chi[:, k + 1], 0, n)],
                                         chi[:, k + 1])
        for k in reversed(range(1, MAX_SEGMENTS)):
            used = self.pattern[cfg, j, k] >= 0
            chi[:, k] = np.where(used, np.minimum(chi[:, k], chi[:, k + 1] - 1), chi[:, k])

    def bound(self, cfg: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Least objective over each box (inf where it holds no valid schedule or every
        schedule misses a deadline); the boxes' cut intervals are tightened in place
        (`_tighten`)."""
        count = len(cfg)
        infeasible = np.zeros(count, dtype=bool)
        length = np.zeros(self.valid[cfg].shape)
        for j in range(2):
            job = self.jobs[j]
            zeros = np.zeros((count, 1), dtype=np.int64)
            ends = np.full((count, 1), job.n, dtype=np.int64)
            clo = np.concatenate([zeros, lo[:, 2 * j:2 * j + 2], ends], axis=1)
            chi = np.concatenate([zeros, hi[:, 2 * j:2 * j + 2], ends], axis=1)
            self._tighten(cfg, j, clo, chi)
            infeasible |= np.any(clo > chi, axis=1)
            np.clip(clo, 0, job.n, out=clo)
            np.clip(chi, clo, job.n, out=chi)
            lo[:, 2 * j:2 * j + 2] = clo[:, 1:3]
            hi[:, 2 * j:2 * j + 2] = chi[:, 1:3]
            for k in range(MAX_SEGMENTS):
                # every path's term in cut k + 1, least over its interval
                row = self.rows[cfg, :, j, k]
                has = row >= 0
                length += np.where(has, _range_min(job.terms, np.where(has, row, 0),
                                                   clo[:, k + 1], chi[:, k + 1]), 0.0)
        length *= 1 - MARGIN
        ends = self.ends[cfg]
        valid = self.valid[cfg]
        infeasible |= np.any(valid & (length > self.deadline[ends]), axis=1)
        value = np.where(valid, length * self.weight[ends], 0.0).max(axis=1)
        return np.where(infeasible, np.inf, value)

    def segments(self, cfg: int, cuts: np.ndarray) -> tuple[tuple[Segment, ...], ...]:
        out = []
        devices = self.problem.devices
        for j in range(2):
            pat = self.configs[cfg].patterns[j]
            edges = [0, *[int(c) for c in cuts[2 * j:2 * j + len(pat) - 1]], self.jobs[j].n]
            out.append(tuple(Segment(edges[k], edges[k + 1] - 1, devices[d])
                             for k, d in enumerate(pat)))
        return tuple(out)

    def schedule(self, cfg: int, cuts: np.ndarray) -> Schedule:
        devices = self.problem.devices
        order = {devices[d]: tuple(seq) for d, seq in enumerate(self.configs[cfg].order)
                 if seq}
        return Schedule(self.segments(cfg, cuts), order)


def latency_cuts_search(problem: Problem, incumbent: Schedule | None = None,
                        incumbent_ms: float | None = None, deadline: float | None = None,
                        progress: Callable[[float, float, float], None] | None = None,
                        floor_ms: float = 0.0) -> LatencyCutsResult | None:
    """The search of the module docstring; ``incumbent`` (with its objective
    ``incumbent_ms``) prunes from the start; ``floor_ms``, a known lower bound on the
    objective (e.g. `solvers.bounds.lower.lower_bound`), raises every box's bound. Stops
    at ``deadline`` (a `time.perf_counter()` value) with its bound. ``progress(objective_ms,
    bound_ms, seconds)`` hears of every better schedule. None when it does not apply."""
    if not applies(problem):
        return None
    t0 = time.perf_counter()
    search = _Search(problem)
    best_value = math.inf if incumbent_ms is None else float(incumbent_ms)
    best_segs = None if incumbent is None else incumbent.segments
    best: tuple[int, np.ndarray] | None = None
    best_simple = (None if best_segs is None else simplicity(best_segs))
    floor = floor_ms * (1 - MARGIN)
    cfg, lo, hi = search.roots()
    boxes = len(cfg)
    value = np.maximum(search.bound(cfg, lo, hi), floor)
    open_cfg, open_lo, open_hi, open_val = cfg, lo, hi, value
    stopped = False

    def keep(val: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Boxes that may hold a better schedule than the best known (`better`)."""
        if best_simple is None:
            return val < best_value
        lower = val < best_value * (1 - TIE_RTOL)
        tie = val <= best_value * (1 + TIE_RTOL)
        simpler = ((search.simple[c, 0] < best_simple[0])
                   | ((search.simple[c, 0] == best_simple[0])
                      & (search.simple[c, 1] < best_simple[1])))
        return lower | (tie & simpler)

    reported = best_value

    while True:
        if progress is not None and best_value < reported:
            reported = best_value
            left = float(open_val.min()) if len(open_val) else math.inf
            progress(best_value, min(best_value, left), time.perf_counter() - t0)
        alive = keep(open_val, open_cfg)
        open_cfg, open_lo, open_hi, open_val = (open_cfg[alive], open_lo[alive],
                                                open_hi[alive], open_val[alive])
        if not len(open_cfg):
            break
        if (deadline is not None and time.perf_counter() > deadline) or len(open_cfg) > MAX_OPEN:
            stopped = True
            break
        if len(open_cfg) > BATCH:
            part = np.argpartition(open_val, BATCH)
            take, rest = part[:BATCH], part[BATCH:]
        else:
            take, rest = np.arange(len(open_cfg)), np.zeros(0, dtype=np.int64)
        c, lo, hi = open_cfg[take], open_lo[take], open_hi[take]
        width = hi - lo
        leaf = width.max(axis=1) == 0
        # leaves: the bound is the exact objective
        if leaf.any():
            leaves = np.nonzero(leaf)[0]
            for i in leaves[np.argsort(open_val[take[leaves]], kind="stable")]:
                v = float(open_val[take[i]]) / (1 - MARGIN)
                if not math.isfinite(v) or v > best_value * (1 + TIE_RTOL):
                    break   # in increasing order: none after it is better
                segs = search.segments(int(c[i]), lo[i])
                if better(v, segs, best_value, best_segs):
                    best_value, best_segs, best = v, segs, (int(c[i]), lo[i].copy())
                    best_simple = simplicity(segs)
        c, lo, hi, width = c[~leaf], lo[~leaf], hi[~leaf], width[~leaf]
        axis = width.argmax(axis=1)
        rows = np.arange(len(c))
        mid = (lo[rows, axis] + hi[rows, axis]) // 2
        lo2, hi1 = lo.copy(), hi.copy()
        hi1[rows, axis] = mid
        lo2[rows, axis] = mid + 1
        kids_cfg = np.concatenate([c, c])
        kids_lo = np.concatenate([lo, lo2])
        kids_hi = np.concatenate([hi1, hi])
        boxes += len(kids_cfg)
        kids_val = np.maximum(search.bound(kids_cfg, kids_lo, kids_hi), floor)
        alive = keep(kids_val, kids_cfg)
        kids_cfg, kids_lo, kids_hi, kids_val = (kids_cfg[alive], kids_lo[alive],
                                                kids_hi[alive], kids_val[alive])
        # one point of each child left (its least cuts), exactly: incumbents early
        point_val = search.bound(kids_cfg, kids_lo.copy(), kids_lo.copy())
        order = np.argsort(point_val, kind="stable")
        for i in order[:64]:
            v = float(point_val[i]) / (1 - MARGIN)
            if not math.isfinite(v):
                break
            segs = search.segments(int(kids_cfg[i]), kids_lo[i])
            if better(v, segs, best_value, best_segs):
                best_value, best_segs, best = v, segs, (int(kids_cfg[i]), kids_lo[i].copy())
                best_simple = simplicity(segs)
        open_cfg = np.concatenate([open_cfg[rest], kids_cfg])
        open_lo = np.concatenate([open_lo[rest], kids_lo])
        open_hi = np.concatenate([open_hi[rest], kids_hi])
        open_val = np.concatenate([open_val[rest], kids_val])
    schedule = None if best is None else search.schedule(*best)
    left = float(open_val.min()) if len(open_val) else math.inf
    bound = min(best_value, left)
    return LatencyCutsResult(
        bound if math.isfinite(bound) else None, schedule,
        best_value if best is not None else None, not stopped, len(search.configs), boxes,
        time.perf_counter() - t0)

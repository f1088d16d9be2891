"""Latency without contention, three or four jobs: the exact optimum by enumerating the
tuples of segmentations (one per job) whose relaxation bound is below a threshold and
sequencing each exactly, best first, the threshold rising from the Lagrangian bound.

Why. On the 4 x 30 benchmark (GPU + 2 DLAs, two switches) CP-SAT's LP bound saturates at
13.864 ms and a 900 s run did not close a 0.55 % gap; the cut-position branch and bound of
`solvers.bounds.latency_cuts` is for two jobs. But the GPU is nearly saturated there, and
a schedule with makespan ``C`` must fit, on every device ``d``, the least release of the
segments placed there, their loads and the least tail after them:

    C >= head_d + load_d + tail_d   (every device used),   C >= chain_j   (every job).

Measured (4 x 30, 5,049 segmentations per job, 6.5e14 tuples): 194 tuples pass this test at
13.9942 ms (98 once DLA0 / DLA1 symmetry is broken), 10 at 13.96 ms, 1,734 at 14.03 ms.
With every segmentation fixed, what is left is the order on each device, a job shop of at
most ``4 x 3`` segments: a depth-first search (`_Sequencer`) settles it exactly in
milliseconds.

The enumeration. Each job's segmentations are those of `latency_pair._options` (pins,
DLA-ineligible groups and missing transition costs respected). With a Lagrangian weight
``lam`` (1 on the GPU, ``mu`` on each DLA, ``mu`` the grid value with the best bound)
every tuple below ``beta`` has ``sum_j rc_j <= slack`` (``rc_j = lam . load_j - min over
the job's segmentations``, ``slack = lam . (M, .., M) - sum of the minima``, ``M`` the
makespan ``beta`` allows): each job keeps its segmentations with ``rc <= slack`` and a chain
below ``beta``; the jobs split in two halves whose products are listed with the same rule.
A tuple is a pair (half A, half B) with ``load_B <= M - load_A`` on every device. Half B is
bucketed by its device loads (cells a quarter of ``slack / lam_e`` wide) and sorted by
``rc`` within a cell;
for each member of A only the cells inside its box (the upper ends above, the lower ends
from ``rc_B >= 0``: ``lam_e load_B,e >= min_B - sum_{d != e} lam_d (M - load_A,d)``) and
within each cell only the prefix ``rc_B <= slack - rc_A`` are read; each candidate is then
tested exactly (loads, heads and tails, chains, loadable limits, the DLA0/DLA1 symmetry:
the first job with a DLA segment has its first one on DLA0).

The search. Levels ``beta_0 < beta_1 < ...`` from the bound up (each `GROWTH` times as far from
it as the last), capped at the best value found: at each level the tuples whose bound lies
above the previous level and at most ``beta`` are sequenced in increasing bound; a tuple is
skipped when its bound cannot beat the best schedule (`better`: a lower objective, or an
equal one with fewer transitions then loadables, fixed by the tuple's patterns). Once a
level reaches the best value (times ``1 + TIE_RTOL``) no tuple left can beat it: the best
schedule is optimal and the simplest at the optimum. Cut by the deadline, the least bound
not yet settled is a valid bound. No tuple at a level that covers every possible schedule
(``beta`` at the sum of every job's longest chain) proves the problem infeasible.

Covers: latency, contention off, three or four jobs (weights, deadlines, pins,
DLA-ineligible groups, missing transition costs, loadable limits), at most
`MAX_JOB_OPTIONS` segmentations per job, no GPU fallback. With weights the device test
uses the least weight (the job that ends a device's work weighs at least that).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from solvers.bounds.latency_pair import _count, _Options, _options, placement
from solvers.model.problem import Device, Objective, Problem, dla_symmetric
from solvers.model.schedule import TIE_RTOL, Schedule, Segment, simplicity

MIN_JOBS, MAX_JOBS = 3, 4
MAX_JOB_OPTIONS = 25_000
"""Most segmentations per job (two switches on 3 devices: 5,049 on 30 groups, 20,532 on
60; 4 x 60 is proven in ~3 s where CP-SAT's model alone ends 27.8878 / 26.9959 ms after
30 s, 3 x 60 gives up within 0.4 s: benchmarks/results/solvers.md, 2026-12-06)."""
MAX_TUPLES = 100_000
"""Most tuples kept at one level; past it the test is too weak to sequence them one by
one (4 x 30: 161 over all levels, 3 x 30: 7,148, 4 x 20: 26,698) and the search stops
with its bound, leaving the time to the model (3 x 30 with a deadline on one job: ~1 M
tuples pass, 43 k sequenced took 8 s, where the model alone proves it in 1.8 s)."""
MAX_HALF = 2_000_000
"""Most members of a half's product (after its filters; 3 x 30: 1.6 M, ~0.1 kB each);
past it the search stops with its bound (4 x 30 with one loadable per DLA core: the
Lagrangian bound, blind to the limit, sits 7 % below the optimum)."""
MAX_CELLS = 4_096
"""Most cells of half B one member of half A reads; beyond it the join reads rc prefixes."""
CHUNK = 2_000_000
"""Candidate tuples tested per numpy block."""
MARGIN = 1e-9
"""Relative margin taken off every bound (sums in another order than the simulator's)."""
FIRST_STEP = 0.002
"""The first level sits this far (relative) above the Lagrangian bound."""
GROWTH = 1.5
"""Each level sits this many times as far above the bound as the last (4 x 30: listing the
tuples takes 0.25 s at 13.9942 ms, 1.1 s at 14.03, 13 s at 14.085)."""
MAX_SEQUENCE_NODES = 2_000_000
"""Most search nodes for one tuple's sequencing (4 x 30: at most 600); past it,
or past the deadline, the search stops with its bound."""


@dataclass(frozen=True)
class LatencyJobsResult:
    bound_ms: float | None     # valid lower bound on the objective (None: nothing proven)
    schedule: Schedule | None  # best schedule found (None: none beats the incumbent given)
    value_ms: float | None     # its objective, as the search computed it
    optimal: bool              # the schedule (or the incumbent given) is optimal; with no
                               # schedule and no incumbent: infeasible
    tuples: int                # tuples that passed the test at some level
    sequenced: int             # tuples sequenced exactly
    levels: int
    seconds: float


def applies(problem: Problem) -> bool:
    """Latency, no contention, three or four jobs, few enough segmentations, no fallback."""
    if not (problem.objective is Objective.LATENCY
            and MIN_JOBS <= len(problem.jobs) <= MAX_JOBS
            and (not problem.contention.enabled or len(problem.devices) < 2)
            and not problem.any_fallback):
        return False
    return all(_count(problem, j) <= MAX_JOB_OPTIONS for j in range(len(problem.jobs)))


@dataclass
class _Job:
    o: _Options
    load: np.ndarray     # (n, D)
    count: np.ndarray    # (n, D) segments per device
    head: np.ndarray     # (n, D) least release of its segments on d (inf: none)
    tail: np.ndarray     # (n, D) least tail after them (inf: none)
    first_dla: np.ndarray  # (n,) device of its first DLA segment (-1: none)
    chain: np.ndarray    # (n,) weighted chain
    simple: np.ndarray   # (n, 2) transitions, DLA segments


def _job(problem: Problem, j: int) -> _Job:
    o = _options(problem, j)
    p = placement(problem, o)
    used = o.dev >= 0
    simple = np.stack([used.sum(axis=1) - 1, p.on_dla.sum(axis=1)], axis=1)
    return _Job(o, p.load, p.count, p.head, p.tail, p.first_dla, o.chain * problem.weight(j),
                simple)


@dataclass
class _Half:
    """A product of some jobs' segmentations, as arrays (one row per member)."""

    rows: np.ndarray     # (n, jobs) segmentation per job
    rc: np.ndarray       # (n,) reduced cost
    load: np.ndarray     # (n, D)
    count: np.ndarray    # (n, D)
    head: np.ndarray     # (n, D)
    tail: np.ndarray     # (n, D)
    first_dla: np.ndarray  # (n,) first DLA device of the first job with one (-1: none)
    chain: np.ndarray    # (n,) largest weighted chain
    simple: np.ndarray   # (n, 2)
    floor: float         # sum of its jobs' least lam . load


class _TooMany(Exception):
    """A half or a level outgrew its limit."""


class _Enumerator:
    """The tuples below a level (module docstring: the enumeration)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.jobs = [_job(problem, j) for j in range(len(problem.jobs))]
        self.empty = any(not len(job.chain) for job in self.jobs)
        if self.empty:
            return
        nd = len(problem.devices)
        self.nd = nd
        self.dla = [d for d, dev in enumerate(problem.devices) if dev.kind == "dla"]
        self.dla0 = (problem.devices.index(Device.DLA0) if Device.DLA0 in problem.devices
                     else -2)
        self.symmetric = dla_symmetric(problem)
        self.limit = problem.dla_loadable_limit
        self.w_min = min(problem.weight(j) for j in range(len(problem.jobs)))
        self.deadline = np.array([problem.deadline(j) if problem.deadline(j) is not None
                                  else math.inf for j in range(len(problem.jobs))])
        self.lam, self.lag_bound = self._lagrangian()
        self.mins = [float((job.load @ self.lam).min()) for job in self.jobs]
        chains = [float(job.chain.min()) for job in self.jobs]
        self.lower = max(self.lag_bound * self.w_min, *chains)
        # every schedule's makespan is at most the sum of its jobs' chains
        self.cap = max(problem.weight(j) for j in range(len(self.jobs))) * sum(
            float(job.o.chain.max()) for job in self.jobs)

    def _lagrangian(self) -> tuple[np.ndarray, float]:
        """The DLA weight ``mu`` (GPU: 1) with the best bound on the makespan."""
        gpu = np.array([dev.kind != "dla" for dev in self.problem.devices])
        best = (np.ones(self.nd), -math.inf)
        for mu in np.linspace(0.0, 1.0, 101):
            lam = np.where(gpu, 1.0, mu)
            if not lam.any():
                continue
            value = sum(float((job.load @ lam).min()) for job in self.jobs) / lam.sum()
            if value > best[1]:
                best = (lam, value)
        return best

    def _half(self, jobs: list[int], m: float, slack: float) -> _Half:
        """The members of the product of ``jobs``' segmentations within the level."""
        tol = slack * (1 + 1e-12) + 1e-12
        parts = [self.jobs[j] for j in jobs]
        keep = self._keep(jobs[0], m, tol)
        rows = keep[:, None]
        rc = parts[0].load[keep] @ self.lam - self.mins[jobs[0]]
        load, count = parts[0].load[keep], parts[0].count[keep]
        for j, job in zip(jobs[1:], parts[1:], strict=True):
            other = self._keep(j, m, tol)
            orc = job.load[other] @ self.lam - self.mins[j]
            order = np.argsort(orc)
            other, orc = other[order], orc[order]
            cnt = np.searchsorted(orc, tol - rc, side="right")
            total = int(cnt.sum())
            if total > MAX_HALF:
                raise _TooMany
            a = np.repeat(np.arange(len(rc)), cnt)
            b = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            load = load[a] + job.load[other[b]]
            count = count[a] + job.count[other[b]]
            ok = (load <= m * (1 + 1e-12)).all(axis=1)
            if self.dla:
                ok &= (count[:, self.dla] <= self.limit).all(axis=1)
            rows = np.concatenate([rows[a], other[b, None]], axis=1)[ok]
            rc, load, count = (rc[a] + orc[b])[ok], load[ok], count[ok]
        take = [rows[:, i] for i in range(len(jobs))]
        pairs = list(zip(parts, take, strict=True))
        head = np.minimum.reduce([p.head[t] for p, t in pairs])
        tail = np.minimum.reduce([p.tail[t] for p, t in pairs])
        first_dla = np.full(len(rows), -1, dtype=np.int64)
        for p, t in reversed(pairs):
            f = p.first_dla[t]
            first_dla = np.where(f >= 0, f, first_dla)
        chain = np.maximum.reduce([p.chain[t] for p, t in pairs])
        simple = sum(p.simple[t] for p, t in pairs)
        return _Half(rows, rc, load, count, head, tail, first_dla, chain, simple,
                     sum(self.mins[j] for j in jobs))

    def _keep(self, j: int, m: float, tol: float) -> np.ndarray:
        """Segmentations of job ``j`` that may belong to a tuple below the level."""
        job = self.jobs[j]
        rc = job.load @ self.lam - self.mins[j]
        ok = (rc <= tol) & (job.load <= m * (1 + 1e-12)).all(axis=1)
        ok &= job.chain * (1 - MARGIN) <= m * self.w_min
        ok &= job.o.chain * (1 - MARGIN) <= self.deadline[j]
        if self.dla:
            ok &= (job.count[:, self.dla] <= self.limit).all(axis=1)
        return np.nonzero(ok)[0]

    def tuples(self, level: float, above: float, stop: Callable[[], bool]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tuples whose bound lies in ``(above, level]``: (rows (N, jobs), bounds (N,),
        simplicity (N, 2)), in increasing bound. Raises `_TooMany` past the limits and
        returns early (an incomplete level) when ``stop()``."""
        m = level / self.w_min
        slack = float(self.lam.sum() * m - sum(self.mins))
        n = len(self.jobs)
        if slack < 0:
            empty = np.zeros((0, n), dtype=np.int64)
            return empty, np.zeros(0), np.zeros((0, 2), dtype=np.int64)
        split = n // 2
        a = self._half(list(range(split)), m, slack)
        b = self._half(list(range(split, n)), m, slack)
        out_rows, out_val, out_simple = [], [], []
        kept = 0
        # per device (column-major copies: 1-D gathers), the GPU first; survivors only
        cols = [(np.ascontiguousarray(h.load.T), np.ascontiguousarray(h.count.T),
                 np.ascontiguousarray(h.head.T), np.ascontiguousarray(h.tail.T))
                for h in (a, b)]
        for ia, ib in self._candidates(a, b, m, slack, stop):
            value = np.maximum(a.chain[ia], b.chain[ib])
            ok = value * (1 - MARGIN) <= level
            ia, ib, value = ia[ok], ib[ok], value[ok]
            for d in range(self.nd):
                (la, ca, ha, ta), (lb, cb, hb, tb) = cols[0], cols[1]
                load = la[d][ia] + lb[d][ib]
                count = ca[d][ia] + cb[d][ib]
                dev = np.where(count > 0, np.minimum(ha[d][ia], hb[d][ib]) + load
                               + np.minimum(ta[d][ia], tb[d][ib]), 0.0) * self.w_min
                ok = (load <= m * (1 + 1e-12)) & (dev * (1 - MARGIN) <= level)
                if d in self.dla:
                    ok &= count <= self.limit
                ia, ib, value = ia[ok], ib[ok], np.maximum(value[ok], dev[ok])
            if self.symmetric:
                first = np.where(a.first_dla[ia] >= 0, a.first_dla[ia], b.first_dla[ib])
                ok = (first < 0) | (first == self.dla0)
                ia, ib, value = ia[ok], ib[ok], value[ok]
            value = value * (1 - MARGIN)
            ok = value > above
            if not ok.any():
                continue
            kept += int(ok.sum())
            if kept > MAX_TUPLES:
                raise _TooMany
            out_rows.append(np.concatenate([a.rows[ia[ok]], b.rows[ib[ok]]], axis=1))
            out_val.append(value[ok])
            out_simple.append(a.simple[ia[ok]] + b.simple[ib[ok]])
        if not out_rows:
            return (np.zeros((0, n), dtype=np.int64), np.zeros(0),
                    np.zeros((0, 2), dtype=np.int64))
        rows = np.concatenate(out_rows)
        value = np.concatenate(out_val)
        simple = np.concatenate(out_simple)
        order = np.lexsort((simple[:, 1], simple[:, 0], value))
        return rows[order], value[order], simple[order]

    def _candidates(self, a: _Half, b: _Half, m: float, slack: float,
                    stop: Callable[[], bool]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Blocks of (A index, B index) pairs that may pass: B bucketed by its DLA loads,
        sorted by ``rc`` within a cell (module docstring)."""
        lam, eps = self.lam, 1e-9 * max(m, 1.0)
        dims = [e for e in range(self.nd) if lam[e] > 0]
        width = np.array([max(slack, 1e-12) / lam[e] / 4 for e in dims])
        span = np.array([max(float(b.load[:, e].max(initial=0.0)), 1e-12) for e in dims])
        width = np.maximum(width, span / 256)
        lows, highs = [], []
        ncell = (np.floor(span / width) + 1).astype(np.int64)
        for i, e in enumerate(dims):
            # one value per member of A (an array even with one device: no other terms)
            rest = sum((lam[d] * (m - a.load[:, d]) for d in range(self.nd) if d != e),
                       np.zeros(len(a.rc)))
            low = (b.floor - rest) / lam[e]
            lows.append(np.clip(np.floor((low - eps) / width[i]), 0, ncell[i]).astype(np.int64))
            highs.append(np.clip(np.floor((m - a.load[:, e] + eps) / width[i]), -1,
                                 ncell[i] - 1).astype(np.int64))
        sizes = [int((highs[i] - lows[i] + 1).max(initial=0)) for i in range(len(dims))]
        if int(np.prod(sizes)) > MAX_CELLS:   # boxes too wide for cells: rc prefixes only
            dims, sizes, lows, highs, ncell = [], [], [], [], ncell[:0]
        if dims:
            cell = np.floor(b.load[:, dims] / width[:len(dims)]).astype(np.int64)
            flat = np.ravel_multi_index(np.minimum(cell, ncell - 1).T, ncell)
            offs = np.stack(np.meshgrid(*[np.arange(max(k, 0)) for k in sizes],
                                        indexing="ij"), axis=-1).reshape(-1, len(dims))
        else:
            flat = np.zeros(len(b.rc), dtype=np.int64)
        scale = 4.0 * max(slack, 1e-12)   # rc / scale < 1/2: cells 2 apart in the key
        key = flat * 2.0 + b.rc / scale
        order = np.argsort(key, kind="stable")
        key = key[order]
        thr = (slack - a.rc + eps) / scale
        step = max(1, CHUNK // max(1, int(np.prod(sizes))))
        for s in range(0, len(a.rc), step):
            if stop():
                return
            ia = np.arange(s, min(s + step, len(a.rc)))
            if dims:
                idx = np.stack([lows[i][ia][:, None] + offs[None, :, i]
                                for i in range(len(dims))], axis=-1)   # (A, cells, dims)
                inside = np.ones(idx.shape[:2], dtype=bool)
                for i in range(len(dims)):
                    inside &= idx[:, :, i] <= highs[i][ia][:, None]
                aa = np.broadcast_to(ia[:, None], inside.shape)[inside]
                cells = np.ravel_multi_index(idx[inside].T, ncell)
            else:
                aa, cells = ia, np.zeros(len(ia), dtype=np.int64)
            lo = np.searchsorted(key, cells * 2.0, side="left")
            cnt = np.searchsorted(key, cells * 2.0 + thr[aa], side="right") - lo
            has = cnt > 0
            aa, lo, cnt = aa[has], lo[has], cnt[has]
            ends = np.cumsum(cnt)
            c0 = 0
            while c0 < len(aa):
                c1 = max(c0 + 1, int(np.searchsorted(ends, (ends[c0 - 1] if c0 else 0) + CHUNK,
                                                     side="right")))
                sub = cnt[c0:c1]
                base = np.repeat(lo[c0:c1] - (np.cumsum(sub) - sub), sub)
                yield np.repeat(aa[c0:c1], sub), order[np.arange(int(sub.sum())) + base]
                c0 = c1


class _Sequencer:
    """The exact device orders of one tuple: depth-first over which job's next segment is
    appended to its device's order, starts never decreasing along the list (every
    semi-active schedule is listed in the order of its start times), pruned by each job's
    chain left and each device's work left with its least head and tail."""

    def __init__(self, problem: Problem, deadline: float | None) -> None:
        self.problem = problem
        self.stop_at = deadline
        self.nd = len(problem.devices)
        self.w = [problem.weight(j) for j in range(len(problem.jobs))]
        self.deadline = [problem.deadline(j) if problem.deadline(j) is not None else math.inf
                         for j in range(len(problem.jobs))]
        self.nodes = 0

    def solve(self, segs: list[list[tuple[int, float, float]]], cutoff: float
              ) -> tuple[float, list[list[tuple[int, int]]]] | None:
        """``segs[j]``: (device, base, transition before) per segment. The least objective
        below ``cutoff`` and its device orders, or None when none is below it."""
        n, nd, w = len(segs), self.nd, self.w
        # rest[j][k]: bases and transitions from segment k's start to the job's end
        rest = []
        for s in segs:
            r = [0.0] * (len(s) + 1)
            for k in reversed(range(len(s))):
                r[k] = s[k][1] + (s[k + 1][2] if k + 1 < len(s) else 0.0) + r[k + 1]
            rest.append(r)
        nxt = [0] * n
        ready = [0.0] * n
        free = [0.0] * nd
        done = [0.0] * n
        orders: list[list[tuple[int, int]]] = [[] for _ in range(nd)]
        best: list = [cutoff, None]
        total = sum(len(s) for s in segs)

        def bound(last: float) -> float:
            value = 0.0
            left = [0.0] * nd
            head = [math.inf] * nd
            tail = [math.inf] * nd
            wmin = [math.inf] * nd
            for j in range(n):
                k = nxt[j]
                if k == len(segs[j]):
                    value = max(value, w[j] * done[j])
                    continue
                t = max(ready[j], last)
                end = t + rest[j][k]
                if end * (1 - MARGIN) > self.deadline[j]:
                    return math.inf
                value = max(value, w[j] * end)
                for kk in range(k, len(segs[j])):
                    d = segs[j][kk][0]
                    left[d] += segs[j][kk][1]
                    head[d] = min(head[d], t)
                    tail[d] = min(tail[d], rest[j][kk] - segs[j][kk][1])
                    wmin[d] = min(wmin[d], w[j])
                    t += segs[j][kk][1] + (segs[j][kk + 1][2] if kk + 1 < len(segs[j]) else 0.0)
            for d in range(nd):
                if left[d] > 0 or head[d] < math.inf:
                    value = max(value, wmin[d] * (max(free[d], head[d]) + left[d] + tail[d]))
            return value

        def dfs(placed: int, last: float) -> None:
            self.nodes += 1
            if not self.nodes % 4096 and (
                    self.nodes > MAX_SEQUENCE_NODES
                    or (self.stop_at is not None and time.perf_counter() > self.stop_at)):
                raise _TooMany
            if placed == total:
                value = max(w[j] * done[j] for j in range(n))
                if value < best[0]:
                    best[0], best[1] = value, [list(o) for o in orders]
                return
            if bound(last) * (1 - MARGIN) >= best[0]:
                return
            moves = []
            for j in range(n):
                k = nxt[j]
                if k == len(segs[j]):
                    continue
                d = segs[j][k][0]
                start = max(ready[j], free[d])
                if start < last:
                    continue
                moves.append((start, j))
            moves.sort()
            for start, j in moves:
                k = nxt[j]
                d, base, _ = segs[j][k]
                end = start + base
                saved = (ready[j], free[d], done[j])
                nxt[j] += 1
                free[d] = end
                if k + 1 < len(segs[j]):
                    ready[j] = end + segs[j][k + 1][2]
                else:
                    done[j] = end
                orders[d].append((j, k))
                if done[j] * (1 - MARGIN) <= self.deadline[j] or k + 1 < len(segs[j]):
                    dfs(placed + 1, start)
                orders[d].pop()
                nxt[j] -= 1
                ready[j], free[d], done[j] = saved

        dfs(0, 0.0)
        if best[1] is None:
            return None
        return best[0], best[1]


def _segments(problem: Problem, o: _Options, r: int) -> tuple[Segment, ...]:
    return tuple(Segment(int(o.first[r, k]), int(o.last[r, k]), problem.devices[o.dev[r, k]])
                 for k in range(o.dev.shape[1]) if o.dev[r, k] >= 0)


def latency_jobs_search(problem: Problem, incumbent: Schedule | None = None,
                        incumbent_ms: float | None = None, deadline: float | None = None,
                        progress: Callable[[float, float, float], None] | None = None,
                        floor_ms: float = 0.0) -> LatencyJobsResult | None:
    """The search of the module docstring; ``incumbent`` (with its objective
    ``incumbent_ms``) prunes from the start; ``floor_ms``, a known lower bound on the
    objective, starts the levels. Stops at ``deadline`` (a `time.perf_counter()` value)
    with its bound. ``progress(objective_ms, bound_ms, seconds)`` hears of every better
    schedule. None when it does not apply."""
    if not applies(problem):
        return None
    t0 = time.perf_counter()
    search = _Enumerator(problem)
    if search.empty:   # a job without a valid segmentation (pins, eligibility): infeasible
        return LatencyJobsResult(None, None, None, True, 0, 0, 0, time.perf_counter() - t0)
    sequencer = _Sequencer(problem, deadline)
    best_value = math.inf if incumbent_ms is None else float(incumbent_ms)
    best_simple = None if incumbent is None else simplicity(incumbent.segments)
    best: Schedule | None = None
    lower = max(search.lower * (1 - MARGIN), floor_ms * (1 - MARGIN))
    settled = -math.inf     # every tuple with a bound at most this is settled
    level = lower * (1 + FIRST_STEP) if lower > 0 else 1e-9
    passed = sequenced = levels = 0
    optimal = False

    def late() -> bool:
        return deadline is not None and time.perf_counter() > deadline

    def final() -> float:
        return min(best_value * (1 + TIE_RTOL), search.cap * (1 + 1e-6))

    try:
        while True:
            level = min(level, final())
            levels += 1
            rows, values, simple = search.tuples(level, settled, late)
            if late():
                break
            passed += len(rows)
            stopped_at = None
            for i in range(len(rows)):
                v = float(values[i])
                if v > best_value * (1 + TIE_RTOL):
                    break
                tie = v >= best_value * (1 - TIE_RTOL)
                mine = (int(simple[i, 0]), int(simple[i, 1]))
                if tie and (best_simple is None or not mine < best_simple):
                    continue
                if late():
                    stopped_at = v
                    break
                segs = [[(int(search.jobs[j].o.dev[r, k]), float(search.jobs[j].o.base[r, k]),
                          float(search.jobs[j].o.tr[r, k]))
                         for k in range(search.jobs[j].o.dev.shape[1])
                         if search.jobs[j].o.dev[r, k] >= 0]
                        for j, r in enumerate(rows[i])]
                simpler = best_simple is None or mine < best_simple
                cutoff = (math.nextafter(best_value * (1 + TIE_RTOL), math.inf) if simpler
                          else best_value * (1 - TIE_RTOL))
                sequencer.nodes = 0
                try:
                    found = sequencer.solve(segs, cutoff)
                except _TooMany:   # past the deadline or the node limit: not settled
                    stopped_at = v
                    break
                sequenced += 1
                if found is None:
                    continue
                value, orders = found
                segments = tuple(_segments(problem, search.jobs[j].o, int(r))
                                 for j, r in enumerate(rows[i]))
                best_value, best_simple = value, mine
                best = Schedule(segments, {problem.devices[d]: tuple(seq)
                                           for d, seq in enumerate(orders) if seq})
                if progress is not None:
                    progress(best_value, min(best_value, v), time.perf_counter() - t0)
            if stopped_at is not None:
                settled = max(settled, math.nextafter(stopped_at, -math.inf))
                break
            settled = level
            if level >= final():
                optimal = True
                break
            level = lower + GROWTH * (level - lower)
    except _TooMany:
        pass
    bound = best_value if optimal else min(best_value, max(lower, settled))
    return LatencyJobsResult(
        float(bound) if math.isfinite(bound) else None, best,
        float(best_value) if best is not None else None, optimal, passed, sequenced, levels,
        time.perf_counter() - t0)

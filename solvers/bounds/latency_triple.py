"""Latency with contention, three jobs: a lower bound that refutes every triple of
segmentations below a target makespan, without sequencing any.

Two tests, both monotone, both valid for any target ``beta``: a triple none of whose
schedules has a makespan ``C < beta`` is refuted; a triple that passes has makespan at
least ``min(beta, its test value)``. So ``min(beta, least test value of the survivors)`` is
a lower bound, and ``beta`` itself when nothing survives.

1. The loss mass with the forced idle (`solvers.bounds.loss_mass`): ``C >= L_v + sum_{e !=
   v} M_e + (1 - sum_e R_{v,e}) s_v`` per device ``v``, ``s_v`` at least the triple's least
   head plus least tail on ``v`` (contention-free releases and tails: durations only
   grow). Apart from that idle the terms are sums over the jobs, so the triples that pass
   are found by a join rather than one by one. Jobs 0 and 1 are paired outright (with job
   2's least terms); the pairs are put into cells by their terms (a grid, and whether the
   pair has a segment, starts or ends on each device), job 2's segmentations likewise. A
   cell pair whose least terms (and least heads and tails) fail refutes all its triples;
   the others are split, first job 2's side, then the pairs.
2. latency_pair's test generalised to three jobs: each device's load plus forced idle, the
   loss each co-runner segment inflicts on a device's forced overlap, each segment's
   duration fixed point with ``kappa`` the least rate among the *other two* jobs'
   segments on each device, the chains, loadables and DLA symmetry (the first job with a
   DLA segment starts it on DLA0). The note "3x30 with contention, a 3-job generalisation
   of the pair search" in benchmarks/results/solvers.md argues why each step stays valid
   with a third job: a segment's overlap with a device's busy set is spent beside other
   jobs' segments, and a third co-runner only adds loss.

Then a branch and bound (docs/model.md section 5): the triples that pass both tests are
sequenced exactly in increasing test value (`latency_pair._sequence`: every device order
keeping each job's segments in order, through the simulator's engine, an order skipped
when its makespan with the test's least durations reaches the best value or the target).
Each is a real schedule, the new best when it beats it; after a target the bound is
``min(beta, best)``, or the least test value left unsequenced at the deadline.

`latency_triple_bound` starts at `FIRST` times a known bound, then jumps to `GOAL` times
the best value known, then raises the target by `STEP`, until the bound meets the best
value (a proof), a join is too large, or its deadline passes; it keeps the best bound
proven. On the benchmark's 3 x 30 (2026-12-06): 12.30 ms refuted outright (726 triples
pass the join, none the test); at 0.951 x 13.278 = 12.628 ms 5,575 of 457,706 joined
triples pass the test and none sequences below it (~1 s, 312 orders simulated), so 12.628
ms is proven; the loss-mass bound alone gives 11.94.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from solvers.bounds import latency_pair as lp
from solvers.bounds import loss_mass
from solvers.model.problem import Device, Problem, dla_symmetric
from solvers.model.schedule import Schedule

JOBS = 3
MAX_OPTIONS = 50_000
"""Most segmentations per job (3 x 30 groups, two switches: 5,049; 3 x 60: 20,889); beyond
it each target's features alone take seconds without a deadline check."""
FIRST = 1.03
"""The first target, relative to the starting bound (3 x 30: the loss-mass bound 11.94 ms;
12.3 ms is refuted outright in ~3.6 s on the 2-core box, and lower targets cost about as
much each)."""
STEP = 0.01
"""Relative raise of the target after a target is settled (3 x 30: 3-5 s per target up to
12.42 ms, 11-15 s at 12.62; past 10^8 join candidates at 12.76)."""
BINS = 16
"""Grid cells per term (device) for the join's cells."""
CHUNK = 1_000_000
"""Combinations per numpy block (a few arrays of 3 floats each: ~100 MB at most)."""
MAX_CANDIDATES = 100_000_000
"""Most (pair, segmentation) combinations the join tests at one target; past it that
target is given up (the bound proven so far stands)."""
GOAL = 0.951
"""After the first target, the next one is at least this share of the best value known
(one join at a high target costs less than the steps to it; 0.951 puts the bound just
inside a 5 % gap, which 0.95 would only reach up to rounding: the join's cost grows fast
with the target, 3 x 30 at load ~3: ~11 s at 12.62 ms, past 15 s at 12.68)."""
SEQUENCE_SLOTS = 3
"""Most segments per job (``max_transitions + 1``) for which the triples that pass are
sequenced: with three, a device holds at most 6 of a triple's segments (90 job-order
merges, at most 540 device orders per triple); with five, 9 on the GPU alone would give
1,680 merges there and over 10^5 orders. Beyond it a target is only refuted (the bound is
then the least test value of its survivors)."""
MARGIN = lp.MARGIN


@dataclass(frozen=True)
class LatencyTripleResult:
    bound_ms: float | None   # valid lower bound on the objective (None: none proven)
    targets: int             # targets tried
    joined: int              # triples passing the loss-mass join at the last target
    passed: int              # of those, triples passing the triple test there
    seconds: float
    schedule: Schedule | None = None   # a schedule better than the cap (sequenced exactly)
    value_ms: float | None = None      # its objective (the simulator's)
    optimal: bool = False              # the bound meets the best value known
    sequenced: int = 0                 # triples sequenced exactly (every target)
    orders: int = 0                    # device orders simulated
    settled: tuple[tuple[float, float, float], ...] = ()   # per target settled: (target ms,
                                                            # bound proven ms, seconds)


def applies(problem: Problem) -> bool:
    """Latency, contention on a GPU and other devices, exactly three jobs of equal weight,
    no GPU fallback, at most `MAX_OPTIONS` segmentations per job."""
    return (loss_mass.applies(problem) and len(problem.jobs) == JOBS
            and Device.GPU in problem.devices
            and len({problem.weight(j) for j in range(JOBS)}) == 1
            and all(lp._count(problem, j) <= MAX_OPTIONS for j in range(JOBS)))


@dataclass
class _Job:
    o: lp._Options
    f: lp._Features
    x: np.ndarray   # (n, D) the loss-mass terms per device (`loss_mass.vectors`)


def _idle(h: np.ndarray, t: np.ndarray) -> np.ndarray:
    lo = h + t
    return np.where(np.isfinite(lo), lo, 0.0)


def _triple_test(problem: Problem, jobs: list[_Job], idx: list[np.ndarray], beta: float,
                 weight: np.ndarray, subsets: list[tuple[int, ...]]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Test values of the triples ``(idx[0][i], idx[1][i], idx[2][i])`` (module docstring;
    inf where loadables or the DLA symmetry exclude the triple) and their segments' least
    durations in any schedule below ``beta`` (N, 3W: job 0's slots, then 1's, 2's)."""
    nd = len(problem.devices)
    width = jobs[0].o.base.shape[1]
    n = len(idx[0])
    pairs = list(zip(jobs, idx, strict=True))
    load = sum(jb.f.load[i] for jb, i in pairs)
    lo = _idle(np.min(np.stack([jb.f.head[i] for jb, i in pairs]), axis=0),
               np.min(np.stack([jb.f.tail[i] for jb, i in pairs]), axis=0))
    x = sum(jb.x[i] for jb, i in pairs)
    value = np.maximum(np.max(x + weight * lo, axis=1), np.max(load + lo, axis=1))
    bad = np.zeros(n, dtype=bool)
    for di, d in enumerate(problem.devices):
        if d.kind == "dla":
            bad |= sum(jb.f.dla_count[i, di] for jb, i in pairs) > problem.dla_loadable_limit
    if dla_symmetric(problem):
        seen = np.zeros(n, dtype=bool)
        for jb, i in pairs:
            bad |= ~seen & ~jb.f.canonical[i]
            seen |= jb.f.has_dla[i]
    sigma = np.maximum(beta - load, 0.0)
    base = np.concatenate([jb.o.base[i] for jb, i in pairs], axis=1)
    dev = np.concatenate([jb.o.dev[i] for jb, i in pairs], axis=1)
    used = dev >= 0
    devz = np.where(used, dev, 0)
    # least loss each job's segments on e inflict on victims on v (inf: none on e)
    k_on = [np.where(jb.f.dla_count[i][:, :, None] > 0, jb.f.k_on[i], np.inf)
            for jb, i in pairs]
    parts = []
    for j in range(JOBS):
        least = np.min(np.stack([k_on[i] for i in range(JOBS) if i != j]), axis=0)
        least = np.where(np.isfinite(least), least, 0.0)
        cols = devz[:, None, j * width:(j + 1) * width]
        parts.append(np.take_along_axis(least, np.repeat(cols, nd, 1), axis=2))
    kappa = np.concatenate(parts, axis=2) * used[:, None, :]
    dur = lp.fixed_point(base, kappa, sigma, subsets)
    for j, (jb, i) in enumerate(pairs):
        value = np.maximum(value, dur[:, j * width:(j + 1) * width].sum(axis=1)
                           + jb.o.tr[i].sum(axis=1))
    rate = np.concatenate([jb.f.rate[i] for jb, i in pairs], axis=2)
    value = np.maximum(value, lp.devices_phi(rate, dur, load, lo))
    return np.where(bad, np.inf, value * (1 - MARGIN)), dur


class _GiveUp(Exception):
    """The join at this target is too large or past its deadline."""


@dataclass
class _Cells:
    """Rows (pairs, or job 2's segmentations) sorted into cells: a grid over the terms and
    the device-wise "starts / ends here" flags; per cell the least terms, heads, tails."""

    order: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    x: np.ndarray
    head: np.ndarray
    tail: np.ndarray


def _cells(x: np.ndarray, head: np.ndarray, tail: np.ndarray, lo: np.ndarray,
           span: np.ndarray) -> _Cells:
    nd = x.shape[1]
    bins = np.clip(((x - lo) / span).astype(np.int64), 0, BINS - 1)
    key = np.zeros(len(x), dtype=np.int64)
    for v in range(nd):
        key = key * BINS + bins[:, v]
    for v in range(nd):
        # a cell holds rows that all have, or all lack, a segment on v: a triple with no
        # segment on v has no forced idle there, so the cell's least head and tail may
        # only come from rows like its own
        key = key * 8 + np.isfinite(head[:, v]) * 4 + (head[:, v] == 0) * 2 + (tail[:, v] == 0)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else \
        np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(key)].astype(np.int64)
    return _Cells(order, starts, ends, *(np.minimum.reduceat(a[order], starts, axis=0)
                                         if len(key) else a[:0] for a in (x, head, tail)))


def _expand(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[starts[i], ends[i])``: (which range, position) of every member."""
    reps = ends - starts
    total = int(reps.sum())
    which = np.repeat(np.arange(len(starts)), reps)
    pos = np.repeat(starts, reps) + np.arange(total) - np.repeat(np.cumsum(reps) - reps, reps)
    return which, pos


def _join(jobs: list[_Job], beta: float, weight: np.ndarray, deadline: float | None
          ) -> list[np.ndarray]:
    """The triples whose loss-mass value with the forced idle is below ``beta`` (module
    docstring), as index arrays into each job's segmentations."""
    a, b, c = jobs

    def late() -> None:
        if deadline is not None and time.perf_counter() > deadline:
            raise _GiveUp

    def passes(x: np.ndarray, h: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.all(x + weight * _idle(h, t) < beta, axis=-1)

    # pairs of jobs 0 and 1 that some segmentation of job 2 may complete
    # job 2's least terms, heads and tails; where some of its segmentations have no
    # segment on a device, a triple may have none there either and then no forced idle:
    # no head or tail is assumed there (the idle term must never exceed a member's)
    missing = ~np.all(np.isfinite(c.f.head), axis=0)
    floor = (c.x.min(axis=0), np.where(missing, 0.0, c.f.head.min(axis=0)),
             np.where(missing, 0.0, c.f.tail.min(axis=0)))
    ia_l, ib_l = [], []
    rows = max(1, CHUNK // 4 // max(len(b.x), 1))
    for s in range(0, len(a.x), rows):
        late()
        ok = passes(a.x[s:s + rows, None, :] + b.x[None, :, :] + floor[0],
                    np.minimum(np.minimum(a.f.head[s:s + rows, None, :], b.f.head[None]),
                               floor[1]),
                    np.minimum(np.minimum(a.f.tail[s:s + rows, None, :], b.f.tail[None]),
                               floor[2]))
        pa, pb = np.nonzero(ok)
        ia_l.append(pa + s)
        ib_l.append(pb)
    ia, ib = np.concatenate(ia_l), np.concatenate(ib_l)
    if not len(ia) or not len(c.x):
        return [ia[:0], ib[:0], ia[:0]]
    px = a.x[ia] + b.x[ib]
    ph = np.minimum(a.f.head[ia], b.f.head[ib])
    pt = np.minimum(a.f.tail[ia], b.f.tail[ib])
    lo = np.minimum(px.min(axis=0), c.x.min(axis=0))
    span = (np.maximum(px.max(axis=0), c.x.max(axis=0)) - lo) / BINS + 1e-12
    pc = _cells(px, ph, pt, lo, span)
    cc = _cells(c.x, c.f.head, c.f.tail, lo, span)
    # cell pairs, then (pair cell, segmentation of job 2), then (pair, segmentation)
    found_p, found_c = [], []
    step = max(1, CHUNK // max(len(cc.starts), 1))
    candidates = 0
    for u0 in range(0, len(pc.starts), step):
        late()
        u1 = min(len(pc.starts), u0 + step)
        ok = passes(pc.x[u0:u1, None, :] + cc.x[None, :, :],
                    np.minimum(pc.head[u0:u1, None, :], cc.head[None]),
                    np.minimum(pc.tail[u0:u1, None, :], cc.tail[None]))
        u, w = np.nonzero(ok)
        u += u0
        k, pos = _expand(cc.starts[w], cc.ends[w])
        u, opt = u[k], cc.order[pos]
        ok = passes(pc.x[u] + c.x[opt], np.minimum(pc.head[u], c.f.head[opt]),
                    np.minimum(pc.tail[u], c.f.tail[opt]))
        u, opt = u[ok], opt[ok]
        sizes = pc.ends[u] - pc.starts[u]
        candidates += int(sizes.sum())
        if candidates > MAX_CANDIDATES:
            raise _GiveUp
        # expand a block of (pair cell, segmentation) at a time: at most ~CHUNK pairs each
        cuts = np.searchsorted(np.cumsum(sizes), np.arange(CHUNK, int(sizes.sum()), CHUNK))
        for lo_u, hi_u in itertools.pairwise(np.r_[0, cuts, len(u)]):
            late()
            k, pos = _expand(pc.starts[u[lo_u:hi_u]], pc.ends[u[lo_u:hi_u]])
            p, o2 = pc.order[pos], opt[lo_u:hi_u][k]
            ok = passes(px[p] + c.x[o2], np.minimum(ph[p], c.f.head[o2]),
                        np.minimum(pt[p], c.f.tail[o2]))
            found_p.append(p[ok])
            found_c.append(o2[ok])
    p = np.concatenate(found_p) if found_p else ia[:0]
    return [ia[p], ib[p], np.concatenate(found_c) if found_c else ia[:0]]


def latency_triple_bound(problem: Problem, start_ms: float, cap_ms: float,
                         deadline: float | None = None,
                         options: tuple[lp._Options, ...] | None = None
                         ) -> LatencyTripleResult | None:
    """A lower bound on the objective, and better schedules when some exist (module
    docstring): targets from `FIRST` times ``start_ms`` (a known lower bound), then `GOAL`
    times ``cap_ms`` (a known schedule's objective, or inf), then raised by `STEP` up to
    the best value known, while ``deadline`` (a `time.perf_counter()` value) allows; None
    when it does not apply. The bound is None when not even the first target was settled
    in time. ``options``: every job's segmentations if already listed
    (`loss_mass.segmentations`)."""
    if not applies(problem) or not math.isfinite(start_ms) or start_ms <= 0:
        return None
    t0 = time.perf_counter()
    w = problem.weight(0)
    listed = options or loss_mass.segmentations(problem, deadline)
    if listed is None:
        return None
    masses = loss_mass.masses(problem)
    weight = np.maximum(0.0, 1.0 - masses.largest.sum(axis=1))
    nd = len(problem.devices)
    subsets = [s for size in range(1, nd) for s in itertools.combinations(range(nd), size)]
    beta, best = FIRST * start_ms / w, cap_ms / w
    serial = sum(float(o.chain.max(initial=0.0)) for o in listed)
    loss = functools.lru_cache(maxsize=None)(problem.loss_rate)   # the simulator's rates
    bound: float | None = None
    found_best: tuple | None = None
    count = _Count()
    while True:
        beta = min(beta, best)
        count.targets += 1
        try:
            proven, beta_best, schedule = _target(problem, listed, masses, weight, subsets,
                                                  beta, best, loss, deadline, count)
        except _GiveUp:
            break
        if schedule is not None:
            best, found_best = beta_best, schedule
        bound = proven if bound is None else max(bound, proven)
        count.settled.append((beta * w, proven * w, time.perf_counter() - t0))
        if proven < beta or bound >= best or (deadline is not None
                                              and time.perf_counter() > deadline):
            break   # cut while sequencing, a proof, or no time for another target
        if not math.isfinite(best) and (count.passed or beta >= serial):
            # no schedule known: triples passed and none met the deadlines, or past the
            # jobs run one after another (no contention), which the targets never need
            break
        beta *= 1 + STEP
        if count.targets == 1 and math.isfinite(best):
            beta = max(beta, GOAL * best)
    return LatencyTripleResult(
        None if bound is None else bound * w, count.targets, count.joined, count.passed,
        time.perf_counter() - t0,
        None if found_best is None else lp._schedule(*found_best),
        None if found_best is None else best * w, bound is not None and bound >= best,
        count.sequenced, count.orders, tuple(count.settled))


@dataclass
class _Count:
    targets: int = 0
    joined: int = 0      # at the last target
    passed: int = 0      # at the last target
    sequenced: int = 0   # over every target
    orders: int = 0
    settled: list[tuple[float, float, float]] = field(default_factory=list)


def _target(problem: Problem, listed: tuple[lp._Options, ...], masses: loss_mass.Masses,
            weight: np.ndarray, subsets: list[tuple[int, ...]], beta: float, best: float,
            loss: Callable[[int, Device, int, Device, int, int], float],
            deadline: float | None, count: _Count) -> tuple[float, float, tuple | None]:
    """One target ``beta`` (a makespan, at most ``best``, the best one known): the triples
    that pass the join and the test, then each of them sequenced exactly in increasing
    test value (`latency_pair._sequence`: every device order keeping each job's segments
    in order through the simulator's engine, an order pruned when its makespan with the
    test's least durations reaches the best value known). Returns (the bound proven: the
    least of ``beta``, the best value and the least test value left unsequenced at the
    deadline; the best makespan known; the better schedule's (segments, order, prepared)
    or None). Raises `_GiveUp` when the join is too large or past ``deadline``."""
    nd = len(problem.devices)
    jobs = []
    for j in range(JOBS):
        o = lp._take(listed[j], np.nonzero(listed[j].chain < beta)[0])
        jobs.append(_Job(o, lp._features(problem, j, o),
                         loss_mass.vectors(problem, j, o, masses)[:, :nd]))
    if min(len(jb.x) for jb in jobs) == 0:   # some job's chain alone reaches beta
        found = [np.zeros(0, dtype=np.int64)] * JOBS
    else:
        found = _join(jobs, beta, weight, deadline)
    count.joined = len(found[0])
    values, durs, rows = [], [], []
    for s in range(0, count.joined, CHUNK // 16):
        if deadline is not None and time.perf_counter() > deadline:
            raise _GiveUp
        block = [f[s:s + CHUNK // 16] for f in found]
        v, dur = _triple_test(problem, jobs, block, beta, weight, subsets)
        low = v < beta
        values.append(v[low])
        durs.append(dur[low])
        rows.append(np.stack([b[low] for b in block], axis=1))
    value = np.concatenate(values) if values else np.zeros(0)
    count.passed = len(value)
    if not len(value):
        return beta, best, None
    if listed[0].dev.shape[1] > SEQUENCE_SLOTS:   # refuted only: the least survivor bounds
        return min(beta, float(value.min())), best, None
    dur, row = np.concatenate(durs), np.concatenate(rows)
    schedule = None
    opts = tuple(jb.o for jb in jobs)
    order = np.argsort(value, kind="stable")
    lows = np.zeros(0)
    for at, idx in enumerate(order):
        least = float(value[idx])
        if least >= min(beta, best):
            break   # no triple left can beat the target or the best value
        if deadline is not None and time.perf_counter() > deadline:
            return min(beta, best, least), best, schedule
        count.sequenced += 1
        if at % lp.SEQUENCE_BLOCK == 0:   # every order's least makespan, a block at once
            block = order[at:at + lp.SEQUENCE_BLOCK]
            lows = lp._order_lows(opts, tuple(row[block, j] for j in range(JOBS)),
                                  dur[block], nd)
        if lows[at % lp.SEQUENCE_BLOCK] * (1 - MARGIN) >= min(beta, best):
            continue   # no order to simulate
        # the least durations hold for schedules below beta, and every order is cut at
        # the best value below it
        orders, got = lp._sequence(problem, opts, tuple(int(r) for r in row[idx]), loss,
                                   dur[idx], min(beta, best))
        count.orders += orders
        if got is not None:
            best = got[0] / problem.weight(0)
            schedule = (got[1], got[2], got[3])
    return min(beta, best), best, schedule

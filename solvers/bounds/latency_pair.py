"""Latency with contention, two jobs: a bound over every pair of segmentations, and the exact
optimum by refining the pairs that pass it, best first.

CP-SAT's contention model charges each overlap a loss read from the co-runner's group span
(docs/model.md section 6); its LP sees only an envelope of those products, so its bound
stays near the load bound (2 x 60 groups: 13.3 ms for a 19.46 ms optimum). With two jobs
every segmentation of each job can be enumerated (2 x 60 groups, 2 switches, 3 devices:
20,889 per job), and every *pair* can be charged its own segments' loss rates, vectorised
with numpy, as `solvers.bounds.pair` does for throughput. This module is the latency
analogue, plus the exact step that makes it a solver: a logic-based decomposition whose
master is the enumeration and whose sub-problem is the exact sequencing of one pair.

The test of one pair at a target ``beta`` (the best known makespan): suppose a schedule of
these segments has makespan ``C < beta``; everything lies in ``[0, C]``.

- Device ``d`` is busy ``B_d = sum of its segments' durations <= C``; its idle time
  ``s_d = C - B_d`` is at least ``head_d + tail_d``: no segment can start on ``d`` before
  the least contention-free release of the segments placed there (0 if a job starts there)
  and the last one there is followed by at least the least contention-free tail of its job.
- A segment ``c`` of one job overlaps ``d``'s busy set by at least ``dur_c - s_d`` (both
  lie in ``[0, C]``), and while ``c`` runs its own job runs nothing else, so that overlap is
  spent next to the *other* job's segments on ``d``, each slowed by ``c``'s own loss rate
  ``k_d(c)`` (the curve of ``d``'s kind at ``c``'s groups' demand). Hence ``C = s_d + B_d
  >= phi_d = min_{s >= head_d + tail_d} s + L_d + sum_{c not on d} k_d(c) max(0, dur_c -
  s)`` (``L_d``: the standalone load; the function of ``s`` is convex piecewise linear, its
  minimum sits at the lower end or at a ``dur_c``).
- A segment ``c`` overlaps every other device ``e``'s busy set by at least ``dur_c - s_e
  >= dur_c - sigma_e``, ``sigma_e = beta - L_e``, and ``e`` then runs the other job, whose
  segments there slow ``c`` at least at ``kappa_e`` (their least rate on ``c``'s device
  kind): ``dur_c >= base_c + sum_e kappa_e max(0, dur_c - sigma_e)``, whose fixed point is
  the largest of ``(base_c - sum_{e in A} kappa_e sigma_e) / (1 - sum_{e in A} kappa_e)``
  over the sets ``A`` of other devices (`_durations`; first the GPU alone, in closed form).
- Each job's chain: ``C >= sum of its durations + transitions``.

So ``C >= Phi = max(phi_d, chains)`` and every schedule of the pair has a makespan of at
least ``min(beta, Phi)``: a valid bound for any ``beta``. On the benchmark's 2 x 60 pair
6,188 of 13.1 M pairs pass at the optimum (the rest are refuted by the test alone).

The pairs that pass are solved exactly in increasing ``Phi``: every device order that
keeps each job's segments in job order (any other deadlocks) is simulated by the
simulator's own engine (`solvers.judges.simulator.latency_objective`, contention and
semi-active starts included, deadlines enforced), except an order whose makespan with the
least durations above (`_release_makespan`, monotone in them) already reaches the best
value (2 x 60: 1,566 of 38,351 orders simulated). Once the next ``Phi`` reaches the best
value found, no pair left can beat it: that value is the optimum (the bound is exact, not
a relaxation). Cut by a deadline, the least ``Phi`` not yet solved is still a valid bound.
DLA0 / DLA1 symmetry (`dla_symmetric`) keeps only pairs whose first DLA segment is on DLA0.
Applies to two jobs with equal weights (the objective is then ``w`` times the makespan).

Before a pair is simulated, its device orders are tested in numpy, a block of pairs at a
time (`_order_lows`: the same `_release_makespan` per pattern pair); a pair none of whose
orders can beat the best value is settled without the simulator (2 x 250: 683 k pairs,
115 k orders simulated).

Sets of segmentations. Beyond `MAX_PAIRS` pairs (2 x 250 groups: 5.3e9 at 82.37 ms) the
pairs are not tested one by one. `_Tree` orders each job's segmentations by device pattern,
then by the Morton order of their cuts, and groups them into a binary hierarchy of sets of
at most ``2^l`` consecutive ones (one pattern per set, so a set is a box of nearby cuts);
each set carries the least of every feature over its members. Every step of the test is
monotone in the features (less load, release, tail, base time, transition or loss rate
never raises it; a larger ``sigma`` never raises the durations), so a pair of sets whose
test value reaches ``beta`` holds no pair that passes: `_tree_pairs` tests the pairs of
sets level by level from the top and splits only the survivors, and at level 0 the sets
are single segmentations and the test is the pair's own. 2 x 250 at 82.37 ms: ~28 M set
pairs tested over 18 levels (at most 2.3 M open at once), 1.1 M pairs pass, and the exact
step proves 82.155951 ms in ~41 s. Cut by the deadline, the least test value of the open
set pairs is the bound (it is weak until the last levels: 66.5 ms after 28 s). The cost
grows fast with ``beta`` (more than 8 M open set pairs at 85.24 ms), so CP-SAT warms the
incumbent from the contention-free optimum too.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from solvers.errors import ProblemError
from solvers.judges.simulator import Prepared, assemble, latency_objective
from solvers.model.problem import Device, Objective, Problem, dla_symmetric
from solvers.model.schedule import Schedule, Segment

MAX_OPTIONS = 1_000_000
"""Most segmentations per job to enumerate (2 x 250 groups, 2 switches: 371,000 each)."""
MAX_PAIRS = 60_000_000
"""Most pairs (after each job's own chain test) to test one by one; beyond it they are
tested through sets of segmentations (`_Tree`)."""
MAX_TREE_OPTIONS = 250_000
"""Most segmentations per job (after its own chain test) for the sets of `_Tree` (its
features take ~0.5 kB per segmentation over all levels); beyond it the search does not
apply (2 x 250 groups at 82.25 ms: 66,221 and 79,617)."""
CHUNK_PAIRS = 250_000
"""Pairs per numpy block."""
KEEP_PAIRS = 1_000_000
"""Most passing pairs kept for the exact step (those with the least test values; the value
of the least one dropped still bounds every pair dropped)."""
SEQUENCE_BLOCK = 20_000
"""Pairs whose device orders are pre-tested together in numpy (`_order_lows`) before the
exact step."""
MARGIN = 1e-9
"""Relative margin taken off every test value (floating-point sums in a different order
from the simulator's)."""


@dataclass(frozen=True)
class LatencyPairResult:
    bound_ms: float | None       # valid lower bound on the objective (None: not finished)
    schedule: Schedule | None    # best schedule found by the exact step (None: none better)
    value_ms: float | None       # its objective (the simulator's)
    optimal: bool                # the bound meets the best value known
    pairs: int                   # pairs tested (after each job's own chain test)
    passed: int                  # pairs whose test value is below the target
    solved: int                  # pairs sequenced exactly
    orders: int                  # device orders simulated
    seconds: float


def applies(problem: Problem) -> bool:
    """Latency, contention on several devices, two jobs of equal weight, and few enough
    segmentations per job. Not with GPU fallback (docs/model.md 2.1): its segmentations
    are those of ``max_transitions + 1`` user segments, not the executed pieces."""
    if (problem.objective is not Objective.LATENCY or len(problem.jobs) != 2
            or not problem.contention.enabled or len(problem.devices) < 2
            or problem.weight(0) != problem.weight(1) or problem.any_fallback):
        return False
    return all(_count(problem, j) <= MAX_OPTIONS for j in range(2))


def _count(problem: Problem, job: int) -> int:
    n, d = problem.n_groups(job), len(problem.devices)
    return sum(math.comb(n - 1, m - 1) * d * (d - 1) ** (m - 1)
               for m in range(1, min(problem.max_transitions + 1, n) + 1))


@dataclass
class _Options:
    """One job's segmentations as arrays (``W = max_transitions + 1`` slots, unused slots
    have device -1 and base 0)."""

    dev: np.ndarray     # (n, W) device index
    first: np.ndarray   # (n, W) first group
    last: np.ndarray    # (n, W) last group
    base: np.ndarray    # (n, W) standalone time
    tr: np.ndarray      # (n, W) transition paid before the slot
    chain: np.ndarray   # (n,) contention-free chain (bases + transitions)


class _Late(Exception):
    """The enumeration of a job's segmentations passed its deadline."""


def job_tables(problem: Problem, job: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One job's costs as arrays, shared with `solvers.bounds.latency_cuts`: per device, the
    prefix sums ``(D, n + 1)`` of its group times (0 for a group it may not run: missing
    cost, pin, DLA-ineligible) and the prefix counts ``(D, n + 1)`` of such groups; per
    ordered device pair, the transition cost ``(D, D, max(n, 1))`` after each group (NaN
    where it is missing, which forbids that cut, and on the diagonal)."""
    devices = problem.devices
    nd = len(devices)
    n = problem.n_groups(job)
    prefix = np.zeros((nd, n + 1))
    blocked = np.zeros((nd, n + 1), dtype=np.int64)
    for di, d in enumerate(devices):
        for g in range(n):
            c = problem.cost(job, g, d)
            ok = c is not None and d in problem.allowed(job, g)
            prefix[di, g + 1] = prefix[di, g] + (c if ok else 0.0)
            blocked[di, g + 1] = blocked[di, g] + (not ok)
    trans = np.full((nd, nd, max(n, 1)), np.nan)
    for (si, s), (ti, t) in itertools.product(enumerate(devices), repeat=2):
        if si == ti:
            continue
        for g in range(n - 1):
            # a missing transition cost forbids this cut (stays NaN)
            with contextlib.suppress(ProblemError):
                trans[si, ti, g] = problem.transition(job, g, s, t)
    return prefix, blocked, trans


def _options(problem: Problem, job: int, deadline: float | None = None) -> _Options:
    """Every segmentation x device assignment of ``job`` (as `oracle.job_options`, in
    arrays): consecutive segments on different devices, every group allowed on its device,
    every transition defined. Raises `_Late` past ``deadline`` (a `time.perf_counter()`
    value): 12 groups at 11 switches are ~500,000 options, seconds to list."""
    nd = len(problem.devices)
    n = problem.n_groups(job)
    width = problem.max_transitions + 1
    prefix, blocked, trans = job_tables(problem, job)
    parts: list[tuple[np.ndarray, ...]] = []
    for m in range(1, min(width, n) + 1):
        combos = list(itertools.combinations(range(1, n), m - 1))
        cuts = np.array(combos, dtype=np.int64).reshape(len(combos), m - 1)
        starts = np.concatenate([np.zeros((len(cuts), 1), dtype=np.int64), cuts], axis=1)
        ends = np.concatenate([cuts, np.full((len(cuts), 1), n, dtype=np.int64)], axis=1)
        for devs in itertools.product(range(nd), repeat=m):
            if any(a == b for a, b in itertools.pairwise(devs)):
                continue
            if deadline is not None and time.perf_counter() > deadline:
                raise _Late
            dv = np.array(devs)
            ok = np.ones(len(cuts), dtype=bool)
            base = np.zeros((len(cuts), width))
            tr = np.zeros((len(cuts), width))
            for k in range(m):
                ok &= blocked[dv[k], ends[:, k]] == blocked[dv[k], starts[:, k]]
                base[:, k] = prefix[dv[k], ends[:, k]] - prefix[dv[k], starts[:, k]]
                if k:
                    tr[:, k] = trans[dv[k - 1], dv[k], starts[:, k] - 1]
            ok &= ~np.isnan(tr).any(axis=1)
            if not ok.any():
                continue
            cnt = int(ok.sum())
            dev = np.full((cnt, width), -1, dtype=np.int64)
            first = np.zeros((cnt, width), dtype=np.int64)
            last = np.zeros((cnt, width), dtype=np.int64)
            dev[:, :m] = dv
            first[:, :m] = starts[ok]
            last[:, :m] = ends[ok] - 1
            parts.append((dev, first, last, base[ok], tr[ok]))
    if not parts:   # no valid segmentation (pins, eligibility): the problem is infeasible
        none = np.zeros((0, width), dtype=np.int64)
        return _Options(none, none, none, none.astype(float), none.astype(float), np.zeros(0))
    dev, first, last, base, tr = (np.concatenate([p[i] for p in parts]) for i in range(5))
    return _Options(dev, first, last, base, tr, base.sum(axis=1) + tr.sum(axis=1))


@dataclass
class Placement:
    """What each segmentation puts on each device, contention aside (shared with
    `solvers.bounds.latency_jobs`)."""

    load: np.ndarray       # (n, D) standalone load per device
    count: np.ndarray      # (n, D) segments per device (loadables)
    head: np.ndarray       # (n, D) least release of its segments on d (inf: none)
    tail: np.ndarray       # (n, D) least tail after its segments on d (inf: none)
    on_dla: np.ndarray     # (n, W)
    first_dla: np.ndarray  # (n,) device of its first DLA segment (-1: none)


def placement(problem: Problem, o: _Options) -> Placement:
    """Per device, each segmentation's load, segment count, and the least contention-free
    release (the bases and transitions before a segment, plus its own transition) and
    tail (everything after it) of its segments there; its first DLA segment's device."""
    nd = len(problem.devices)
    n, width = o.dev.shape
    step = o.base + o.tr
    release = np.cumsum(step, axis=1) - step + o.tr
    after = step.sum(axis=1)[:, None] - np.cumsum(step, axis=1)
    load = np.zeros((n, nd))
    count = np.zeros((n, nd), dtype=np.int64)
    head = np.full((n, nd), np.inf)
    tail = np.full((n, nd), np.inf)
    on_dla = np.zeros((n, width), dtype=bool)
    for di, d in enumerate(problem.devices):
        on = o.dev == di
        load[:, di] = (o.base * on).sum(axis=1)
        count[:, di] = on.sum(axis=1)
        head[:, di] = np.where(on, release, np.inf).min(axis=1)
        tail[:, di] = np.where(on, after, np.inf).min(axis=1)
        if d.kind == "dla":
            on_dla |= on
    first_dla = np.full(n, -1, dtype=np.int64)
    for k in reversed(range(width)):
        first_dla = np.where(on_dla[:, k], o.dev[:, k], first_dla)
    return Placement(load, count, head, tail, on_dla, first_dla)


def _take(o: _Options, keep: np.ndarray) -> _Options:
    return _Options(o.dev[keep], o.first[keep], o.last[keep], o.base[keep], o.tr[keep],
                    o.chain[keep])


@dataclass
class _Features:
    load: np.ndarray      # (n, D) standalone load per device
    rate: np.ndarray      # (n, D, W) loss each segment inflicts on the other job on d
    k_on: np.ndarray      # (n, D, D) least loss its segments on e inflict on the other job's
                          # segments on v (0: none on e)
    on_dla: np.ndarray    # (n, W)
    head: np.ndarray      # (n, D) least release of its segments on d (inf: none)
    tail: np.ndarray      # (n, D) least tail after its segments on d (inf: none)
    dla_count: np.ndarray  # (n, D) segments per device (loadables)
    canonical: np.ndarray  # (n,) first DLA segment on DLA0, or no DLA segment
    has_dla: np.ndarray    # (n,)


def _features(problem: Problem, job: int, o: _Options) -> _Features:
    devices = problem.devices
    nd = len(devices)
    n, width = o.dev.shape
    other = 1 - job
    placed = placement(problem, o)
    # loss each span inflicts, per (victim device, aggressor device), from the problem
    rates: dict[tuple[int, int, int, int], float] = {}

    def loss(vi: int, ai: int, a: int, b: int) -> float:
        key = (vi, ai, a, b)
        if key not in rates:
            rates[key] = problem.loss_rate(other, devices[vi], job, devices[ai], a, b)
        return rates[key]

    rate = np.zeros((n, nd, width))
    # distinct (device, first, last) per slot: compute each span's rates once
    for k in range(width):
        spans = np.unique(np.stack([o.dev[:, k], o.first[:, k], o.last[:, k]], axis=1),
                          axis=0, return_inverse=True)
        uniq, inv = spans[0], spans[1].reshape(-1)
        table = np.zeros((len(uniq), nd))
        for u, (ai, a, b) in enumerate(uniq):
            if ai < 0:
                continue
            for vi in range(nd):
                if vi != ai:
                    table[u, vi] = loss(vi, int(ai), int(a), int(b))
        rate[:, :, k] = table[inv]
    # least loss its segments on device e inflict on the other job's segments on device v
    k_on = np.full((n, nd, nd), np.inf)
    for k in range(width):
        for e in range(nd):
            on = (o.dev[:, k] == e)[:, None]
            k_on[:, e, :] = np.where(on, np.minimum(k_on[:, e, :], rate[:, :, k]),
                                     k_on[:, e, :])
    k_on = np.where(np.isfinite(k_on), k_on, 0.0)
    has_dla = placed.first_dla >= 0
    dla0 = devices.index(Device.DLA0) if Device.DLA0 in devices else -2
    canonical = (~has_dla) | (placed.first_dla == dla0)
    return _Features(placed.load, rate, k_on, placed.on_dla, placed.head, placed.tail,
                     placed.count, canonical, has_dla)


def _durations(fa: _Features, oa: _Options, fb: _Features, ob: _Options, ia: np.ndarray,
               ib: np.ndarray, beta: float, load: np.ndarray,
               subsets: list[tuple[int, ...]]) -> np.ndarray:
    """Least durations (N, 2W) of the pairs' segments, job a's then job b's: the fixed point
    of ``dur_c = base_c + sum_e kappa_e(c) max(0, dur_c - sigma_e)`` (module docstring).
    Since ``max(0, y) >= y``, ``dur_c >= (base_c - sum_{e in A} kappa_e sigma_e) / (1 -
    sum_{e in A} kappa_e)`` for every set ``A`` of devices (the sums of rates stay below 1),
    with equality for the devices the fixed point lies above: it is the largest of them
    (``subsets``: the sets ``A`` to take, each one a valid lower bound on its own)."""
    sigma = np.maximum(beta - load, 0.0)                                # (N, D)
    base = np.concatenate([oa.base[ia], ob.base[ib]], axis=1)           # (N, S)
    dev = np.concatenate([oa.dev[ia], ob.dev[ib]], axis=1)
    used = dev >= 0
    dev = np.where(used, dev, 0)
    width = oa.base.shape[1]
    nd = load.shape[1]
    # kappa[n, e, s]: least loss the other job's segments on e inflict on segment s
    ka = np.take_along_axis(fb.k_on[ib], np.repeat(dev[:, None, :width], nd, 1), axis=2)
    kb = np.take_along_axis(fa.k_on[ia], np.repeat(dev[:, None, width:], nd, 1), axis=2)
    kappa = np.concatenate([ka, kb], axis=2) * used[:, None, :]
    return fixed_point(base, kappa, sigma, subsets)


def fixed_point(base: np.ndarray, kappa: np.ndarray, sigma: np.ndarray,
                subsets: list[tuple[int, ...]]) -> np.ndarray:
    """The least durations (N, S) of `_durations`' docstring from the segments' bases
    (N, S), the least rates ``kappa[n, e, s]`` the co-runners on device ``e`` inflict on
    segment ``s`` and the idle times ``sigma`` (N, D); shared with
    `solvers.bounds.latency_triple`."""
    dur = base
    for subset in subsets:
        k = kappa[:, subset, :].sum(axis=1)
        ks = (kappa[:, subset, :] * sigma[:, subset, None]).sum(axis=1)
        dur = np.maximum(dur, (base - ks) / (1.0 - k))
    return dur


def _gpu_durations(fa: _Features, oa: _Options, fb: _Features, ob: _Options,
                   ia: np.ndarray, ib: np.ndarray, beta: float, load: np.ndarray,
                   gpu: int, dla: int) -> np.ndarray:
    """`_durations` with the set ``A = {GPU}`` alone and for DLA segments only (the
    strongest term on Xavier-like curves), without gathers: cheap, for a first test."""
    sigma = np.maximum(beta - load[:, gpu], 0.0)[:, None]
    width = oa.base.shape[1]
    kappa = np.concatenate([np.repeat(fb.k_on[ib, gpu, dla][:, None], width, axis=1),
                            np.repeat(fa.k_on[ia, gpu, dla][:, None], width, axis=1)], axis=1)
    base = np.concatenate([oa.base[ia], ob.base[ib]], axis=1)
    on_dla = np.concatenate([fa.on_dla[ia], fb.on_dla[ib]], axis=1)
    return np.where(on_dla, np.maximum(base, (base - kappa * sigma) / (1.0 - kappa)), base)


def _chains(oa: _Options, ob: _Options, ia: np.ndarray, ib: np.ndarray,
            dur: np.ndarray) -> np.ndarray:
    width = oa.base.shape[1]
    return np.maximum(dur[:, :width].sum(axis=1) + oa.tr[ia].sum(axis=1),
                      dur[:, width:].sum(axis=1) + ob.tr[ib].sum(axis=1))


def devices_phi(rate: np.ndarray, dur: np.ndarray, load: np.ndarray, lo: np.ndarray
                ) -> np.ndarray:
    """``max_d phi_d`` (module docstring) from the segments' loss rates ``rate`` (N, D, S),
    least durations ``dur`` (N, S), the devices' loads and least forced idle (N, D); shared
    with `solvers.bounds.latency_triple`."""
    phi = None
    for di in range(load.shape[1]):
        # candidate idle times: the lower end and every duration above it
        cands = np.maximum(np.concatenate([np.zeros((len(dur), 1)), dur], axis=1),
                           lo[:, di:di + 1])
        g = cands + load[:, di:di + 1] + np.einsum(
            "ns,nsc->nc", rate[:, di, :], np.maximum(dur[:, :, None] - cands[:, None, :], 0.0))
        v = g.min(axis=1)
        phi = v if phi is None else np.maximum(phi, v)
    assert phi is not None
    return phi


def _merges(lists: list[list[int]]) -> Iterator[list[int]]:
    """Every interleaving of ``lists`` keeping each in its order."""
    rest = [x for x in lists if x]
    if not rest:
        yield []
        return
    for i, head in enumerate(rest):
        for tail in _merges([*rest[:i], head[1:], *rest[i + 1:]]):
            yield [head[0], *tail]


def _release_makespan(pred: list[int], tr: list[float], dur: list[float],
                      order: list[list[int]]) -> float:
    """Makespan of ``order`` (per device, segment indices) with fixed durations ``dur``,
    job predecessors ``pred`` (-1: none), transitions ``tr`` before each segment and
    ``start = max(ready, end of the device predecessor)``; inf if the order deadlocks.
    With durations at most the true ones it is at most the simulated makespan (that
    recursion is monotone in the durations)."""
    n = len(pred)
    end = [-1.0] * n
    pos = [0] * len(order)
    last = [0.0] * len(order)
    done = 0
    while done < n:
        moved = False
        for d, seq in enumerate(order):
            while pos[d] < len(seq):
                i = seq[pos[d]]
                p = pred[i]
                if p >= 0 and end[p] < 0:
                    break
                ready = 0.0 if p < 0 else end[p] + tr[i]
                end[i] = (ready if ready > last[d] else last[d]) + dur[i]
                last[d] = end[i]
                pos[d] += 1
                done += 1
                moved = True
        if not moved:
            return math.inf
    return max(end)


@functools.lru_cache(maxsize=4096)
def _layout(patterns: tuple[tuple[int, ...], ...], nd: int
            ) -> tuple[list[int], list[tuple[list[list[int]], list[tuple[int, int, int]]]]]:
    """The segments of jobs with device patterns ``patterns`` (job 0's, then job 1's, ...;
    two jobs here, three in `solvers.bounds.latency_triple`): their job predecessors (-1:
    none), and every device order that keeps each job's segments in job order and does
    not deadlock, each with its evaluation steps (segment, job predecessor, device
    predecessor; -1: none) in the order `_release_makespan` settles them."""
    dev = [d for p in patterns for d in p]
    job = [j for j, p in enumerate(patterns) for _ in p]
    pred = [i - 1 if i and job[i - 1] == job[i] else -1 for i in range(len(dev))]
    per_device = []
    for d in range(nd):
        by_job = [[i for i in range(len(job)) if dev[i] == d and job[i] == j]
                  for j in range(len(patterns))]
        per_device.append(list(_merges(by_job)))
    plans = []
    for combo in itertools.product(*per_device):
        order = [list(x) for x in combo]
        steps: list[tuple[int, int, int]] = []
        done: set[int] = set()
        pos = [0] * nd
        moved = True
        while moved:
            moved = False
            for d, seq in enumerate(order):
                while pos[d] < len(seq) and (pred[seq[pos[d]]] < 0
                                              or pred[seq[pos[d]]] in done):
                    i = seq[pos[d]]
                    steps.append((i, pred[i], seq[pos[d] - 1] if pos[d] else -1))
                    done.add(i)
                    pos[d] += 1
                    moved = True
        if len(done) == len(dev):
            plans.append((order, steps))
    return pred, plans


def _order_lows(opts: tuple[_Options, ...], rows: tuple[np.ndarray, ...], dur: np.ndarray,
                nd: int) -> np.ndarray:
    """`_release_makespan` of each pair's (or triple's: one row array per job) best device
    order (`_layout`) with the least durations ``dur`` (N, jobs x W), in numpy over the
    rows of each pattern combination (the same operations in the same order: equal to
    `_sequence`'s own values); inf where every order deadlocks. A pair whose value reaches
    the best makespan has no order to simulate."""
    width = opts[0].dev.shape[1]
    devs = [o.dev[r] for o, r in zip(opts, rows, strict=True)]
    counts = [(d >= 0).sum(axis=1) for d in devs]
    out = np.full(len(rows[0]), np.inf)
    keys = np.concatenate(devs, axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for u, key in enumerate(uniq):
        at = np.nonzero(inverse == u)[0]
        ms = [int(c[at[0]]) for c in counts]
        _, plans = _layout(tuple(tuple(int(x) for x in key[j * width:j * width + m])
                                 for j, m in enumerate(ms)), nd)
        tr = np.concatenate([o.tr[r[at], :m] for o, r, m in zip(opts, rows, ms, strict=True)],
                            axis=1)
        lower = np.concatenate([dur[at, j * width:j * width + m] for j, m in enumerate(ms)],
                               axis=1)
        best = np.full(len(at), np.inf)
        for _, steps in plans:
            end = np.zeros_like(lower)
            for i, p, q in steps:
                ready = end[:, p] + tr[:, i] if p >= 0 else np.zeros(len(at))
                end[:, i] = (np.maximum(ready, end[:, q]) if q >= 0 else ready) + lower[:, i]
            best = np.minimum(best, end.max(axis=1))
        out[at] = best
    return out


def _sequence(problem: Problem, opts: tuple[_Options, ...], rows: tuple[int, ...],
              loss: Callable[[int, Device, int, Device, int, int], float],
              dur: np.ndarray, beat: float
              ) -> tuple[int, tuple[float, tuple[tuple[Segment, ...], ...], list[list[int]],
                                    Prepared] | None]:
    """The exact optimum over device orders of one segmentation pair (or triple: one row of
    ``opts`` per job): (orders simulated, (value, segments, order, prepared) or None if no
    order meets the deadlines and beats ``beat``, a makespan). ``dur``: lower bounds on the
    segments' durations in any schedule of them that beats ``beat`` (`_durations`), job by
    job in slots of ``W``; an order whose `_release_makespan` with them reaches ``beat`` is
    not simulated."""
    width = opts[0].dev.shape[1]
    jobs = len(opts)
    job, base, tr, lower = [], [], [], []
    patterns = []
    for j in range(jobs):
        o, r = opts[j], rows[j]
        pattern = []
        for k in range(width):
            if o.dev[r, k] < 0:
                break
            job.append(j)
            pattern.append(int(o.dev[r, k]))
            base.append(float(o.base[r, k]))
            tr.append(float(o.tr[r, k]))
            lower.append(float(dur[j * width + k]))
        patterns.append(tuple(pattern))
    pred, plans = _layout(tuple(patterns), len(problem.devices))
    orders = [order for order, _ in plans
              if _release_makespan(pred, tr, lower, order) * (1 - MARGIN) < beat]
    if not orders:
        return 0, None
    segs = tuple(_segments(problem, opts[j], rows[j]) for j in range(jobs))
    prep = assemble(problem.devices,
                    [[(s.device, base[i], tr[i], (s.first_group, s.last_group))
                      for i, s in zip((i for i in range(len(job)) if job[i] == j), segs[j],
                                      strict=True)] for j in range(jobs)], loss)
    best: tuple[float, list[list[int]]] | None = None
    weight = problem.weight(0)
    for order in orders:
        res = latency_objective(problem, prep, order)
        if res is None or not res[1]:
            continue
        if res[0] / weight < beat and (best is None or res[0] < best[0] * (1 - 1e-12)):
            best = (res[0], order)
            beat = res[0] / weight
    if best is None:
        return len(orders), None
    return len(orders), (best[0], segs, best[1], prep)


def _schedule(segs: tuple[tuple[Segment, ...], ...], order: list[list[int]], prep: Prepared
              ) -> Schedule:
    """The schedule of `_sequence`'s answer (segments, device order, prepared)."""
    return Schedule(segs, {prep.devices[d]: tuple(prep.refs[i] for i in order[d])
                           for d in range(len(prep.devices))})


def _segments(problem: Problem, o: _Options, r: int) -> tuple[Segment, ...]:
    return tuple(Segment(int(o.first[r, k]), int(o.last[r, k]), problem.devices[o.dev[r, k]])
                 for k in range(o.dev.shape[1]) if o.dev[r, k] >= 0)


def segmentations(problem: Problem, deadline: float | None = None
                  ) -> tuple[_Options, ...] | None:
    """Every segmentation of each job (`_options`), listed once and handed to both
    `pair_count` and `latency_pair_search`; None when the search does not apply or the
    listing outruns ``deadline`` (a `time.perf_counter()` value). 2 x 250 groups: ~0.7 s."""
    if not applies(problem):
        return None
    try:
        return tuple(_options(problem, j, deadline) for j in range(2))
    except _Late:
        return None


def fits(problem: Problem, incumbent_ms: float,
         options: tuple[_Options, ...] | None = None) -> bool:
    """`latency_pair_search` applies at this incumbent: the pairs that pass each job's chain
    test are at most `MAX_PAIRS`, or each job's at most `MAX_TREE_OPTIONS`."""
    count = pair_count(problem, incumbent_ms, options)
    if count is None:
        return False
    if count <= MAX_PAIRS:
        return True
    assert options is not None or applies(problem)
    beta = incumbent_ms / problem.weight(0)
    listed = options or segmentations(problem)
    assert listed is not None
    return all(int((o.chain < beta).sum()) <= MAX_TREE_OPTIONS for o in listed)


def pair_count(problem: Problem, incumbent_ms: float,
               options: tuple[_Options, ...] | None = None,
               deadline: float | None = None) -> int | None:
    """How many pairs `latency_pair_search` would test at this incumbent (after each job's
    own chain test); None when it does not apply or listing the segmentations outruns
    ``deadline``. ``options``: `segmentations(problem)` if already listed (otherwise
    listed here)."""
    if not applies(problem) or not math.isfinite(incumbent_ms):
        return None
    if options is None:
        options = segmentations(problem, deadline)
        if options is None:
            return None
    beta = incumbent_ms / problem.weight(0)
    return math.prod(int((o.chain < beta).sum()) for o in options)


@dataclass(frozen=True)
class _Test:
    """What the pair test needs besides the features (`_test`)."""

    beta: float
    limit: int                        # DLA loadable limit
    dla: list[int]                    # DLA device indices
    gpu: int                          # GPU device index (-1: none)
    symmetric: bool                   # DLA0 / DLA1 symmetry applies
    every_set: list[tuple[int, ...]]  # device sets for `_durations`


def _test_of(problem: Problem, beta: float) -> _Test:
    devices = problem.devices
    # a segment's own device adds no rate: sets of up to D - 1 devices suffice
    return _Test(beta, problem.dla_loadable_limit,
                 [i for i, d in enumerate(devices) if d.kind == "dla"],
                 devices.index(Device.GPU) if Device.GPU in devices else -1,
                 dla_symmetric(problem),
                 [c for size in range(1, len(devices)) for c in
                  itertools.combinations(range(len(devices)), size)])


def _cheap(fa: _Features, fb: _Features, ia: np.ndarray, ib: np.ndarray, t: _Test
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cheap necessary tests of `_test` (each device's load plus its forced head and
    tail idle below the target, loadables, DLA symmetry): (passes, head + tail idle,
    loads). ``ia`` and ``ib`` may broadcast (a column and a row: a grid of pairs)."""
    lo = np.minimum(fa.head[ia], fb.head[ib]) + np.minimum(fa.tail[ia], fb.tail[ib])
    lo = np.where(np.isfinite(lo), lo, 0.0)
    load = fa.load[ia] + fb.load[ib]
    ok = np.all(load + lo < t.beta, axis=-1)
    for di in t.dla:
        ok &= fa.dla_count[ia, di] + fb.dla_count[ib, di] <= t.limit
    if t.symmetric:
        ok &= fa.canonical[ia] & (fa.has_dla[ia] | fb.canonical[ib])
    return ok, lo, load


def _test(fa: _Features, oa: _Options, fb: _Features, ob: _Options, ia: np.ndarray,
          ib: np.ndarray, t: _Test) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pairs ``(ia[i], ib[i])`` whose test value (module docstring) is below ``t.beta``:
    (ia, ib, test values, least durations). Features may be least values over sets of
    segmentations (`_Tree`): every step is monotone in them, so the value then bounds
    every pair of the sets."""
    beta = t.beta
    ok, lo, load = _cheap(fa, fb, ia, ib, t)
    ia, ib, lo, load = ia[ok], ib[ok], lo[ok], load[ok]
    # the chains with the inflation of DLA segments by the GPU alone (cheap), then by
    # every device set
    phi = np.zeros(0)
    dur = np.zeros((0, 2 * oa.base.shape[1]))
    for stage in ("gpu", "all"):
        if stage == "gpu":
            if t.gpu < 0 or not t.dla:
                continue
            dur = _gpu_durations(fa, oa, fb, ob, ia, ib, beta, load, t.gpu, t.dla[0])
        else:
            dur = _durations(fa, oa, fb, ob, ia, ib, beta, load, t.every_set)
        phi = _chains(oa, ob, ia, ib, dur) * (1 - MARGIN)
        ok = phi < beta
        ia, ib, dur, load, lo, phi = ia[ok], ib[ok], dur[ok], load[ok], lo[ok], phi[ok]
    if len(ia):
        rate = np.concatenate([fa.rate[ia], fb.rate[ib]], axis=2)      # (N, D, S)
        phi = np.maximum(phi, devices_phi(rate, dur, load, lo) * (1 - MARGIN))
    low = phi < beta
    return ia[low], ib[low], phi[low], dur[low]


def _flat(fa: _Features, oa: _Options, fb: _Features, ob: _Options, t: _Test,
          deadline: float | None) -> Iterator[tuple[np.ndarray, ...] | None]:
    """Every pair tested, `CHUNK_PAIRS` at a time: yields `_test`'s passers, or None past
    ``deadline`` (then stops)."""
    na, nb = len(oa.chain), len(ob.chain)
    rows = max(1, CHUNK_PAIRS // max(nb, 1))
    for a0 in range(0, na, rows):
        if deadline is not None and time.perf_counter() > deadline:
            yield None
            return
        a1 = min(na, a0 + rows)
        # the cheap tests on the grid first (broadcast, no per-pair gathers)
        ok, _, _ = _cheap(fa, fb, np.arange(a0, a1)[:, None], np.arange(nb)[None, :], t)
        ia, ib = np.nonzero(ok)
        yield _test(fa, oa, fb, ob, ia + a0, ib, t)


MAX_OPEN_PAIRS = 8_000_000
"""Most set pairs `_tree_pairs` keeps open (two indices and a value each: ~200 MB at the
cap with the next level's survivors); past it it stops with its bound."""


class _Tree:
    """One job's segmentations as a binary hierarchy of sets, each set the options of one
    device pattern that are consecutive in Morton order of their cuts (so a set is a box of
    nearby cut positions). Level 0 holds the options themselves, level ``l`` sets of at
    most ``2^l``; each set carries the least of every feature over its options (the
    pattern's devices, loadables and DLA symmetry are common to them)."""

    def __init__(self, problem: Problem, job: int, o: _Options) -> None:
        nd = len(problem.devices)
        width = o.dev.shape[1]
        pattern = ((o.dev + 1) * (nd + 1) ** np.arange(width)).sum(axis=1)
        morton = np.zeros(len(pattern), dtype=np.int64)
        cuts = [o.first[:, k] if k < width else np.zeros(len(pattern), dtype=np.int64)
                for k in (1, 2)]
        for bit in range(20):
            for i, c in enumerate(cuts):
                morton |= ((c >> bit) & 1) << (2 * bit + i)
        self.options = _take(o, np.lexsort((morton, pattern)))
        pattern = np.sort(pattern)
        n = len(pattern)
        blocks = np.flatnonzero(np.r_[True, pattern[1:] != pattern[:-1]])
        self.starts = [np.arange(n)]
        self.features = [_features(problem, job, self.options)]
        self.nodes = [self.options]
        level = 0
        while n and len(self.starts[-1]) > len(blocks):
            level += 1
            starts = np.union1d(blocks, np.arange(0, n, 1 << level))
            f, op = self.features[0], self.options

            def low(a: np.ndarray, starts: np.ndarray = starts) -> np.ndarray:
                return np.minimum.reduceat(a, starts, axis=0)

            def same(a: np.ndarray, starts: np.ndarray = starts) -> np.ndarray:
                return a[starts]

            self.nodes.append(_Options(same(op.dev), same(op.first), same(op.last),
                                       low(op.base), low(op.tr), low(op.chain)))
            self.features.append(_Features(
                low(f.load), low(f.rate), low(f.k_on), same(f.on_dla), low(f.head),
                low(f.tail), same(f.dla_count), same(f.canonical), same(f.has_dla)))
            self.starts.append(starts)

    def children(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """(first child, child count) at ``level - 1`` of each set at ``level`` (the top
        level repeats for a job with fewer levels)."""
        top = len(self.starts) - 1
        if level > top:
            count = len(self.starts[top])
            return np.arange(count), np.ones(count, dtype=np.int64)
        upper, lower = self.starts[level], self.starts[level - 1]
        first = np.searchsorted(lower, upper)
        return first, np.diff(np.r_[first, len(lower)])

    def at(self, level: int) -> tuple[_Features, _Options]:
        level = min(level, len(self.starts) - 1)
        return self.features[level], self.nodes[level]


def _tree_pairs(ta: _Tree, tb: _Tree, t: _Test, deadline: float | None
                ) -> Iterator[tuple[np.ndarray, ...] | float]:
    """`_test` over pairs of sets, top level down: a pair of sets whose test value (with
    their least features) reaches ``t.beta`` holds no pair below it; the others are split
    into their children's pairs. Yields the passing pairs of single segmentations (level
    0); past ``deadline`` or `MAX_OPEN_PAIRS` it yields the least test value still open (a
    valid bound on every pair not yet tested) and stops."""
    level = max(len(ta.starts), len(tb.starts)) - 1
    fa, oa = ta.at(level)
    fb, ob = tb.at(level)
    na, nb = len(oa.chain), len(ob.chain)
    found = _test(fa, oa, fb, ob, np.repeat(np.arange(na), nb), np.tile(np.arange(nb), na), t)
    if not level:
        yield found
        return
    ia, ib, phi, _ = found
    while level > 0:
        first_a, count_a = ta.children(level)
        first_b, count_b = tb.children(level)
        level -= 1
        fa, oa = ta.at(level)
        fb, ob = tb.at(level)
        out: list[tuple[np.ndarray, ...]] = []
        step = max(1, CHUNK_PAIRS // 4)
        for s in range(0, len(ia), step):
            if (deadline is not None and time.perf_counter() > deadline) or (
                    sum(len(x[0]) for x in out) + len(ia) - s > MAX_OPEN_PAIRS):
                rest = [phi[s:]] + [x[2] for x in out]
                yield float(np.concatenate(rest).min()) if sum(map(len, rest)) else t.beta
                return
            pa, pb = ia[s:s + step], ib[s:s + step]
            ka, kb = [], []
            for da, db in itertools.product(range(2), repeat=2):
                ok = (da < count_a[pa]) & (db < count_b[pb])
                ka.append(first_a[pa[ok]] + da)
                kb.append(first_b[pb[ok]] + db)
            found = _test(fa, oa, fb, ob, np.concatenate(ka), np.concatenate(kb), t)
            if level:
                out.append(found)
            else:
                yield found
        if level:
            if not out:
                return
            ia, ib, phi = (np.concatenate([x[i] for x in out]) for i in range(3))


def latency_pair_search(problem: Problem, incumbent_ms: float,
                        deadline: float | None = None,
                        options: tuple[_Options, ...] | None = None
                        ) -> LatencyPairResult | None:
    """The bound and the exact refinement of the module docstring, with ``beta`` the
    makespan of ``incumbent_ms`` (the objective of a known schedule); None when it does
    not apply. Stops at ``deadline`` (a `time.perf_counter()` value) with what is proven.
    ``options``: `segmentations(problem)` if already listed (otherwise listed here).
    Beyond `MAX_PAIRS` pairs the pairs are found through `_Tree` (sets of segmentations
    refuted together) instead of one by one."""
    if not applies(problem) or not math.isfinite(incumbent_ms):
        return None
    t0 = time.perf_counter()
    weight = problem.weight(0)
    beta = incumbent_ms / weight
    options = options or segmentations(problem)
    assert options is not None   # it applies, and the listing has no deadline here
    oa, ob = (_take(o, np.nonzero(o.chain < beta)[0]) for o in options)
    na, nb = len(oa.chain), len(ob.chain)
    test = _test_of(problem, beta)
    tree = na * nb > MAX_PAIRS
    if tree and max(na, nb) > MAX_TREE_OPTIONS:
        return None
    if tree:
        ta, tb = _Tree(problem, 0, oa), _Tree(problem, 1, ob)
        oa, ob = ta.options, tb.options
        fa, fb = ta.features[0], tb.features[0]
        chunks = _tree_pairs(ta, tb, test, deadline)
    else:
        fa, fb = _features(problem, 0, oa), _features(problem, 1, ob)
        chunks = _flat(fa, oa, fb, ob, test, deadline)
    keep_phi: list[np.ndarray] = []
    keep_a: list[np.ndarray] = []
    keep_b: list[np.ndarray] = []
    keep_dur: list[np.ndarray] = []
    passed = 0
    floor = math.inf   # every pair dropped by _shrink (or left untested) has at least this
    for chunk in chunks:
        if chunk is None:   # the deadline, with every untested pair refuted by nothing
            return LatencyPairResult(None, None, None, False, na * nb, 0, 0, 0,
                                     time.perf_counter() - t0)
        if isinstance(chunk, float):   # the tree's least open value at the deadline
            floor = min(floor, chunk)
            break
        ia, ib, phi, dur = chunk
        if len(ia):
            keep_phi.append(phi)
            keep_a.append(ia)
            keep_b.append(ib)
            keep_dur.append(dur)
            passed += len(ia)
            if sum(len(x) for x in keep_phi) > 2 * KEEP_PAIRS:
                keep_phi, keep_a, keep_b, keep_dur, floor = _shrink(
                    keep_phi, keep_a, keep_b, keep_dur, floor)
    keep_phi, keep_a, keep_b, keep_dur, floor = _shrink(keep_phi, keep_a, keep_b, keep_dur,
                                                        floor)
    phi, ia, ib, durs = keep_phi[0], keep_a[0], keep_b[0], keep_dur[0]
    order = np.argsort(phi, kind="stable")
    best_value = beta   # the best makespan known: the incumbent's, then the pairs' found
    best: tuple[tuple[tuple[Segment, ...], ...], list[list[int]], Prepared] | None = None
    solved = orders = 0
    loss = functools.lru_cache(maxsize=None)(problem.loss_rate)   # the simulator's rates
    cut: float | None = None   # the least test value left unsolved at the deadline
    lows = np.zeros(0)
    for at, idx in enumerate(order):
        value = float(phi[idx])
        if value >= min(best_value, floor):
            break   # no pair left can beat it (or prove more than the floor)
        if deadline is not None and time.perf_counter() > deadline:
            cut = value
            break
        if at % SEQUENCE_BLOCK == 0:
            block = order[at:at + SEQUENCE_BLOCK]
            lows = _order_lows((oa, ob), (ia[block], ib[block]), durs[block],
                               len(problem.devices))
        solved += 1
        if lows[at % SEQUENCE_BLOCK] * (1 - MARGIN) >= best_value:
            continue   # every order's least makespan reaches the best: none to simulate
        count, found = _sequence(problem, (oa, ob), (int(ia[idx]), int(ib[idx])), loss,
                                 durs[idx], best_value)
        orders += count
        if found is None:
            continue
        best_value = found[0] / weight
        best = (found[1], found[2], found[3])
    bound = min(best_value, floor, beta if cut is None else cut)
    schedule = None if best is None else _schedule(*best)
    return LatencyPairResult(
        bound * weight, schedule, best_value * weight if best is not None else None,
        bound >= best_value, na * nb, passed, solved, orders, time.perf_counter() - t0)


def _shrink(phi: list[np.ndarray], a: list[np.ndarray], b: list[np.ndarray],
            dur: list[np.ndarray], floor: float
            ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray],
                       float]:
    """Keep the `KEEP_PAIRS` least test values; lower ``floor`` to the least one dropped."""
    p = np.concatenate(phi) if phi else np.zeros(0)
    ia = np.concatenate(a) if a else np.zeros(0, dtype=np.int64)
    ib = np.concatenate(b) if b else np.zeros(0, dtype=np.int64)
    d = np.concatenate(dur) if dur else np.zeros((0, 0))
    if len(p) > KEEP_PAIRS:
        part = np.argpartition(p, KEEP_PAIRS)
        floor = min(floor, float(p[part[KEEP_PAIRS]]))
        keep = part[:KEEP_PAIRS]
        p, ia, ib, d = p[keep], ia[keep], ib[keep], d[keep]
    return [p], [ia], [ib], [d], floor

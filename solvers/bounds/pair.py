"""A lower bound for throughput with contention over every placement of two jobs.

The contention-free optimum and `bounds.contention_load` bound the period of a throughput
problem with contention, but far below what contention costs: the LP charges every
aggressor the least loss rate of any single group (docs/model.md section 5). With two jobs
every segmentation of each job can be enumerated (as `oracle.job_options` does: 5,049 per job for
30 groups, 3 devices and 2 switches), and every *pair* of segmentations can be charged its
own segments' loss rates, vectorised with numpy. `pair_bound` proves that no schedule
beats ``target`` unless its segment pair passes a relaxed test, and bounds the pairs that
pass with `bounds.segment_bound`'s LP.

The test for one pair at a target ``beta`` (all quantities per round, as in
`bounds.segment_bound`): suppose a schedule of these segments has period ``P < beta``.

- GPU idle: ``s_GPU = P - B_GPU <= beta - L_GPU`` (``L``: the standalone load).
- A segment ``c`` on a DLA core overlaps the GPU's busy set by at least ``dur_c - s_GPU``
  and every GPU segment of the pair slows it by at least ``kappa`` (the least loss rate of
  the pair's GPU segments on a DLA victim), so ``dur_c >= base_c + kappa * max(0, dur_c -
  sigma)`` with ``sigma = beta - L_GPU``: ``dur_c >= max(base_c, (base_c - kappa * sigma) /
  (1 - kappa))``. Other segments: ``dur_c >= base_c``.
- Every device ``d``: ``P >= phi_d = min_{s >= 0} s + L_d + sum_{c not on d} k_d(c) *
  max(0, dur_c - s)`` (the device inequality of `segment_bound` with ``s = s_d``; the
  function of ``s`` is convex piecewise linear, so its minimum sits at 0 or at a
  ``dur_c``).

So ``P >= Phi = max_d phi_d``, and every schedule of the pair has period ``>= min(beta,
Phi)``: a valid bound per pair. The least over all pairs bounds the problem; the pairs
with the least ``Phi`` are then refined with the LP (which adds each segment's own chain
constraints), in increasing ``Phi`` until the time is up. Valid for any ``beta``; a
``beta`` at the best known period makes the test strongest where it matters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from solvers.bounds.lower import CONTENTION_LP_MARGIN, least_rate_on, segment_bound
from solvers.judges.oracle import job_options
from solvers.model.problem import Device, Objective, Problem, dla_symmetric
from solvers.model.schedule import Segment

MAX_PAIRS = 40_000_000
"""Enumerate at most this many segmentation pairs (2 x 30 groups on 3 devices: 25.5 M)."""
CHUNK_PAIRS = 200_000
"""Pairs per numpy block (memory: a few hundred MB at most)."""
REFINE_CANDIDATES = 20_000
"""Pairs kept for the LP refinement (those with the least test value)."""
CANDIDATES_OUT = 200
"""Pairs handed back as search seeds (`PairBound.candidates`)."""


@dataclass(frozen=True)
class PairBound:
    bound_ms: float | None   # valid lower bound on the period per frame (None: cut short)
    target_ms: float         # the beta of the test
    pairs: int               # segmentation pairs tested
    below_target: int        # pairs whose test value is below the target
    refined: int             # of those, bounded by the LP
    seconds: float
    complete: bool           # the LP refinement was not cut by the deadline
    witness: tuple | None = None   # the refined pair with the least bound (segments)
    candidates: tuple = ()         # pairs (segments) with the least test values, least first


def applies(problem: Problem) -> bool:
    """Two jobs, throughput, contention on several devices, and few enough pairs. Not with
    GPU fallback: its per-slot arrays hold ``max_transitions + 1`` segments, and a bound
    left out is still sound (the cheap bounds stand)."""
    if (problem.objective is not Objective.THROUGHPUT or len(problem.jobs) != 2
            or not problem.contention.enabled or len(problem.devices) < 2
            or problem.any_fallback):
        return False
    return _count(problem, 0) * _count(problem, 1) <= MAX_PAIRS


def _count(problem: Problem, job: int) -> int:
    n = problem.n_groups(job)
    d = len(problem.devices)
    total = 0
    for m in range(1, min(problem.max_transitions + 1, n) + 1):
        total += math.comb(n - 1, m - 1) * d * (d - 1) ** (m - 1)
    return total


def _features(problem: Problem, job: int, options: list) -> dict[str, np.ndarray]:
    """Per option: load per device ``L``; per device and segment slot, the segment's base,
    its loss rate on that device (0 on its own device) and whether it is on a DLA core;
    ``kgpu``: the least DLA-victim loss rate of its GPU segments (inf if none)."""
    devices = problem.devices
    width = problem.max_transitions + 1
    n, nd = len(options), len(devices)
    load = np.zeros((n, nd))
    base = np.zeros((n, width))
    rate = np.zeros((n, nd, width))
    on_dla = np.zeros((n, width), dtype=bool)
    kgpu = np.full(n, np.inf)
    chain = np.zeros((n, width))          # 1 on the segments of a same-device chain
    chain_tr = np.full(n, -np.inf)        # its transitions (-inf: no such chain)
    canonical = np.ones(n, dtype=bool)    # first DLA segment on DLA0 (or none)
    has_dla = np.zeros(n, dtype=bool)
    dla_victim = next((d for d in devices if d.kind == "dla"), None)
    rates: dict[tuple[Device, Device, int, int], float] = {}

    def loss(victim: Device, seg: Segment) -> float:
        key = (victim, seg.device, seg.first_group, seg.last_group)
        if key not in rates:
            rates[key] = least_rate_on(problem, victim, job, seg.device, seg.first_group,
                                       seg.last_group)
        return rates[key]

    for o, opt in enumerate(options):
        first_dla = next((s.device for s in opt.segments if s.device.kind == "dla"), None)
        has_dla[o] = first_dla is not None
        canonical[o] = first_dla in (None, Device.DLA0)
        for a in range(len(opt.segments)):
            for b in range(a + 1, len(opt.segments)):
                if opt.segments[a].device == opt.segments[b].device:
                    chain[o, :] = 0.0
                    chain[o, a:b + 1] = 1.0
                    chain_tr[o] = sum(opt.tr_in[a + 1:b + 1])
        for m, (seg, b) in enumerate(zip(opt.segments, opt.base, strict=True)):
            base[o, m] = b
            on_dla[o, m] = seg.device.kind == "dla"
            for di, d in enumerate(devices):
                if seg.device == d:
                    load[o, di] += b
                else:
                    rate[o, di, m] = loss(d, seg)
            if seg.device is Device.GPU and dla_victim is not None:
                kgpu[o] = min(kgpu[o], loss(dla_victim, seg))
    return {"load": load, "base": base, "rate": rate, "on_dla": on_dla, "kgpu": kgpu,
            "chain": chain, "chain_tr": chain_tr, "canonical": canonical, "has_dla": has_dla}


def _test(fa: dict[str, np.ndarray], fb: dict[str, np.ndarray], ia: np.ndarray,
          ib: np.ndarray, beta: float, gpu: int | None) -> np.ndarray:
    """``Phi`` (module docstring) of the pairs ``(ia[i], ib[i])``."""
    load = fa["load"][ia] + fb["load"][ib]                       # (N, D)
    base = np.concatenate([fa["base"][ia], fb["base"][ib]], axis=1)   # (N, S)
    on_dla = np.concatenate([fa["on_dla"][ia], fb["on_dla"][ib]], axis=1)
    rate = np.concatenate([fa["rate"][ia], fb["rate"][ib]], axis=2)   # (N, D, S)
    dur = base
    if gpu is not None:
        kappa = np.minimum(fa["kgpu"][ia], fb["kgpu"][ib])
        kappa = np.where(np.isfinite(kappa), kappa, 0.0)[:, None]
        sigma = np.maximum(beta - load[:, gpu], 0.0)[:, None]
        inflated = (base - kappa * sigma) / (1.0 - kappa)
        dur = np.where(on_dla, np.maximum(base, inflated), base)
    phi = None
    # candidate idle times: 0 and every duration
    cands = np.concatenate([np.zeros((len(ia), 1)), dur], axis=1)    # (N, S+1)
    for di in range(load.shape[1]):
        k = rate[:, di, :]                                           # (N, S)
        g = cands + load[:, di:di + 1]
        g = g + np.einsum("ns,nsc->nc", k,
                          np.maximum(dur[:, :, None] - cands[:, None, :], 0.0))
        v = g.min(axis=1)
        phi = v if phi is None else np.maximum(phi, v)
    assert phi is not None
    # a chain s..t of one job on one device lies on a cycle with one token (segment_bound)
    width = fa["base"].shape[1]
    for f, idx, cols in ((fa, ia, slice(0, width)), (fb, ib, slice(width, 2 * width))):
        tr = f["chain_tr"][idx]
        phi = np.maximum(phi, (dur[:, cols] * f["chain"][idx]).sum(axis=1) + tr)
    return phi


def pair_bound(problem: Problem, target_ms: float, deadline: float | None = None
               ) -> PairBound | None:
    """The bound of the module docstring with ``beta = target_ms * frames_per_round`` (the
    round time); None when it does not apply. If the enumeration does not finish before
    ``deadline`` (a `time.perf_counter()` value) there is no bound (``bound_ms`` None), only
    the candidates of the pairs tested so far; the LP refinement stops at the deadline
    (then ``complete`` is False and the bound is what was refined so far)."""
    if not applies(problem):
        return None
    t0 = time.perf_counter()
    frames = problem.frames_per_round
    beta = target_ms * frames
    options = [job_options(problem, j) for j in range(2)]
    fa, fb = (_features(problem, j, options[j]) for j in range(2))
    gpu = problem.devices.index(Device.GPU) if Device.GPU in problem.devices else None
    na, nb = len(options[0]), len(options[1])
    keep_phi: list[np.ndarray] = []
    keep_a: list[np.ndarray] = []
    keep_b: list[np.ndarray] = []
    below = 0
    rows = max(1, CHUNK_PAIRS // nb)
    all_b = np.arange(nb)
    symmetric = dla_symmetric(problem)
    cut = False
    for a0 in range(0, na, rows):
        if deadline is not None and time.perf_counter() > deadline:
            cut = True
            break
        a1 = min(na, a0 + rows)
        ia = np.repeat(np.arange(a0, a1), nb)
        ib = np.tile(all_b, a1 - a0)
        # cheap necessary test first: standalone loads below the target
        ok = np.all(fa["load"][ia] + fb["load"][ib] < beta, axis=1)
        if symmetric:
            # DLA0 <-> DLA1 maps pairs onto pairs with the same test and LP: keep those
            # whose first DLA segment (job 0 first) is on DLA0
            ok &= fa["canonical"][ia] & (fa["has_dla"][ia] | fb["canonical"][ib])
        ia, ib = ia[ok], ib[ok]
        if not len(ia):
            continue
        phi = _test(fa, fb, ia, ib, beta, gpu)
        low = phi < beta
        below += int(low.sum())
        if low.any():
            keep_phi.append(phi[low])
            keep_a.append(ia[low])
            keep_b.append(ib[low])
            if sum(len(x) for x in keep_phi) > 4 * REFINE_CANDIDATES:
                keep_phi, keep_a, keep_b = _shrink(keep_phi, keep_a, keep_b)
    pairs = na * nb
    if cut:
        candidates = ()
        if keep_phi:
            keep_phi, keep_a, keep_b = _shrink(keep_phi, keep_a, keep_b)
            first = np.argsort(keep_phi[0], kind="stable")[:CANDIDATES_OUT]
            candidates = tuple((options[0][keep_a[0][i]].segments,
                                options[1][keep_b[0][i]].segments) for i in first)
        return PairBound(None, target_ms, pairs, below, 0, time.perf_counter() - t0, False,
                         None, candidates)
    if not keep_phi:
        return PairBound(beta * (1 - CONTENTION_LP_MARGIN) / frames, target_ms, pairs, 0, 0,
                         time.perf_counter() - t0, True)
    keep_phi, keep_a, keep_b = _shrink(keep_phi, keep_a, keep_b)
    phi, ia, ib = keep_phi[0], keep_a[0], keep_b[0]
    order = np.argsort(phi, kind="stable")
    # pairs not kept for refinement are bounded by their test value, at least the largest
    # value kept (the kept ones are the least)
    floor = beta if below <= len(phi) else float(phi[order[-1]])
    refined_min = math.inf
    refined = 0
    complete = True
    witness = None
    for idx in order:
        value = float(phi[idx])
        if value >= min(refined_min, floor):
            break   # the rest cannot lower the least bound
        if deadline is not None and time.perf_counter() > deadline:
            floor, complete = min(floor, value), False
            break
        pair = (options[0][ia[idx]].segments, options[1][ib[idx]].segments)
        lp = segment_bound(problem, pair) * frames
        if max(value, lp) < refined_min:
            refined_min, witness = max(value, lp), pair
        refined += 1
    bound = min(refined_min, floor, beta)
    candidates = tuple((options[0][ia[i]].segments, options[1][ib[i]].segments)
                       for i in order[:CANDIDATES_OUT])
    return PairBound(bound * (1 - CONTENTION_LP_MARGIN) / frames, target_ms, pairs, below,
                     refined, time.perf_counter() - t0, complete, witness, candidates)


def _shrink(phi: list[np.ndarray], a: list[np.ndarray], b: list[np.ndarray]
            ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    p, ia, ib = np.concatenate(phi), np.concatenate(a), np.concatenate(b)
    if len(p) > REFINE_CANDIDATES:
        keep = np.argpartition(p, REFINE_CANDIDATES - 1)[:REFINE_CANDIDATES]
        p, ia, ib = p[keep], ia[keep], ib[keep]
    return [p], [ia], [ib]

"""When the throughput simulation may stop, and what period it then reports (docs/model.md
4.1): the whole state repeats (exact), or an estimate of the long-run ``lim E(R) / R`` with
a stated error bound. The event engine is `solvers.judges.simulator._run_throughput`; this
module only reads the start and end times it records per round."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CONVERGENCE_RTOL = 1e-12
"""Relative change (of the round time) under which two regime cycles count as equal."""
MAX_REGIME_CYCLE = 24
"""Longest periodic regime (in rounds) the throughput convergence test looks for."""
ESTIMATE_EARLY_ROUNDS = frozenset((64, 128, 256, 512, 1024))
"""Round counts at which a run whose state has not repeated may already stop with the
estimate of `estimate`, if its error bound is below `ESTIMATE_STOP_RTOL` (a device that
runs ahead of the bottleneck with a constant effect on it: phases drift without effect)."""
ESTIMATE_STOP_RTOL = 1e-9
ESTIMATE_FLOOR_RTOL = 1e-10
"""Least error bound of an estimate (relative): the floating rounding of thousands of events."""


@dataclass
class ThroughputRun:
    starts: list[list[float]]     # per round: start of every segment
    ends: list[list[float]]
    cycle: int                    # regime cycle c (rounds), or the estimate's window
    round_time: float             # cycle time of a round (lambda), or its estimate
    converged: bool               # the state was seen to repeat (exact up to rounding)
    error: float = 0.0            # not converged: stated bound on |round_time - lambda|


class PeriodicityTest:
    """When the throughput simulation may stop, and what it then reports (docs/model.md 4.1).

    **Periodic** (exact): the whole state repeats. With one shift ``c`` rounds and one time
    shift ``T`` for every segment: every segment instance of the rounds ``q`` in
    ``[r - c - s - 1, r]`` (``s``: the earlier rounds still running when round ``r``
    starts) starts and ends exactly ``T`` after its instance of round ``q - c``. Those
    rounds hold every segment instance that runs in the last time window of length ``T``,
    so the state (what runs, its remaining work, what is ready) at the start of round ``r``
    equals the one ``T`` earlier, and the deterministic engine repeats it forever: the
    period of a round is ``T / c``. When the devices fall into several *components*
    (devices linked by a job's consecutive segments) that run at different rates, the state
    never repeats with one round shift; the same test is then applied per component with
    its own shift, which is exact when no component feels another's phase: each receives
    no loss from the others, or only from components whose influence is constant (one
    device, every segment the first of its job, so the device is never idle, and the same
    loss on every victim). The period is the slowest component's. Unbounded
    contention-free runs (whose period `simulate` takes from the exact max-plus cycle time,
    the events giving the displayed timings only) accept the weaker test of each segment's
    own increment repeating, ``X(r) - X(r-c) == X(r-c) - X(r-2c)``.

    **Estimate** (otherwise, after ``max_rounds`` complete rounds: phases that drift with
    contention never repeat): with ``E(q)`` the end of round ``q`` over the second half
    ``[r0, r]``, ``L = r - r0``, the estimate is ``(E(r) - E(r0)) / L`` and the error bound
    ``2 D / L``, ``D`` the width of the band that ``E(q) - q * estimate`` spans over that
    half (see `estimate`)."""

    def __init__(self, pred: Sequence[int], dev: Sequence[int], order: list[list[int]],
                 k: Sequence[Sequence[float]] | None, contention: bool, bounded: bool) -> None:
        """``pred``, ``dev``: per segment its job predecessor (-1 for none) and device
        index; ``k``: the loss matrix (None: losses vary inside segments); ``bounded``:
        rounds in flight are bounded (admission couples every device)."""
        n = len(pred)
        self.n = n
        self.strict = contention or bounded  # else: the exact max-plus value is reported
        self.all = list(range(n))
        self.components: list[list[int]] | None = None
        if bounded:
            return  # admission couples every device: one component
        active = [d for d in range(len(order)) if order[d]]
        parent = {d: d for d in active}

        def root(d: int) -> int:
            while parent[d] != d:
                parent[d] = parent[parent[d]]
                d = parent[d]
            return d

        for i in range(n):
            p = pred[i]
            if p >= 0:
                parent[root(dev[i])] = root(dev[p])
        groups: dict[int, list[int]] = {}
        for i in range(n):
            groups.setdefault(root(dev[i]), []).append(i)
        comps = list(groups.values())
        if len(comps) < 2:
            return
        if contention:
            if k is None:
                return  # pieces: losses vary inside segments, no constant influence
            constant = [len({dev[i] for i in c}) == 1
                        and all(pred[i] < 0 for i in c)
                        and all(len({k[v][a] for a in c}) == 1
                                for v in range(n) if v not in c) for c in comps]
            for x, cx in enumerate(comps):
                for y, cy in enumerate(comps):
                    if x != y and not constant[y] and any(k[v][a] > 0 for v in cx
                                                          for a in cy):
                        return  # x feels y's phase: only the whole state can repeat
        self.components = comps

    def check(self, starts: list[list[float]], ends: list[list[float]], r: int,
              max_rounds: int) -> ThroughputRun | None:
        """The run's result once rounds ``0..r`` are complete, or None to go on."""
        x = starts[r]
        scale = max(max(x), max(ends[r]))
        abs_tol = 64 * math.ulp(scale) if scale > 0 else 0.0
        top = min(MAX_REGIME_CYCLE, r // 2)
        if not self.strict:
            # per device increments (the value is the exact max-plus one: timings only)
            for c in range(1, top + 1):
                a, b = starts[r - c], starts[r - 2 * c]
                d1 = [xi - ai for xi, ai in zip(x, a, strict=True)]
                d2 = [ai - bi for ai, bi in zip(a, b, strict=True)]
                lam = max(d1) / c
                tol = max(CONVERGENCE_RTOL * lam * c, abs_tol)
                if all(abs(u - v) <= tol for u, v in zip(d1, d2, strict=True)):
                    return ThroughputRun(starts[: r + 1], ends[: r + 1], c, lam, True)
        else:
            for c in range(1, top + 1):
                t = common_shift(starts, ends, self.all, r, c, abs_tol)
                if t is not None:
                    return ThroughputRun(starts[: r + 1], ends[: r + 1], c, t / c, True)
            if self.components is not None:
                lam, cycle = 0.0, 1
                for comp in self.components:
                    found = None
                    for c in range(1, top + 1):
                        t = common_shift(starts, ends, comp, r, c, abs_tol)
                        if t is not None:
                            found = t / c
                            cycle = max(cycle, c)
                            break
                    if found is None:
                        break
                    lam = max(lam, found)
                else:
                    return ThroughputRun(starts[: r + 1], ends[: r + 1], cycle, lam, True)
        if r + 1 >= max_rounds:
            return estimate(starts, ends, r)
        if self.strict and r + 1 in ESTIMATE_EARLY_ROUNDS:
            found = estimate(starts, ends, r)
            if found.error <= ESTIMATE_STOP_RTOL * found.round_time:
                return found
        return None


def common_shift(starts: list[list[float]], ends: list[list[float]], idx: Sequence[int],
                  r: int, c: int, abs_tol: float) -> float | None:
    """``T`` if every segment in ``idx`` of the rounds ``[r - c - s - 1, r]`` starts and
    ends exactly ``T`` after its instance ``c`` rounds earlier (`PeriodicityTest`)."""
    x, a = starts[r], starts[r - c]
    t = x[idx[0]] - a[idx[0]]
    tol = max(CONVERGENCE_RTOL * abs(t), abs_tol)
    for i in idx:
        if abs(x[i] - a[i] - t) > tol:
            return None
    t0 = min(x[i] for i in idx)
    s = 0
    while r - s - 1 >= 0 and max(ends[r - s - 1][i] for i in idx) > t0:
        s += 1
    low = r - c - s - 1
    if low - c < 0:
        return None
    for q in range(low, r + 1):
        xq, aq, eq, bq = starts[q], starts[q - c], ends[q], ends[q - c]
        for i in idx:
            if abs(xq[i] - aq[i] - t) > tol or abs(eq[i] - bq[i] - t) > tol:
                return None
    return t


def estimate(starts: list[list[float]], ends: list[list[float]], r: int) -> ThroughputRun:
    """The long-run cycle time of a run whose state was not seen to repeat, with its bound.

    ``E(q)`` is the end of round ``q`` and ``lambda = lim E(q) / q`` (docs/model.md 4.1).
    Over the second half ``[r0, r]`` of the rounds, ``L = r - r0``, the estimate is
    ``est = (E(r) - E(r0)) / L``. If ``E(q) - q * lambda`` stays forever within a band of
    width ``D*``, then ``|est - lambda| <= D* / L`` (both ends of the chord lie in the
    band). ``D`` is the band's width around ``est`` over the half seen (it differs from the
    width around ``lambda`` by at most ``L * |est - lambda| <= D*``); the stated bound is
    ``2 D / L``, i.e. it assumes the band seen over the last ``L`` rounds is at least half
    as wide as over all later ones. This holds for periodic and eventually periodic
    regimes and for the quasi-periodic ones of drifting phases (bounded deviation), which
    the regression tests check against 30x longer runs; it is not a proof. The bound is
    at least `ESTIMATE_FLOOR_RTOL` of the estimate (floating rounding)."""
    r0 = r // 2
    span = r - r0
    e0 = max(ends[r0])
    er = max(ends[r])
    est = (er - e0) / span
    low = high = 0.0
    for q in range(r0, r + 1):
        dev = max(ends[q]) - e0 - (q - r0) * est
        low = min(low, dev)
        high = max(high, dev)
    error = max(2 * (high - low) / span, ESTIMATE_FLOOR_RTOL * est)
    return ThroughputRun(starts[: r + 1], ends[: r + 1], span, est, False, error)

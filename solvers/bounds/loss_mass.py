"""Latency with contention: the loss-mass bound, a lower bound that separates over the jobs.

`solvers.bounds.latency_pair` proves two jobs by testing every pair of segmentations; its
test charges each co-runner the *least* loss rate among the segments present, which does
not add up over the jobs, so with three jobs (~1e10 triples on 3 x 30 groups) nothing
joins it cheaply, and the contention-free optimum (3 x 30: 10.676 ms for a best known
13.22 ms) was the best bound. This module charges each co-runner *group* its own loss
instead, which does add up.

**The loss mass.** Let ``h_v`` be the loss rate a co-runner of demand ``x`` inflicts on a
victim on device ``v``'s kind (`ContentionModel.loss_rate`) and ``g <= h_v`` a concave
minorant on ``[0, X_e]`` (``X_e``: the largest group demand on device ``e``'s kind):
``h_v`` itself when it is concave there, else the line ``s x`` through the origin with
``s`` the least ``h_v(x) / x`` (Xavier's DLA curve is concave, its GPU curve is not). A
segment ``a`` on ``e`` inflicts ``r_a = h_v(bw_a) >= g(bw_a) >= sum_g (t_g / T) g(bw_g)``
(Jensen: ``bw_a`` is the mean of its groups' demands weighted by their times ``t_g``, of
sum ``T``), so ``r_a dur_a >= r_a base_a >= q_e sum_g t_g g(bw_g)`` (``q_e <= 1`` covers
base times below the weighting times): the segment's *loss mass* ``M_a``, a sum over its
groups. Let ``R_{v,e}`` be the largest ``h_v`` on ``[0, X_e]``.

In a schedule of makespan ``C``, device ``v`` is busy ``B_v`` and idle ``s_v = C - B_v``.
The segments on ``e != v`` are disjoint, so they run at most ``s_v`` of their time while
``v`` is idle, and the rest beside ``v``'s segments (of other jobs: a job never overlaps
itself), each slowing them at its own rate: the loss they inflict on ``v`` is at least
``sum_a r_a dur_a - R_{v,e} s_v >= M_e - R_{v,e} s_v`` (``M_e``: the mass of everything on
``e``). With ``B_v = L_v + losses`` (``L_v``: its standalone load),
``C = B_v + s_v >= L_v + sum_{e != v} M_e + (1 - sum_e R_{v,e}) s_v >= L_v + sum_e M_e``
(``sum_e R_{v,e} <= k_max (D - 1) < 1``: `ContentionModel.check_devices`). Each job's
chain (bases and transitions) bounds ``C`` too.

Every term is a sum over the jobs of what its segmentation contributes: each
segmentation ``o`` of job ``j`` is a vector ``x_j(o)`` (per device ``v``: its load on
``v`` plus its mass on the other devices with ``v`` as victim; per job: its chain if it is
``j``), and ``C >= max_k sum_j x_j(o_j)[k]``. The least of that over all combinations is
at least its Lagrangian ``max_lambda sum_j min_o lambda . x_j(o)`` over weights
``lambda >= 0`` summing to 1, one small LP (`scipy.optimize.linprog`); whatever weights it
returns, the bound is recomputed from them exactly, so its accuracy never matters for
soundness. 3 x 30 groups with contention: 11.94 ms (the contention-free optimum: 10.676,
the contention LP bound: 9.90) in well under a second.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from solvers.bounds import latency_pair as lp
from solvers.model.problem import Objective, Problem

MIN_JOBS = 2
MARGIN = lp.MARGIN
"""Relative margin taken off the bound (floating-point sums)."""


@dataclass(frozen=True)
class LossMassResult:
    bound_ms: float          # valid lower bound on the objective
    weights: tuple[float, ...]   # the Lagrangian weights: per device, then per job chain
    options: int             # segmentations listed over all jobs
    seconds: float


def applies(problem: Problem) -> bool:
    """Latency with contention on several devices, no GPU fallback (its executed pieces are
    not the listed segmentations), few enough segmentations per job."""
    if (problem.objective is not Objective.LATENCY or len(problem.jobs) < MIN_JOBS
            or not problem.contention.enabled or len(problem.devices) < 2
            or problem.any_fallback):
        return False
    return all(lp._count(problem, j) <= lp.MAX_OPTIONS for j in range(len(problem.jobs)))


def _breakpoints(problem: Problem, kind: str, top: float) -> list[float]:
    """Where the loss rate of a victim of ``kind`` can bend on ``[0, top]``: the curve's
    points and where the scaled curve crosses 0 or ``k_max`` (the clamps)."""
    c = problem.contention
    curve = c.gpu if kind == "gpu" else c.dla
    xs = {0.0, float(top)}
    pts = [(float(x), float(y)) for x, y in curve.points]
    xs.update(x for x, _ in pts if 0.0 <= x <= top)
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        a, b = c.strength * y0, c.strength * y1
        for level in (0.0, c.k_max):
            if (a - level) * (b - level) < 0:
                x = x0 + (level - a) / (b - a) * (x1 - x0)
                if 0.0 <= x <= top:
                    xs.add(x)
    return sorted(xs)


def minorant(problem: Problem, kind: str, top: float
             ) -> tuple[np.ndarray, np.ndarray, float]:
    """A concave minorant of the loss rate of a victim of ``kind`` on ``[0, top]`` as the
    breakpoints (xs, ys) of a piecewise-linear function, and the largest rate there."""
    xs = _breakpoints(problem, kind, top)
    ys = [problem.contention.loss_rate(kind, x) for x in xs]
    largest = max(ys)
    slopes = [(y1 - y0) / (x1 - x0) for (x0, y0), (x1, y1)
              in itertools.pairwise(zip(xs, ys, strict=True)) if x1 > x0]
    if all(b <= a + 1e-12 for a, b in itertools.pairwise(slopes)):
        return np.array(xs), np.array(ys), largest   # concave: the curve itself
    # not concave: the line through the origin below it (h(x) / x is monotone on each
    # linear piece, so its least value sits at a breakpoint)
    s = min((y / x for x, y in zip(xs, ys, strict=True) if x > 0), default=0.0)
    end = max(top, 1e-9)
    return np.array([0.0, end]), np.array([0.0, s * end]), largest


@dataclass(frozen=True)
class Masses:
    """Per (job, victim device v, aggressor device e != v): prefix sums of the groups' loss
    mass (ms) on ``e`` with ``v`` as victim; and ``R_{v,e}`` (D, D), the largest rate
    (module docstring)."""

    prefix: dict[tuple[int, int, int], np.ndarray]
    largest: np.ndarray


def masses(problem: Problem) -> Masses:
    devices = problem.devices
    jobs = range(len(problem.jobs))
    top = {kind: max((problem.segment_bandwidth(j, g, g, kind)
                      for j in jobs for g in range(problem.n_groups(j))), default=0.0)
           for kind in ("gpu", "dla")}
    out: dict[tuple[int, int, int], np.ndarray] = {}
    largest = np.zeros((len(devices), len(devices)))
    for (vi, v), (ei, e) in itertools.product(enumerate(devices), repeat=2):
        if vi == ei:
            continue
        xs, ys, largest[vi, ei] = minorant(problem, v.kind, top[e.kind])
        for j in jobs:
            mass, ratio = [], 1.0
            for g in range(problem.n_groups(j)):
                t = problem.demand_time(j, g, e.kind)
                cost = problem.cost(j, g, e)
                if t > 0 and cost is not None:
                    ratio = min(ratio, cost / t)
                bw = problem.segment_bandwidth(j, g, g, e.kind)
                mass.append(t * float(np.interp(bw, xs, ys)) if t > 0 else 0.0)
            out[(j, vi, ei)] = np.concatenate([[0.0], np.cumsum(mass)]) * max(ratio, 0.0)
    return Masses(out, largest)


def vectors(problem: Problem, job: int, o: lp._Options, m: Masses) -> np.ndarray:
    """(n, D + J): per device ``v`` the load of each segmentation on ``v`` plus its loss
    mass on the other devices with ``v`` as victim, then per job its chain if it is
    ``job`` (0 otherwise)."""
    nd, nj = len(problem.devices), len(problem.jobs)
    out = np.zeros((len(o.chain), nd + nj))
    for k in range(o.dev.shape[1]):
        dev, first, last = o.dev[:, k], o.first[:, k], o.last[:, k]
        for vi in range(nd):
            out[:, vi] += np.where(dev == vi, o.base[:, k], 0.0)
            for ei in range(nd):
                if ei != vi:
                    p = m.prefix[(job, vi, ei)]
                    out[:, vi] += np.where(dev == ei, p[last + 1] - p[first], 0.0)
    out[:, nd + job] = o.chain
    return out


def _weights(xs: list[np.ndarray], seconds: float | None = None) -> np.ndarray:
    """The Lagrangian weights: maximise ``sum_j u_j`` subject to ``u_j <= lambda . x`` for
    every row ``x`` of ``xs[j]``, ``lambda >= 0``, ``sum lambda = 1`` (HiGHS through
    scipy, within ``seconds``). Falls back to equal weights on the device terms if the LP
    fails or runs out of time (any weights give a valid bound)."""
    from scipy.optimize import linprog

    k = xs[0].shape[1]
    nj = len(xs)
    rows = [np.unique(x, axis=0) for x in xs]
    a_ub = np.zeros((sum(len(r) for r in rows), k + nj))
    at = 0
    for j, r in enumerate(rows):
        a_ub[at:at + len(r), :k] = -r
        a_ub[at:at + len(r), k + j] = 1.0
        at += len(r)
    cost = np.r_[np.zeros(k), -np.ones(nj)]
    a_eq = np.r_[np.ones(k), np.zeros(nj)][None, :]
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(len(a_ub)), A_eq=a_eq, b_eq=[1.0],
                  bounds=[(0.0, 1.0)] * k + [(None, None)] * nj, method="highs",
                  options={} if seconds is None else {"time_limit": max(seconds, 0.01)})
    if res.status != 0 or res.x is None:
        return np.r_[np.ones(k - nj), np.zeros(nj)]
    return np.asarray(res.x[:k])


def segmentations(problem: Problem, deadline: float | None = None
                  ) -> tuple[lp._Options, ...] | None:
    """Every segmentation of each job (`latency_pair._options`), listed once for this bound
    and `solvers.bounds.latency_triple`; None when the bound does not apply or the listing
    passes ``deadline`` (a `time.perf_counter()` value)."""
    if not applies(problem):
        return None
    try:
        return tuple(lp._options(problem, j, deadline) for j in range(len(problem.jobs)))
    except lp._Late:
        return None


def loss_mass_bound(problem: Problem, deadline: float | None = None,
                    options: tuple[lp._Options, ...] | None = None
                    ) -> LossMassResult | None:
    """The loss-mass bound of the module docstring; None when it does not apply or the
    listing of the segmentations passes ``deadline`` (a `time.perf_counter()` value).
    ``options``: every job's segmentations if already listed (`segmentations`)."""
    if not applies(problem):
        return None
    t0 = time.perf_counter()
    nj = len(problem.jobs)
    listed = options or segmentations(problem, deadline)
    if listed is None:
        return None
    m = masses(problem)
    xs = [vectors(problem, j, listed[j], m) for j in range(nj)]
    # the objective max_j w_j C_j: the device terms bound the makespan, reached by some job
    # (weight >= the least); each chain bounds its own job's end
    nd = len(problem.devices)
    scale = np.r_[np.full(nd, min(problem.weight(j) for j in range(nj))),
                  [problem.weight(j) for j in range(nj)]]
    xs = [x * scale for x in xs]
    lam = np.clip(_weights(xs, None if deadline is None
                           else deadline - time.perf_counter()), 0.0, None)
    lam = lam / lam.sum() if lam.sum() > 0 else np.r_[np.ones(nd), np.zeros(nj)] / nd
    bound = sum(float((x @ lam).min()) for x in xs)
    return LossMassResult(bound * (1 - MARGIN) if math.isfinite(bound) else 0.0,
                          tuple(float(v) for v in lam), sum(len(o.chain) for o in listed),
                          time.perf_counter() - t0)

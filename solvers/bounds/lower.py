"""Cheap lower bounds on the optimum of a problem, for both objectives (docs/model.md 5).

Every bound here holds for *every* valid schedule and every order, with or without
contention, because contention only lengthens segments (rate ``1 - sum k <= 1``): the
bounds use standalone (contention-free) costs, and `contention_load` adds only the least
slowdown that overlapping busy devices must suffer. Validity arguments are in each docstring;
tests check that every exhaustive optimum is >= `lower_bound`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from ortools.linear_solver import pywraplp

from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import Segment


def fastest_chain(problem: Problem, job: int) -> float:
    """Fastest standalone time of one job: its best segmentation run alone.

    Dynamic program over groups with state (device of the current segment, switches used
    so far): ``best[d][t]`` is the least time to finish groups ``0..g`` with group ``g`` on
    ``d`` after ``t`` switches. A group continues the current segment or starts a new one
    on another allowed device, paying the transition. Valid: in any schedule job ``j``'s
    last segment ends no earlier than the sum of its segments' base times and transitions
    (each segment starts after its predecessor ends plus the transition and lasts at least
    its base time), and that sum is one of the paths this DP minimises over. With GPU
    fallback (docs/model.md 2.1) ``t`` counts every hop, up to `Problem.max_segments` - 1:
    a relaxation of the switch rule, so still a bound.
    """
    n = problem.n_groups(job)
    devs = list(problem.devices)
    t_max = problem.max_segments(job) - 1
    inf = math.inf
    best = [[inf] * (t_max + 1) for _ in devs]
    for i, d in enumerate(devs):
        if d in problem.allowed(job, 0):
            best[i][0] = problem.cost(job, 0, d) or inf
    for g in range(1, n):
        allowed = problem.allowed(job, g)
        new = [[inf] * (t_max + 1) for _ in devs]
        for i, d in enumerate(devs):
            if d not in allowed:
                continue
            c = problem.cost(job, g, d)
            assert c is not None
            for t in range(t_max + 1):
                stay = best[i][t]
                cand = stay
                if t > 0:
                    for i2, d2 in enumerate(devs):
                        if i2 == i or best[i2][t - 1] == inf:
                            continue
                        if d2 not in problem.allowed(job, g - 1):
                            continue
                        tr = problem.transition(job, g - 1, d2, d)
                        cand = min(cand, best[i2][t - 1] + tr)
                new[i][t] = cand + c
        best = new
    return min(min(row) for row in best)


def min_work(problem: Problem, job: int) -> float:
    """Least total device time of one job: each group at its cheapest allowed device."""
    total = 0.0
    for g in range(problem.n_groups(job)):
        total += min(problem.cost(job, g, d) or math.inf for d in problem.allowed(job, g))
    return total


def gpu_forced_work(problem: Problem) -> float:
    """Standalone GPU time of groups that may only run on the GPU (pins/ineligibility)."""
    total = 0.0
    for job in problem.jobs:
        for g in range(problem.n_groups(job.index)):
            if problem.allowed(job.index, g) == frozenset({Device.GPU}):
                total += problem.cost(job.index, g, Device.GPU) or 0.0
    return total


def fluid_load(problem: Problem) -> float:
    """Least possible busiest-device load (ms) when groups may be split fractionally.

    Every group runs wholly on one device, so in any schedule the GPU's busy time is at
    least its groups' GPU cost and some DLA core's at least 1/n of the DLA groups' DLA
    cost (n cores): the busiest device carries ``max(G, D / n)``. Relaxing the assignment
    to fractions only lowers that; the fractional optimum puts the groups with the
    smallest DLA/GPU cost ratio on the DLA cores, the one at the crossing split so that
    ``G == D / n`` (exchange argument: any other fractional assignment with the same GPU
    load has at least this DLA load). Groups allowed on one kind only stay there. Without
    DLA cores it is the total GPU cost.
    """
    n_dla = sum(1 for d in problem.devices if d.kind == "dla")
    gpu = dla = 0.0
    free: list[tuple[float, float]] = []        # (gpu cost, dla cost) of either-kind groups
    for job in problem.jobs:
        for g in range(problem.n_groups(job.index)):
            kinds = {d.kind for d in problem.allowed(job.index, g)}
            on_gpu = problem.cost(job.index, g, Device.GPU)
            on_dla = problem.cost(job.index, g, Device.DLA0) if n_dla else None
            if "dla" in kinds and "gpu" in kinds and on_gpu is not None and on_dla is not None:
                free.append((on_gpu, on_dla))
            elif "gpu" in kinds and on_gpu is not None:
                gpu += on_gpu
            elif on_dla is not None:
                dla += on_dla
    if not n_dla:
        return gpu + sum(c for c, _ in free)
    # start with every free group on the GPU, then move them to the DLA pool by ratio
    gpu += sum(c for c, _ in free)
    free.sort(key=lambda c: (c[1] / c[0] if c[0] > 0 else math.inf, c[1]))
    for c_gpu, c_dla in free:
        if gpu <= dla / n_dla:
            break
        after_gpu, after_dla = gpu - c_gpu, dla + c_dla
        if after_gpu >= after_dla / n_dla:
            gpu, dla = after_gpu, after_dla
            continue
        # split this group: gpu - f * c_gpu == (dla + f * c_dla) / n_dla
        f = (gpu - dla / n_dla) / (c_gpu + c_dla / n_dla)
        gpu, dla = gpu - f * c_gpu, dla + f * c_dla
        break
    return max(gpu, dla / n_dla)


def min_loss_rate(problem: Problem, victim: Device, aggressor: Device) -> float:
    """Least loss rate ``k(i, j)`` of any segment on ``victim`` while any segment of a job
    that may co-run with it runs on ``aggressor`` (model.md section 3; the least over every
    segment the aggressor could form, `Problem.least_loss_rate`): over every pair of
    jobs that may use those devices, a job with itself only in throughput mode (other
    rounds of it do co-run there; in latency mode a job's segments never overlap). 0 when
    no pair can co-run."""
    n = len(problem.jobs)
    on_victim = [i for i in range(n) if _may_use(problem, i, victim)]
    on_aggressor = [j for j in range(n) if _may_use(problem, j, aggressor)]
    pairs = [(i, j) for i in on_victim for j in on_aggressor
             if i != j or problem.objective is Objective.THROUGHPUT]
    return min((problem.least_loss_rate(i, victim, j, aggressor) for i, j in pairs),
               default=0.0)


def _may_use(problem: Problem, job: int, device: Device) -> bool:
    return any(device in problem.allowed(job, g) for g in range(problem.n_groups(job)))


CONTENTION_LP_MARGIN = 1e-6
"""Relative margin taken off the LP optimum of `contention_load`: the LP solver works to
floating-point tolerances (about 1e-9 here), a bound must never sit above the truth."""


def contention_load(problem: Problem) -> float:
    """Least busiest-device time (ms) once memory contention is counted: a fluid LP.

    Take any schedule with makespan ``C`` (throughput: over ``R`` rounds ending at ``T_R``,
    everything divided by ``R``, so ``C`` becomes the cycle time). Let ``L_d`` be device
    ``d``'s standalone load and ``B_d <= C`` its busy time. Segments on one device never
    overlap each other, so the overlaps of ``d``'s segments with ``e``'s add up to the
    measure of the intersection of their busy sets, which is at least ``B_d + B_e - C``
    (both lie in ``[0, C]``). Every segment's duration is its base plus ``k * overlap``
    with each co-runner (model.md section 3) and every ``k >= min_loss_rate(d, e)``, so

        B_d >= L_d + sum_e min_loss_rate(d, e) * max(0, B_d + B_e - C).

    Relaxing the assignment to fractions (as `fluid_load` does) leaves a linear program in
    the fractions, ``B``, the overlaps and ``C``; its minimum ``C`` is a lower bound. With
    no contention it equals `fluid_load`. Measured on the benchmark's 3 x 30 latency
    problem with contention: 11.77 ms where `fluid_load` gives 9.50 ms: DLA cores run about
    28 % slower next to the GPU, and the LP charges that to every balanced placement.
    """
    devices = problem.devices
    if not problem.contention.enabled or len(devices) < 2:
        return fluid_load(problem)
    lp = pywraplp.Solver.CreateSolver("GLOP")
    if lp is None:  # pragma: no cover - GLOP ships with every OR-Tools wheel
        raise RuntimeError("OR-Tools was built without the GLOP LP solver")
    inf = lp.infinity()
    c = lp.NumVar(0.0, inf, "C")
    load: dict[Device, list] = {d: [] for d in devices}
    for job in problem.jobs:
        for g in range(problem.n_groups(job.index)):
            shares = []
            for d in devices:
                cost = problem.cost(job.index, g, d)
                if d not in problem.allowed(job.index, g) or cost is None:
                    continue
                x = lp.NumVar(0.0, 1.0, f"x_{job.index}_{g}_{d.value}")
                shares.append(x)
                load[d].append(cost * x)
            lp.Add(lp.Sum(shares) == 1)
    busy = {d: lp.NumVar(0.0, inf, f"busy_{d.value}") for d in devices}
    overlap = {}
    for a, b in itertools.combinations(devices, 2):
        overlap[a, b] = overlap[b, a] = lp.NumVar(0.0, inf, f"overlap_{a.value}_{b.value}")
        lp.Add(overlap[a, b] >= busy[a] + busy[b] - c)
    for d in devices:
        lp.Add(busy[d] <= c)
        lp.Add(busy[d] >= lp.Sum(load[d]) + lp.Sum(
            [min_loss_rate(problem, d, e) * overlap[d, e] for e in devices if e != d]))
    lp.Minimize(c)
    if lp.Solve() != pywraplp.Solver.OPTIMAL:  # pragma: no cover - always feasible, bounded
        return fluid_load(problem)
    return max(fluid_load(problem), c.solution_value() * (1 - CONTENTION_LP_MARGIN))


def lower_bound(problem: Problem) -> float:
    """A valid lower bound (ms) on the objective of every schedule of ``problem``.

    Latency (objective ``max_j w_j C_j``):

    - ``w_j * fastest_chain(j)`` for every job: ``C_j >= fastest_chain(j)`` (see there).
    - ``min_j w_j * W / D`` with ``W = sum_j min_work(j)`` and D devices: the devices do
      at least W ms of work in total (segments last at least their base time, every group
      costs at least its cheapest allowed device), so some device is busy >= W / D before
      the last job ends; the objective is >= ``min_w * max_j C_j``.
    - ``min_j w_j * gpu_forced_work``: those groups all occupy the single GPU.
    - ``min_j w_j * fluid_load``: the busiest device is busy that long (see there); with
      contention ``contention_load`` instead, which adds the least slowdown (see there).

    Throughput (period per frame ``lambda / F``): a device's round order repeats every
    ``lambda`` and its segments never overlap, so ``lambda >= busy_d >= load_d`` for
    every device; hence ``lambda >= W / D``, ``gpu_forced_work`` and ``fluid_load`` (with
    contention ``contention_load``, whose argument covers a stream of rounds).
    """
    n_dev = len(problem.devices)
    total = sum(min_work(problem, j.index) for j in problem.jobs)
    loads = max(total / n_dev, gpu_forced_work(problem), contention_load(problem))
    if problem.objective is Objective.THROUGHPUT:
        return loads / problem.frames_per_round
    w_min = min(problem.weight(j.index) for j in problem.jobs)
    chain = max(problem.weight(j.index) * fastest_chain(problem, j.index)
                for j in problem.jobs)
    return max(chain, w_min * loads)


def least_rate_on(problem: Problem, victim: Device, job: int, device: Device, first: int,
                  last: int) -> float:
    """Least loss rate the segment of ``job`` made of groups ``first..last`` on ``device``
    inflicts on a segment of any job on ``victim`` (`Problem.loss_rate` over every victim
    job: the bounds of throughput mode do not know which job co-runs)."""
    return min(problem.loss_rate(v, victim, job, device, first, last)
               for v in range(len(problem.jobs)))


SEGMENT_BOUND_MAX_BRANCHES = 8
"""`segment_bound` solves one LP per way of ordering the first segments of same-device
chains of different jobs (2 ** pairs); above this many it leaves those constraints out."""


def segment_bound(problem: Problem, segments: Sequence[Sequence[Segment]]) -> float:
    """`segment_bound_lp`'s bound alone (ms per frame)."""
    return segment_bound_lp(problem, segments)[0]


def segment_bound_lp(problem: Problem, segments: Sequence[Sequence[Segment]]
                     ) -> tuple[float, list[float]]:
    """Throughput with contention: a lower bound (ms per frame) on the period of *every*
    schedule made of exactly these ``segments`` (any device order), a small LP.

    Take the steady state over ``R`` rounds ending at ``T`` and divide everything by ``R``
    (as in `contention_load`): ``dur_i`` is segment ``i``'s mean duration per round, ``B_d``
    the sum of ``d``'s durations, ``P`` the round time, ``s_d = P - B_d >= 0`` ``d``'s idle
    time. A victim's loss rate depends only on its device kind and the aggressor segment
    ``c`` (throughput: other rounds of a job co-run too), so device ``d``'s total slowdown
    is ``sum_c k_d(c) * X_dc`` with ``X_dc`` the overlap of ``c``'s instances with ``d``'s
    busy set; the instances of ``c`` (measure ``dur_c`` per round) and ``d``'s busy set
    both lie in ``[0, T]``, so ``X_dc >= dur_c - s_d`` per round. Hence

        B_d = sum_{i on d} dur_i >= L_d + sum_{c not on d} k_d(c) * max(0, dur_c - s_d),

    with ``dur_i >= base_i`` and ``B_d <= P``. Chains: if segments ``s < t`` of one job run
    on the same device, ``t`` cannot precede ``s`` in that device's round order (it
    deadlocks), so the cycle through the device's wrap edge covers the chain
    ``s .. t``: ``P >= sum_{u=s..t} dur_u + transitions``; for two such chains of different
    jobs on one device, whichever first segment comes first in the order adds its duration
    to the other chain (one LP per choice, the least is the bound). Unlike
    `contention_load`, every aggressor is charged its own segment's loss rate instead of
    the least one. Measured on the benchmark's 2 x 30 throughput pair: 9.258 ms for a
    schedule that simulates to 9.267 ms.

    Returns the bound and the LP's segment durations (ms per round, segments in job then
    segment order) of the least branch.
    """
    if problem.objective is not Objective.THROUGHPUT:
        raise ValueError("segment_bound is a throughput bound")
    devices = problem.devices
    segs: list[tuple[int, int, Device, float, float, tuple[int, int]]] = []
    for j, row in enumerate(segments):
        for s, seg in enumerate(row):
            tr = 0.0 if s == 0 else problem.transition(j, row[s - 1].last_group,
                                                      row[s - 1].device, seg.device)
            segs.append((j, s, seg.device,
                         problem.segment_cost(j, seg.first_group, seg.last_group, seg.device),
                         tr, (seg.first_group, seg.last_group)))
    where = {(j, s): n for n, (j, s, *_) in enumerate(segs)}
    chains = [(j, a, b, row[a].device) for j, row in enumerate(segments)
              for a, b in itertools.combinations(range(len(row)), 2)
              if row[a].device == row[b].device]
    crossing = [(x, y) for x, y in itertools.combinations(chains, 2)
                if x[3] == y[3] and x[0] != y[0]]
    if 2 ** len(crossing) > SEGMENT_BOUND_MAX_BRANCHES:
        crossing = []
    rates = {}
    for n, (j, _, dev, _, _, span) in enumerate(segs):
        for d in devices:
            if d != dev:
                rates[d, n] = least_rate_on(problem, d, j, dev, *span)
    best, best_dur = math.inf, [x[3] for x in segs]
    for branch in itertools.product((False, True), repeat=len(crossing)):
        lp = pywraplp.Solver.CreateSolver("GLOP")
        if lp is None:  # pragma: no cover - GLOP ships with every OR-Tools wheel
            raise RuntimeError("OR-Tools was built without the GLOP LP solver")
        inf = lp.infinity()
        period = lp.NumVar(0.0, inf, "P")
        dur = [lp.NumVar(base, inf, f"dur_{n}") for n, (_, _, _, base, _, _) in enumerate(segs)]
        busy = {d: lp.Sum([dur[n] for n, x in enumerate(segs) if x[2] == d]) for d in devices}
        for d in devices:
            lp.Add(busy[d] <= period)
            charge = []
            for n, x in enumerate(segs):
                k = rates.get((d, n), 0.0)
                if x[2] == d or k <= 0:
                    continue
                over = lp.NumVar(0.0, inf, f"x_{d.value}_{n}")
                lp.Add(over >= dur[n] + busy[d] - period)
                charge.append(k * over)
            load = sum(x[3] for x in segs if x[2] == d)
            lp.Add(busy[d] >= load + lp.Sum(charge))
        for n, x in enumerate(segs):
            # the victim's own view: it overlaps e's busy set by >= dur - s_e, at e's
            # least rate on it
            charge = []
            for e in devices:
                least = min((rates[x[2], m] for m, y in enumerate(segs) if y[2] == e),
                            default=0.0) if e != x[2] else 0.0
                if least <= 0:
                    continue
                over = lp.NumVar(0.0, inf, f"v_{n}_{e.value}")
                lp.Add(over >= dur[n] + busy[e] - period)
                charge.append(least * over)
            if charge:
                lp.Add(dur[n] >= x[3] + lp.Sum(charge))

        chain = {(j, a, b): lp.Sum([dur[where[j, u]] for u in range(a, b + 1)])
                 + sum(segs[where[j, u]][4] for u in range(a + 1, b + 1))
                 for j, a, b, _ in chains}
        for j, a, b, _ in chains:
            lp.Add(period >= chain[j, a, b])
        for (x, y), swap in zip(crossing, branch, strict=True):
            if swap:
                x, y = y, x
            lp.Add(period >= dur[where[x[0], x[1]]] + chain[y[:3]])
        lp.Minimize(period)
        if lp.Solve() != pywraplp.Solver.OPTIMAL:  # pragma: no cover - feasible, bounded
            return lower_bound(problem), best_dur
        if period.solution_value() < best:
            best, best_dur = period.solution_value(), [v.solution_value() for v in dur]
    return best * (1 - CONTENTION_LP_MARGIN) / problem.frames_per_round, best_dur

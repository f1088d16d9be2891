"""Baselines: the schedules a paper (or a user) would compare against, judged by the simulator.

What each one is (all work for both objectives, N models and 1-3 devices; each returns a
`Result` with status ``feasible`` and ``solver="baseline:<name>"``; a baseline that has no
valid schedule for the problem returns status ``infeasible`` with the reason):

- ``gpu_only``: every model whole on the GPU, run in model order (HaX-CoNN's "GPU only").
- ``whole_models``: every assignment of whole models to devices (each model one segment;
  the seed paper's client-server scheme is one of them), with every device order when
  there are at most `WHOLE_MODEL_ORDER_CAP` orders, else model order. Best by simulator.
- ``herald_like``: Herald (Kwon et al., HPCA'21) schedules layers of several DNNs on
  heterogeneous sub-accelerators greedily: each layer goes to the sub-accelerator where it
  *finishes earliest* given the accelerators' availability and the layer's dependences.
  Here: layer groups in earliest-ready-job-first order, each group placed on the allowed
  device with the earliest finish time (continuing on the current device, or switching
  and paying the transition if the job still has a switch and, for a DLA, a loadable
  left). Contention-unaware, no look-ahead: what HaX-CoNN's comparison reproduces.
- ``h2h_like``: H2H (Zhang et al., DAC'22) maps heterogeneous models to heterogeneous
  systems in stages: a computation-prioritized mapping (every layer on its fastest
  accelerator), then communication-aware re-mapping (merge small islands to cut data
  transfers), then load balancing (move layers off the busiest accelerator while that
  helps). Here: (1) every group on its fastest allowed device kind (DLA groups on the job's
  "own" core, job index mod 2); (2) while a job has more switches than allowed, merge
  its shortest segment into a neighbour; (3) hill-climbing on the simulator's objective,
  each move taking the head or tail of a segment on the busiest device to another device.
  Neither reproduction copies HaX-CoNN's scripts; they follow the papers' descriptions.
- ``tensorrt_fallback`` ("as TensorRT builds it"): what the seed paper ran, HaX-CoNN style.
  Every model is one engine with at most one switch (GPU then DLA, DLA then GPU, or whole
  on one device; none when ``max_transitions`` is 0), its DLA part built with
  ``--allowGPUFallback``: the refused groups in it run on the GPU (docs/model.md 2.1), on
  the model's "own" core (job index mod the cores, as the paper's two instances used one
  core each or shared one). The switch points are chosen by coordinate descent on the
  simulator's objective (each job in turn tries every switch point with the others fixed,
  until no job improves, at most `TRT_ROUNDS` rounds), engines dispatched first-come
  first-served. It is judged on `Problem.with_gpu_fallback` of the problem: the build a
  user gets with the flag, whatever the problem itself allows (so it is not in
  `BASELINES`, whose schedules all fit the problem as given).
- ``greedy``: a fast balancer used as the CP-SAT hint. Jobs are placed one at a time
  (largest first, plus two other orders; the best by simulator wins); each job gets the
  segmentation that finishes it earliest given the devices' current availability, found
  by an O(groups x devices^2 x switches) dynamic program. Respects max_transitions, pins,
  DLA-ineligible groups and the loadable limit.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence

from solvers.bounds.lower import lower_bound
from solvers.errors import ProblemError
from solvers.judges.simulator import simulate
from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import (
    Result,
    Schedule,
    Segment,
    SegmentRef,
    SolveStatus,
    better,
    switches,
)

WHOLE_MODEL_ORDER_CAP = 720
TRT_ROUNDS = 4
TENSORRT_BASELINE = "tensorrt_fallback"
BASELINE_TITLES = {TENSORRT_BASELINE: "as TensorRT builds it"}
"""Display names of baselines whose key does not say what they are."""
H2H_MAX_ROUNDS = 30
GREEDY_PASSES = 3

JobSegments = tuple[Segment, ...]


# ---------------------------------------------------------------------- result helper
def _judge(problem: Problem, name: str, schedule: Schedule | None, started: float,
           message: str = "", stats: dict[str, object] | None = None) -> Result:
    solver = f"baseline:{name}"
    seconds = time.perf_counter() - started
    if schedule is None:
        return Result(SolveStatus.INFEASIBLE, solver, None, None, None, None, seconds,
                      stats or {}, message or "no valid schedule of this kind")
    timeline = simulate(problem, schedule)
    status = SolveStatus.FEASIBLE
    if timeline.violations:
        status = SolveStatus.INFEASIBLE
        message = "; ".join(timeline.violations)
    return Result(status, solver, schedule, timeline, timeline.objective_ms,
                  lower_bound(problem), seconds, stats or {}, message)


def simulated_value(problem: Problem, schedule: Schedule) -> float:
    """Simulator objective; missed deadlines count as infinitely bad; invalid -> inf."""
    try:
        tl = simulate(problem, schedule, streaming=False)
    except ProblemError:
        return math.inf
    return math.inf if tl.violations else tl.objective_ms


def _order_by_start(segments: Sequence[JobSegments], starts: dict[SegmentRef, float],
                    devices: Sequence[Device]) -> dict[Device, tuple[SegmentRef, ...]]:
    order: dict[Device, list[SegmentRef]] = {d: [] for d in devices}
    for j, segs in enumerate(segments):
        for s, seg in enumerate(segs):
            order[seg.device].append((j, s))
    return {d: tuple(sorted(refs, key=lambda r: (starts.get(r, 0.0), r)))
            for d, refs in order.items()}


def fits_loadables(problem: Problem, segments: Sequence[JobSegments]) -> bool:
    counts: dict[Device, int] = {}
    for segs in segments:
        for seg in segs:
            if seg.device.kind == "dla":
                counts[seg.device] = counts.get(seg.device, 0) + 1
    return all(c <= problem.dla_loadable_limit for c in counts.values())


def _whole_ok(problem: Problem, job: int, device: Device) -> bool:
    return all(device in problem.allowed(job, g) for g in range(problem.n_groups(job)))


# ---------------------------------------------------------------------- gpu_only
def gpu_only(problem: Problem) -> Result:
    """Every model whole on the GPU, in model order."""
    t0 = time.perf_counter()
    jobs = range(len(problem.jobs))
    if Device.GPU not in problem.devices or not all(_whole_ok(problem, j, Device.GPU)
                                                    for j in jobs):
        return _judge(problem, "gpu_only", None, t0,
                      "a pin keeps some group off the GPU")
    segs = tuple((Segment(0, problem.n_groups(j) - 1, Device.GPU),) for j in jobs)
    order = {d: () for d in problem.devices}
    order[Device.GPU] = tuple((j, 0) for j in jobs)
    return _judge(problem, "gpu_only", Schedule(segs, order), t0)


# ---------------------------------------------------------------------- whole_models
def whole_models(problem: Problem) -> Result:
    """Best assignment of whole models to devices (and device order), by simulator."""
    t0 = time.perf_counter()
    n = len(problem.jobs)
    choices = [[d for d in problem.devices if _whole_ok(problem, j, d)] for j in range(n)]
    best: tuple[float, Schedule] | None = None
    tried = 0
    for assign in itertools.product(*choices):
        segs = tuple((Segment(0, problem.n_groups(j) - 1, d),) for j, d in enumerate(assign))
        if not fits_loadables(problem, segs):
            continue
        per_dev = {d: [(j, 0) for j in range(n) if assign[j] == d] for d in problem.devices}
        count = math.prod(math.factorial(len(v)) for v in per_dev.values())
        if count <= WHOLE_MODEL_ORDER_CAP:
            orders = itertools.product(*(itertools.permutations(v) for v in per_dev.values()))
        else:
            orders = iter([tuple(tuple(v) for v in per_dev.values())])
        for combo in orders:
            sched = Schedule(segs, dict(zip(per_dev, combo, strict=True)))
            tried += 1
            value = simulated_value(problem, sched)
            if best is None or value < best[0]:
                best = (value, sched)
    if best is None:
        return _judge(problem, "whole_models", None, t0, "no device can run a whole model")
    return _judge(problem, "whole_models", best[1], t0, stats={"schedules_tried": tried})


# ---------------------------------------------------------------------- herald_like
def herald_like(problem: Problem) -> Result:
    """Layer-group earliest-finish-time list scheduling (see the module docstring)."""
    t0 = time.perf_counter()
    n = len(problem.jobs)
    avail = {d: 0.0 for d in problem.devices}
    loadables = {d: 0 for d in problem.devices}
    limit = problem.dla_loadable_limit
    nxt = [0] * n
    end_prev = [0.0] * n
    cur: list[Device | None] = [None] * n
    switches = [0] * n
    assign: list[list[Device]] = [[] for _ in range(n)]
    group_start: list[list[float]] = [[] for _ in range(n)]
    need = [_switches_needed(problem, j) for j in range(n)]
    while any(nxt[j] < problem.n_groups(j) for j in range(n)):
        j = min((j for j in range(n) if nxt[j] < problem.n_groups(j)),
                key=lambda j: (end_prev[j], j))
        g = nxt[j]
        best: tuple[float, int, Device, float] | None = None
        for rank, d in enumerate(problem.devices):
            if d not in problem.allowed(j, g):
                continue
            cost = problem.cost(j, g, d)
            assert cost is not None
            if cur[j] is None or d == cur[j]:
                ready = end_prev[j]
                opens = cur[j] is None
                left = problem.max_transitions - switches[j]
            else:
                left = problem.max_transitions - switches[j] - 1
                if left < 0:
                    continue
                ready = end_prev[j] + problem.transition(j, g - 1, cur[j], d)  # type: ignore
                opens = True
            if opens and d.kind == "dla" and loadables[d] >= limit:
                continue
            if need[j][g][d] > left:
                continue   # look-ahead: the rest of the job could not be placed
            start = max(ready, avail[d])
            key = (start + cost, 0 if d == cur[j] else 1 + rank, d, start)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            return _judge(problem, "herald_like", None, t0,
                          f"{problem.jobs[j].name} group {g}: no device left (max transitions "
                          "or loadable limit exhausted)")
        finish, _, d, start = best
        if cur[j] is not None and d != cur[j]:
            switches[j] += 1
        if (cur[j] is None or d != cur[j]) and d.kind == "dla":
            loadables[d] += 1
        cur[j] = d
        avail[d] = finish
        end_prev[j] = finish
        assign[j].append(d)
        group_start[j].append(start)
        nxt[j] += 1
    segments = tuple(runs(a) for a in assign)
    starts = {(j, s): group_start[j][seg.first_group]
              for j, segs in enumerate(segments) for s, seg in enumerate(segs)}
    return _judge(problem, "herald_like",
                  Schedule(segments, _order_by_start(segments, starts, problem.devices)), t0)


def _switches_needed(problem: Problem, job: int) -> list[dict[Device, float]]:
    """``need[g][d]``: fewest switches to run groups g.. with group g on d (inf if none)."""
    n = problem.n_groups(job)
    need: list[dict[Device, float]] = [{} for _ in range(n)]
    for g in range(n - 1, -1, -1):
        for d in problem.devices:
            if d not in problem.allowed(job, g):
                need[g][d] = math.inf
            elif g == n - 1:
                need[g][d] = 0
            else:
                other = min((need[g + 1][e] for e in problem.devices if e != d),
                            default=math.inf)
                need[g][d] = min(need[g + 1][d], 1 + other)
    return need


def runs(devices: Sequence[Device]) -> JobSegments:
    """Merge a per-group device list into segments."""
    out: list[Segment] = []
    a = 0
    for g in range(1, len(devices) + 1):
        if g == len(devices) or devices[g] != devices[a]:
            out.append(Segment(a, g - 1, devices[a]))
            a = g
    return tuple(out)


# ---------------------------------------------------------------------- h2h_like
def h2h_like(problem: Problem) -> Result:
    """Fastest-device mapping, island merging, then load-balancing hill climbing."""
    t0 = time.perf_counter()
    n = len(problem.jobs)
    dla_cores = [d for d in problem.devices if d.kind == "dla"]
    current: list[JobSegments] = []
    for j in range(n):
        own = dla_cores[j % len(dla_cores)] if dla_cores else None
        per_group = []
        for g in range(problem.n_groups(j)):
            allowed = problem.allowed(j, g)
            cands = [d for d in problem.devices if d in allowed
                     and (d.kind == "gpu" or d == own or own not in allowed)]
            per_group.append(min(cands, key=lambda d, g=g, j=j: (problem.cost(j, g, d),
                                                                  d.kind != "gpu")))
        segs = list(runs(per_group))
        while len(segs) - 1 > problem.max_transitions:
            segs = _merge_shortest(problem, j, segs)
            if segs is None:
                return _judge(problem, "h2h_like", None, t0,
                              f"{problem.jobs[j].name}: cannot merge islands within "
                              f"max_transitions={problem.max_transitions} (pins)")
        current.append(tuple(segs))
    if not fits_loadables(problem, current):
        current = [_merge_dla_islands(problem, j, list(s)) for j, s in enumerate(current)]
    best = simulated_value(problem, Schedule(tuple(current)))
    rounds = 0
    while rounds < H2H_MAX_ROUNDS:
        rounds += 1
        tl = simulate(problem, Schedule(tuple(current)), streaming=False)
        busiest = max(problem.devices, key=lambda d: (tl.busy_ms.get(d, 0.0), d))
        move: tuple[float, list[JobSegments]] | None = None
        for cand in _boundary_moves(problem, current, busiest):
            value = simulated_value(problem, Schedule(tuple(cand)))
            if better(value, cand, best, current) and (
                    move is None or better(value, cand, move[0], move[1])):
                move = (value, cand)
        if move is None:
            break
        best, current = move[0], move[1]
    schedule = Schedule(tuple(current))
    tl = simulate(problem, schedule)
    return _judge(problem, "h2h_like", Schedule(schedule.segments, tl.order), t0,
                  stats={"rounds": rounds})


def _merge_shortest(problem: Problem, job: int, segs: list[Segment]) -> list[Segment] | None:
    """Merge the segment whose absorption by a neighbour costs least (comm.-aware step)."""
    best: tuple[float, list[Segment]] | None = None
    for k, seg in enumerate(segs):
        for nb in (k - 1, k + 1):
            if not 0 <= nb < len(segs):
                continue
            dev = segs[nb].device
            try:
                extra = problem.segment_cost(job, seg.first_group, seg.last_group, dev) - \
                    problem.segment_cost(job, seg.first_group, seg.last_group, seg.device)
            except ProblemError:
                continue
            groups = [s.device for s in segs for _ in range(s.first_group, s.last_group + 1)]
            for g in range(seg.first_group, seg.last_group + 1):
                groups[g] = dev
            merged = list(runs(groups))
            if best is None or extra < best[0]:
                best = (extra, merged)
    return None if best is None else best[1]


def _merge_dla_islands(problem: Problem, job: int, segs: list[Segment]) -> JobSegments:
    """Move DLA islands of a job back to the GPU where allowed (loadable relief)."""
    groups = [s.device for s in segs for _ in range(s.first_group, s.last_group + 1)]
    for g, d in enumerate(groups):
        if d.kind == "dla" and Device.GPU in problem.allowed(job, g):
            groups[g] = Device.GPU
    return runs(groups)


def _boundary_moves(problem: Problem, current: list[JobSegments], busiest: Device
                    ) -> list[list[JobSegments]]:
    """Schedules that move the head or tail (k groups) of a busiest-device segment away."""
    out = []
    for j, segs in enumerate(current):
        groups = [s.device for s in segs for _ in range(s.first_group, s.last_group + 1)]
        for seg in segs:
            if seg.device != busiest:
                continue
            length = seg.last_group - seg.first_group + 1
            for dst in problem.devices:
                if dst == busiest:
                    continue
                for k in range(1, length + 1):
                    for part in (range(seg.first_group, seg.first_group + k),
                                 range(seg.last_group - k + 1, seg.last_group + 1)):
                        if any(dst not in problem.allowed(j, g) for g in part):
                            continue
                        new = list(groups)
                        for g in part:
                            new[g] = dst
                        job_segs = runs(new)
                        if switches(problem, j, job_segs) > problem.max_transitions:
                            continue
                        cand = list(current)
                        cand[j] = job_segs
                        if fits_loadables(problem, cand):
                            out.append(cand)
    return out


# ---------------------------------------------------------------------- greedy
def _job_dp(problem: Problem, job: int, avail: dict[Device, float], t_max: int,
            banned: frozenset[Device]) -> tuple[float, JobSegments, list[float]] | None:
    """Segmentation of one job finishing earliest given device availability ``avail``.

    ``E[d][t]`` = earliest end of group g on device d after t switches; a segment on d
    over groups a..b starts at ``max(ready_a, avail_d)`` and lasts ``P_d[b+1] - P_d[a]``,
    so ``E[b][d][t] = P_d[b+1] + min_a (max(ready_a, avail_d) - P_d[a])``: a running
    minimum over segment starts a, reset where a group may not run on d."""
    n = problem.n_groups(job)
    devs = [d for d in problem.devices if d not in banned]
    nd = len(devs)
    inf = math.inf
    prefix = []
    for d in devs:
        acc, p = 0.0, [0.0]
        for g in range(n):
            c = problem.cost(job, g, d)
            acc += c if c is not None else 0.0
            p.append(acc)
        prefix.append(p)
    ok = [[d in problem.allowed(job, g) for g in range(n)] for d in devs]
    trans_cache: dict[tuple[int, int, int], float] = {}
    run_min = [[inf] * (t_max + 1) for _ in range(nd)]
    run_arg = [[-1] * (t_max + 1) for _ in range(nd)]
    end = [[[inf] * (t_max + 1) for _ in range(nd)] for _ in range(n)]
    seg_start = [[[-1] * (t_max + 1) for _ in range(nd)] for _ in range(n)]
    from_dev = [[[-1] * (t_max + 1) for _ in range(nd)] for _ in range(n)]  # at start a
    for g in range(n):
        for i in range(nd):
            if not ok[i][g]:
                for t in range(t_max + 1):
                    run_min[i][t] = inf
                continue
            for t in range(t_max + 1):
                # candidate: a new segment on device i starts at group g
                if g == 0:
                    ready, src = (0.0, -1) if t == 0 else (inf, -1)
                elif t == 0:
                    ready, src = inf, -1
                else:
                    ready, src = inf, -1
                    for i2 in range(nd):
                        e = end[g - 1][i2][t - 1]
                        if i2 == i or e == inf:
                            continue
                        key = (g - 1, i2, i)
                        if key not in trans_cache:
                            trans_cache[key] = problem.transition(job, g - 1, devs[i2],
                                                                  devs[i])
                        r = e + trans_cache[key]
                        if r < ready:
                            ready, src = r, i2
                if ready < inf:
                    cand = max(ready, avail[devs[i]]) - prefix[i][g]
                    if cand < run_min[i][t]:
                        run_min[i][t] = cand
                        run_arg[i][t] = g
                        from_dev[g][i][t] = src
                if run_min[i][t] < inf:
                    end[g][i][t] = run_min[i][t] + prefix[i][g + 1]
                    seg_start[g][i][t] = run_arg[i][t]
    best = min(((end[n - 1][i][t], t, i) for i in range(nd) for t in range(t_max + 1)),
               default=(inf, 0, 0))
    if best[0] == inf:
        return None
    _, t, i = best
    segs: list[Segment] = []
    starts: list[float] = []
    b = n - 1
    while b >= 0:
        a = seg_start[b][i][t]
        seg_len = prefix[i][b + 1] - prefix[i][a]
        segs.append(Segment(a, b, devs[i]))
        starts.append(end[b][i][t] - seg_len)
        src = from_dev[a][i][t]
        b, i, t = a - 1, src, t - 1
    segs.reverse()
    starts.reverse()
    return best[0], tuple(segs), starts


def _greedy_in_order(problem: Problem, order: Sequence[int]
                     ) -> tuple[list[JobSegments], dict[SegmentRef, float]] | None:
    avail = {d: 0.0 for d in problem.devices}
    used = {d: 0 for d in problem.devices}
    limit = problem.dla_loadable_limit
    segments: list[JobSegments] = [() for _ in problem.jobs]
    starts: dict[SegmentRef, float] = {}
    for j in order:
        banned = frozenset(d for d in problem.devices if d.kind == "dla" and used[d] >= limit)
        placed = None
        for t_max in range(problem.max_transitions, -1, -1):
            res = _job_dp(problem, j, avail, t_max, banned)
            if res is None:
                continue
            _, segs, seg_starts = res
            need = {d: sum(1 for s in segs if s.device == d) for d in problem.devices}
            if all(d.kind == "gpu" or used[d] + need[d] <= limit for d in problem.devices):
                placed = (segs, seg_starts)
                break
        if placed is None:
            return None
        segs, seg_starts = placed
        segments[j] = segs
        for s, (seg, st) in enumerate(zip(segs, seg_starts, strict=True)):
            starts[(j, s)] = st
            base = problem.segment_cost(j, seg.first_group, seg.last_group, seg.device)
            avail[seg.device] = max(avail[seg.device], st + base)
            if seg.device.kind == "dla":
                used[seg.device] += 1
    return segments, starts


def greedy(problem: Problem, deadline: float | None = None) -> Result:
    """Fast earliest-finish balancer (see the module docstring); CP-SAT's hint.
    ``deadline`` (a `time.perf_counter` value): once past it, no further order or pass is
    started and the best schedule so far is returned (2 x 2000 groups take ~10-25 s)."""
    t0 = time.perf_counter()

    def late() -> bool:
        return best is not None and deadline is not None and time.perf_counter() > deadline

    n = len(problem.jobs)
    size = [problem.weight(j) * sum(problem.cost(j, g, Device.GPU) or 0.0
                                    for g in range(problem.n_groups(j))) for j in range(n)]
    orders = [sorted(range(n), key=lambda j: (-size[j], j)),
              sorted(range(n), key=lambda j: (size[j], j)),
              list(range(n))]
    best: tuple[float, Schedule] | None = None
    seen = set()
    for order in orders:
        if tuple(order) in seen or late():
            continue
        seen.add(tuple(order))
        placed = _greedy_in_order(problem, order)
        if placed is None:
            continue
        segments, starts = placed
        sched = Schedule(tuple(segments), _order_by_start(segments, starts, problem.devices))
        value = simulated_value(problem, sched)
        if best is None or better(value, sched.segments, best[0], best[1].segments):
            best = (value, sched)
    for segments in _load_aware_passes(problem, orders[0], stop=late):
        sched = Schedule(tuple(segments))
        value = simulated_value(problem, sched)
        if best is None or better(value, sched.segments, best[0], best[1].segments):
            best = (value, Schedule(sched.segments,
                                   simulate(problem, sched, streaming=False).order))
    if best is None:
        return _judge(problem, "greedy", None, t0, "greedy found no placement within the "
                      "pins, max transitions and loadable limit")
    return _judge(problem, "greedy", best[1], t0)


def _load_aware_passes(problem: Problem, order: Sequence[int], passes: int = GREEDY_PASSES,
                       stop: Callable[[], bool] = lambda: False) -> list[list[JobSegments]]:
    """Gauss-Seidel re-placement: each job in turn gets the segmentation finishing earliest
    as if every other job's load came first on its devices. One schedule per pass."""
    segments: list[JobSegments] = [() for _ in problem.jobs]
    limit = problem.dla_loadable_limit
    out = []
    for _ in range(passes):
        if stop():
            return out
        for j in order:
            load = {d: 0.0 for d in problem.devices}
            used = {d: 0 for d in problem.devices}
            for j2, segs in enumerate(segments):
                if j2 == j:
                    continue
                for seg in segs:
                    load[seg.device] += problem.segment_cost(j2, seg.first_group,
                                                             seg.last_group, seg.device)
                    used[seg.device] += 1
            banned = frozenset(d for d in problem.devices
                               if d.kind == "dla" and used[d] >= limit)
            placed = None
            for t_max in range(problem.max_transitions, -1, -1):
                res = _job_dp(problem, j, load, t_max, banned)
                if res is None:
                    continue
                segs = res[1]
                if all(d.kind == "gpu" or used[d] + sum(1 for s in segs if s.device == d)
                       <= limit for d in problem.devices):
                    placed = segs
                    break
            if placed is None:
                return out
            segments[j] = placed
        out.append(list(segments))
    return out


# ---------------------------------------------------------------------- tensorrt_fallback
def trt_expand(problem: Problem, job: int, user: JobSegments) -> JobSegments:
    """The pieces TensorRT runs for user-level segments with GPU fallback (model.md 2.1):
    refused groups of a DLA segment on the GPU, adjacent runs on one device merged."""
    per_group = [Device.GPU if seg.device.kind == "dla" and problem.refused(job, g)
                 else seg.device
                 for seg in user for g in range(seg.first_group, seg.last_group + 1)]
    return runs(per_group)


def _one_switch_options(problem: Problem, job: int, core: Device | None) -> list[JobSegments]:
    """HaX-CoNN's per-model choices: whole GPU, whole DLA, or one switch at every group."""
    n = problem.n_groups(job)
    users: list[JobSegments] = [(Segment(0, n - 1, Device.GPU),)]
    if core is not None:
        users.append((Segment(0, n - 1, core),))
        if problem.max_transitions >= 1:
            for c in range(n - 1):
                users.append((Segment(0, c, Device.GPU), Segment(c + 1, n - 1, core)))
                users.append((Segment(0, c, core), Segment(c + 1, n - 1, Device.GPU)))
    out, seen = [], set()
    for user in users:
        pieces = trt_expand(problem, job, user)
        if pieces in seen or any(seg.device not in problem.allowed(job, g) for seg in pieces
                                 for g in range(seg.first_group, seg.last_group + 1)):
            continue
        seen.add(pieces)
        out.append(pieces)
    return out


def tensorrt_fallback(problem: Problem) -> Result:
    """As TensorRT builds it: one switch per model, DLA part with GPU fallback (module
    docstring), judged on `Problem.with_gpu_fallback`."""
    t0 = time.perf_counter()
    built = problem.with_gpu_fallback()
    cores = built.platform.dla_cores
    options = [_one_switch_options(built, j, cores[j % len(cores)] if cores else None)
               for j in range(len(built.jobs))]
    if any(not o for o in options):
        return _judge(built, TENSORRT_BASELINE, None, t0, "a pin keeps some model off both "
                      "the GPU and its DLA core")
    current = [o[0] for o in options]
    best = simulated_value(built, Schedule(tuple(current)))
    tried, rounds = 1, 0
    while rounds < TRT_ROUNDS:
        rounds += 1
        improved = False
        for j, opts in enumerate(options):
            for pieces in opts:
                cand = list(current)
                cand[j] = pieces
                if pieces == current[j] or not fits_loadables(built, cand):
                    continue
                tried += 1
                value = simulated_value(built, Schedule(tuple(cand)))
                if value < best * (1 - 1e-12):
                    best, current, improved = value, cand, True
        if not improved:
            break
    if math.isinf(best):
        return _judge(built, TENSORRT_BASELINE, None, t0, "no one-switch build fits the "
                      "loadable limit and deadlines")
    return _judge(built, TENSORRT_BASELINE, Schedule(tuple(current)), t0,
                  stats={"schedules_tried": tried, "rounds": rounds,
                         "title": BASELINE_TITLES[TENSORRT_BASELINE],
                         "gpu_fallback": [m.name for m in built.models if m.gpu_fallback]})


# ---------------------------------------------------------------------- all of them
BASELINES: dict[str, Callable[[Problem], Result]] = {
    "gpu_only": gpu_only,
    "whole_models": whole_models,
    "herald_like": herald_like,
    "h2h_like": h2h_like,
    "greedy": greedy,
}
"""The baselines of the problem as given. `tensorrt_fallback` is not among them: it answers
`Problem.with_gpu_fallback`, a different problem when the given one forbids fallback
(`optimizer.api.compare` shows it beside the optima with and without fallback)."""


def run_baselines(problem: Problem) -> dict[str, Result]:
    """Every baseline on ``problem`` (name -> Result), in a fixed order."""
    return {name: fn(problem) for name, fn in BASELINES.items()}


def best_baseline(results: dict[str, Result]) -> tuple[str, Result] | None:
    ok = [(r.objective, name, r) for name, r in results.items()
          if r.status is SolveStatus.FEASIBLE and r.objective is not None]
    if not ok:
        return None
    _, name, r = min(ok, key=lambda x: (x[0], x[1]))
    return name, r


__all__ = ["BASELINES", "BASELINE_TITLES", "TENSORRT_BASELINE", "Objective", "best_baseline",
           "gpu_only", "greedy", "h2h_like", "herald_like", "run_baselines",
           "tensorrt_fallback", "trt_expand", "whole_models"]

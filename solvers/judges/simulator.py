"""The simulator: the reference judge of any schedule (docs/model.md sections 3 and 4).

How it works:

- `prepare` flattens a schedule into arrays: one entry per segment with its job, device,
  base time (sum of its groups' costs), incoming transition delay, job predecessor, and
  the loss-rate matrix ``K[i][j] = problem.loss_rate(...)`` between every pair of segments
  (the co-runner ``j``'s demand is its own groups' time-weighted demand: segment level).
- **Latency** (`_run_latency`): event-driven, semi-active. Between two events the set of
  running segments is fixed, so each runs at the constant rate ``1 - sum_j K[i][j]``; the
  next event is the earliest of the running segments' completions and of the ready times
  (predecessor end + transition) of the segments next in a free device's order. There is
  no time step: events are computed exactly, up to floating rounding. With contention
  off the same engine degenerates into the classic list-scheduling recurrence.
- **Throughput** (`_run_throughput`): the same engine over segment *instances* ``(i, r)``
  of rounds ``r = 0, 1, ...``; each device runs its order cyclically, the first segment of
  every job is ready at 0 in every round, and contention applies between any two
  instances on different devices. Rounds run until the whole state repeats (every
  segment instance of a window of rounds shifted by one time ``T`` per ``c`` rounds: the
  period is exact), or, when phases drift with contention and it never does, until
  `MAX_ROUNDS` rounds give an estimate of the long-run ``lim E(R) / R`` with a stated
  error bound (`solvers.judges.steady_state`, docs/model.md 4.1). Without contention
  the simulator reports the exact `cycle_time` (maximum cycle ratio) as the period, and
  the event simulation is used for the segment timings only (tests check that both
  agree). With ``in_flight`` it runs the stream as the runtime does, at most that many
  rounds in flight (`streaming_figures`, docs/model.md 4.2).
- Both engines also accept `Pieces`: finer work units inside segments with a loss table
  per piece. The simulator never uses them; the group-level reference
  (`solvers.judges.reference_sim`) runs these same engines with one piece per group.

Invalid schedules (`Schedule.validate`), DLA loadable-limit overruns and deadlocking
orders raise `ProblemError`. Missed deadlines are not errors: they are listed in
``Timeline.violations`` (the schedule is then infeasible).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from solvers.errors import ProblemError
from solvers.judges.steady_state import PeriodicityTest, ThroughputRun
from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import Schedule, SegmentRef, SegmentTiming, Streaming, Timeline

MAX_ROUNDS = 2000
"""Round cap of the throughput simulation when the timing does not become periodic."""
RUN_AHEAD_CAP = 16
"""Memory guard: rounds a fast device may run ahead, in multiples of the round cap."""
STREAMING_ROUNDS_IN_FLIGHT = 2
"""Rounds in flight of the streaming figures (`Timeline.streaming`): the runtime's default,
``runtime.executor.Executor(rounds_in_flight=2)`` (a test keeps the two equal)."""
_DONE_RTOL = 1e-12  # remaining work below this fraction of a segment's base counts as done


@dataclass(frozen=True)
class Prepared:
    """A schedule flattened into arrays (index = position in ``refs``)."""

    refs: tuple[SegmentRef, ...]
    job: tuple[int, ...]
    dev: tuple[int, ...]                 # index into ``devices``
    devices: tuple[Device, ...]
    base: tuple[float, ...]
    tr_in: tuple[float, ...]             # transition paid before the segment
    pred: tuple[int, ...]                # job predecessor, -1 for the job's first segment
    k: tuple[tuple[float, ...], ...]     # loss-rate matrix K[victim][aggressor]
    contention: bool                     # any K > 0
    last_of_job: tuple[int, ...]         # per job: index of its last segment
    on_device: tuple[tuple[int, ...], ...]  # per device index: its segments (ref order)


@dataclass(frozen=True)
class Pieces:
    """Work units finer than segments, for a loss rate that changes inside a segment.

    The event engines judge a segment as one unit of work whose co-runners cost it
    ``K[i][j]`` (constant per segment pair). Given ``Pieces``, segment ``i`` instead runs
    pieces ``first[i] .. first[i + 1] - 1`` one after the other, piece ``p`` being
    ``work[p]`` ms of work at rate 1, and a running segment ``i`` loses ``loss[i][p]`` per
    ms while piece ``p`` runs on another device (0 where the two cannot interfere). The
    group-level reference (`solvers.judges.reference_sim`) uses one piece per group; without
    ``Pieces`` the engines use one piece per segment with ``loss = K``."""

    first: tuple[int, ...]               # per segment, then the total: len n + 1
    work: tuple[float, ...]              # per piece
    loss: tuple[tuple[float, ...], ...]  # [victim segment][aggressor piece]
    contention: bool                     # any loss > 0


def prepare(problem: Problem, schedule: Schedule, *, validate: bool = True) -> Prepared:
    """Validate ``schedule`` for ``problem`` and flatten it (see `Prepared`)."""
    if validate:
        schedule.validate(problem)
        check_loadables(problem, schedule)
    jobs = []
    for j, segs in enumerate(schedule.segments):
        row = []
        for s, seg in enumerate(segs):
            prev = segs[s - 1] if s else None
            row.append((seg.device,
                        problem.segment_cost(j, seg.first_group, seg.last_group, seg.device),
                        0.0 if prev is None else
                        problem.transition(j, prev.last_group, prev.device, seg.device),
                        (seg.first_group, seg.last_group)))
        jobs.append(row)
    return assemble(problem.devices, jobs, problem.loss_rate)


def assemble(devices: Sequence[Device],
             jobs: Sequence[Sequence[tuple[Device, float, float, tuple[int, int]]]],
             loss_rate: Callable[[int, Device, int, Device, int, int], float]) -> Prepared:
    """Flatten per-job segments, each ``(device, base_ms, transition_in_ms, (first_group,
    last_group))``, into a `Prepared` with its loss-rate matrix (``loss_rate`` has
    `Problem.loss_rate`'s signature). Shared by `prepare` and the exhaustive oracle, which
    precomputes bases and transitions once per job option."""
    devices = tuple(devices)
    dindex = {d: n for n, d in enumerate(devices)}
    refs: list[SegmentRef] = []
    job: list[int] = []
    dev: list[int] = []
    base: list[float] = []
    tr_in: list[float] = []
    pred: list[int] = []
    last_of_job: list[int] = []
    groups: list[tuple[int, int]] = []
    for j, segs in enumerate(jobs):
        for s, (device, base_ms, tr_ms, span) in enumerate(segs):
            refs.append((j, s))
            groups.append(span)
            job.append(j)
            dev.append(dindex[device])
            base.append(base_ms)
            tr_in.append(tr_ms)
            pred.append(-1 if s == 0 else len(refs) - 2)
        last_of_job.append(len(refs) - 1)
    n = len(refs)
    k_rows = []
    any_k = False
    for a in range(n):
        row = []
        for b in range(n):
            if dev[a] == dev[b]:
                row.append(0.0)
                continue
            value = loss_rate(job[a], devices[dev[a]], job[b], devices[dev[b]], *groups[b])
            any_k = any_k or value > 0
            row.append(value)
        k_rows.append(tuple(row))
    on_device = tuple(tuple(i for i in range(n) if dev[i] == d) for d in range(len(devices)))
    return Prepared(tuple(refs), tuple(job), tuple(dev), devices, tuple(base), tuple(tr_in),
                    tuple(pred), tuple(k_rows), any_k, tuple(last_of_job), on_device)


def check_loadables(problem: Problem, schedule: Schedule) -> dict[Device, int]:
    """Count DLA loadables per core; raise ProblemError if a core exceeds the limit."""
    counts = loadable_counts(problem, schedule)
    limit = problem.dla_loadable_limit
    for d, count in counts.items():
        if d.kind == "dla" and count > limit:
            raise ProblemError(
                f"{d} would hold {count} DLA loadables (segments on that core over all "
                f"models), above the loadable limit {limit}; use fewer DLA segments or "
                "raise loadable_limit if your TensorRT version allows it")
    return counts


def loadable_counts(problem: Problem, schedule: Schedule) -> dict[Device, int]:
    counts = {d: 0 for d in problem.devices if d.kind == "dla"}
    for segs in schedule.segments:
        for seg in segs:
            if seg.device.kind == "dla":
                counts[seg.device] = counts.get(seg.device, 0) + 1
    return counts


def order_indices(prep: Prepared, schedule: Schedule) -> list[list[int]] | None:
    """The schedule's device orders as lists of flat indices (None: dispatch FCFS)."""
    if schedule.order is None:
        return None
    index = {r: n for n, r in enumerate(prep.refs)}
    out: list[list[int]] = [[] for _ in prep.devices]
    for d, refs in schedule.order.items():
        out[prep.devices.index(d)] = [index[r] for r in refs]
    return out


class _Deadlock(Exception):
    def __init__(self, waiting: list[int]) -> None:
        super().__init__(waiting)
        self.waiting = waiting


def _deadlock_error(prep: Prepared, waiting: Sequence[int]) -> ProblemError:
    names = ", ".join(f"job {prep.job[i]} segment {prep.refs[i][1]} on "
                      f"{prep.devices[prep.dev[i]]}" for i in waiting)
    return ProblemError(f"the device order deadlocks: {names} each wait for a segment that "
                        "is ordered after another waiting one; reorder so that a job's "
                        "segments never wait in a cycle")


# ---------------------------------------------------------------------- latency engine
def _run_latency(prep: Prepared, order: list[list[int]] | None,
                 pieces: Pieces | None = None
                 ) -> tuple[list[float], list[float], list[list[int]]]:
    """Event-driven semi-active simulation of one inference: (start, end, order used).

    ``pieces``: see `Pieces` (default: one piece per segment, loss ``prep.k``). Raises
    `_Deadlock` if the order makes segments wait on each other in a cycle."""
    n = len(prep.base)
    ndev = len(prep.devices)
    base, tr_in, pred = prep.base, prep.tr_in, prep.pred
    if pieces is None:
        pieced, k, contention = False, prep.k, prep.contention
    else:
        pieced, k, contention = True, pieces.loss, pieces.contention
        pfirst, pwork = pieces.first, pieces.work
    start = [math.nan] * n
    end = [math.nan] * n
    ready = [math.inf] * n
    for i in range(n):
        if pred[i] < 0:
            ready[i] = 0.0
    # successor in the job (to publish ready times)
    succ = [-1] * n
    for i in range(n):
        if pred[i] >= 0:
            succ[pred[i]] = i
    fixed = order is not None
    pos = [0] * ndev
    used: list[list[int]] = [[] for _ in range(ndev)] if not fixed else order  # type: ignore
    pending: list[list[int]] = [] if fixed else [list(prep.on_device[d]) for d in range(ndev)]
    running = [-1] * ndev
    # piece running on each device (one piece per segment: the segment itself)
    cur = [-1] * ndev if pieced else running
    remaining = [0.0] * n          # of the current piece
    now = 0.0
    done = 0
    while done < n:
        # start whatever can start now
        for d in range(ndev):
            if running[d] >= 0:
                continue
            if fixed:
                seq = order[d]  # type: ignore[index]
                if pos[d] >= len(seq):
                    continue
                i = seq[pos[d]]
                if ready[i] <= now:
                    pos[d] += 1
                    running[d] = i
                    start[i] = now
                    if pieced:
                        p = cur[d] = pfirst[i]
                        remaining[i] = pwork[p]
                    else:
                        remaining[i] = base[i]
            else:
                cands = pending[d]
                best = -1
                for i in cands:
                    if ready[i] <= now and (best < 0 or ready[i] < ready[best]):
                        best = i   # candidates are in (job, segment) order: ties keep first
                if best >= 0:
                    cands.remove(best)
                    used[d].append(best)
                    running[d] = best
                    start[best] = now
                    if pieced:
                        p = cur[d] = pfirst[best]
                        remaining[best] = pwork[p]
                    else:
                        remaining[best] = base[best]
        # next event
        t_next = math.inf
        rates = [1.0] * ndev
        any_running = False
        for d in range(ndev):
            i = running[d]
            if i < 0:
                continue
            any_running = True
            if contention:
                r = 1.0
                ki = k[i]
                for e in range(ndev):
                    o = cur[e]
                    if o >= 0 and e != d:
                        r -= ki[o]
                rates[d] = r
            t = now + remaining[i] / rates[d]
            if t < t_next:
                t_next = t
        for d in range(ndev):
            if running[d] >= 0:
                continue
            if fixed:
                seq = order[d]  # type: ignore[index]
                if pos[d] < len(seq):
                    r_t = ready[seq[pos[d]]]
                    if now < r_t < t_next:
                        t_next = r_t
            else:
                for i in pending[d]:
                    r_t = ready[i]
                    if now < r_t < t_next:
                        t_next = r_t
        if t_next == math.inf and not any_running:
            waiting = [order[d][pos[d]] for d in range(ndev)  # type: ignore[index]
                       if fixed and pos[d] < len(order[d])]  # type: ignore[index]
            raise _Deadlock(waiting)
        dt = t_next - now
        for d in range(ndev):
            i = running[d]
            if i < 0:
                continue
            t_done = now + remaining[i] / rates[d]
            rem = remaining[i] - rates[d] * dt
            if t_done <= t_next or rem <= _DONE_RTOL * base[i]:
                if pieced:
                    p = cur[d] + 1
                    if p < pfirst[i + 1]:   # next piece of the same segment
                        cur[d] = p
                        remaining[i] = pwork[p]
                        continue
                    cur[d] = -1
                remaining[i] = 0.0
                end[i] = t_next
                running[d] = -1
                done += 1
                s = succ[i]
                if s >= 0:
                    ready[s] = t_next + tr_in[s]
            else:
                remaining[i] = rem
        now = t_next
    return start, end, used


# ---------------------------------------------------------------------- throughput engine
def _run_throughput(prep: Prepared, order: list[list[int]], *,
                    max_rounds: int = MAX_ROUNDS,
                    pieces: Pieces | None = None,
                    in_flight: int | None = None) -> ThroughputRun:
    """Event-driven simulation of rounds with cyclic device orders (docs/model.md 4).

    ``pieces``: see `Pieces` (default: one piece per segment, loss ``prep.k``).
    ``in_flight``: at most that many rounds in flight, as the runtime runs them (a device
    starts its round ``r`` only once round ``r - in_flight`` has finished; docs/model.md
    4.2); None: unbounded, the solvers' model. The caller must have rejected deadlocking
    orders (`cycle_time_prepared` does): a device with independent work would otherwise
    run on forever. As a memory guard, if some device gets `RUN_AHEAD_CAP` x
    ``max_rounds`` rounds ahead the run stops and reports an estimate."""
    n = len(prep.base)
    ndev = len(prep.devices)
    base, tr_in, pred = prep.base, prep.tr_in, prep.pred
    if pieces is None:
        pieced, k, contention = False, prep.k, prep.contention
    else:
        pieced, k, contention = True, pieces.loss, pieces.contention
        pfirst, pwork = pieces.first, pieces.work
    starts: list[list[float]] = []
    ends: list[list[float]] = []
    ended_in_round: list[int] = []
    finish: list[float] = []       # per complete round: when its last segment ended
    rnd = [0] * ndev
    pos = [0] * ndev
    running = [-1] * ndev          # flat segment index
    cur = [-1] * ndev if pieced else running   # piece running on each device
    running_round = [0] * ndev
    remaining = [0.0] * ndev       # of the current piece
    now = 0.0
    active = [d for d in range(ndev) if order[d]]
    complete_rounds = 0
    result: ThroughputRun | None = None
    test = PeriodicityTest(prep.pred, prep.dev, order, None if pieced else k, contention,
                           in_flight is not None)

    def ensure_round(r: int) -> None:
        while len(starts) <= r:
            starts.append([math.nan] * n)
            ends.append([math.nan] * n)
            ended_in_round.append(0)

    def ready_time(i: int, r: int, first: bool) -> float:
        gate = 0.0
        if first and in_flight is not None and r >= in_flight:
            gate = finish[r - in_flight] if r - in_flight < len(finish) else math.inf
        p = pred[i]
        if p < 0:
            return gate
        if r >= len(ends):
            return math.inf
        e = ends[r][p]
        return math.inf if e != e else max(gate, e + tr_in[i])  # NaN: pred not finished

    while result is None:
        for d in active:
            if running[d] >= 0:
                continue
            i = order[d][pos[d]]
            r = rnd[d]
            if ready_time(i, r, pos[d] == 0) <= now:
                ensure_round(r)
                starts[r][i] = now
                running[d] = i
                running_round[d] = r
                if pieced:
                    p = cur[d] = pfirst[i]
                    remaining[d] = pwork[p]
                else:
                    remaining[d] = base[i]
                pos[d] += 1
                if pos[d] == len(order[d]):
                    pos[d] = 0
                    rnd[d] += 1
        t_next = math.inf
        rates = [1.0] * ndev
        any_running = False
        for d in active:
            i = running[d]
            if i < 0:
                continue
            any_running = True
            if contention:
                rate = 1.0
                ki = k[i]
                for e in active:
                    o = cur[e]
                    if o >= 0 and e != d:
                        rate -= ki[o]
                rates[d] = rate
            t = now + remaining[d] / rates[d]
            if t < t_next:
                t_next = t
        for d in active:
            if running[d] < 0:
                rt = ready_time(order[d][pos[d]], rnd[d], pos[d] == 0)
                if now < rt < t_next:
                    t_next = rt
        if t_next == math.inf and not any_running:
            waiting = [order[d][pos[d]] for d in active]
            raise _Deadlock(waiting)
        dt = t_next - now
        for d in active:
            i = running[d]
            if i < 0:
                continue
            t_done = now + remaining[d] / rates[d]
            rem = remaining[d] - rates[d] * dt
            if t_done <= t_next or rem <= _DONE_RTOL * base[i]:
                if pieced:
                    p = cur[d] + 1
                    if p < pfirst[i + 1]:   # next piece of the same segment
                        cur[d] = p
                        remaining[d] = pwork[p]
                        continue
                    cur[d] = -1
                r = running_round[d]
                ends[r][i] = t_next
                running[d] = -1
                ended_in_round[r] += 1
            else:
                remaining[d] = rem
        now = t_next
        if len(starts) > RUN_AHEAD_CAP * max_rounds and complete_rounds >= 3:
            result = test.check(starts, ends, complete_rounds - 1, complete_rounds)
            break
        while complete_rounds < len(ended_in_round) and ended_in_round[complete_rounds] == n:
            finish.append(max(ends[complete_rounds]))
            complete_rounds += 1
            result = test.check(starts, ends, complete_rounds - 1, max_rounds)
            if result is not None:
                break
    assert result is not None
    return result


# ---------------------------------------------------------------------- exact cycle time
def cycle_time_prepared(prep: Prepared, order: list[list[int]]) -> float:
    """Contention-free round cycle time: maximum cycle ratio of docs/model.md section 4.

    Tokens sit only on the wrap edges ``last_d -> first_d`` (one per device), so every
    cycle is a sequence of wrap edges joined by 0-token paths. Let ``L(u, v)`` be the
    longest 0-token path from u to v (the 0-token graph is a DAG unless the order
    deadlocks). With ``M[d][e] = L(first_d, last_e) + base(last_e)`` (path into e's last
    segment, then e's wrap edge), the maximum cycle ratio of the graph is the maximum
    cycle mean of M (a <= 3 x 3 max-plus matrix), found by enumerating its elementary
    cycles. Exact up to floating addition.
    """
    n = len(prep.base)
    devs = [d for d in range(len(order)) if order[d]]
    succs: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    indeg = [0] * n
    for i in range(n):
        p = prep.pred[i]
        if p >= 0:
            succs[p].append((i, prep.base[p] + prep.tr_in[i]))
            indeg[i] += 1
    for d in devs:
        seq = order[d]
        for a, b in itertools.pairwise(seq):
            succs[a].append((b, prep.base[a]))
            indeg[b] += 1
    topo = [i for i in range(n) if indeg[i] == 0]
    head = 0
    while head < len(topo):
        u = topo[head]
        head += 1
        for v, _ in succs[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                topo.append(v)
    if len(topo) < n:
        raise _Deadlock(sorted(set(range(n)) - set(topo)))
    rank = {u: r for r, u in enumerate(topo)}
    m: dict[tuple[int, int], float] = {}
    for d in devs:
        src = order[d][0]
        dist = [-math.inf] * n
        dist[src] = 0.0
        for u in topo[rank[src]:]:
            du = dist[u]
            if du == -math.inf:
                continue
            for v, w in succs[u]:
                if du + w > dist[v]:
                    dist[v] = du + w
        for e in devs:
            last = order[e][-1]
            if dist[last] > -math.inf:
                m[(d, e)] = dist[last] + prep.base[last]
    best = 0.0
    for d in devs:
        if (d, d) in m:
            best = max(best, m[(d, d)])
        for e in devs:
            if e <= d:
                continue
            if (d, e) in m and (e, d) in m:
                best = max(best, (m[(d, e)] + m[(e, d)]) / 2)
            for f in devs:
                if f <= d or f == e or e <= d:
                    continue
                for a, b, c in ((d, e, f), (d, f, e)):
                    if (a, b) in m and (b, c) in m and (c, a) in m:
                        best = max(best, (m[(a, b)] + m[(b, c)] + m[(c, a)]) / 3)
    return best


def cycle_time(problem: Problem, schedule: Schedule) -> float:
    """Exact contention-free cycle time of one round (ms) for ``schedule``'s orders.

    Contention is ignored even if the problem has it (this is the max-plus value). With no
    order in the schedule the FCFS order of `simulate` is used."""
    prep = prepare(problem, schedule)
    order = _resolve_order(prep, schedule)
    try:
        return cycle_time_prepared(prep, order)
    except _Deadlock as exc:
        raise _deadlock_error(prep, exc.waiting) from None


def _resolve_order(prep: Prepared, schedule: Schedule) -> list[list[int]]:
    order = order_indices(prep, schedule)
    if order is not None:
        return order
    try:
        _, _, used = _run_latency(prep, None)
    except _Deadlock as exc:  # cannot happen without an order; kept for safety
        raise _deadlock_error(prep, exc.waiting) from None
    return used


# ---------------------------------------------------------------------- public API
def simulate(problem: Problem, schedule: Schedule, *, streaming: bool = True) -> Timeline:
    """The simulator's judgement of ``schedule`` (docs/model.md): a full `Timeline`.

    Throughput: the period is the unbounded steady state's (what the solvers optimise,
    docs/model.md 4.1) with its error bound; ``streaming`` also simulates the stream with
    the runtime's `STREAMING_ROUNDS_IN_FLIGHT` (period and per-frame latency, 4.2; search
    loops that only compare periods turn it off)."""
    prep = prepare(problem, schedule)
    if problem.objective is Objective.LATENCY:
        order = order_indices(prep, schedule)
        try:
            start, end, used = _run_latency(prep, order)
        except _Deadlock as exc:
            raise _deadlock_error(prep, exc.waiting) from None
        return _latency_timeline(problem, schedule, prep, start, end, used)
    order = _resolve_order(prep, schedule)
    try:
        exact = cycle_time_prepared(prep, order)  # also rejects deadlocking orders
        exact = None if prep.contention else exact
        run = _run_throughput(prep, order)
        stream = (streaming_figures(problem, prep, order, STREAMING_ROUNDS_IN_FLIGHT)
                  if streaming else None)
    except _Deadlock as exc:
        raise _deadlock_error(prep, exc.waiting) from None
    return _throughput_timeline(problem, schedule, prep, order, run, exact, stream)


def latency_objective(problem: Problem, prep: Prepared,
                      order: list[list[int]] | None) -> tuple[float, bool] | None:
    """Fast path for search: (weighted makespan, meets deadlines), None on deadlock."""
    try:
        _, end, _ = _run_latency(prep, order)
    except _Deadlock:
        return None
    value = 0.0
    ok = True
    for j, last in enumerate(prep.last_of_job):
        c = end[last]
        value = max(value, problem.weight(j) * c)
        dl = problem.deadline(j)
        if dl is not None and c > dl * (1 + 1e-12):
            ok = False
    return value, ok


def throughput_objective(problem: Problem, prep: Prepared,
                         order: list[list[int]]) -> float | None:
    """Fast path for search: period per frame (ms), None on deadlock."""
    found = throughput_estimate(problem, prep, order)
    return None if found is None else found[0]


def contention_free_period(problem: Problem, prep: Prepared, order: list[list[int]]
                           ) -> float | None:
    """The exact contention-free period per frame (ms), None on deadlock: a lower bound on
    the period with contention (durations only grow, and the max-plus recursion is
    monotone in them), cheap enough to skip simulations that cannot matter."""
    try:
        return cycle_time_prepared(prep, order) / problem.frames_per_round
    except _Deadlock:
        return None


def throughput_estimate(problem: Problem, prep: Prepared, order: list[list[int]]
                        ) -> tuple[float, float] | None:
    """Fast path for search: (period per frame, bound on its distance to the long-run
    period; 0 when exact) in ms, None on deadlock (docs/model.md 4.1)."""
    try:
        lam = cycle_time_prepared(prep, order)  # also rejects deadlocking orders
        error = 0.0
        if prep.contention:
            run = _run_throughput(prep, order)
            lam, error = run.round_time, run.error
    except _Deadlock:
        return None
    return lam / problem.frames_per_round, error / problem.frames_per_round


def streaming_figures(problem: Problem, prep: Prepared, order: list[list[int]],
                      rounds_in_flight: int | None) -> Streaming:
    """The stream with at most ``rounds_in_flight`` rounds in flight (docs/model.md 4.2):
    its period and the latency of every frame (a job's first segment start to its last
    segment end) over the steady-state rounds: the last regime cycle when the state
    repeats, else the second half of the rounds. None: unbounded (the solvers' model).
    Raises `_Deadlock` like the engine."""
    names = [problem.models[job.model_index].name for job in problem.jobs]
    return _stream(prep, order, rounds_in_flight, names, problem.frames_per_round)


def _stream(prep: Prepared, order: list[list[int]], rounds_in_flight: int | None,
            job_models: Sequence[str], frames: int,
            latency_from: Sequence[float] | None = None) -> Streaming:
    run = _run_throughput(prep, order, in_flight=rounds_in_flight)
    r = len(run.starts) - 1
    first_of_job = [i for i in range(len(prep.base)) if prep.pred[i] < 0]
    by_model: dict[str, list[float]] = {}
    by_job: list[list[float]] = [[] for _ in first_of_job]
    every: list[float] = []
    for q in range(max(0, r - run.cycle + 1), r + 1):
        for j, (a, b) in enumerate(zip(first_of_job, prep.last_of_job, strict=True)):
            value = run.ends[q][b] - run.starts[q][a] - (latency_from[j] if latency_from else 0.0)
            by_model.setdefault(job_models[j], []).append(value)
            by_job[j].append(value)
            every.append(value)
    return Streaming(rounds_in_flight=rounds_in_flight, period_ms=run.round_time / frames,
                     round_period_ms=run.round_time, period_error_ms=run.error / frames,
                     latency_p50_ms=statistics.median(every), latency_worst_ms=max(every),
                     latency_by_model={m: (statistics.median(v), max(v))
                                       for m, v in by_model.items()},
                     latency_by_job=tuple((statistics.median(v), max(v), statistics.fmean(v))
                                          for v in by_job))


def stream_of_segments(devices: Sequence[Device],
                       jobs: Sequence[Sequence[tuple[Device, float, float]]],
                       order: Mapping[Device, Sequence[SegmentRef]],
                       rounds_in_flight: int | None, *, job_models: Sequence[str],
                       frames_per_round: int,
                       latency_from: Sequence[float] | None = None) -> Streaming:
    """The stream (docs/model.md 4.2) of a schedule given by its segments' times instead of
    a `Problem`'s cost tables: ``jobs[j]`` lists job ``j``'s segments in order, each
    ``(device, base_ms, transition_in_ms)``; ``order`` maps each device to its
    ``(job, segment)`` refs of one round; ``job_models[j]`` names job ``j``'s model (its
    frame latencies are reported under that name); every ``frames_per_round`` jobs form a
    round's frame. No contention. ``latency_from[j]``: the frame latency of job ``j`` is
    counted from that many ms after its first segment starts (default 0; the runtime starts
    its clock once the frame's inputs are fetched, inside the first segment's time). The
    same engine and admission rule as `simulate`; this is what `optimizer.replay` feeds
    with the segment times a run measured. Raises
    `ProblemError` for a time that is not a finite number >= 0, an order that does not
    list every segment once, or one that deadlocks."""
    if len(job_models) != len(jobs):
        raise ProblemError(f"{len(jobs)} jobs but {len(job_models)} model names")
    if not isinstance(frames_per_round, int) or frames_per_round < 1:
        raise ProblemError(f"frames_per_round must be an integer >= 1, got {frames_per_round!r}")
    if rounds_in_flight is not None and rounds_in_flight < 1:
        raise ProblemError(f"rounds_in_flight must be >= 1 (or None: unbounded), got "
                           f"{rounds_in_flight!r}")
    rows = []
    for j, segs in enumerate(jobs):
        if not segs:
            raise ProblemError(f"job {j} ({job_models[j]}) has no segment")
        row = []
        for s, (device, base_ms, tr_ms) in enumerate(segs):
            for what, value in (("time", base_ms), ("transition", tr_ms)):
                if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                    raise ProblemError(f"job {j} ({job_models[j]}) segment {s}: {what} "
                                       f"{value!r} ms is not a finite number >= 0")
            row.append((Device(device), float(base_ms), 0.0 if s == 0 else float(tr_ms),
                        (s, s)))
        rows.append(row)
    if latency_from is not None and (len(latency_from) != len(jobs) or not all(
            math.isfinite(x) and 0 <= x <= row[0][1]
            for x, row in zip(latency_from, rows, strict=True))):
        raise ProblemError("latency_from needs one offset per job, each a finite number in "
                           "0..the time of the job's first segment")
    prep = assemble(devices, rows, lambda *_: 0.0)
    listed = sorted((int(a), int(b)) for refs in order.values() for a, b in refs)
    if listed != sorted(prep.refs):
        raise ProblemError("the device orders must list every (job, segment) exactly once")
    for d, refs in order.items():
        for j, s in refs:
            if rows[j][s][0] != Device(d):
                raise ProblemError(f"job {j} segment {s} runs on {rows[j][s][0]}, but the "
                                   f"order of {d} lists it")
    flat = order_from_mapping(prep, order)
    try:
        cycle_time_prepared(prep, flat)  # rejects deadlocking orders
        return _stream(prep, flat, rounds_in_flight, job_models, frames_per_round,
                       latency_from)
    except _Deadlock as exc:
        raise _deadlock_error(prep, exc.waiting) from None


def _order_refs(prep: Prepared, used: Sequence[Sequence[int]]
                ) -> dict[Device, tuple[SegmentRef, ...]]:
    return {prep.devices[d]: tuple(prep.refs[i] for i in used[d])
            for d in range(len(prep.devices))}


def _timings(schedule: Schedule, prep: Prepared, start: Sequence[float],
             end: Sequence[float]) -> tuple[SegmentTiming, ...]:
    out = []
    for i, (j, s) in enumerate(prep.refs):
        extra = end[i] - start[i] - prep.base[i]
        if not prep.contention or extra <= _DONE_RTOL * 16 * max(1.0, end[i]):
            extra = 0.0   # floating noise of start + base, not contention
        out.append(SegmentTiming(job=j, index=s, segment=schedule.segments[j][s],
                                 start_ms=start[i], end_ms=end[i], base_ms=prep.base[i],
                                 contention_ms=extra,
                                 transition_in_ms=prep.tr_in[i]))
    return tuple(out)


def _busy(prep: Prepared, start: Sequence[float], end: Sequence[float]) -> dict[Device, float]:
    busy = {d: 0.0 for d in prep.devices}
    for i in range(len(prep.base)):
        busy[prep.devices[prep.dev[i]]] += end[i] - start[i]
    return busy


def _latency_timeline(problem: Problem, schedule: Schedule, prep: Prepared,
                      start: list[float], end: list[float], used: list[list[int]]) -> Timeline:
    job_end = tuple(end[last] for last in prep.last_of_job)
    objective = max(problem.weight(j) * c for j, c in enumerate(job_end))
    violations = []
    for j, c in enumerate(job_end):
        dl = problem.deadline(j)
        if dl is not None and c > dl * (1 + 1e-12):
            violations.append(f"{problem.jobs[j].name} ends at {c:.6g} ms, after its "
                              f"deadline {dl:.6g} ms")
    return Timeline(
        objective=Objective.LATENCY, objective_ms=objective, makespan_ms=max(job_end),
        period_ms=None, round_period_ms=None, segments=_timings(schedule, prep, start, end),
        order=_order_refs(prep, used), busy_ms=_busy(prep, start, end), job_end_ms=job_end,
        loadables=loadable_counts(problem, schedule), violations=tuple(violations),
        notes=() if schedule.order is not None else
        ("no device order given: dispatched first-ready-first (order reports it)",),
    )


def _throughput_timeline(problem: Problem, schedule: Schedule, prep: Prepared,
                         order: list[list[int]], run: ThroughputRun,
                         exact: float | None, stream: Streaming | None) -> Timeline:
    r = len(run.starts) - 1
    t0 = min(run.starts[r])
    start = [s - t0 for s in run.starts[r]]
    end = [e - t0 for e in run.ends[r]]
    notes = []
    lam = run.round_time
    error = run.error
    if exact is not None:
        error = 0.0
        if abs(exact - lam) > 1e-9 * max(1.0, exact):
            notes.append(f"event simulation cycle time {lam:.12g} ms differs from the exact "
                         f"max-plus value {exact:.12g} ms (reported)")
        lam = exact
    if not run.converged and exact is None:
        frames = problem.frames_per_round
        notes.append(f"the timing did not repeat within {len(run.starts)} rounds (phases "
                     f"drifting with contention): period estimated from the last {run.cycle} "
                     f"rounds, within {error / frames:.3g} ms of the long-run period "
                     "(docs/model.md 4.1)")
    elif not run.converged:
        notes.append(f"round timings did not settle within {len(run.starts)} rounds; "
                     "the period is the exact max-plus value")
    else:
        notes.append(f"steady state reached after {r + 1} rounds (regime cycle "
                     f"{run.cycle} round{'s' if run.cycle > 1 else ''}); timings are "
                     f"round {r}, shifted to start at 0")
    if any(problem.deadline(j) is not None for j in range(len(problem.jobs))):
        notes.append("deadlines are not checked in throughput mode")
    if schedule.order is None:
        notes.append("no device order given: used the first-ready-first order of one "
                     "round (order reports it)")
    job_end = tuple(end[last] for last in prep.last_of_job)
    return Timeline(
        objective=Objective.THROUGHPUT, objective_ms=lam / problem.frames_per_round,
        makespan_ms=max(end), period_ms=lam / problem.frames_per_round, round_period_ms=lam,
        segments=_timings(schedule, prep, start, end), order=_order_refs(prep, order),
        busy_ms=_busy(prep, start, end), job_end_ms=job_end,
        loadables=loadable_counts(problem, schedule), violations=(), notes=tuple(notes),
        period_error_ms=error / problem.frames_per_round, streaming=stream,
    )


def order_from_mapping(prep: Prepared, order: Mapping[Device, Sequence[SegmentRef]]
                       ) -> list[list[int]]:
    """Flat-index orders from a ref mapping (helper for search code)."""
    index = {r: n for n, r in enumerate(prep.refs)}
    out: list[list[int]] = [[] for _ in prep.devices]
    for d, refs in order.items():
        out[prep.devices.index(Device(d))] = [index[(int(a), int(b))] for a, b in refs]
    return out


def simulate_rounds(problem: Problem, schedule: Schedule, rounds: int = 3
                    ) -> tuple[tuple[SegmentTiming, ...], ...]:
    """Throughput mode: the timings of ``rounds`` consecutive steady-state rounds (the last
    ones the event simulation ran, so the same regime `simulate` reports), shifted so the
    first of them starts at 0. Rounds overlap in time (pipelining); drawing several shows
    it. Fewer rounds come back if the simulation ran fewer."""
    if problem.objective is not Objective.THROUGHPUT:
        raise ProblemError("simulate_rounds: rounds exist in throughput mode only")
    if rounds < 1:
        raise ProblemError(f"simulate_rounds: rounds must be >= 1, got {rounds}")
    prep = prepare(problem, schedule)
    order = _resolve_order(prep, schedule)
    try:
        cycle_time_prepared(prep, order)  # rejects deadlocking orders
        run = _run_throughput(prep, order)
    except _Deadlock as exc:
        raise _deadlock_error(prep, exc.waiting) from None
    first = max(0, len(run.starts) - rounds)
    t0 = min(run.starts[first])
    return tuple(_timings(schedule, prep, [x - t0 for x in run.starts[r]],
                          [x - t0 for x in run.ends[r]])
                 for r in range(first, len(run.starts)))


def simulated_cycle_time(problem: Problem, schedule: Schedule, *,
                         rounds: int = MAX_ROUNDS) -> tuple[float, bool]:
    """Round cycle time measured by the event-driven throughput simulation (contention as
    in ``problem``), and whether the state was seen to repeat (else: the estimate of
    docs/model.md 4.1 after up to ``rounds`` rounds). `simulate` reports the exact
    `cycle_time` instead when contention is off; tests compare the two, and hold
    estimates to much longer runs."""
    prep = prepare(problem, schedule)
    order = _resolve_order(prep, schedule)
    try:
        cycle_time_prepared(prep, order)  # rejects deadlocking orders
        run = _run_throughput(prep, order, max_rounds=rounds)
    except _Deadlock as exc:
        raise _deadlock_error(prep, exc.waiting) from None
    return run.round_time, run.converged

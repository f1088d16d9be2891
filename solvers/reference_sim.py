"""Reference simulation of memory contention at group granularity (fidelity yardstick).

The solvers' contention term (docs/model.md section 3) charges a victim segment a loss
rate that depends on the co-runner's *model-mean* bandwidth: one number per (job, device
kind). What really happens is finer: inside a segment the groups run one after the
other, each with its own bandwidth demand (the cost table's per-group ``gpu_bw_gbps`` /
``dla_bw_gbps``), and a victim's loss rate at each instant follows the group running on
the other device(s) *then*. This module simulates exactly that, with the same loss-rate
curve (`solvers.contention.ContentionModel.loss_rate`) and the same semi-active rules as
`solvers.simulator`:

- every segment is a chain of *pieces*, one per group, with the group's standalone time
  on the device kind as its work and the group's bandwidth on that kind as its demand;
- between two events the set of running pieces is fixed, so each device progresses at
  the constant rate ``1 - sum_e k(kind_d, bw(piece running on e))``; events are piece
  completions and ready times, computed exactly (no time step);
- latency: one round; throughput: rounds with cyclic device orders until the start
  vector of a round is periodic (the simulator's own convergence test).

It is not used by the solvers: `benchmarks/contention_fidelity.py` compares it with the
model-mean term (and with the segment-level alternative `segment_level_prepared`) to
measure how much the coarse term costs. With contention off it equals `simulate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from solvers.problem import Device, Objective, Problem
from solvers.schedule import Schedule
from solvers.simulator import (
    MAX_ROUNDS,
    Prepared,
    _check_periodic,
    _Deadlock,
    _deadlock_error,
    _resolve_order,
    cycle_time_prepared,
    prepare,
)

_DONE_RTOL = 1e-12


@dataclass(frozen=True)
class _Pieces:
    """Per flat segment: the work (ms) and the demand (GB/s) of each of its groups."""

    work: tuple[tuple[float, ...], ...]
    bw: tuple[tuple[float, ...], ...]


def _group_bw(problem: Problem, job: int, group: int, kind: str) -> float:
    row = problem.table(job).rows[group]
    value = row.gpu_bw_gbps if kind == "gpu" else row.dla_bw_gbps
    return 0.0 if value is None else float(value)


def _pieces(problem: Problem, schedule: Schedule, prep: Prepared) -> _Pieces:
    work = []
    bw = []
    for j, s in prep.refs:
        seg = schedule.segments[j][s]
        kind = seg.device.kind
        groups = range(seg.first_group, seg.last_group + 1)
        work.append(tuple(float(problem.cost(j, g, seg.device) or 0.0) for g in groups))
        bw.append(tuple(_group_bw(problem, j, g, kind) for g in groups))
    return _Pieces(tuple(work), tuple(bw))


def segment_bandwidth(problem: Problem, job: int, first: int, last: int,
                      device: Device) -> float:
    """Time-weighted mean demand (GB/s) of groups ``first..last`` on ``device``'s kind:
    the co-runner bandwidth of a segment-level contention term."""
    kind = device.kind
    total = 0.0
    weighted = 0.0
    for g in range(first, last + 1):
        t = float(problem.cost(job, g, device) or 0.0)
        total += t
        weighted += t * _group_bw(problem, job, g, kind)
    return weighted / total if total > 0 else 0.0


def segment_level_prepared(problem: Problem, schedule: Schedule) -> Prepared:
    """`prepare(problem, schedule)` with the loss-rate matrix of the *segment-level* term:
    ``K[i][j] = loss_rate(kind_i, time-weighted demand of segment j's own groups)``."""
    prep = prepare(problem, schedule)
    model = problem.contention
    if model is None or not model.enabled:
        return prep
    seg_bw = [segment_bandwidth(problem, j, schedule.segments[j][s].first_group,
                                schedule.segments[j][s].last_group,
                                schedule.segments[j][s].device) for j, s in prep.refs]
    rows = []
    for a in range(len(prep.refs)):
        row = []
        for b in range(len(prep.refs)):
            same_job = prep.job[a] == prep.job[b] and problem.objective is Objective.LATENCY
            if prep.dev[a] == prep.dev[b] or same_job:
                row.append(0.0)
            else:
                row.append(model.loss_rate(prep.devices[prep.dev[a]].kind, seg_bw[b]))
        rows.append(tuple(row))
    return replace(prep, k=tuple(rows), contention=any(v > 0 for r in rows for v in r))


def reference_objective(problem: Problem, schedule: Schedule) -> float:
    """The objective (weighted makespan, or period per frame) of ``schedule`` under the
    group-granularity reference; device orders as `simulate` resolves them."""
    prep = prepare(problem, schedule)
    order = _resolve_order(prep, schedule)
    pieces = _pieces(problem, schedule, prep)
    try:
        cycle_time_prepared(prep, order)  # rejects deadlocking orders
        if problem.objective is Objective.LATENCY:
            _starts, ends = _run(problem, prep, pieces, order, rounds=1)
            return max(problem.weight(j) * ends[0][last]
                       for j, last in enumerate(prep.last_of_job))
        lam = _run_throughput(problem, prep, pieces, order)
    except _Deadlock as exc:
        raise _deadlock_error(prep, exc.waiting) from None
    return lam / problem.frames_per_round


def _loss_table(problem: Problem, prep: Prepared, pieces: _Pieces
                ) -> tuple[tuple[tuple[float, ...], ...], ...]:
    """``L[kind][i][p]``: loss rate a victim of device kind index (0 gpu, 1 dla) suffers
    while piece p of segment i runs on another device."""
    model = problem.contention
    if model is None or not model.enabled:
        return tuple(tuple(tuple(0.0 for _ in b) for b in pieces.bw) for _ in range(2))
    return tuple(tuple(tuple(model.loss_rate(kind, x) for x in b) for b in pieces.bw)
                 for kind in ("gpu", "dla"))


def _run(problem: Problem, prep: Prepared, pieces: _Pieces, order: list[list[int]], *,
         rounds: int) -> tuple[list[list[float]], list[list[float]]]:
    """Fixed number of rounds (latency: 1), returning per-round start and end vectors."""
    out = _engine(problem, prep, pieces, order, stop_after=rounds)
    return out[0], out[1]


def _run_throughput(problem: Problem, prep: Prepared, pieces: _Pieces,
                    order: list[list[int]]) -> float:
    return _engine(problem, prep, pieces, order, stop_after=None)[2]


def _engine(problem: Problem, prep: Prepared, pieces: _Pieces, order: list[list[int]], *,
            stop_after: int | None) -> tuple[list[list[float]], list[list[float]], float]:
    """Event-driven engine over segment instances ``(i, r)`` at piece granularity.

    ``stop_after=R``: run exactly rounds ``0..R-1`` (no wrap beyond them); ``None``: run
    until the round timing is periodic and return the round cycle time as well."""
    n = len(prep.base)
    ndev = len(prep.devices)
    kind_of = [0 if d.kind == "gpu" else 1 for d in prep.devices]
    loss = _loss_table(problem, prep, pieces)
    same_job_free = problem.objective is Objective.LATENCY
    pred, tr_in = prep.pred, prep.tr_in
    starts: list[list[float]] = []
    ends: list[list[float]] = []
    ended: list[int] = []
    rnd = [0] * ndev
    pos = [0] * ndev
    running = [-1] * ndev
    run_round = [0] * ndev
    piece = [0] * ndev
    remaining = [0.0] * ndev
    now = 0.0
    active = [d for d in range(ndev) if order[d]]
    complete = 0

    def ensure(r: int) -> None:
        while len(starts) <= r:
            starts.append([math.nan] * n)
            ends.append([math.nan] * n)
            ended.append(0)

    def ready(i: int, r: int) -> float:
        p = pred[i]
        if p < 0:
            return 0.0
        if r >= len(ends):
            return math.inf
        e = ends[r][p]
        return math.inf if e != e else e + tr_in[i]

    def exhausted(d: int) -> bool:
        return stop_after is not None and rnd[d] >= stop_after

    while True:
        for d in active:
            if running[d] >= 0 or exhausted(d):
                continue
            i = order[d][pos[d]]
            r = rnd[d]
            if ready(i, r) <= now:
                ensure(r)
                starts[r][i] = now
                running[d], run_round[d], piece[d] = i, r, 0
                remaining[d] = pieces.work[i][0]
                pos[d] += 1
                if pos[d] == len(order[d]):
                    pos[d] = 0
                    rnd[d] += 1
        rates = [1.0] * ndev
        t_next = math.inf
        any_running = False
        for d in active:
            i = running[d]
            if i < 0:
                continue
            any_running = True
            rate = 1.0
            for e in active:
                o = running[e]
                if o < 0 or e == d or (same_job_free and prep.job[o] == prep.job[i]):
                    continue
                rate -= loss[kind_of[d]][o][piece[e]]
            rates[d] = rate
            t_next = min(t_next, now + remaining[d] / rate)
        for d in active:
            if running[d] < 0 and not exhausted(d):
                rt = ready(order[d][pos[d]], rnd[d])
                if now < rt < t_next:
                    t_next = rt
        if t_next == math.inf and not any_running:
            if stop_after is not None and all(exhausted(d) for d in active):
                return starts, ends, math.nan
            raise _Deadlock([order[d][pos[d]] for d in active if not exhausted(d)])
        dt = t_next - now
        for d in active:
            i = running[d]
            if i < 0:
                continue
            t_done = now + remaining[d] / rates[d]
            rem = remaining[d] - rates[d] * dt
            work = pieces.work[i]
            if t_done <= t_next or rem <= _DONE_RTOL * max(prep.base[i], 1e-300):
                piece[d] += 1
                while piece[d] < len(work) and work[piece[d]] <= 0:
                    piece[d] += 1
                if piece[d] < len(work):
                    remaining[d] = work[piece[d]]
                    continue
                r = run_round[d]
                ends[r][i] = t_next
                running[d] = -1
                ended[r] += 1
            else:
                remaining[d] = rem
        now = t_next
        while complete < len(ended) and ended[complete] == n:
            complete += 1
            if stop_after is not None:
                if complete == stop_after:
                    return starts, ends, math.nan
                continue
            result = _check_periodic(starts, ends, complete - 1, MAX_ROUNDS)
            if result is not None:
                return starts, ends, result.round_time

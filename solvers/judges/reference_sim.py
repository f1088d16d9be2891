"""Reference simulation of memory contention at group granularity (fidelity yardstick).

The solvers' contention term (docs/model.md section 3) charges a victim segment a loss
rate set by the co-runner *segment*'s own time-weighted demand
(`Problem.segment_bandwidth`): one constant per pair of segments. What really happens is
finer: inside a segment the groups run one after the other, each with its own bandwidth
demand (the cost table's per-group ``gpu_bw_gbps`` / ``dla_bw_gbps``), and a victim's
loss rate at each instant follows the group running on the other device(s) *then*. This
module simulates exactly that, with the same loss-rate curve
(`solvers.model.contention.ContentionModel.loss_rate`), the same zero rules (same device; one
job's segments in latency mode) and the same semi-active rules as `solvers.judges.simulator`:

- every segment is a chain of *pieces*, one per group, with the group's standalone time
  on the device kind as its work and the group's bandwidth on that kind as its demand;
- between two events the set of running pieces is fixed, so each device progresses at
  the constant rate ``1 - sum_e k(kind_d, bw(piece running on e))``; events are piece
  completions and ready times, computed exactly (no time step);
- latency: one inference; throughput: rounds with cyclic device orders until the start
  vector of a round is periodic (the simulator's own convergence test).

It runs the simulator's own event engines (`solvers.judges.simulator._run_latency` and
`_run_throughput`), given `solvers.judges.simulator.Pieces`: the engines are shared, only the
work units and their loss table differ. It is not used by the solvers:
`benchmarks/contention_fidelity.py` compares it with the segment-level term (and with the
earlier model-mean term) to measure how much a constant per-pair term costs. With
contention off it equals `simulate`; when every group of a model has the same demand it
equals the segment-level term.
"""

from __future__ import annotations

from solvers.judges.simulator import (
    Pieces,
    Prepared,
    _Deadlock,
    _deadlock_error,
    _resolve_order,
    _run_latency,
    _run_throughput,
    cycle_time_prepared,
    prepare,
)
from solvers.model.problem import Objective, Problem
from solvers.model.schedule import Schedule


def _group_bw(problem: Problem, job: int, group: int, kind: str) -> float:
    row = problem.table(job).rows[group]
    value = row.gpu_bw_gbps if kind == "gpu" else row.dla_bw_gbps
    return 0.0 if value is None else float(value)


def group_pieces(problem: Problem, schedule: Schedule, prep: Prepared) -> Pieces:
    """One piece per group of every segment (groups without time there are left out;
    a segment keeps at least one piece), and the loss table of the group-level truth:
    ``loss[i][p] = k(kind of i, demand of piece p)``, 0 where `Problem.loss_rate` is 0 by
    rule (same device; same job in latency mode)."""
    first = [0]
    work: list[float] = []
    demand: list[float] = []
    owner: list[int] = []   # segment of each piece
    for i, (j, s) in enumerate(prep.refs):
        seg = schedule.segments[j][s]
        kind = seg.device.kind
        n_before = len(work)
        for g in range(seg.first_group, seg.last_group + 1):
            t = float(problem.cost(j, g, seg.device) or 0.0)
            if t > 0 or (g == seg.last_group and len(work) == n_before):
                work.append(t)
                demand.append(_group_bw(problem, j, g, kind))
                owner.append(i)
        first.append(len(work))
    model = problem.contention
    latency = problem.objective is Objective.LATENCY
    rows = []
    any_loss = False
    for i in range(len(prep.refs)):
        if not model.enabled:
            rows.append((0.0,) * len(work))
            continue
        kind = prep.devices[prep.dev[i]].kind
        row = []
        for p, o in enumerate(owner):
            if prep.dev[o] == prep.dev[i] or (latency and prep.job[o] == prep.job[i]):
                row.append(0.0)
                continue
            value = model.loss_rate(kind, demand[p])
            any_loss = any_loss or value > 0
            row.append(value)
        rows.append(tuple(row))
    return Pieces(tuple(first), tuple(work), tuple(rows), any_loss)


def reference_objective(problem: Problem, schedule: Schedule) -> float:
    """The objective (weighted makespan, or period per frame) of ``schedule`` under the
    group-granularity reference; device orders as `simulate` resolves them."""
    prep = prepare(problem, schedule)
    order = _resolve_order(prep, schedule)
    pieces = group_pieces(problem, schedule, prep)
    try:
        cycle_time_prepared(prep, order)  # rejects deadlocking orders
        if problem.objective is Objective.LATENCY:
            _start, end, _used = _run_latency(prep, order, pieces)
            return max(problem.weight(j) * end[last]
                       for j, last in enumerate(prep.last_of_job))
        lam = _run_throughput(prep, order, pieces=pieces).round_time
    except _Deadlock as exc:
        raise _deadlock_error(prep, exc.waiting) from None
    return lam / problem.frames_per_round

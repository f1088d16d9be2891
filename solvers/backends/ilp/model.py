"""ILP backend: a mixed-integer program solved by a MIP solver bundled with OR-Tools.

How the model works (docs/model.md; times are continuous, in a power-of-ten multiple of
1 ns chosen per problem, `mip_units_per_ns`; the exact costs are the integer ns of
`solvers.backends.base.integer_view`):

- **Slots.** Job ``j`` has slots ``k = 0..T`` (``T = max_transitions``); slot ``k`` holds
  its ``k``-th segment. Binary ``z[j,g,k,d]``: group ``g`` runs in slot ``k`` on device
  ``d`` (only for allowed devices: DLA-eligibility and pins). Binary ``a[j,k,d]``: slot
  ``k`` is on ``d`` (at most one device; none = unused slot, which only trails).
- **Contiguity.** Group 0 is in slot 0 and group ``g + 1`` is in the slot of ``g`` or the
  next one, so slots are contiguous group ranges; consecutive slots use different devices.
- **Timing.** Continuous start ``S[j,k]``; end ``E = S + base`` with ``base`` the cost of
  its groups on its device. ``S[j,k+1] >= E[j,k] + transition``, the transition being
  ``dla_to_gpu`` of the cut's last group if slot ``k`` is on a DLA plus ``gpu_to_dla`` if
  slot ``k+1`` is (DLA0 <-> DLA1 pays both), linearised with cut indicators.
- **Devices.** For two slots of different jobs on the same device, an order binary picks
  which ends before the other starts (big-M: in latency mode the latest end of the job
  that goes first, from the objective of a known schedule (the hint or the greedy
  baseline) divided by its weight; else the serial horizon). Throughput adds, per
  device, "the round fits in a window of ``P``": ``E[q] - S[p] <= P`` for any two slots on
  it (the modulo model of model.md section 4).
- **Loadables.** At most ``dla_loadable_limit`` used slots per DLA core.
- **Objective.** Latency: ``Z >= w_j * E[j,T]``, deadlines ``E[j,T] <= D_j``, minimise
  ``Z``. Throughput: minimise ``P`` (the round's cycle time; period = ``P / F``).

Without contention idle insertion never helps, so the ``>=`` constraints are exact: the
solver's optimum is the model's optimum. The answer is re-derived from the binaries (cuts,
devices, order by start time) and re-timed exactly in integers (`exact_common.evaluate`),
so tolerances of the MIP solver cannot leak into the reported value.

Trust: ``optimal`` is reported only when HiGHS says OPTIMAL *and* its objective and bound
agree with the exact value of its schedule (`TRUST_RTOL`) *and* no known schedule is
better. Otherwise the answer is ``feasible`` (the better of HiGHS's schedule and the known
one), without HiGHS's bound, and ``stats["distrusted"]`` says why.

Engine: HiGHS through OR-Tools MathOpt (bundled with the ortools wheel; single thread, fixed
seed, so deterministic). On 2 x 10 groups it was 2-7x faster than SCIP (pywraplp or GSCIP)
and CBC. Gap tolerances are 0 and feasibility tolerances 1e-7: an integrality slack of 1e-7
lets a big-M constraint give way by 1e-7 of its M, i.e. of the known objective (or of a
horizon of at most `MIP_HORIZON_UNITS` units), far inside `TRUST_RTOL`, and the reported
value is re-derived exactly anyway. They were 1e-9, and with the contention model HiGHS
(OR-Tools 9.15) then answered OPTIMAL 2-3e-4 above the optimum of its own model on two
3-model problems found by the oracle property test (`tests/solvers/test_ilp_contention.py`);
1e-7 and the defaults solve both. This is not a cure: at 1e-7 HiGHS answers OPTIMAL 0.4 %
above the optimum on a third such problem (right at 1e-9; a strict xfail there), and with
the oracle's binaries fixed it has called feasible LPs infeasible (at 1e-9 without
presolve on the first problem, at 1e-7 with presolve on the third). The trust checks cannot
see this (HiGHS's value is that of its schedule), so from `UNTRUSTED_CONTENTION_JOBS` jobs on
an OPTIMAL on the contention model stands only if CP-SAT, started from HiGHS's schedule,
proves the same value.
Memory contention in latency mode is modelled exactly by `solvers.backends.ilp.contention`
(overlap-linear slowdown and semi-active starts, big-M from the known schedule's simulated
objective; the known schedule and the trust checks are judged by the simulator there); in
throughput mode the contention-free optimum is a lower bound and the answer is only
``feasible`` (model.md section 4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from solvers.backends.base import (
    IntegerJob,
    integer_view,
    to_ns,
)
from solvers.backends.exact_common import (
    Slot,
    horizon_ns,
    order_by_start,
    segment_base_ns,
)
from solvers.model.problem import Device, Objective, Problem, dla_symmetric
from solvers.model.schedule import Schedule, Segment

ENGINE = "HiGHS (OR-Tools MathOpt)"
MIP_HORIZON_UNITS = 1e4
"""The MIP counts time in a power-of-ten multiple of 1 ns chosen per problem so that the
serial horizon is at most this many units. In ns, two 8-group tables of ~1-140 ms groups
(`profiles.synthetic.large_times_pair`) gave coefficients and bounds of ~1e9 and HiGHS
returned a wrong "optimal" (324.52 ms where the oracle proves 240.11 ms; its dual bound
was wrong at the root); one 1000 ms GPU time in a 3-group table sufficed. Continuous times in
scaled units keep the numbers inside HiGHS's comfortable range; nothing is rounded, since
times are continuous variables and the answer is re-timed exactly in integer ns."""
TRUST_RTOL = 1e-6
"""The MIP's own objective and bound, converted back, must agree with the exact integer
value of its schedule to this relative tolerance, else its ``optimal`` is not reported."""


def mip_units_per_ns(horizon_ns: int) -> float:
    """MIP units per ns: 10^-e with the smallest e >= 0 that brings ``horizon_ns`` to at
    most `MIP_HORIZON_UNITS` units (1.0, i.e. ns, for horizons up to 10 us)."""
    e = max(0, math.ceil(math.log10(max(horizon_ns, 1) / MIP_HORIZON_UNITS)))
    return 10.0 ** -e



@dataclass
class _Vars:
    """Solver variables, named after jobs, groups, slots and devices."""

    z: dict[tuple[int, int, int, Device], Any] = field(default_factory=dict)
    a: dict[tuple[int, int, Device], Any] = field(default_factory=dict)
    start: dict[Slot, Any] = field(default_factory=dict)
    end: dict[Slot, Any] = field(default_factory=dict)
    objective: Any = None


class IlpModel:
    """The MIP of one problem: variables, then one method per constraint family."""

    def __init__(self, problem: Problem, solver: Any, known_ns: int | None = None) -> None:
        self.p = problem
        self.s = solver
        self.jobs: tuple[IntegerJob, ...] = integer_view(problem)
        self.T = problem.max_transitions
        self.horizon_ns = horizon_ns(problem, self.jobs)
        # the MIP's unit: a power of ten of ns that brings the horizon to at most
        # MIP_HORIZON_UNITS (times are continuous, so nothing is rounded; the exact value is
        # re-derived in integer ns afterwards)
        self.unit = mip_units_per_ns(self.horizon_ns)
        self.H = self.horizon_ns * self.unit
        # latency: the objective of a known schedule bounds every job's completion, hence
        # every time and every big-M of that job (much tighter than the serial horizon)
        self.job_ub: list[float] = [self.H] * len(self.jobs)
        self.objective_ub = math.inf if known_ns is None else known_ns * self.unit
        if known_ns is not None and problem.objective is Objective.LATENCY:
            for j in range(len(self.jobs)):
                self.job_ub[j] = min(self.H, known_ns * self.unit / problem.weight(j))
        self.inf = solver.infinity()
        self.v = _Vars()
        self.slots: list[Slot] = [(j, k) for j in range(len(self.jobs))
                                  for k in range(self.T + 1)]
        # hooks for `solvers.backends.ilp.contention`: a slot's contention delay (added to its
        # duration) and the transition after it (its successor's ready time)
        self.extra: dict[Slot, Any] = {}
        self.delay: dict[Slot, Any] = {}
        self.transition_flags: list[tuple[Any, list[Any]]] = []   # (flag, its factors)

    # ------------------------------------------------------------------ helpers
    def x(self, j: int, g: int, k: int) -> Any:
        """1 if group g of job j is in slot k (a linear expression; 0 if impossible)."""
        return self._x.get((j, g, k), 0)

    def dla(self, j: int, k: int) -> Any:
        """1 if slot k of job j is on a DLA core."""
        return sum(self.v.a[(j, k, d)] for d in self.p.devices if d.kind == "dla")

    def base(self, j: int, k: int) -> Any:
        """Base time (ns) of slot k of job j: its groups' costs on its device kind."""
        job = self.jobs[j]
        return sum(segment_base_ns(job, g, g, d) * self.unit * var
                   for (g, d), var in self._z_by_slot.get((j, k), {}).items())

    # ------------------------------------------------------------------ variables
    def add_variables(self) -> None:
        s, p = self.s, self.p
        self._z_by_group: dict[tuple[int, int], list[tuple[Any, Any]]] = {}
        self._z_by_slot: dict[Slot, dict[tuple[int, Device], Any]] = {}
        self._x: dict[tuple[int, int, int], Any] = {}
        for j, job in enumerate(self.jobs):
            name = p.jobs[j].name
            for g in range(job.n_groups):
                entries = []
                for k in range(min(g, self.T) + 1):
                    for d in p.devices:
                        if d in job.allowed[g]:
                            var = s.BoolVar(f"{name}_group{g}_slot{k}_on_{d.value}")
                            self.v.z[(j, g, k, d)] = var
                            entries.append(((j, g, k, d), var))
                self._z_by_group[(j, g)] = entries
                for (_, _, k, d), var in entries:
                    self._z_by_slot.setdefault((j, k), {})[(g, d)] = var
                for k in range(min(g, self.T) + 1):
                    self._x[(j, g, k)] = sum(var for (_, _, kk, _), var in entries if kk == k)
            for k in range(self.T + 1):
                for d in p.devices:
                    self.v.a[(j, k, d)] = s.BoolVar(f"{name}_slot{k}_on_{d.value}")
                ub = self.job_ub[j]
                self.v.start[(j, k)] = s.NumVar(0, ub, f"{name}_slot{k}_start")
                self.v.end[(j, k)] = s.NumVar(0, ub, f"{name}_slot{k}_end")

    # ------------------------------------------------------------------ constraint families
    def add_assignment(self) -> None:
        """Every group in exactly one slot; a group's device is its slot's device; a slot has
        at most one device and is used only if it holds a group."""
        s, p = self.s, self.p
        for j, job in enumerate(self.jobs):
            for g in range(job.n_groups):
                s.Add(sum(var for _, var in self._z_by_group[(j, g)]) == 1)
                for (_, _, k, d), var in self._z_by_group[(j, g)]:
                    s.Add(var <= self.v.a[(j, k, d)])
            for k in range(self.T + 1):
                used = sum(self.v.a[(j, k, d)] for d in p.devices)
                s.Add(used <= 1)
                s.Add(used <= sum(self.x(j, g, k) for g in range(job.n_groups)))

    def add_contiguity(self) -> None:
        """Group 0 in slot 0; group g+1 in the slot of g or the next; neighbours differ."""
        s, p = self.s, self.p
        for j, job in enumerate(self.jobs):
            s.Add(self.x(j, 0, 0) == 1)
            for g in range(job.n_groups - 1):
                for k in range(min(g + 1, self.T) + 1):
                    prev = self.x(j, g, k) + (self.x(j, g, k - 1) if k else 0)
                    s.Add(self.x(j, g + 1, k) <= prev)
            for k in range(self.T):
                for d in p.devices:
                    s.Add(self.v.a[(j, k, d)] + self.v.a[(j, k + 1, d)] <= 1)

    def add_job_timing(self) -> None:
        """E = S + base; the next slot starts after this one ends plus the transition."""
        s = self.s
        for j, job in enumerate(self.jobs):
            name = self.p.jobs[j].name
            for k in range(self.T + 1):
                s.Add(self.v.end[(j, k)] == self.v.start[(j, k)] + self.base(j, k)
                      + self.extra.get((j, k), 0))
            for k in range(self.T):
                delay = 0
                for g in range(k, job.n_groups - 1):
                    cut = [self.x(j, g, k), self.x(j, g + 1, k + 1)]
                    d2g = job.transition[("dla", "gpu")][g]
                    g2d = job.transition[("gpu", "dla")][g]
                    self._forbid_missing_transitions(j, g, k, cut)
                    if d2g:
                        out = s.NumVar(0, 1, f"{name}_cut_after_group{g}_slot{k}_leaves_dla")
                        s.Add(out >= cut[0] + cut[1] + self.dla(j, k) - 2)
                        self.transition_flags.append((out, [*cut, self.dla(j, k)]))
                        delay += d2g * self.unit * out
                    if g2d:
                        into = s.NumVar(0, 1, f"{name}_cut_after_group{g}_slot{k}_enters_dla")
                        s.Add(into >= cut[0] + cut[1] + self.dla(j, k + 1) - 2)
                        self.transition_flags.append((into, [*cut, self.dla(j, k + 1)]))
                        delay += g2d * self.unit * into
                self.delay[(j, k)] = delay
                s.Add(self.v.start[(j, k + 1)] >= self.v.end[(j, k)] + delay)

    def _forbid_missing_transitions(self, j: int, g: int, k: int, cut: list[Any]) -> None:
        job = self.jobs[j]
        gpu = {k: self.v.a[(j, k, Device.GPU)], k + 1: self.v.a[(j, k + 1, Device.GPU)]}
        kinds = {"gpu": lambda kk: gpu[kk], "dla": lambda kk: self.dla(j, kk)}
        for (src, dst), values in job.transition.items():
            if values[g] is None:
                self.s.Add(cut[0] + cut[1] + kinds[src](k) + kinds[dst](k + 1) <= 3)

    def add_device_exclusivity(self) -> None:
        """Two slots of different jobs on one device do not overlap (order binary). Big-M
        per pair: the latest end of the slot that would come first (``job_ub``)."""
        s, p = self.s, self.p
        self.same: dict[tuple[Slot, Slot], Any] = {}
        for ai, sa in enumerate(self.slots):
            for sb in self.slots[ai + 1:]:
                if sa[0] == sb[0] and p.objective is Objective.LATENCY:
                    continue
                name = f"{p.jobs[sa[0]].name}_slot{sa[1]}_{p.jobs[sb[0]].name}_slot{sb[1]}"
                same = s.NumVar(0, 1, f"same_device_{name}")
                for d in p.devices:
                    s.Add(same >= self.v.a[(*sa, d)] + self.v.a[(*sb, d)] - 1)
                self.same[(sa, sb)] = same
                if sa[0] == sb[0]:
                    continue   # one job's slots are ordered by its own chain
                first = s.BoolVar(f"first_{name}")
                ma, mb = self.job_ub[sa[0]], self.job_ub[sb[0]]
                s.Add(self.v.end[sa] <= self.v.start[sb] + ma * (1 - first) + ma * (1 - same))
                s.Add(self.v.end[sb] <= self.v.start[sa] + mb * first + mb * (1 - same))

    def add_loadable_limit(self) -> None:
        for d in self.p.platform.dla_cores:
            self.s.Add(sum(self.v.a[(*slot, d)] for slot in self.slots)
                       <= self.p.dla_loadable_limit)

    def add_dla_symmetry(self) -> None:
        """DLA0 and DLA1 are identical: the first used DLA slot (fixed order) is on DLA0."""
        if not dla_symmetric(self.p):
            return
        seen: list[Any] = []
        for slot in self.slots:
            self.s.Add(self.v.a[(*slot, Device.DLA1)] <= sum(seen))
            seen.append(self.v.a[(*slot, Device.DLA0)])

    def add_objective(self) -> None:
        s, p = self.s, self.p
        last = self.T
        if p.objective is Objective.LATENCY:
            self.v.objective = s.NumVar(0, self.objective_ub, "weighted_makespan")
            for j in range(len(self.jobs)):
                s.Add(self.v.objective >= p.weight(j) * self.v.end[(j, last)])
                dl = p.deadline(j)
                if dl is not None:
                    s.Add(self.v.end[(j, last)] <= to_ns(dl) * self.unit)
        else:
            self.v.objective = s.NumVar(0, self.objective_ub, "round_cycle_time")
            P = self.v.objective
            for slot in self.slots:
                s.Add(self.v.end[slot] - self.v.start[slot] <= P)
            for (sa, sb), same in self.same.items():
                s.Add(self.v.end[sb] - self.v.start[sa] <= P + self.H * (1 - same))
                s.Add(self.v.end[sa] - self.v.start[sb] <= P + self.H * (1 - same))
        s.Minimize(self.v.objective)

    def build(self) -> None:
        self.add_variables()
        self.add_assignment()
        self.add_contiguity()
        self.add_job_timing()
        self.add_device_exclusivity()
        self.add_loadable_limit()
        self.add_dla_symmetry()
        self.add_objective()

    # ------------------------------------------------------------------ hint and decoding
    def hint_values(self, schedule: Schedule) -> dict[Any, float]:
        """Values of the binaries that describe ``schedule`` (a MIP start)."""
        schedule.validate(self.p)
        values: dict[Any, float] = {}
        for j, segs in enumerate(schedule.segments):
            for k, seg in enumerate(segs):
                for g in range(seg.first_group, seg.last_group + 1):
                    for (_, _, kk, d), var in self._z_by_group[(j, g)]:
                        values[var] = 1.0 if (kk, d) == (k, seg.device) else 0.0
            for k in range(self.T + 1):
                for d in self.p.devices:
                    used = k < len(segs) and segs[k].device == d
                    values[self.v.a[(j, k, d)]] = 1.0 if used else 0.0
        return values

    def decode(self, values: Mapping[Any, float]) -> Schedule:
        """Segments from the binaries; device order by start time."""
        segments: list[tuple[Segment, ...]] = []
        starts: dict[tuple[int, int], float] = {}
        for j, job in enumerate(self.jobs):
            where = []
            for g in range(job.n_groups):
                best = max(self._z_by_group[(j, g)], key=lambda e: values[e[1]])
                where.append(best[0][2:])
            segs: list[Segment] = []
            first = 0
            for g in range(job.n_groups):
                if g + 1 == job.n_groups or where[g + 1] != where[g]:
                    k, d = where[g]
                    starts[(j, len(segs))] = values[self.v.start[(j, k)]]
                    segs.append(Segment(first, g, d))
                    first = g + 1
            segments.append(tuple(segs))
        return Schedule(tuple(segments), order_by_start(segments, starts))

"""ILP backend: a mixed-integer program solved by a MIP solver bundled with OR-Tools.

How the model works (docs/model.md; times are continuous, in a power-of-ten multiple of
1 ns chosen per problem, `mip_units_per_ns`; the exact costs are the integer ns of
`solvers.backend.integer_view`):

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
Memory contention in latency mode is modelled exactly by `solvers.ilp_contention`
(overlap-linear slowdown and semi-active starts, big-M from the known schedule's simulated
objective; the known schedule and the trust checks are judged by the simulator there); in
throughput mode the contention-free optimum is a lower bound and the answer is only
``feasible`` (model.md section 4).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from solvers.backend import (
    NS_PER_MS,
    BackendAnswer,
    IntegerJob,
    SolveOptions,
    contention_free,
    contention_ignored,
    integer_view,
    run_killably,
    to_ns,
)
from solvers.diagnose import diagnose_infeasible
from solvers.exact_common import (
    Slot,
    dla_symmetric,
    evaluate,
    horizon_ns,
    order_by_start,
    segment_base_ns,
)
from solvers.problem import Device, Objective, Problem
from solvers.schedule import Schedule, Segment, SolveStatus

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
        # hooks for `solvers.ilp_contention`: a slot's contention delay (added to its
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


class _Mip:
    """A MathOpt model with the few calls `IlpModel` uses (names as in pywraplp)."""

    def __init__(self) -> None:
        from ortools.math_opt.python import mathopt

        self.model = mathopt.Model(name="layerswap")
        self.n_vars = 0
        self.n_cons = 0

    @staticmethod
    def infinity() -> float:
        return math.inf

    def BoolVar(self, name: str) -> Any:
        self.n_vars += 1
        return self.model.add_binary_variable(name=name)

    def NumVar(self, lb: float, ub: float, name: str) -> Any:
        self.n_vars += 1
        return self.model.add_variable(lb=lb, ub=ub, name=name)

    def Add(self, constraint: Any) -> None:
        self.n_cons += 1
        self.model.add_linear_constraint(constraint)

    def Minimize(self, expr: Any) -> None:
        self.model.minimize(expr)


@contextmanager
def _stdout_silenced(keep: bool) -> Iterator[None]:
    """The bundled HiGHS build prints debug lines on file descriptor 1 from C++, which
    would corrupt ``--json`` output: send fd 1 to stderr (``log``) or /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.dup(2) if keep else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def _parameters(options: SolveOptions, *, presolve: bool = True,
                time_limit: float | None = None) -> Any:
    from ortools.math_opt.python import mathopt
    from ortools.math_opt.solvers import highs_pb2

    highs = highs_pb2.HighsOptionsProto(
        double_options={"mip_feasibility_tolerance": 1e-7,
                        "primal_feasibility_tolerance": 1e-7},
        int_options={"threads": 1, "random_seed": options.seed},
        string_options={} if presolve else {"presolve": "off"})
    limit = None if time_limit is None else timedelta(seconds=time_limit)
    return mathopt.SolveParameters(time_limit=limit, relative_gap_tolerance=0.0,
                                   absolute_gap_tolerance=0.0, enable_output=options.log,
                                   highs=highs)


def _known_schedule(problem: Problem, jobs: tuple[IntegerJob, ...],
                    hint: Schedule | None, deadline: float | None = None,
                    value_ns: Any = None
                    ) -> tuple[Schedule, int] | None:
    """A feasible schedule and its exact objective (integer ns, weighted; throughput: the
    round's cycle time): the hint, else the greedy baseline. It bounds the big-Ms (latency)
    and checks HiGHS's claim of optimality afterwards."""
    from solvers.baselines import greedy

    candidate = hint
    if candidate is None:
        candidate = greedy(problem, deadline=deadline).schedule
    if candidate is None:
        return None
    if candidate.order is None:
        from solvers.simulator import simulate

        candidate = Schedule(candidate.segments, simulate(problem, candidate).order)
    value = (value_ns or exact_value_ns)(problem, jobs, candidate)
    return None if value is None else (candidate, value)


def exact_value_ns(problem: Problem, jobs: tuple[IntegerJob, ...],
                   schedule: Schedule) -> int | None:
    """The exact contention-free objective of ``schedule`` in integer ns, rounded up
    (weighted makespan, or the round's cycle time); None if it deadlocks or misses a
    deadline."""
    exact = evaluate(problem, jobs, schedule)
    if exact.objective_ms is None or not exact.meets_deadlines:
        return None
    frames = problem.frames_per_round if problem.objective is Objective.THROUGHPUT else 1
    return math.ceil(exact.objective_ms * NS_PER_MS * frames * (1 + 1e-12))


def solve_ilp(problem: Problem, options: SolveOptions) -> BackendAnswer:
    """Solve ``problem`` exactly with a MIP (see the module docstring)."""
    from ortools.math_opt.python import mathopt

    from solvers import ilp_contention

    contention = ilp_contention.models_contention(problem)
    value_ns = (ilp_contention.exact_value_ns_with_contention if contention
                else exact_value_ns)
    t0 = time.perf_counter()
    deadline = None if options.time_limit is None else t0 + options.time_limit
    mip = _Mip()
    # without a hint, greedy starts no new pass after a quarter of the limit
    known = _known_schedule(problem, integer_view(problem), options.hint,
                            None if deadline is None else t0 + 0.25 * options.time_limit,
                            value_ns)
    model_class = ilp_contention.ContentionIlpModel if contention else IlpModel
    model = model_class(problem, mip, known_ns=None if known is None else known[1] + 1)
    model.build()
    model_params = None
    if options.hint is not None:
        model_params = mathopt.ModelSolveParameters(
            solution_hints=[mathopt.SolutionHint(variable_values=model.hint_values(options.hint))])
    if options.progress:
        options.progress(f"ilp: {mip.n_vars} variables, {mip.n_cons} constraints, "
                         f"engine {ENGINE}, time unit {1 / model.unit:g} ns")

    def highs(presolve: bool) -> Any:
        """One HiGHS solve, in a child process that Ctrl-C kills at once (HiGHS through
        MathOpt cannot be interrupted: `solvers.backend.run_killably`)."""
        from ortools.math_opt import result_pb2

        left = None if deadline is None else max(0.01, deadline - time.perf_counter())
        params = _parameters(options, presolve=presolve, time_limit=left)
        answer = run_killably(
            lambda: mathopt.solve(mip.model, mathopt.SolverType.HIGHS, params=params,
                                  model_params=model_params).to_proto().SerializeToString(),
            "HiGHS")
        return mathopt.parse_solve_result(result_pb2.SolveResultProto.FromString(answer),
                                          mip.model)

    presolve = True
    with _stdout_silenced(keep=options.log):
        try:
            result = highs(presolve)
        except Exception as first:  # HiGHS reports kError through a wrapper exception
            # HiGHS's presolve fails with "kError [INTERNAL]" on some tiny models (found by
            # the oracle property test: 3 jobs of 2-3 groups, throughput, no switches);
            # the same model solves without presolve
            presolve = False
            try:
                result = highs(presolve)
            except Exception as second:
                why = (f"HiGHS failed on this model with and without presolve "
                       f"({_describe(first)}; {_describe(second)})")
                stats0 = {"engine": ENGINE, "variables": mip.n_vars,
                          "constraints": mip.n_cons, "time_unit_ns": 1 / model.unit,
                          "seconds": time.perf_counter() - t0}
                return _distrust(problem, known, stats0, why)
    reason = result.termination.reason
    stats: dict[str, Any] = {
        "engine": ENGINE, "variables": mip.n_vars, "constraints": mip.n_cons,
        "termination": reason.name, "seconds": time.perf_counter() - t0,
        "presolve": presolve, "time_unit_ns": 1 / model.unit,
    }
    frames = problem.frames_per_round if problem.objective is Objective.THROUGHPUT else 1
    per_ns = NS_PER_MS * frames   # MIP value in ns -> objective in ms: / per_ns
    if reason in (mathopt.TerminationReason.INFEASIBLE,
                  mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED):
        if known is not None:
            # HiGHS says infeasible although a valid schedule is known: its numbers failed
            return _distrust(problem, known, stats,
                             f"HiGHS reported {reason.name} although a valid schedule exists")
        return BackendAnswer(SolveStatus.INFEASIBLE, None, stats=stats,
                             message=diagnose_infeasible(problem))
    if not result.has_primal_feasible_solution():
        if known is not None and options.hint is not None:
            stats["returned_hint"] = True
            return BackendAnswer(SolveStatus.FEASIBLE, known[0], known[1] / per_ns, None,
                                 stats, "time limit reached before HiGHS found a schedule; "
                                        "returning the hint schedule")
        return BackendAnswer(SolveStatus.UNKNOWN, None, stats=stats,
                             message="no schedule found within the time limit "
                                     f"({result.termination.detail or reason.name})")
    optimal = reason is mathopt.TerminationReason.OPTIMAL
    raw_bound = result.dual_bound()
    bound_ns = raw_bound / model.unit if math.isfinite(raw_bound) else None
    mip_ns = result.objective_value() / model.unit
    schedule = model.decode(result.variable_values())
    exact_ns = value_ns(problem, model.jobs, schedule)
    stats["mip_objective_ms"] = mip_ns / per_ns
    if exact_ns is None:
        return _distrust(problem, known, stats, "HiGHS's solution decodes to a schedule that "
                         "deadlocks or misses a deadline (numerical trouble)")
    slack = TRUST_RTOL * max(exact_ns, 1) + 1
    if known is not None and known[1] < exact_ns - slack:
        # a schedule better than HiGHS's is known: its "optimal" (and bound) are wrong
        return _distrust(problem, known, stats,
                         f"HiGHS returned {exact_ns / per_ns} ms ({reason.name}) but a known "
                         f"schedule achieves {known[1] / per_ns} ms")
    notes = []
    if abs(mip_ns - exact_ns) > slack:
        notes.append(f"HiGHS's objective {mip_ns / per_ns} ms differs from the exact value "
                     f"{exact_ns / per_ns} ms of its schedule")
    if bound_ns is not None and bound_ns > exact_ns + slack:
        notes.append(f"HiGHS's bound {bound_ns / per_ns} ms exceeds the exact value of its "
                     "schedule")
        bound_ns = None
    if (optimal and not notes and contention
            and len(problem.jobs) >= UNTRUSTED_CONTENTION_JOBS):
        check = _cpsat_check(problem, schedule, options, deadline)
        stats["cpsat_check"] = "none" if check is None else check.status.value
        exact_ms = exact_ns / per_ns
        if check is not None and check.status is SolveStatus.OPTIMAL:
            other_ms = (ilp_contention.simulated_value(problem, check.schedule)
                        or (math.inf,))[0]
            tol = TRUST_RTOL * exact_ms + check.stats.get("objective_tolerance_ms", 0.0)
            if other_ms < exact_ms - tol:
                # a schedule better than HiGHS's "optimum" exists: return it, unproven here
                stats["distrusted"] = (f"HiGHS's OPTIMAL {exact_ms} ms refuted by the CP-SAT "
                                       f"check, which proves {other_ms} ms")
                return BackendAnswer(SolveStatus.FEASIBLE, check.schedule, other_ms, None,
                                     stats, stats["distrusted"] + "; returning that "
                                     "schedule (not proven optimal by HiGHS)")
            stats["confirmed_by"] = "cpsat"
        else:
            notes.append(f"HiGHS's OPTIMAL on the contention model of {len(problem.jobs)} "
                         "jobs is not trusted unless CP-SAT confirms it (it has been "
                         "0.02-0.4 % above the optimum there), and CP-SAT did not finish; "
                         "its bound is not used")
            bound_ns = None
    if notes:
        stats["distrusted"] = "; ".join(notes)
        optimal = False
    bound_ms = None if bound_ns is None else min(bound_ns, exact_ns) / per_ns
    if not optimal and bound_ms is not None and bound_ns is not None and notes:
        bound_ms = None   # a bound from a run whose numbers disagree is not a proof
    status = SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE
    message = "" if optimal else (
        "HiGHS's answer is not taken as a proof (" + "; ".join(notes) + "): not optimal"
        if notes else "time limit reached: best schedule found, with the MIP's bound")
    objective_ms = (ilp_contention.simulated_value(problem, schedule) or (None,))[0] \
        if contention else evaluate(problem, model.jobs, schedule).objective_ms
    answer = BackendAnswer(status, schedule, objective_ms=objective_ms,
                           bound_ms=bound_ms, stats=stats, message=message)
    return contention_free(answer) if contention_ignored(problem) else answer


UNTRUSTED_CONTENTION_JOBS = 3
"""From this many jobs on, HiGHS's OPTIMAL on the latency contention model needs CP-SAT's
confirmation (`_cpsat_check`, from HiGHS's schedule, in the time left): on 3-model problems
found by the oracle property test HiGHS (OR-Tools 9.15) answered OPTIMAL 0.02-0.4 % above
the optimum of its own model, at feasibility tolerances 1e-9 and 1e-7 alike
(`tests/solvers/test_ilp_contention.py`), and no check of HiGHS's own numbers can see it
(the value is that of its schedule). CP-SAT proving the same value confirms it; CP-SAT
proving a better one refutes it (that schedule is returned, ``feasible``); no answer in time
leaves it ``feasible`` without HiGHS's bound. No such case was seen with two jobs."""
MIN_CHECK_SECONDS = 0.5
"""Least time left for the CP-SAT check to be worth starting."""


def _cpsat_check(problem: Problem, schedule: Schedule, options: SolveOptions,
                 deadline: float | None) -> BackendAnswer | None:
    """CP-SAT on the same problem from HiGHS's schedule, in the time left (None: no time)."""
    from solvers.cpsat import solve_cpsat

    left = None if deadline is None else deadline - time.perf_counter()
    if left is not None and left < MIN_CHECK_SECONDS:
        return None
    return solve_cpsat(problem, SolveOptions(time_limit=left, workers=options.workers,
                                             seed=options.seed, hint=schedule))


def _distrust(problem: Problem, known: tuple[Schedule, int] | None, stats: dict[str, Any],
              why: str) -> BackendAnswer:
    """HiGHS's answer failed a check: return the known schedule, ``feasible``, no bound."""
    stats["distrusted"] = why
    if known is None:
        return BackendAnswer(SolveStatus.UNKNOWN, None, stats=stats,
                             message=f"{why}; no trustworthy schedule")
    from solvers import ilp_contention

    if ilp_contention.models_contention(problem):
        value = (ilp_contention.simulated_value(problem, known[0]) or (None,))[0]
    else:
        value = evaluate(problem, integer_view(problem), known[0]).objective_ms
    answer = BackendAnswer(SolveStatus.FEASIBLE, known[0], value, None, stats,
                           f"{why}; returning the known schedule (not proven optimal)")
    return contention_free(answer) if contention_ignored(problem) else answer


def _describe(error: BaseException) -> str:
    """A one-line description of a HiGHS/MathOpt failure. OR-Tools' own handler of
    HiGHS's ``StatusNotOk`` raises AttributeError (``canonical_code``; seen with times of
    1e9 ms in ns units): describe the StatusNotOk it was handling instead."""
    inner = error.__context__
    if isinstance(error, AttributeError) and inner is not None:
        error = inner
    try:
        text = str(error)
    except Exception:  # a broken __str__ must not hide the original failure
        text = "<no message>"
    return f"{type(error).__name__}: {text}"

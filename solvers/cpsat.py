"""CP-SAT backend: the exact model of docs/model.md as a slot-based scheduling model.

How the model works
-------------------
- **Slots, not layers.** With at most ``T`` device switches a job has at most ``T+1``
  segments, so every job gets ``T+1`` *slots*. Slot ``k`` covers groups
  ``[cut[k-1], cut[k])`` (``cut[-1] = 0``, ``cut[T] = G``); a slot is *used* when that range
  is non-empty, and used slots form a prefix. A used slot chooses one device
  (``on[k, d]``); consecutive used slots choose different devices.
- **Base times from prefix sums.** ``cost_prefix[kind][c]`` is the integer (ns) cost of
  groups ``0..c-1`` on a device kind; an element constraint reads it at every cut, and a
  slot's base time is the difference of two of those reads for its device kind. The model
  size therefore grows with jobs x switches, not with the number of groups.
- **Eligibility (exact).** For every device ``d``, ``reach[d][a]`` is the end (exclusive)
  of the maximal run of ``d``-allowed groups that contains group ``a`` (``a`` itself if
  ``a`` may not run on ``d``). A slot starting at ``a`` may use ``d`` only if it ends at or
  before ``reach[d][a]``: exactly "every group of the slot is allowed on ``d``" (DLA
  eligibility and pins alike).
- **Transitions.** An element constraint per direction (GPU->DLA, DLA->GPU, DLA->DLA)
  reads the delay after the slot's last group; a direction whose cost is missing at that
  cut forbids the cut. The delay sits on the job's path only.
- **Exclusivity.** One optional interval per (slot, device), NoOverlap per device.
- **Loadables.** The number of used slots on each DLA core is at most the limit.
- **Latency.** ``start >= ready`` (ready = previous slot's end + transition);
  minimise ``Z >= w_j * C_j`` with the weights scaled to integers exactly; deadlines are
  hard upper bounds on ``C_j``. Without contention ``>=`` is exact (idle insertion never
  helps and the simulator re-times our order to the same or a better value).
- **Contention (latency).** ``end - start = base + sum_j k(i, j) * overlap(i, j)``, with
  ``overlap = max(0, min(end_i, end_j) - max(start_i, start_j))`` and ``k`` chosen by the
  device kinds of the pair (one overlap variable per kind pair, zero unless that pair of
  kinds is chosen); integer rounding is absorbed by a slack of a few ns per segment.
  ``k(i, j)`` is the curve at the demand of j's *own groups* (segment level,
  `Problem.loss_rate`): each slot reads ``round(k * CONTENTION_SCALE)`` per kind pair from
  a table over its span ``(previous cut, cut)`` (an element on the free end for the first
  and last slot, one Boolean per span for a middle one); a read that is one value on every
  span stays a constant (linear charge), otherwise one product ``loss * overlap`` per
  ordered slot pair, with a linear envelope for the LP (docs/model.md section 6). Beyond
  `SPAN_LIMIT` spans a middle slot's loss is only bounded: a relaxation (feasible, valid
  bound).
  Semi-active starts are enforced: each slot starts at its ready time or exactly at the
  end of another slot on its device (with NoOverlap that is ``max(ready, end of the
  previous segment)``), so the optimum is the oracle's. `solvers.solve` keeps the last
  quarter of the time limit for the simulator-guided local search, used only when this
  model stops with a gap.
- **Throughput.** The modulo model of model.md section 4: offsets with precedence and
  NoOverlap, and per device ``P >= last end - first start`` (the device's round fits in a
  window of length ``P``). Minimise ``P``; the period per frame is ``P / F``. With
  contention the model is solved contention-free (its optimum is a valid lower bound);
  `solvers.solve` then improves the schedule with the simulator-guided local search and
  the status is ``feasible`` unless the result meets the bound (model.md section 4).

Symmetry and dominance (each provably safe):
- DLA0/DLA1 are identical when no pin tells them apart: the first used DLA slot in the
  fixed order (job, slot) goes to DLA0 (swap the cores of any solution otherwise).
- Throughput instances of one model are interchangeable: their first slots start in
  instance order (permute instances of any solution otherwise).
- Throughput offsets are translation invariant: the earliest first-slot start is 0.

Redundant, for the search only (exact, implied by the model above): device loads
(``objective >= load of every device``) and the fluid load bound
(`solvers.bounds.fluid_load`), a group-level LP view for 3+ jobs (every group in exactly
one slot on one device, ``base`` = the sum of its groups' costs), an ``lb_tree_search``
worker for 3+ jobs, and bisection on the period in throughput mode.

Search setup for 1-2 jobs without contention and 2 workers: two LP-based full workers
(``default_lp``, ``max_lp``; `FEW_JOBS_WORKERS`); throughput uses LP linearization level 2
(`LINEARIZATION_THROUGHPUT`: at level 1 the search crawled down 1 ns per solution).

Search setup for latency without contention from 3 jobs on (measured on the benchmark's
3 x 30 / 4 x 30, 2 workers): LP linearization level 2, and two full workers, the LP tree
search (raises the bound) and an LP-free search (refutes device orders by propagation
alone): 3 x 30 is proven optimal in ~5 s instead of ending at a 2-4 % gap after 40 s; the
canonical phase runs LP-free there (with the LP it exhausted its budget on 3 x 30).
Measured and *not* kept (no gain on 4 x 30 within 30-40 s): per-device energetic bounds
(objective >= earliest start + load + shortest tail), the two DLA cores as a capacity-2
cumulative, domains cut to a known upper bound, a per-job configuration view (one Boolean
per cut pattern: its LP equals the group view's bound, 13.86 ms, and presolve takes 10 s),
a devices-first decision strategy and feasibility search below the incumbent. What 4 x 30
lacks is combinatorial: its loads-and-chains relaxation is 13.916 ms (a pattern model, one
Boolean per job segmentation, solves it in 16 s) but the assignment it picks sequences to
16.02 ms, so sequencing decides the rest; 900 s of this model end at 13.9942 ms with a
proven 13.9171 ms.

Determinism: parallel CP-SAT workers race, so on ties two runs could return different
optimal schedules. When a run proves optimality with several workers, a second phase
re-finds a schedule with the objective fixed to the optimum using one worker, a fixed
seed, no hint and a *deterministic* time limit: the same problem and options give the
same schedule. The extracted device order is sorted by start, ties by job and slot. A run
stopped by the wall-clock limit (status feasible) is not reproducible by nature.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from solvers.backend import (
    FINE_UNITS_PER_MS,
    NS_PER_MS,
    BackendAnswer,
    IntegerJob,
    SolveOptions,
    contention_free,
    contention_ignored,
    integer_view,
    run_interruptibly,
)
from solvers.bounds import fluid_load
from solvers.diagnose import diagnose_infeasible
from solvers.errors import ProblemError
from solvers.problem import Device, Objective, Problem
from solvers.schedule import Schedule, Segment, SegmentRef, SolveStatus
from solvers.simulator import simulate

THROUGHPUT_BISECT = True
"""Branch on the period by halving its domain first: the default objective search stalls
on the modulo model (a 5-group pair reached the optimum only with this on)."""
LINEARIZATION = 1
"""CP-SAT linearization level for latency (2 was measured: no gain on 2 x 60 / 2 x 250)."""
LINEARIZATION_THROUGHPUT = 2
"""Throughput: with level 1 the search lowered the period 1 ns per solution (idle time in
the modulo offsets is removed one unit at a time), 2 x 30 with one worker ended at 7.72 ms
after 60 s; level 2 puts the precedence/no-overlap LP in the loop: optimal 7.4066 ms in
2.4 s."""
MANY_JOBS_WORKERS = ("lb_tree_search", "no_lp")
"""The two full workers for latency without contention from GROUP_VIEW_MIN_JOBS jobs on
with 2 workers (other worker counts keep CP-SAT's portfolio plus ``lb_tree_search``)."""
FEW_JOBS_WORKERS = ("default_lp", "max_lp")
"""The two full workers for 1-2 jobs without contention with 2 workers. Measured against
CP-SAT's own 2-worker choice (seconds to proven optimality, build and canonical phase
included, throughput with LINEARIZATION_THROUGHPUT): throughput 2 x 30 0.8 vs 16-40,
2 x 120 4.8 vs 6.6-12.3, 2 x 250 11.2 vs 11.3-13.1; latency 2 x 120 4.0 vs 5.3, 2 x 250
10.2 vs 12.9, 2 x 30 0.48 vs 0.40-0.50. On 3-4 jobs it was worse (kept out), except with
contention: there the portfolio plus lb_tree_search stalled a few 100 ps units above the
rounding gap limit on tiny 3-job problems (4 found by the oracle property test: 16 of 20
runs hit a 15 s limit; with this pair 20 of 20 proven in < 1 s). On 2-job contention
problems the portfolio stays (the pair was slower: 2 x 60 24 s vs 15 s, measured under the
earlier model-mean contention term; with the segment-level term neither proves 2 x 60 within
40 s and on 2 x 30 they are within noise, 21 vs 24 s)."""
SINGLE_WORKER = "one worker (--workers 1)"
"""With one worker CP-SAT runs a single search, and two set-ups were pathological (measured
with 20 s limits on the 2-core box, deterministic time in parentheses): throughput 2 x 30
with the greedy hint ended feasible at 7.43 ms (0.75 dt) where the same worker without the
hint proves 7.4066 ms optimal in 5 s (0.27 dt): the single search follows the hint and its
bound never leaves the load bound; other single-worker branchings (fixed, pseudo-cost, LP,
portfolio) or interleaving the FEW_JOBS_WORKERS pair stalled the same way. So one worker
gets no throughput hint (it is still returned if nothing is found). Latency 3 x 10 without
contention ended feasible with a 7 % gap (both with and without hint) where two workers
(MANY_JOBS_WORKERS) prove it in 3.5 s: one worker now interleaves that same pair in its
thread (``interleave_search``): optimal in 3.6 s (0.09 dt)."""
LINEARIZATION_MANY_JOBS = 2
"""Linearization level for latency without contention from GROUP_VIEW_MIN_JOBS jobs on:
measured on 4 x 30 (2 workers, 30 s), level 2 lifts the proven bound from 13.82 to 13.865 ms
and finds a better incumbent (14.0073-14.0104 vs 14.1568 ms) than level 1 in 40 s."""
GROUP_VIEW_MIN_JOBS = 3
"""Add the redundant group-level LP view from this many jobs on: measured, it lifts the
root bound of 4 x 30 from 8.6 to 13.3 ms (optimum <= 14.0) but slows 2-job cases (2 x 120:
5 s -> 38 s), where the search closes the gap faster without it."""
KINDS = ("gpu", "dla")
PAIRS = (("gpu", "dla"), ("dla", "gpu"), ("dla", "dla"))
CONTENTION_SCALE = 10_000_000
"""Loss rates are scaled to integers by this factor (0.1 ppm) in the contention equation."""
VALUE_LIMIT = 2**50
"""Largest horizon x integer weight in model units (CP-SAT refuses models whose variable
domains or linear expressions may overflow int64: 1e12 ms in ns did); beyond it the
model counts in 10x coarser units (`CpSatModel.__init__`)."""
HORIZON_LIMIT = 2**31 - 1
"""Largest horizon (time-variable domain) in model units. Measured with OR-Tools 9.15: once
the horizon passes 2^31 units, CP-SAT's presolve returns wrong optima as OPTIMAL (found by
the metamorphic test: a 2-job latency problem with one 1939.227 ms group, horizon 2.9e9
ns, answered 2908.86 ms where 1939.267 ms is optimal; the same model without presolve, or
at horizons 2.04e9 / 2.12e9, is right, at 2.15e9 wrong; throughput too). Beyond it the
model counts in 10x coarser units."""
SPAN_LIMIT = 8_000
"""Most (first, cut) spans a middle slot encodes for its segment-level loss (one Boolean
each; `CpSatModel._loss_reads`). Measured presolve (probing off): 2 x 60 groups (1,891
spans per middle slot) ~2 s, 2 x 120 (7,381) 8.4 s, 2 x 250 (31,626) 22 s after a 5.7 s
build. Beyond it the slot's loss is only bounded by its job's least and largest: the model
is then a relaxation (its optimum a valid lower bound, its schedule judged by the
simulator, status feasible)."""
PROBING_WITH_SPAN_TABLES = 0
"""CP-SAT probing level when a slot reads its contention loss from a (first, cut) span table
(`CpSatModel._loss_reads`). Measured presolve on 2 x 60 groups with contention: 8.5 s at
the default level (three probing rounds of ~2 s over the span Booleans), 10.4 s at 1,
1.8 s at 0; without the span tables (contention at the model mean) it was 1.1 s."""
CONTENTION_PRODUCT_LIMIT = 2**60
"""Largest horizon x CONTENTION_SCALE x co-runners product allowed in 100 ps units (CP-SAT
linear expressions must stay below 2^62); beyond it the model falls back to ns units."""


@dataclass
class _Slot:
    """Variables of one slot (segment position) of one job."""

    job: int
    k: int
    name: str
    used: cp_model.IntVar
    cut: cp_model.IntVar           # exclusive end group of this slot
    on: dict[Device, cp_model.IntVar]
    is_kind: dict[str, Any]        # 'gpu' -> bool var (or constant 0), 'dla' -> bool var
    base: cp_model.IntVar
    duration: cp_model.IntVar      # base plus contention (the base itself without it)
    start: cp_model.IntVar
    end: cp_model.IntVar
    ready: Any = 0                 # linear expression
    trans_out: Any = 0             # delay after this slot (0 if the next slot is unused)


@dataclass(frozen=True)
class _Read:
    """A contention loss read that varies with the slot's group span (`_loss_reads`)."""

    var: cp_model.IntVar
    low: int
    high: int


class CpSatModel:
    """Builds the CP-SAT model of one problem; one method per constraint family."""

    def __init__(self, problem: Problem, options: SolveOptions) -> None:
        self.problem = problem
        self.options = options
        self.m = cp_model.CpModel()
        self.devices = problem.devices
        self.dlas = tuple(d for d in self.devices if d.kind == "dla")
        self.throughput = problem.objective is Objective.THROUGHPUT
        self.contention = (problem.contention.enabled and not self.throughput
                           and len(self.devices) > 1)
        # with contention every duration carries a rounding slack of a few units that
        # accumulates along chains: 100 ps units keep it near 1e-6 relative (measured: 10 ps
        # units stall CP-SAT's bound on some 3-job cases, ns units leave ~1e-5)
        self.units_per_ms = NS_PER_MS
        self.jobs: tuple[IntegerJob, ...] = integer_view(problem, NS_PER_MS)
        # huge times (or weights): coarser units keep every value and product in int64
        # (docs/model.md section 6); exact when the times are multiples of the unit
        weight_max = 1
        if not self.throughput:
            weight_max = max(_integer_weights([problem.weight(j.index)
                                               for j in problem.jobs])[1])
        while (self._horizon() > HORIZON_LIMIT
               or self._horizon() * weight_max > VALUE_LIMIT):
            if self.units_per_ms == 1:
                raise ProblemError(
                    f"the problem's serial horizon ({self._horizon()} ms, weight "
                    f"{weight_max}) is beyond CP-SAT's range even in ms units; use "
                    "solver='sat' or 'ilp'")
            self.units_per_ms //= 10
            self.jobs = integer_view(problem, self.units_per_ms)
        # ns rounding is the convention (docs/model.md section 6: sub-ns digits are noise);
        # a coarser unit that does not hold the times exactly is declared
        coarse = self.units_per_ms < NS_PER_MS
        self.rounding_units = 0.0 if not coarse or _exact_in(problem, self.units_per_ms) \
            else 0.5 * (
            sum(j.n_groups for j in self.jobs)
            + len(self.jobs) * (problem.max_transitions + 1))
        if self.contention and self.units_per_ms == NS_PER_MS:
            slots = (problem.max_transitions + 1) * len(problem.jobs)  # co-runners, at most
            fine = self._horizon() * (FINE_UNITS_PER_MS // NS_PER_MS)
            if (fine * CONTENTION_SCALE * slots < CONTENTION_PRODUCT_LIMIT
                    and fine <= HORIZON_LIMIT):
                self.units_per_ms = FINE_UNITS_PER_MS
                self.jobs = integer_view(problem, FINE_UNITS_PER_MS)
        self.n_slots = problem.max_transitions + 1
        if len(self.devices) == 1:
            self.n_slots = 1
        self.horizon = self._horizon()
        self.slots: list[list[_Slot]] = []
        self.objective_var: cp_model.IntVar | None = None
        self.weight_scale = 1
        self.notes: list[str] = []
        self.contention_tol_units = 0
        self.parts: dict[tuple[int, int, Device], Any] = {}
        self.job_overlaps: dict[int, list[Any]] = {}
        self.blocked: dict[tuple[int, str], list[int]] = {}
        self.span_tables = False   # some slot reads its loss from a (first, cut) table
        self.relaxed_contention = False   # some slot's loss is only bounded (SPAN_LIMIT)

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        self._variables()
        self._cuts_and_devices()
        self._eligibility()
        self._base_times()
        self._transitions()
        self._precedence()
        self._exclusivity()
        self._loadables()
        if self.contention:
            self._contention()
            self._semi_active()
        self._symmetry()
        self._objective()

    def _horizon(self) -> int:
        total = 0
        for job in self.jobs:
            worst = 0
            for g in range(job.n_groups):
                worst += max(job.prefix[k][g + 1] - job.prefix[k][g] for k in KINDS)
            worst_tr = max((v for arr in job.transition.values() for v in arr if v is not None),
                           default=0)
            total += worst + self.problem.max_transitions * worst_tr
        if self.problem.contention.enabled and len(self.devices) > 1:
            slow = 1.0 - self.problem.contention.k_max * (len(self.devices) - 1)
            total = math.ceil(total / slow) + 1
        return max(total, 1)

    def _variables(self) -> None:
        """Per job and slot: used flag, cut, device choice, base, start and end."""
        m, h = self.m, self.horizon
        for j, job in enumerate(self.problem.jobs):
            g = self.jobs[j].n_groups
            row: list[_Slot] = []
            for k in range(self.n_slots):
                name = f"{job.name}_slot{k}"
                used = m.new_constant(1) if k == 0 else m.new_bool_var(f"{name}_used")
                last = k == self.n_slots - 1
                cut = m.new_constant(g) if last else m.new_int_var(0 if k else 1, g,
                                                                    f"{name}_cut")
                on = {d: m.new_bool_var(f"{name}_on_{d.value}") for d in self.devices}
                is_kind: dict[str, Any] = {}
                is_kind["gpu"] = on.get(Device.GPU, 0)
                if self.dlas:
                    dla = m.new_bool_var(f"{name}_on_dla")
                    m.add(dla == sum(on[d] for d in self.dlas))
                    is_kind["dla"] = dla
                else:
                    is_kind["dla"] = 0
                base = m.new_int_var(0, h, f"{name}_base")
                duration = m.new_int_var(0, h, f"{name}_duration") if self.contention else base
                start = m.new_int_var(0, h, f"{name}_start")
                end = m.new_int_var(0, h, f"{name}_end")
                row.append(_Slot(j, k, name, used, cut, on, is_kind, base, duration, start, end))
            self.slots.append(row)

    def _cuts_and_devices(self) -> None:
        """Used slots form a prefix and are non-empty; unused ones are empty; one device per
        used slot, consecutive used slots on different devices."""
        m = self.m
        for row in self.slots:
            for k, s in enumerate(row):
                m.add(sum(s.on.values()) == s.used)
                prev_cut = row[k - 1].cut if k else 0
                if k:
                    m.add_implication(s.used, row[k - 1].used)
                    m.add(s.cut >= prev_cut + 1).only_enforce_if(s.used)
                    m.add(s.cut == prev_cut).only_enforce_if(s.used.Not())
                    for d in self.devices:
                        m.add_bool_or([row[k - 1].on[d].Not(), s.on[d].Not()])

    def _eligibility(self) -> None:
        """A slot on device d lies inside one maximal run of d-allowed groups."""
        m = self.m
        for j, row in enumerate(self.slots):
            job = self.jobs[j]
            g_count = job.n_groups
            for d in self.devices:
                reach = []
                for a in range(g_count + 1):
                    if a == g_count or d not in job.allowed[a]:
                        reach.append(a)
                        continue
                    b = a
                    while b < g_count and d in job.allowed[b]:
                        b += 1
                    reach.append(b)
                for k, s in enumerate(row):
                    if k == 0:
                        m.add(s.cut <= reach[0]).only_enforce_if(s.on[d])
                        continue
                    r = m.new_int_var(0, g_count, f"{s.name}_reach_{d.value}")
                    m.add_element(row[k - 1].cut, reach, r)
                    m.add(s.cut <= r).only_enforce_if(s.on[d])

    def _base_times(self) -> None:
        """base = prefix[kind][cut] - prefix[kind][previous cut] for the slot's kind."""
        m = self.m
        for j, row in enumerate(self.slots):
            job = self.jobs[j]
            reads: list[dict[str, Any]] = []
            for s in row:
                read = {}
                for kind in KINDS:
                    arr = list(job.prefix[kind])
                    if s.k == self.n_slots - 1:
                        read[kind] = arr[-1]
                    else:
                        v = m.new_int_var(0, arr[-1], f"{s.name}_prefix_{kind}")
                        m.add_element(s.cut, arr, v)
                        read[kind] = v
                reads.append(read)
            for k, s in enumerate(row):
                for kind in KINDS:
                    flag = s.is_kind[kind]
                    if isinstance(flag, int):
                        continue
                    before = reads[k - 1][kind] if k else 0
                    m.add(s.base == reads[k][kind] - before).only_enforce_if(flag)
                if k:
                    m.add(s.base == 0).only_enforce_if(s.used.Not())

    def _transitions(self) -> None:
        """Delay after slot k when slot k+1 is used: element on the cut, per direction."""
        m = self.m
        for j, row in enumerate(self.slots):
            job = self.jobs[j]
            g_count = job.n_groups
            for k in range(len(row) - 1):
                s, nxt = row[k], row[k + 1]
                delay = m.new_int_var(0, self.horizon, f"{s.name}_transition")
                active = []
                for src, dst in PAIRS:
                    a, b = s.is_kind[src], nxt.is_kind[dst]
                    if isinstance(a, int) or isinstance(b, int):
                        continue
                    pair = m.new_bool_var(f"{s.name}_{src}_to_{dst}")
                    m.add_bool_and([a, b]).only_enforce_if(pair)
                    m.add_bool_or([a.Not(), b.Not(), pair])
                    active.append(pair)
                    # arr[c] = delay after group c-1; -1 marks a cut that is impossible.
                    values = job.transition[(src, dst)]
                    arr = [-1] + [(-1 if v is None else v) for v in values[:g_count - 1]] + [-1]
                    read = m.new_int_var(-1, max(max(arr), 0), f"{s.name}_{src}_to_{dst}_cost")
                    m.add_element(s.cut, arr, read)
                    m.add(read >= 0).only_enforce_if(pair)
                    m.add(delay == read).only_enforce_if(pair)
                if active:
                    m.add(delay == 0).only_enforce_if(nxt.used.Not())
                else:
                    m.add(delay == 0)
                s.trans_out = delay

    def _precedence(self) -> None:
        """A slot is ready at the previous slot's end plus the transition; unused slots are
        empty and sit at their ready time so that the last slot's end is the job's end."""
        m = self.m
        for row in self.slots:
            for k, s in enumerate(row):
                m.add(s.end == s.start + s.duration)
                if k == 0:
                    s.ready = 0
                    if not self.throughput:
                        m.add(s.start >= 0)
                    continue
                prev = row[k - 1]
                s.ready = prev.end + prev.trans_out
                m.add(s.start >= s.ready)
                m.add(s.start == s.ready).only_enforce_if(s.used.Not())
                if self.contention:
                    m.add(s.duration == 0).only_enforce_if(s.used.Not())

    def _exclusivity(self) -> None:
        """One optional interval per (slot, device); NoOverlap per device."""
        m = self.m
        self.intervals: dict[Device, list[Any]] = {d: [] for d in self.devices}
        for row in self.slots:
            for s in row:
                for d in self.devices:
                    iv = m.new_optional_interval_var(s.start, s.duration, s.end, s.on[d],
                                                     f"{s.name}_on_{d.value}_interval")
                    self.intervals[d].append(iv)
        for d in self.devices:
            if len(self.intervals[d]) > 1:
                m.add_no_overlap(self.intervals[d])

    def _loadables(self) -> None:
        """Every DLA slot is one loadable; at most the per-core limit on each core."""
        limit = self.problem.dla_loadable_limit
        for d in self.dlas:
            self.m.add(sum(s.on[d] for row in self.slots for s in row) <= limit)

    def _contention(self) -> None:
        """end - start = base + sum_j k(i, j) * overlap(i, j) (within a few ns of rounding).

        ``k(i, j)`` is the loss curve for i's device kind at the demand of j's own groups on
        j's device kind (`Problem.loss_rate`, segment level): a table over j's group span
        ``(previous cut, cut)`` read by `_loss_reads`. Where that table is one value on
        every span j can take, ``k * overlap`` is linear in the overlap split by kind pair;
        otherwise one product ``L(i, j) * overlap`` per ordered pair, ``L`` the read for the
        pair's kinds, bracketed by the table's least and largest value per kind pair (a
        redundant linear envelope for the LP, which does not see products)."""
        m = self.m
        flat = [s for row in self.slots for s in row]
        extra: dict[int, list[Any]] = {id(s): [] for s in flat}
        n_others = {id(s): 0 for s in flat}
        kinds = [kind for kind in KINDS if any(d.kind == kind for d in self.devices)]
        reads = {id(s): self._loss_reads(s, kinds) for s in flat}
        for a_i, a in enumerate(flat):
            for b in flat[a_i + 1:]:
                if a.job == b.job:
                    continue
                lo = m.new_int_var(0, self.horizon, f"{a.name}_{b.name}_min_end")
                hi = m.new_int_var(0, self.horizon, f"{a.name}_{b.name}_max_start")
                m.add_min_equality(lo, [a.end, b.end])
                m.add_max_equality(hi, [a.start, b.start])
                overlap = m.new_int_var(0, self.horizon, f"{a.name}_{b.name}_overlap")
                m.add_max_equality(overlap, [0, lo - hi])
                parts = []
                # per direction (victim, aggressor): (both flag, part, aggressor's read)
                charged: dict[int, list[tuple[Any, Any, Any]]] = {id(a): [], id(b): []}
                for ka in kinds:
                    for kb in kinds:
                        fa, fb = a.is_kind[ka], b.is_kind[kb]
                        if isinstance(fa, int) or isinstance(fb, int):
                            continue
                        if ka == kb == "gpu":
                            continue  # the same device: NoOverlap makes the overlap 0
                        both = m.new_bool_var(f"{a.name}_{ka}_{b.name}_{kb}")
                        m.add_bool_and([fa, fb]).only_enforce_if(both)
                        m.add_bool_or([fa.Not(), fb.Not(), both])
                        part = m.new_int_var(0, self.horizon,
                                             f"{a.name}_{ka}_{b.name}_{kb}_overlap")
                        m.add(part == 0).only_enforce_if(both.Not())
                        parts.append(part)
                        charged[id(a)].append((both, part, reads[id(b)][(ka, kb)]))
                        charged[id(b)].append((both, part, reads[id(a)][(kb, ka)]))
                m.add(overlap == sum(parts))
                for victim, aggressor in ((a, b), (b, a)):
                    extra[id(victim)].extend(
                        self._charge(victim, aggressor, charged[id(victim)]))
                self.job_overlaps.setdefault(a.job, []).append(overlap)
                self.job_overlaps.setdefault(b.job, []).append(overlap)
                n_others[id(a)] += 1
                n_others[id(b)] += 1
        tol_max = 0
        for s in flat:
            tol = 1 + n_others[id(s)]
            tol_max = max(tol_max, tol)
            scaled = CONTENTION_SCALE * (s.duration - s.base) - sum(extra[id(s)])
            m.add(scaled >= -tol * CONTENTION_SCALE)
            m.add(scaled <= tol * CONTENTION_SCALE)
            m.add(s.duration >= s.base)
        self.contention_tol_units = tol_max

    def _charge(self, victim: _Slot, aggressor: _Slot,
                charged: list[tuple[Any, Any, Any]]) -> list[Any]:
        """Terms (loss x CONTENTION_SCALE x overlap) charged to ``victim`` for overlapping
        ``aggressor``: ``charged`` lists (both kinds chosen, that kind pair's overlap part,
        the aggressor's read for it). Constant reads are linear in their part; the others
        share one product with the sum of their parts (one kind pair is chosen at most)."""
        m = self.m
        terms: list[Any] = []
        varying = []
        for both, part, read in charged:
            if not isinstance(read, _Read):
                if read > 0:
                    terms.append(read * part)
            else:
                varying.append((both, part, read))
        if not varying:
            return terms
        name = f"{victim.name}_by_{aggressor.name}"
        lo = min(read.low for _, _, read in varying)
        hi = max(read.high for _, _, read in varying)
        rate = m.new_int_var(lo, hi, f"{name}_loss")
        for both, _, read in varying:
            m.add(rate == read.var).only_enforce_if(both)
        if len(varying) == 1:
            overlap = varying[0][1]
        else:
            overlap = m.new_int_var(0, self.horizon, f"{name}_varying_overlap")
            m.add(overlap == sum(part for _, part, _ in varying))
        product = m.new_int_var(0, hi * self.horizon, f"{name}_loss_x_overlap")
        m.add_multiplication_equality(product, [rate, overlap])
        # redundant envelope for the LP: the read lies within its table's range
        m.add(product >= sum(read.low * part for _, part, read in varying))
        m.add(product <= sum(read.high * part for _, part, read in varying))
        terms.append(product)
        return terms

    def _loss_reads(self, s: _Slot, kinds: list[str]) -> dict[tuple[str, str], Any]:
        """Per (victim kind, kind of ``s``): round(loss x CONTENTION_SCALE) that ``s``
        inflicts on a victim of that kind, at the demand of its own groups
        ``[previous cut, cut)`` (`Problem.segment_bandwidth`). An int where that value is
        the same on every span ``s`` may take on its kind; else a `_Read` whose variable
        is fixed by the span (an element on the free end of the first and last slot, span
        Booleans for a middle slot). Spans ``s`` cannot take on a kind, and empty spans
        (unused slots, no overlap), read an arbitrary value of the table. A middle slot with
        more than `SPAN_LIMIT` spans only bounds its reads (`relaxed_contention`)."""
        m = self.m
        row = self.slots[s.job]
        g_count = self.jobs[s.job].n_groups
        firsts = [0] if s.k == 0 else range(g_count + 1)
        cuts = [g_count] if s.k == self.n_slots - 1 else range(g_count + 1)
        middle = 0 < s.k < self.n_slots - 1
        if middle and (g_count + 1) * (g_count + 2) // 2 > SPAN_LIMIT:
            # too many spans to encode: the reads are only bounded (a relaxation: every
            # schedule keeps its true value, so the model's optimum is a lower bound)
            out: dict[tuple[str, str], Any] = {}
            for kv, kb in self._kind_pairs(kinds):
                low, high = self._loss_range(s.job, kv, kb)
                out[(kv, kb)] = low if low == high else _Read(
                    m.new_int_var(low, high, f"{s.name}_loss_{kv}_by_{kb}"), low, high)
            if any(isinstance(r, _Read) for r in out.values()):
                self.relaxed_contention = True
            return out
        spans = [(f, c) for f in firsts for c in cuts if f <= c]
        out = {}
        columns: list[tuple[Any, dict[tuple[int, int], int]]] = []
        for kv, kb in self._kind_pairs(kinds):
            table = {span: self._loss_value(s.job, kv, kb, *span) for span in spans}
            possible = {v for v in table.values() if v is not None}
            if not possible:
                out[(kv, kb)] = 0
                continue
            if len(possible) == 1:
                out[(kv, kb)] = possible.pop()
                continue
            low, high = min(possible), max(possible)
            var = m.new_int_var(low, high, f"{s.name}_loss_{kv}_by_{kb}")
            out[(kv, kb)] = _Read(var, low, high)
            columns.append((var, {span: low if v is None else v for span, v in table.items()}))
        if not columns:
            return out
        if not middle:
            # one free end: an element on it (its other end is 0 or the group count)
            key = s.cut if s.k == 0 else row[s.k - 1].cut
            at = 1 if s.k == 0 else 0   # the free end's place in (first, cut)
            for var, values in columns:
                arr = [min(values.values())] * (g_count + 1)
                for span, v in values.items():
                    arr[span[at]] = v
                m.add_element(key, arr, var)
            return out
        # both ends free: one Boolean per span, channelled to both cuts' values, each fixing
        # the reads. Measured on 2 x 60 groups: CP-SAT's table constraint (it encodes every
        # value of every read), an element on a flattened index, or each read as one linear
        # sum over the spans all kept its presolve busy for 30-60 s; this form takes ~2 s
        # with presolve probing off (`PROBING_WITH_SPAN_TABLES`).
        first, cut = row[s.k - 1].cut, s.cut
        pick = {span: m.new_bool_var(f"{s.name}_span_{span[0]}_{span[1]}") for span in spans}
        m.add_exactly_one(pick.values())
        for end, at in ((first, 0), (cut, 1)):
            for v in range(g_count + 1):
                lits = [lit for span, lit in pick.items() if span[at] == v]
                is_v = m.new_bool_var(f"{s.name}_{'first' if at == 0 else 'cut'}_is_{v}")
                m.add(end == v).only_enforce_if(is_v)
                m.add(end != v).only_enforce_if(is_v.Not())
                m.add(sum(lits) == is_v)
        for var, values in columns:
            for span, lit in pick.items():
                m.add(var == values[span]).only_enforce_if(lit)
        self.span_tables = True
        return out

    @staticmethod
    def _kind_pairs(kinds: list[str]) -> list[tuple[str, str]]:
        """(victim kind, aggressor kind) pairs that can overlap (two GPU slots cannot)."""
        return [(kv, kb) for kb in kinds for kv in kinds if not kv == kb == "gpu"]

    def _loss_value(self, j: int, kv: str, kb: str, first: int, cut: int) -> int | None:
        """round(loss x CONTENTION_SCALE) inflicted on a ``kv`` victim by groups
        ``[first, cut)`` of job ``j`` on kind ``kb``; None for an empty span or one with a
        group that may not run on ``kb``."""
        if first >= cut or self._blocked(j, kb)[cut] > self._blocked(j, kb)[first]:
            return None
        p = self.problem
        loss = p.contention.loss_rate(kv, p.segment_bandwidth(j, first, cut - 1, kb))
        return round(loss * CONTENTION_SCALE)

    def _blocked(self, j: int, kb: str) -> list[int]:
        """Prefix counts of job ``j``'s groups that may not run on any ``kb`` device."""
        key = (j, kb)
        if key not in self.blocked:
            acc = [0]
            for allowed in self.jobs[j].allowed:
                acc.append(acc[-1] + (not any(d.kind == kb for d in allowed)))
            self.blocked[key] = acc
        return self.blocked[key]

    def _loss_range(self, j: int, kv: str, kb: str) -> tuple[int, int]:
        """Least and largest `_loss_value` over every span of job ``j`` (O(groups)): a
        span's demand is a time-weighted mean of its groups' demands (0 for a span with no
        timed demand), so it lies between the least and the largest; the loss curve is
        non-decreasing (else the whole range 0..k_max)."""
        p = self.problem
        curve = p.contention.gpu if kv == "gpu" else p.contention.dla
        if not curve.is_non_decreasing:
            return 0, round(p.contention.k_max * CONTENTION_SCALE)
        demands, zero = [], False
        for row, allowed in zip(p.table(j).rows, self.jobs[j].allowed, strict=True):
            if not any(d.kind == kb for d in allowed):
                continue
            t = row.gpu_ms if kb == "gpu" else row.dla_ms
            bw = row.gpu_bw_gbps if kb == "gpu" else row.dla_bw_gbps
            if t is None or t <= 0 or bw is None:
                zero = True
            else:
                demands.append(float(bw))
        low_bw = 0.0 if zero or not demands else min(demands)
        high_bw = max(demands, default=0.0)
        return tuple(round(p.contention.loss_rate(kv, bw) * CONTENTION_SCALE)
                     for bw in (low_bw, high_bw))  # type: ignore[return-value]

    @property
    def rounding_bound_units(self) -> int:
        """How far (in units) the model's makespan may sit from the simulator's for the same
        order: each duration may be off by ``contention_tol_units``, deviations add up along
        at most every slot of every job, and contention feeds at most k < 1/2 of a shift
        back (a geometric factor < 2)."""
        return 2 * self.contention_tol_units * self.n_slots * len(self.jobs)

    def _semi_active(self) -> None:
        """Each slot starts at its ready time or exactly at the end of another slot on the
        same device; with NoOverlap that is max(ready, end of its device predecessor)."""
        m = self.m
        flat = [s for row in self.slots for s in row]
        for s in flat:
            at_ready = m.new_bool_var(f"{s.name}_starts_when_ready")
            m.add(s.start == s.ready).only_enforce_if(at_ready)
            choices = [at_ready]
            for o in flat:
                if o is s:
                    continue
                follows = m.new_bool_var(f"{s.name}_follows_{o.name}")
                m.add(s.start == o.end).only_enforce_if(follows)
                m.add_implication(follows, s.used)
                m.add_implication(follows, o.used)
                for d in self.devices:
                    m.add(s.on[d] == o.on[d]).only_enforce_if(follows)
                choices.append(follows)
            m.add_bool_or(choices)

    def _symmetry(self) -> None:
        """Break provably safe symmetries (module docstring)."""
        m, p = self.m, self.problem
        if len(self.dlas) == 2:
            d0, d1 = self.dlas
            symmetric = all((d0 in allowed) == (d1 in allowed)
                            for job in self.jobs for allowed in job.allowed)
            if symmetric:
                seen: list[Any] = []
                for row in self.slots:
                    for s in row:
                        m.add_bool_or([*seen, s.on[d1].Not()])
                        seen.append(s.on[d0])
                self.notes.append("DLA0/DLA1 symmetry broken (first DLA slot on DLA0)")
        if self.throughput:
            firsts = [row[0].start for row in self.slots]
            m.add_min_equality(0, firsts)
            by_model: dict[int, list[int]] = {}
            for job in p.jobs:
                by_model.setdefault(job.model_index, []).append(job.index)
            for idx in by_model.values():
                for a, b in itertools.pairwise(idx):
                    m.add(self.slots[a][0].start <= self.slots[b][0].start)

    def _device_loads(self) -> dict[Device, Any]:
        """Busy time (sum of base times) of every device, for load bounds on the objective."""
        m = self.m
        loads: dict[Device, Any] = {}
        for d in self.devices:
            parts = []
            for row in self.slots:
                for s in row:
                    part = m.new_int_var(0, self.horizon, f"{s.name}_load_{d.value}")
                    m.add(part == s.base).only_enforce_if(s.on[d])
                    m.add(part == 0).only_enforce_if(s.on[d].Not())
                    parts.append(part)
                    self.parts[(s.job, s.k, d)] = part
            loads[d] = sum(parts)
        if len(self.jobs) >= GROUP_VIEW_MIN_JOBS:
            self._group_view()
            self.notes.append("group-level LP view on")
        return loads

    def _group_view(self) -> None:
        """Redundant group-level view for the LP: ``in_slot[k][g]`` (group g lies in slot k)
        from the cuts' order literals, and per (slot, device) ``part == sum_g cost_g *
        (g in slot and slot on device)``. Exact (implied by the slot model); it gives the LP
        the balance between a job's chain and the devices' loads."""
        m = self.m
        for j, row in enumerate(self.slots):
            job = self.jobs[j]
            g_count = job.n_groups
            above: list[list[Any]] = []   # above[k][g] = (cut_k > g)
            for k, s in enumerate(row):
                if k == len(row) - 1:
                    above.append([1] * g_count)
                    continue
                lits = []
                for g in range(g_count):
                    b = m.new_bool_var(f"{s.name}_covers_past_{g}")
                    m.add(s.cut >= g + 1).only_enforce_if(b)
                    m.add(s.cut <= g).only_enforce_if(b.Not())
                    lits.append(b)
                above.append(lits)
            placed: list[list[Any]] = [[] for _ in range(g_count)]
            for k, s in enumerate(row):
                for d in self.devices:
                    terms = []
                    for g in range(g_count):
                        if d not in job.allowed[g]:
                            continue
                        z = m.new_bool_var(f"{s.name}_group{g}_on_{d.value}")
                        placed[g].append(z)
                        cur = above[k][g]
                        prev = above[k - 1][g] if k else 0
                        m.add_implication(z, s.on[d])
                        if not isinstance(cur, int):
                            m.add_implication(z, cur)
                        clause = [s.on[d].Not(), z]
                        if not isinstance(cur, int):
                            clause.append(cur.Not())
                        if not isinstance(prev, int):
                            m.add_implication(z, prev.Not())
                            clause.append(prev)
                        m.add_bool_or(clause)
                        cost = job.prefix[d.kind][g + 1] - job.prefix[d.kind][g]
                        terms.append(cost * z)
                    m.add(self.parts[(j, k, d)] == sum(terms))
                m.add(s.base == sum(self.parts[(j, k, d)] for d in self.devices))
            for zs in placed:
                m.add_exactly_one(zs)  # every group runs in exactly one slot, on one device

    def _objective(self) -> None:
        m = self.m
        loads = self._device_loads()
        if self.throughput:
            period = m.new_int_var(0, self.horizon, "round_period")
            for d in self.devices:
                first = m.new_int_var(0, self.horizon, f"{d.value}_window_start")
                last = m.new_int_var(0, self.horizon, f"{d.value}_window_end")
                for row in self.slots:
                    for s in row:
                        m.add(first <= s.start).only_enforce_if(s.on[d])
                        m.add(last >= s.end).only_enforce_if(s.on[d])
                m.add(period >= last - first)
                m.add(period >= loads[d])
            # busiest device: every job must put each group somewhere
            m.add(period >= _min_total_work(self.jobs) // len(self.devices))
            m.add(period >= self._fluid_units())
            self.objective_var = period
            m.minimize(period)
            if THROUGHPUT_BISECT:
                m.add_decision_strategy([period], cp_model.CHOOSE_FIRST,
                                        cp_model.SELECT_LOWER_HALF)
            return
        weights = [self.problem.weight(j) for j in range(len(self.jobs))]
        scale, ints = _integer_weights(weights)
        self.weight_scale = scale
        bound = max(w * _fastest_ns(job) for w, job in zip(ints, self.jobs, strict=True))
        z = m.new_int_var(bound, max(bound, max(ints) * self.horizon), "weighted_makespan")
        for j, row in enumerate(self.slots):
            finish = row[-1].end
            m.add(z >= ints[j] * finish)
            deadline = self.problem.deadline(j)
            if deadline is not None:
                limit = math.floor(deadline * self.units_per_ms + 1e-6)
                if limit >= self.horizon:
                    continue   # never binding (and a huge deadline would overflow int64)
                m.add(finish <= limit)
                overlaps = self.job_overlaps.get(j, [])
                if overlaps:
                    # k * overlap is rounded to ns: a job that overlaps others may end a few
                    # ns later in the simulator, so keep that margin when it does overlap
                    overlapped = m.new_bool_var(f"{self.problem.jobs[j].name}_overlapped")
                    m.add(sum(overlaps) == 0).only_enforce_if(overlapped.Not())
                    margin = self.contention_tol_units * self.n_slots
                    m.add(finish <= limit - margin).only_enforce_if(overlapped)
        if all(w == ints[0] for w in ints):
            for d in self.devices:
                m.add(z >= ints[0] * loads[d])
            m.add(z >= ints[0] * (_min_total_work(self.jobs) + len(self.devices) - 1)
                  // len(self.devices))
        m.add(z >= min(ints) * self._fluid_units())
        self.objective_var = z
        m.minimize(z)

    def _fluid_units(self) -> int:
        """`solvers.bounds.fluid_load` in model units, rounded down (a valid bound on the
        busiest device's load; measured: without it the throughput model's bound sat at
        total work / devices, 4.47 ms on 2 x 30 groups whose optimum is 7.41 ms)."""
        return math.floor(fluid_load(self.problem) * self.units_per_ms * (1 - 1e-12))

    # ------------------------------------------------------------------ hint
    def add_hint(self, schedule: Schedule) -> None:
        """Hint cuts and devices of a known schedule (e.g. the greedy baseline)."""
        m = self.m
        for j, row in enumerate(self.slots):
            segs = schedule.segments[j]
            if len(segs) > len(row):
                return
            for k, s in enumerate(row):
                if k < len(segs):
                    if k:
                        m.add_hint(s.used, 1)
                    if k < len(row) - 1:
                        m.add_hint(s.cut, segs[k].last_group + 1)
                    for d in self.devices:
                        m.add_hint(s.on[d], int(segs[k].device == d))
                else:
                    m.add_hint(s.used, 0)
                    if k < len(row) - 1:
                        m.add_hint(s.cut, self.jobs[j].n_groups)
                    for d in self.devices:
                        m.add_hint(s.on[d], 0)

    # ------------------------------------------------------------------ extraction
    def extract(self, solver: cp_model.CpSolver) -> tuple[Schedule, dict[SegmentRef, int]]:
        segments: list[tuple[Segment, ...]] = []
        starts: dict[SegmentRef, int] = {}
        for j, row in enumerate(self.slots):
            segs: list[Segment] = []
            first = 0
            for k, s in enumerate(row):
                if k and not solver.boolean_value(s.used):
                    break
                cut = solver.value(s.cut)
                dev = next(d for d in self.devices if solver.boolean_value(s.on[d]))
                starts[(j, len(segs))] = solver.value(s.start)
                segs.append(Segment(first, cut - 1, dev))
                first = cut
            segments.append(tuple(segs))
        order = {}
        for d in self.devices:
            refs = [r for r in starts if segments[r[0]][r[1]].device == d]
            order[d] = tuple(sorted(refs, key=lambda r: (starts[r], r)))
        return Schedule(tuple(segments), order), starts


def _exact_in(problem: Problem, units_per_ms: int) -> bool:
    """Every time of ``problem`` is a whole number of units (up to float noise)."""
    for job in problem.jobs:
        for row in problem.table(job.index).rows:
            for v in (row.gpu_ms, row.dla_ms, row.gpu_to_dla_ms, row.dla_to_gpu_ms):
                if v is not None and abs(v * units_per_ms - round(v * units_per_ms)) > \
                        1e-6 + 1e-12 * v * units_per_ms:
                    return False
    return True


def _integer_weights(weights: list[float]) -> tuple[int, list[int]]:
    """Smallest power-of-ten scale making every weight an integer (exact for decimals)."""
    for exp in range(0, 7):
        scale = 10 ** exp
        ints = [round(w * scale) for w in weights]
        if all(abs(i - w * scale) <= 1e-9 * max(1.0, w * scale) for i, w in
               zip(ints, weights, strict=True)):
            return scale, ints
    scale = 10 ** 6
    return scale, [max(1, round(w * scale)) for w in weights]


def _fastest_ns(job: IntegerJob) -> int:
    """Sum over groups of the cheapest allowed kind: a lower bound on the job's time."""
    total = 0
    for g in range(job.n_groups):
        costs = []
        for d in job.allowed[g]:
            kind = d.kind
            costs.append(job.prefix[kind][g + 1] - job.prefix[kind][g])
        total += min(costs)
    return total


def _min_total_work(jobs: tuple[IntegerJob, ...]) -> int:
    return sum(_fastest_ns(job) for job in jobs)


class _Progress(cp_model.CpSolverSolutionCallback):
    """Forwards every improving solution to ``options.progress``."""

    def __init__(self, report: Any, scale: float) -> None:
        super().__init__()
        self.report = report
        self.scale = scale
        self.t0 = time.perf_counter()

    def on_solution_callback(self) -> None:
        self.report(f"cpsat: objective {self.objective_value * self.scale:.6f} ms, "
                    f"bound {self.best_objective_bound * self.scale:.6f} ms, "
                    f"{time.perf_counter() - self.t0:.2f} s")


def solve_cpsat(problem: Problem, options: SolveOptions) -> BackendAnswer:
    """Solve ``problem`` exactly with CP-SAT (see the module docstring)."""
    t0 = time.perf_counter()
    model = CpSatModel(problem, options)
    model.build()
    if options.hint is not None and not (options.workers <= 1 and model.throughput):
        # one worker follows a throughput hint and stalls there (SINGLE_WORKER docstring);
        # the hint still comes back below when the search finds nothing
        model.add_hint(options.hint)
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.random_seed = options.seed
    params.num_workers = max(1, options.workers)
    deadline = None if options.time_limit is None else t0 + options.time_limit
    if deadline is not None:
        # the model build counts against the limit (on 2 x 600 groups it takes seconds)
        params.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
    params.log_search_progress = bool(options.log)
    params.linearization_level = LINEARIZATION_THROUGHPUT if model.throughput else LINEARIZATION
    if (len(model.jobs) >= GROUP_VIEW_MIN_JOBS and not model.throughput
            and not model.contention):
        params.linearization_level = LINEARIZATION_MANY_JOBS
    many_latency = (len(model.jobs) >= GROUP_VIEW_MIN_JOBS and not model.throughput
                    and not model.contention)
    if many_latency and params.num_workers == 2:
        # two full workers: the LP tree search raises the bound, the LP-free search refutes
        # orders by propagation alone (measured: 3 x 30 proven optimal in 3.3 s, vs a 2-4 %
        # gap at 40 s with lb_tree_search + interleaved LNS only)
        params.subsolvers.extend(MANY_JOBS_WORKERS)
        params.num_full_subsolvers = len(MANY_JOBS_WORKERS)
    elif params.num_workers == 2 and (
            (model.contention and len(model.jobs) >= GROUP_VIEW_MIN_JOBS)
            or (not model.contention and len(model.jobs) < GROUP_VIEW_MIN_JOBS)):
        # two LP-based full searches instead of CP-SAT's 2-worker portfolio (measured in
        # FEW_JOBS_WORKERS' docstring)
        params.subsolvers.extend(FEW_JOBS_WORKERS)
        params.num_full_subsolvers = len(FEW_JOBS_WORKERS)
    elif many_latency and params.num_workers == 1:
        # one thread: interleave the same two full searches (SINGLE_WORKER docstring)
        params.interleave_search = True
        params.subsolvers.extend(MANY_JOBS_WORKERS)
        params.num_full_subsolvers = len(MANY_JOBS_WORKERS)
    elif len(model.jobs) >= GROUP_VIEW_MIN_JOBS and params.num_workers > 1:
        # measured on 4 x 30: the LB-tree-search worker lifts the proven bound from 13.33
        # to 13.85 ms (incumbent 13.99) in 60 s; on 2 jobs the default portfolio is faster
        params.extra_subsolvers.append("lb_tree_search")
    if model.span_tables:
        params.cp_model_probing_level = PROBING_WITH_SPAN_TABLES
    if model.contention:
        # the model is exact only up to the rounding slack of each duration: stop once the
        # gap is inside it instead of chasing picoseconds (docs/model.md section 6)
        params.absolute_gap_limit = float(model.weight_scale * model.rounding_bound_units)
    if model.throughput:
        to_ms_factor = 1.0 / (model.units_per_ms * problem.frames_per_round)
    else:
        to_ms_factor = 1.0 / (model.units_per_ms * model.weight_scale)
    callback = _Progress(options.progress, to_ms_factor) if options.progress else None
    build_s = time.perf_counter() - t0
    code = solve_interruptibly(solver, model.m, callback)
    stats: dict[str, Any] = {
        "build_seconds": round(build_s, 4),
        "cpsat_wall_seconds": round(solver.wall_time, 4),
        "branches": solver.num_branches,
        "conflicts": solver.num_conflicts,
        "cpsat_status": solver.status_name(code),
        "horizon_units": model.horizon,
        "time_unit_ns": NS_PER_MS / model.units_per_ms,
        "slots_per_job": model.n_slots,
        "notes": list(model.notes),
    }
    relaxed = model.relaxed_contention
    if relaxed:
        stats["notes"].append(
            f"segment-level contention loss only bounded in middle slots with more than "
            f"{SPAN_LIMIT} group spans: a relaxation (valid bound, not proven optimal)")
    if model.contention:
        stats["time_unit_ps"] = 1_000_000_000 // model.units_per_ms
        stats["objective_tolerance_ms"] = model.rounding_bound_units / model.units_per_ms
    rounding_ms = 0.0
    if model.rounding_units:
        # coarse units that do not hold the times exactly: the model's optimum may sit this
        # far from the true one, so it proves no optimality (and its bound is lowered)
        weight = 1.0 if model.throughput else max(problem.weight(j.index)
                                                  for j in problem.jobs)
        frames = problem.frames_per_round if model.throughput else 1
        rounding_ms = model.rounding_units / model.units_per_ms * weight / frames
        stats["objective_tolerance_ms"] = max(stats.get("objective_tolerance_ms", 0.0),
                                              rounding_ms)
        stats["notes"].append(f"times rounded to {NS_PER_MS / model.units_per_ms:g} ns "
                              f"units (within {rounding_ms:g} ms): not proven optimal")
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        schedule, starts = model.extract(solver)
        left = None if deadline is None else deadline - time.perf_counter()
        if code == cp_model.OPTIMAL and params.num_workers > 1 and not relaxed and (
                left is None or left > 2 * build_s + CANONICAL_MIN_SECONDS):
            canonical = _canonical_solution(problem, options, round(solver.objective_value),
                                            lp_free=many_latency, deadline=deadline)
            stats["canonical_phase"] = "done" if canonical else "skipped (limit), parallel answer"
            if canonical is not None:
                schedule, starts = canonical
        elif code == cp_model.OPTIMAL and params.num_workers > 1 and not relaxed:
            stats["canonical_phase"] = ("skipped (no time left before the limit), parallel "
                                        "answer")
        objective = solver.objective_value * to_ms_factor
        bound = solver.best_objective_bound * to_ms_factor
        status = SolveStatus.OPTIMAL if code == cp_model.OPTIMAL else SolveStatus.FEASIBLE
        if rounding_ms:
            status, bound = SolveStatus.FEASIBLE, bound - rounding_ms
        if relaxed:
            # the model's own objective is not the schedule's (the simulator judges it), and
            # its timing may meet a deadline that the true timing misses
            status, objective = SolveStatus.FEASIBLE, None
            if simulate(problem, schedule).violations:
                stats["relaxed_schedule_missed_a_deadline"] = True
                hint = options.hint
                if hint is None or simulate(problem, hint).violations:
                    return BackendAnswer(SolveStatus.UNKNOWN, None, None, bound, stats,
                                         "the relaxed contention model's schedule misses "
                                         "a deadline")
                schedule, starts = hint, {}
        stats["start_units"] = {f"{j},{k}": v for (j, k), v in sorted(starts.items())}
        answer = BackendAnswer(status, schedule, objective, bound, stats)
        return contention_free(answer) if contention_ignored(problem) else answer
    if code == cp_model.INFEASIBLE:
        return BackendAnswer(SolveStatus.INFEASIBLE, None, None, None, stats,
                             diagnose_infeasible(problem))
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {model.m.validate()}")
    raw_bound = solver.best_objective_bound
    bound = raw_bound * to_ms_factor - rounding_ms if math.isfinite(raw_bound) else None
    if options.hint is not None:
        # the hint is a valid schedule: the best one known when the search found none
        stats["returned_hint"] = True
        return BackendAnswer(SolveStatus.FEASIBLE, options.hint, None, bound, stats,
                             "time limit reached before CP-SAT improved on the hint; "
                             "returning the hint schedule")
    return BackendAnswer(SolveStatus.UNKNOWN, None, None, bound, stats,
                         "time limit reached before any schedule was found")


CANONICAL_DETERMINISTIC_LIMIT = 20.0
"""Deterministic-time budget of the canonicalisation phase (not wall-clock: reproducible)."""
CANONICAL_MIN_SECONDS = 0.2
"""The canonical phase runs only if this much (plus twice the model build) is left before
the time limit; it also stops at the limit (wall clock), keeping the parallel answer."""


def solve_interruptibly(solver: cp_model.CpSolver, model: cp_model.CpModel,
                        callback: cp_model.CpSolverSolutionCallback | None = None) -> int:
    """``solver.solve(model, callback)`` that leaves Ctrl-C to Python.

    By default CP-SAT installs its own C-level SIGINT handler for the solve (Ctrl-C merely
    stops the search, which then looks like a time limit: the command went on and exited 0)
    and on return resets SIGINT to the C default, so a later Ctrl-C killed the process
    outright (no ``layerswap: interrupted``, no exit 130; the runtime's executor had to
    re-install Python's handler after a solve). Here CP-SAT never touches the handler
    (``catch_sigint_signal = False``) and the solve runs through
    `solvers.backend.run_interruptibly`: Ctrl-C raises KeyboardInterrupt at once, the search
    is stopped, its thread awaited, and the KeyboardInterrupt re-raised for the caller (the
    CLI prints one line and exits 130).
    """
    solver.parameters.catch_sigint_signal = False
    return run_interruptibly(lambda: solver.solve(model, callback), solver.stop_search,
                             "layerswap-cpsat")


def _canonical_solution(problem: Problem, options: SolveOptions, optimum: int,
                        lp_free: bool = False, deadline: float | None = None
                        ) -> tuple[Schedule, dict[SegmentRef, int]] | None:
    """Re-find an optimal schedule with one deterministic worker and no hint.

    Parallel CP-SAT workers race, so two runs may return different optimal schedules on
    ties. Knowing the optimum, a single-worker feasibility search with the objective fixed
    to it (and a deterministic-time limit) returns the same schedule on every run.
    """
    model = CpSatModel(problem, options)
    model.build()
    assert model.objective_var is not None
    model.m.clear_objective()
    model.m.add(model.objective_var <= optimum)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = options.seed
    solver.parameters.max_deterministic_time = CANONICAL_DETERMINISTIC_LIMIT
    if model.span_tables:
        solver.parameters.cp_model_probing_level = PROBING_WITH_SPAN_TABLES
    if deadline is not None:
        # the time limit is a promise: past it, keep the parallel answer (not reproducible)
        solver.parameters.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
    if lp_free:
        # 3+ jobs carry the group-level LP view: with the LP the single worker ran out of
        # its budget on 3 x 30 (20 deterministic s); without it, it found the schedule in 1 s
        solver.parameters.linearization_level = 0
    code = solve_interruptibly(solver, model.m)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return model.extract(solver)

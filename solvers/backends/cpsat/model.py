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
(`solvers.bounds.lower.fluid_load`), a group-level LP view for 3+ jobs (every group in exactly
one slot on one device, ``base`` = the sum of its groups' costs), an ``lb_tree_search``
worker for 3+ jobs, and bisection on the period in throughput mode.

Search setup for 1-2 jobs without contention and 2 workers: two LP-based full workers
(``default_lp``, ``max_lp``; `FEW_JOBS_WORKERS`); throughput uses LP linearization level 2
(`LINEARIZATION_THROUGHPUT`: at level 1 the search crawled down 1 ns per solution).

Search setup for throughput with GPU fallback (1-2 jobs, 2 workers): ``lb_tree_search`` and
``max_lp`` (`FALLBACK_WORKERS`), with the redundant per-job chain windows of
`FallbackConstraints._fallback_windows`.

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
from fractions import Fraction
from typing import Any

from ortools.sat.python import cp_model

from solvers.backends.base import (
    FINE_UNITS_PER_MS,
    NS_PER_MS,
    IntegerJob,
    SolveOptions,
    integer_view,
)
from solvers.backends.cpsat.contention import ContentionConstraints
from solvers.backends.cpsat.fallback import FallbackConstraints
from solvers.backends.cpsat.params import (
    CONTENTION_PRODUCT_LIMIT,
    CONTENTION_SCALE,
    GROUP_VIEW_MIN_JOBS,
    HORIZON_LIMIT,
    KINDS,
    PAIRS,
    THROUGHPUT_BISECT,
    VALUE_LIMIT,
)
from solvers.backends.cpsat.slots import _Slot
from solvers.bounds.lower import fluid_load
from solvers.errors import ProblemError
from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import Schedule, Segment, SegmentRef


class CpSatModel(ContentionConstraints, FallbackConstraints):
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
        # 100 ps units where rounding accumulates (contention) or the times carry sub-ns
        # digits (tables scaled down, e.g. 0.0001308 ms: in ns such a model answered
        # 1.1577 us as optimal where 1.157 us is), where the horizon and products allow
        if self.units_per_ms == NS_PER_MS and (self.contention
                                               or not _exact_in(problem, NS_PER_MS)):
            fine = self._horizon() * (FINE_UNITS_PER_MS // NS_PER_MS)
            slots = sum(_slot_count(problem, j.index) for j in problem.jobs)  # co-runners
            if fine * weight_max <= HORIZON_LIMIT and (
                    not self.contention
                    or fine * CONTENTION_SCALE * slots < CONTENTION_PRODUCT_LIMIT):
                self.units_per_ms = FINE_UNITS_PER_MS
                self.jobs = integer_view(problem, FINE_UNITS_PER_MS)
        # a unit that does not hold the times exactly is declared
        self.rounding_units = 0.0 if _exact_in(problem, self.units_per_ms) else 0.5 * (
            sum(j.n_groups for j in self.jobs)
            + sum(_slot_count(problem, j.index) for j in problem.jobs))
        # GPU fallback: a job's pieces, up to max_segments (docs/model.md 2.1)
        self.n_slots = max(_slot_count(problem, j.index) for j in problem.jobs)
        if len(self.devices) == 1:
            self.n_slots = 1
        self.horizon = self._horizon()
        # the weighted makespan is a variable too, and CP-SAT's presolve mis-solves domains
        # past HORIZON_LIMIT: such models are solved without it (params.HORIZON_LIMIT)
        self.presolve = self.horizon * weight_max <= HORIZON_LIMIT
        self.slots: list[list[_Slot]] = []
        self.objective_var: cp_model.IntVar | None = None
        self.weight_scale: Fraction = Fraction(1)
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
        if self.problem.any_fallback:
            self._fallback()
        if self.contention:
            self._contention()
            self._semi_active()
        self._symmetry()
        self._objective()

    def _horizon(self) -> int:
        total = 0
        for j, job in enumerate(self.jobs):
            worst = 0
            for g in range(job.n_groups):
                worst += max(job.prefix[k][g + 1] - job.prefix[k][g] for k in KINDS)
            worst_tr = max((v for arr in job.transition.values() for v in arr if v is not None),
                           default=0)
            total += worst + (_slot_count(self.problem, j) - 1) * worst_tr
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

    @property
    def rounding_bound_units(self) -> int:
        """How far (in units) the model's makespan may sit from the simulator's for the same
        order: each duration may be off by ``contention_tol_units``, deviations add up along
        at most every slot of every job, and contention feeds at most k < 1/2 of a shift
        back (a geometric factor < 2)."""
        return 2 * self.contention_tol_units * self.n_slots * len(self.jobs)

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
            if self.problem.any_fallback:
                self._fallback_windows(period)
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
        """`solvers.bounds.lower.fluid_load` in model units, rounded down (a valid bound on the
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


def _slot_count(problem: Problem, job: int) -> int:
    """Slots of a job: ``max_transitions + 1``, or with GPU fallback its most pieces
    (`Problem.max_segments`, docs/model.md 2.1)."""
    return max(problem.max_transitions + 1, problem.max_segments(job))


def _exact_in(problem: Problem, units_per_ms: int) -> bool:
    """Every time of ``problem`` is a whole number of units (up to float noise)."""
    for job in problem.jobs:
        for row in problem.table(job.index).rows:
            for v in (row.gpu_ms, row.dla_ms, row.gpu_to_dla_ms, row.dla_to_gpu_ms):
                if v is not None and abs(v * units_per_ms - round(v * units_per_ms)) > \
                        1e-6 + 1e-12 * v * units_per_ms:
                    return False
    return True


def _integer_weights(weights: list[float]) -> tuple[Fraction, list[int]]:
    """(scale, integers): the smallest power-of-ten scale making every weight an integer
    (exact for decimals), divided by the integers' common divisor, so equal weights become
    1 and the weighted makespan's domain stays as small as the times allow."""
    for exp in range(0, 7):
        scale = 10 ** exp
        ints = [round(w * scale) for w in weights]
        if all(abs(i - w * scale) <= 1e-9 * max(1.0, w * scale) for i, w in
               zip(ints, weights, strict=True)):
            break
    else:
        scale = 10 ** 6
        ints = [max(1, round(w * scale)) for w in weights]
    common = math.gcd(*ints)
    return Fraction(scale, common), [i // common for i in ints]


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

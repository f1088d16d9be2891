"""The contention term in the ILP (latency objective): exact overlap-linear slowdown.

docs/model.md section 3: while slot ``a`` runs, it loses ``k(a, b)`` of progress per ms
for every slot ``b`` of another job running on another device, so exactly

    E_a - S_a = base_a + sum_b k(a, b) * overlap(a, b),
    overlap(a, b) = max(0, min(E_a, E_b) - max(S_a, S_b)),

and starts are semi-active (a slot starts at its ready time or exactly when another slot
on its device ends; deliberate idling is not allowed, because with contention it could
pay). `ContentionIlpModel` adds both to `solvers.backends.ilp.model.IlpModel` with big-M
constraints.
Times are continuous, so the durations are exact (no rounding as in CP-SAT); the only
approximation is HiGHS's feasibility tolerance (1e-7,
`solvers.backends.ilp.solve._parameters`; times in
units that bring the horizon to at most 1e4, `solvers.backends.ilp.model.MIP_HORIZON_UNITS`).

Per pair of slots ``a, b`` of different jobs (all big-Ms are ``M = max(ub_a, ub_b)``,
``ub_j`` the latest completion of job ``j`` that can still beat the known schedule
(`IlpModel.job_ub`, from its *simulated* objective, contention included)):

- ``lo = min(E_a, E_b)``: ``lo <= E_a, lo <= E_b, lo >= E_a - M u, lo >= E_b - M (1-u)``;
- ``hi = max(S_a, S_b)``: ``hi >= S_a, hi >= S_b, hi <= S_a + M v, hi <= S_b + M (1-v)``;
- ``ov = max(0, lo - hi)``: ``ov >= lo - hi, ov <= lo - hi + M w, ov <= M (1-w)``;
- per device-kind pair ``(ka, kb)`` (GPU/DLA, DLA/GPU, DLA/DLA: two slots on one core
  never overlap), ``part = ov`` when ``a`` is on ``ka`` and ``b`` on ``kb``, else 0
  (``part <= ov, part <= M both, part >= ov - M (1-both)``), and ``a`` is charged
  ``k(ka victim, b's span on kb) * part`` (``b`` symmetrically).

The rate is the segment-level one (`Problem.loss_rate`: the curve at the aggressor
segment's own time-weighted demand), so it depends on which groups ``b`` holds, and
``k * part`` is bilinear. It is made exact with the span's discreteness: the spans ``(f,
l)`` slot ``b`` can hold (`_possible_spans`) are grouped by their rate (rates closer than
`RATE_MERGE` are one), and ``part`` is split into one piece per rate ``r``:
``sum_r piece_r = part``, ``0 <= piece_r <= M Y_r``, charge ``sum_r r piece_r``, where
``Y_r`` (sum of span indicators ``y[f, l]`` of that rate) is 1 for exactly the rate of
``b``'s span. The indicators are continuous: ``first_f`` (``f`` starts the slot:
``x(f) and not x(f-1)``, three inequalities) and ``last_l`` likewise, and ``y`` is their
transport plan (``sum_l y[f, l] = first_f``, ``sum_f y[f, l] = last_l``), integral once
the ``z`` are. Only slots with more than one rate on some kind get indicators; a table
whose demand is constant per kind needs none, and its model is the model-mean one.

Semi-active starts: for every slot ``i`` a binary ``r_i`` (``S_i <= ready_i + M (1-r_i)``;
``S_i >= ready_i`` holds already) and for every other slot ``o`` a binary ``f_io`` (``S_i ==
E_o`` within ``M (1-f_io)``, ``o`` on ``i``'s device); ``r_i + sum_o f_io >= 1``. With the
device exclusivity this is ``S_i = max(ready_i, end of i's device predecessor)``.
"""

from __future__ import annotations

import math
from typing import Any

from solvers.backends.base import NS_PER_MS, IntegerJob
from solvers.backends.exact_common import Slot
from solvers.backends.ilp.model import IlpModel
from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import Schedule

PAIRS = (("gpu", "dla"), ("dla", "gpu"), ("dla", "dla"))
RATE_MERGE = 1e-12
"""Loss rates of one slot's spans closer than this share a piece: a constant demand gives
spans whose prefix-sum means differ in the last bits (29.99999999999978 vs 30.000000000000448
GB/s on 30 groups), which must not split the overlap. The charge moves by at most this
times an overlap: ~1e-12 of a duration, far inside `solvers.backends.ilp.model.TRUST_RTOL`."""


def _possible_spans(job: IntegerJob, k: int, last_slot: int) -> list[tuple[int, int]]:
    """The group ranges ``(f, l)`` slot ``k`` can hold: slots are used from 0 on without
    gaps, so slot 0 starts at group 0 and slot ``k`` at group ``k`` or later; the last slot
    ends at the last group; all its groups allow one common device."""
    n = job.n_groups
    spans = []
    for f in ([0] if k == 0 else range(k, n)):
        common = set(job.allowed[f])
        for e in range(f, n):
            common &= job.allowed[e]
            if not common:
                break
            if k < last_slot or e == n - 1:
                spans.append((f, e))
    return spans


def models_contention(problem: Problem) -> bool:
    """The ILP models contention exactly here: latency with contention (one device: no
    pair is charged, the model is the contention-free one plus semi-active starts)."""
    return problem.contention.enabled and problem.objective is Objective.LATENCY


def contention_horizon_factor(problem: Problem) -> float:
    """Durations grow at most by ``1 / (1 - k_max * (devices - 1))`` (every rate stays
    above that): stretches the contention-free serial horizon into a valid one."""
    k_max = problem.contention.k_max
    return 1.0 / (1.0 - k_max * (len(problem.devices) - 1))


def simulated_value(problem: Problem, schedule: Schedule) -> tuple[float, int] | None:
    """The simulator's weighted makespan of ``schedule`` (ms, and rounded up to integer
    ns), contention included; None if it misses a deadline."""
    from solvers.judges.simulator import simulate

    timeline = simulate(problem, schedule)
    if timeline.violations:
        return None
    value = timeline.objective_ms
    return value, math.ceil(value * NS_PER_MS * (1 + 1e-12))


class ContentionIlpModel(IlpModel):
    """`IlpModel` plus the exact contention term and semi-active starts (module doc)."""

    def __init__(self, problem: Problem, solver: Any, known_ns: int | None = None) -> None:
        super().__init__(problem, solver, known_ns)
        if known_ns is None:
            # no known schedule: stretch the serial horizon by the worst slowdown
            stretched = self.H * contention_horizon_factor(problem)
            self.job_ub = [stretched] * len(self.jobs)
            self.H = stretched
        self.overlaps: dict[tuple[Any, Any], Any] = {}
        self.span_flags: dict[Slot, dict[tuple[int, int], Any]] = {}
        self.rates: dict[tuple[int, str, Slot, str], list[tuple[float, Any]]] = {}

    def add_variables(self) -> None:
        super().add_variables()
        for slot in self.slots:
            self.extra[slot] = self.s.NumVar(0, self.job_ub[slot[0]],
                                             f"{self.p.jobs[slot[0]].name}_slot{slot[1]}"
                                             "_contention")

    def kind_flag(self, j: int, k: int, kind: str) -> Any:
        return self.v.a[(j, k, Device.GPU)] if kind == "gpu" else self.dla(j, k)

    def spans(self, slot: Slot) -> dict[tuple[int, int], Any]:
        """Indicators ``y[f, l]`` (continuous in [0, 1], integral once the ``z`` are) that
        ``slot`` holds exactly groups ``f..l``, over the spans it can hold (module doc),
        made on first use: ``first_f`` / ``last_l`` say that ``f`` starts / ``l`` ends the
        slot, and the ``y`` are their transport plan (row sums ``first``, column sums
        ``last``): one first and one last group make the plan a single 1."""
        if slot in self.span_flags:
            return self.span_flags[slot]
        s, p = self.s, self.p
        j, k = slot
        job = self.jobs[j]
        n = job.n_groups
        name = f"{p.jobs[j].name}_slot{k}"
        x = self.x
        first: dict[int, Any] = {}
        last: dict[int, Any] = {}
        for g in range(n):
            for flags, other, where in ((first, g - 1, "starts"), (last, g + 1, "ends")):
                if not 0 <= other < n:
                    flags[g] = x(j, g, k)
                    continue
                flag = s.NumVar(0, 1, f"{name}_{where}_at_group{g}")
                s.Add(flag >= x(j, g, k) - x(j, other, k))
                s.Add(flag <= x(j, g, k))
                s.Add(flag <= 1 - x(j, other, k))
                flags[g] = flag
        y: dict[tuple[int, int], Any] = {}
        for f, e in _possible_spans(job, k, self.T):
            y[(f, e)] = s.NumVar(0, 1, f"{name}_holds_groups{f}_{e}")
        for g in range(n):
            for flag, end in ((first[g], 0), (last[g], 1)):
                plan = [var for span, var in y.items() if span[end] == g]
                if plan or not isinstance(flag, int):
                    s.Add(sum(plan) - flag == 0)
        self.span_flags[slot] = y
        return y

    def rate_options(self, victim_job: int, victim_kind: str, slot: Slot,
                     kind: str) -> list[tuple[float, Any]]:
        """The loss rates that ``slot`` on a device of ``kind`` can inflict on a victim
        on ``victim_kind`` (its spans' own demand, `Problem.loss_rate`), grouped by value
        (within `RATE_MERGE`), each with the expression that is 1 iff the slot's span has
        that rate. One value (e.g. constant demand): ``[(rate, 1)]``, no span indicators."""
        key = (victim_job, victim_kind, slot, kind)
        if key in self.rates:
            return self.rates[key]
        p = self.p
        j, k = slot
        job = self.jobs[j]
        # the rate depends on the kinds only: any two distinct devices of them stand in
        # (none on a platform with one DLA core, for DLA/DLA); the span must fit on some
        # device of the kind, e.g. a span pinned off DLA1 still runs on DLA0
        victim = next(d for d in p.devices if d.kind == victim_kind)
        devices = [d for d in p.devices if d.kind == kind]
        aggressor = next((d for d in devices if d != victim), None)
        by_span: dict[tuple[int, int], float] = {}
        for f, e in _possible_spans(job, k, self.T) if aggressor is not None else ():
            if any(all(d in job.allowed[g] for g in range(f, e + 1)) for d in devices):
                by_span[(f, e)] = p.loss_rate(victim_job, victim, j, aggressor, f, e)
        groups: list[tuple[float, list[tuple[int, int]]]] = []
        for span, rate in sorted(by_span.items(), key=lambda e: e[1]):
            if groups and rate - groups[-1][0] <= RATE_MERGE:
                groups[-1][1].append(span)
            else:
                groups.append((rate, [span]))
        if len(groups) <= 1:
            options: list[tuple[float, Any]] = [(rate, 1) for rate, _ in groups]
        else:
            y = self.spans(slot)
            options = [(rate, sum(y[span] for span in spans)) for rate, spans in groups]
        self.rates[key] = options
        return options

    def charge(self, part: Any, options: list[tuple[float, Any]], bound: float,
               name: str) -> Any:
        """``rate(span) * part`` exactly: ``part`` split into one piece per rate option,
        each at most ``bound`` times its indicator (one option: no split)."""
        if len(options) == 1:
            return options[0][0] * part
        pieces = []
        for i, (rate, flag) in enumerate(options):
            piece = self.s.NumVar(0, bound, f"{name}_rate{i}")
            self.s.Add(piece <= bound * flag)
            pieces.append((rate, piece))
        self.s.Add(sum(piece for _, piece in pieces) == part)
        return sum(rate * piece for rate, piece in pieces if rate > 0)

    def add_contention(self) -> None:
        s, p, v = self.s, self.p, self.v
        charged: dict[tuple[int, int], list[Any]] = {slot: [] for slot in self.slots}
        kinds = {d.kind for d in p.devices}
        for ai, sa in enumerate(self.slots):
            for sb in self.slots[ai + 1:]:
                if sa[0] == sb[0]:
                    continue
                name = f"{p.jobs[sa[0]].name}_slot{sa[1]}_{p.jobs[sb[0]].name}_slot{sb[1]}"
                big = max(self.job_ub[sa[0]], self.job_ub[sb[0]])
                small = min(self.job_ub[sa[0]], self.job_ub[sb[0]])
                lo = s.NumVar(0, small, f"min_end_{name}")
                u = s.BoolVar(f"a_ends_first_{name}")
                s.Add(lo <= v.end[sa])
                s.Add(lo <= v.end[sb])
                s.Add(lo >= v.end[sa] - big * u)
                s.Add(lo >= v.end[sb] - big * (1 - u))
                hi = s.NumVar(0, big, f"max_start_{name}")
                w_ = s.BoolVar(f"a_starts_last_{name}")
                s.Add(hi >= v.start[sa])
                s.Add(hi >= v.start[sb])
                s.Add(hi <= v.start[sa] + big * (1 - w_))
                s.Add(hi <= v.start[sb] + big * w_)
                ov = s.NumVar(0, small, f"overlap_{name}")
                apart = s.BoolVar(f"apart_{name}")
                s.Add(ov >= lo - hi)
                s.Add(ov <= lo - hi + big * apart)
                s.Add(ov <= small * (1 - apart))
                self.overlaps[(sa, sb)] = ov
                for ka, kb in PAIRS:
                    if ka not in kinds or kb not in kinds:
                        continue
                    # a (on ka) loses at b's span's rate, b (on kb) at a's
                    rates_ab = self.rate_options(sa[0], ka, sb, kb)
                    rates_ba = self.rate_options(sb[0], kb, sa, ka)
                    if all(r <= 0 for r, _ in rates_ab + rates_ba):
                        continue
                    fa, fb = self.kind_flag(*sa, ka), self.kind_flag(*sb, kb)
                    both = s.NumVar(0, 1, f"{ka}_{kb}_{name}")
                    s.Add(both >= fa + fb - 1)
                    s.Add(both <= fa)
                    s.Add(both <= fb)
                    part = s.NumVar(0, small, f"overlap_{ka}_{kb}_{name}")
                    s.Add(part <= ov)
                    s.Add(part <= small * both)
                    s.Add(part >= ov - small * (1 - both))
                    if any(r > 0 for r, _ in rates_ab):
                        charged[sa].append(self.charge(part, rates_ab, small,
                                                       f"overlap_{ka}_{kb}_{name}_a"))
                    if any(r > 0 for r, _ in rates_ba):
                        charged[sb].append(self.charge(part, rates_ba, small,
                                                       f"overlap_{ka}_{kb}_{name}_b"))
        for slot in self.slots:
            s.Add(self.extra[slot] == sum(charged[slot]))

    def add_exact_transitions(self) -> None:
        """A transition flag is exactly the product of its binaries (the base model only
        bounds it from below, enough when delays only hurt): semi-active starts compare
        with the ready time, which an inflated delay would otherwise push back."""
        for flag, factors in self.transition_flags:
            for factor in factors:
                self.s.Add(flag <= factor)

    def add_semi_active(self) -> None:
        s, p, v = self.s, self.p, self.v
        for i in self.slots:
            j, k = i
            ub = self.job_ub[j]
            ready: Any = 0
            if k:
                ready = v.end[(j, k - 1)] + self.delay[(j, k - 1)]
            name = f"{p.jobs[j].name}_slot{k}"
            at_ready = s.BoolVar(f"{name}_starts_when_ready")
            s.Add(v.start[i] <= ready + ub * (1 - at_ready))
            choices = [at_ready]
            for o in self.slots:
                if o == i:
                    continue
                big = max(ub, self.job_ub[o[0]])
                follows = s.BoolVar(f"{name}_follows_{p.jobs[o[0]].name}_slot{o[1]}")
                s.Add(v.start[i] <= v.end[o] + big * (1 - follows))
                s.Add(v.start[i] >= v.end[o] - big * (1 - follows))
                for d in p.devices:
                    s.Add(follows <= 1 - v.a[(*i, d)] + v.a[(*o, d)])
                s.Add(follows <= sum(v.a[(*i, d)] for d in p.devices))
                choices.append(follows)
            s.Add(sum(choices) >= 1)

    def build(self) -> None:
        super().build()
        self.add_contention()
        self.add_exact_transitions()
        self.add_semi_active()


def exact_value_ns_with_contention(problem: Problem, jobs: tuple[IntegerJob, ...],
                                   schedule: Schedule) -> int | None:
    """`solvers.backends.ilp.solve.exact_value_ns` for problems the ILP models contention in: the
    simulator's value (contention included), rounded up to integer ns."""
    found = simulated_value(problem, schedule)
    return None if found is None else found[1]

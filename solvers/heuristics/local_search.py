"""Simulator-guided local search for what the exact models approximate or leave unproven.

Throughput with memory contention has no exact backend model (docs/model.md section 4):
the backends optimise the placement contention-free, which gives a valid lower bound, but
the schedule that is best without contention can be far from the best with it (measured
on the benchmark's 2 x 30 pair: contention slows the contention-free optimum by 50 %).
Latency with contention has an exact CP-SAT model, but from 3 models on it stops at the
time limit with a gap, and simulations around its schedule often find a better one
(model.md section 3). `improve` searches around the candidates it is given,
judging every neighbour with the simulator, the reference for both objectives:

- neighbours of a schedule move one segment boundary of one job by 1, 2, 4, ... groups
  (either way), move a segment to another device, or carve the head or tail (1, 2, 4, ...
  groups) of a segment onto another device; the device order of a neighbour is the
  simulator's earliest-ready dispatch;
- first-improvement hill climbing from every candidate in turn (best first), neighbours
  in a fixed order;
- then iterated local search: perturb the best schedule by `KICK_MOVES` random
  neighbour moves (a seeded generator), climb again, keep the result if it is better.
  Measured on the benchmark's 3 x 30 latency problem with contention: the climb from
  CP-SAT's 13.99 ms stops at 13.85 ms; 30 s of perturbations reach 13.33 ms;
- it stops after `STALL_KICKS` perturbations in a row without a better schedule, after
  ``max_evaluations`` simulations or at the deadline. The same inputs, seed and budget
  give the same schedule; a run stopped by the deadline depends on speed, like any
  time-limited search.

Throughput with contention and two jobs (`uses_surrogate`) adds two things. Before the climbs, a
*surrogate* search (`_surrogate_search`) runs the same climb and perturbations on a cheap
per-segmentation value instead of the simulator: `bounds.segment_bound` (an LP, valid for
every device order), raised to the contention-free cycle time of the first-ready order
with the LP's durations; it starts from the candidates and the extra ``seeds`` (the pair
bound's least pairs, `solvers.bounds.pair`), simulates the seeds it rates best and every
segmentation that lowers its value, and the simulator-judged climb then starts from the
best `SURROGATE_CLIMBS` schedules. And the climb does not simulate a neighbour whose
`segment_bound` cannot beat the current value (exact: no better schedule is skipped).
Measured on the 2 x 30 benchmark pair: the 30 s solve went from 9.454 to 9.122 ms
(benchmarks/results/solvers.md).

It never returns anything worse than the best candidate.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from solvers.bounds.lower import segment_bound_lp
from solvers.heuristics.baselines import JobSegments, fits_loadables, runs, simulated_value
from solvers.judges.simulator import _Deadlock, _run_latency, cycle_time_prepared, prepare, simulate
from solvers.model.problem import Objective, Problem
from solvers.model.schedule import TIE_RTOL, Schedule, better, simplicity, switches

MAX_EVALUATIONS = 20_000
"""Simulations one `improve` call may run, candidates included (a deterministic budget;
the candidates themselves are always judged). A latency simulation of 3 x 30 groups takes
about 0.35 ms, a throughput one with contention about 100 ms: there the deadline binds."""
KICK_MOVES = 3
"""Random neighbour moves per perturbation of the iterated phase."""
STALL_KICKS = 50
SURROGATE_SHARE = 0.6
"""Share of the time left that `_surrogate_search` may use (throughput with contention)."""
SEED_SIMULATIONS = 5
"""The surrogate search simulates this many of its seeds (least estimate first)."""
SURROGATE_CLIMBS = 3
"""After the surrogate search, the simulator-judged climb starts from this many of the best
schedules (the backend's, the hint and those the surrogate search simulated)."""
"""The iterated phase ends after this many perturbations in a row without a better
schedule (measured on 3 x 30 latency with contention: improvements came up to 48 apart)."""


@dataclass(frozen=True)
class Improved:
    schedule: Schedule
    objective_ms: float
    start_objective_ms: float
    evaluations: int
    moves: int
    kicks: int         # perturbations of the iterated phase
    stopped: str       # "stalled", "evaluation budget", "deadline" or "no neighbours"
    bound_evaluations: int = 0   # `segment_bound` LPs (throughput with contention)
    pruned: int = 0              # neighbours not simulated: their bound could not beat


def improve(problem: Problem, candidates: Sequence[Schedule], *,
            deadline: float | None = None,
            max_evaluations: int = MAX_EVALUATIONS, seed: int = 0,
            stall_kicks: int = STALL_KICKS,
            progress: Callable[[str], None] | None = None,
            surrogate: bool | None = None,
            seeds: Sequence[tuple[JobSegments, ...]] = ()) -> Improved | None:
    """Hill-climb from each of ``candidates`` in turn, best first, then perturb and climb
    again (module docstring); the best schedule seen (None if no candidate is valid).
    ``deadline`` is a `time.perf_counter()` value, ``seed`` that of the perturbations;
    ``stall_kicks=0`` leaves out the iterated phase; ``progress`` hears of every better
    schedule. ``surrogate`` (default: throughput with contention) first runs the
    bound-guided search (`_surrogate_search`, also from ``seeds``: segmentations that are
    not simulated unless that search picks them) and prunes neighbours by their bound."""
    budget = _Budget(deadline, max_evaluations)
    if surrogate is None:
        surrogate = uses_surrogate(problem)
    if surrogate:
        budget.problem = problem
    starts: list[tuple[float, int, Schedule]] = []
    for i, cand in enumerate(candidates):
        value = budget.value(problem, cand)
        if value != float("inf"):
            starts.append((value, i, cand))
    if not starts:
        return None
    starts.sort(key=lambda x: (x[0], x[1]))
    start_value = starts[0][0]
    climbs = len(starts)
    if surrogate:
        found = _surrogate_search(problem, [c.segments for _, _, c in starts] + list(seeds),
                                  budget, deadline, random.Random(seed), stall_kicks)
        starts += [(v, len(starts) + i, Schedule(segs)) for i, (v, segs) in enumerate(found)]
        starts.sort(key=lambda x: (x[0], x[1]))
        climbs = SURROGATE_CLIMBS
    best_value, best = starts[0][0], starts[0][2]
    if best_value < start_value:
        _report(progress, best_value, budget, 0)
    climbed: set[tuple[JobSegments, ...]] = set()
    moves = 0
    for value, _, current in starts[:climbs]:
        if current.segments in climbed:
            continue
        climbed.add(current.segments)
        value, current, n = _climb(problem, value, current, budget)
        moves += n
        if better(value, current.segments, best_value, best.segments):
            best_value, best = value, current
            _report(progress, best_value, budget, 0)
        if budget.stopped:
            break
    rng = random.Random(seed)
    kicks = stall = 0
    stopped = "stalled"
    while stall < stall_kicks and not budget.exhausted():
        kicked = _kick(problem, best.segments, rng)
        if kicked is None:
            stopped = "no neighbours"
            break
        kicks += 1
        value, current, n = _climb(problem, budget.fcfs(problem, kicked), Schedule(kicked),
                                   budget)
        moves += n
        if better(value, current.segments, best_value, best.segments):
            best_value, best, stall = value, current, 0
            _report(progress, best_value, budget, kicks)
        else:
            stall += 1
    if best.order is None:
        best = Schedule(best.segments, simulate(problem, best, streaming=False).order)
    return Improved(best, best_value, start_value, budget.evaluations, moves, kicks,
                    budget.stopped or stopped, len(budget.bounds), budget.pruned)


def uses_surrogate(problem: Problem) -> bool:
    """Throughput with contention on several devices and two jobs: `segment_bound` guides
    the search. Not from three jobs on: the LP grows (one per order of crossing chains) and
    no pair-bound seeds exist; measured on 3 x 20 with 5 s of search, 8.730 ms with it,
    8.668 ms without (one run each)."""
    return (problem.objective is Objective.THROUGHPUT and problem.contention.enabled
            and len(problem.devices) > 1 and len(problem.jobs) == 2)


def _surrogate_search(problem: Problem, seeds: Sequence[tuple[JobSegments, ...]],
                      budget: _Budget, deadline: float | None, rng: random.Random,
                      stall_kicks: int) -> list[tuple[float, tuple[JobSegments, ...]]]:
    """Iterated local search on `segment_bound` instead of the simulator: climb (first
    improvement, the usual neighbours) from the seed with the least bound, then perturb the
    best segmentation by `KICK_MOVES` random moves and climb again. Every segmentation that
    lowers the least bound seen is simulated (FCFS order); their (value, segments) come
    back. It stops after ``stall_kicks`` perturbations without a lower bound, at
    `SURROGATE_SHARE` of the time left before ``deadline``, or when the budget is spent.
    The bound is smooth in the placement where the simulated period is not (the device
    order and the regime change with every move), and an LP costs less than a simulation.
    """
    stop = None if deadline is None else (
        time.perf_counter() + SURROGATE_SHARE * max(0.0, deadline - time.perf_counter()))

    def late() -> bool:
        return (stop is not None and time.perf_counter() >= stop) or budget.exhausted()

    def climb(segs: tuple[JobSegments, ...]) -> tuple[float, tuple[JobSegments, ...]]:
        low = budget.estimate(segs)
        improved = True
        while improved and not late():
            improved = False
            for cand in _neighbours(problem, segs):
                cand_low = budget.estimate(cand)
                if cand_low < low * (1 - 1e-12):
                    low, segs, improved = cand_low, cand, True
                    break
                if late():
                    break
        return low, segs

    ranked = sorted(((budget.estimate(s), i, s) for i, s in enumerate(seeds)
                     if not late() or i == 0), key=lambda x: x[:2])
    # the seeds the estimate likes best are simulated right away
    found = []
    for _, _, segs in ranked[:SEED_SIMULATIONS]:
        if budget.exhausted():
            break
        found.append((budget.fcfs(problem, segs), segs))
    best_low, _, best = ranked[0]
    current = best
    stall = 0
    while stall <= stall_kicks and not late():
        low, current = climb(current)
        if low < best_low * (1 - 1e-12) or not found:
            if low < best_low:
                best_low, best = low, current
            stall = 0
            if budget.exhausted():
                break
            found.append((budget.fcfs(problem, best), best))
        else:
            stall += 1
        kicked = _kick(problem, best, rng)
        if kicked is None:
            break
        current = kicked
    return [f for f in found if f[0] != math.inf]


def _report(progress: Callable[[str], None] | None, value: float, budget: _Budget,
            kicks: int) -> None:
    if progress is not None:
        progress(f"local search: objective {value:.6f} ms after {budget.evaluations} "
                 f"simulations, {kicks} perturbations")


class _Budget:
    """Counts simulations against the limits; remembers the value of every segmentation
    judged with the simulator's earliest-ready order (the order of every neighbour)."""

    def __init__(self, deadline: float | None, max_evaluations: int) -> None:
        self.deadline = deadline
        self.max_evaluations = max_evaluations
        self.evaluations = 0
        self.stopped = ""
        self.values: dict[tuple[JobSegments, ...], float] = {}
        self.bounds: dict[tuple[JobSegments, ...], float] = {}
        self.pruned = 0
        self.estimates: dict[tuple[JobSegments, ...], float] = {}
        self.problem: Problem | None = None   # set: bounds and estimates in use

    def lower(self, segments: tuple[JobSegments, ...]) -> float:
        """`segment_bound` of ``segments`` (cached; -inf when not in use)."""
        if self.problem is None:
            return -math.inf
        if segments not in self.bounds:
            self._estimate(self.problem, segments)
        return self.bounds[segments]

    def estimate(self, segments: tuple[JobSegments, ...]) -> float:
        """The surrogate search's value of ``segments`` (cached): `segment_bound`, or the
        contention-free cycle time of their first-ready order with the LP's durations if
        that is larger (the bound knows no device order; this sees its cycles)."""
        if segments not in self.estimates:
            assert self.problem is not None
            self._estimate(self.problem, segments)
        return self.estimates[segments]

    def _estimate(self, problem: Problem, segments: tuple[JobSegments, ...]) -> None:
        low, durations = segment_bound_lp(problem, segments)
        self.bounds[segments] = low
        estimate = low
        try:
            prep = prepare(problem, Schedule(segments), validate=False)
            _, _, order = _run_latency(prep, None)
            timed = replace(prep, base=tuple(max(b, d) for b, d in
                                             zip(prep.base, durations, strict=True)))
            estimate = max(low, cycle_time_prepared(timed, order) / problem.frames_per_round)
        except _Deadlock:  # pragma: no cover - first-ready orders never deadlock
            pass
        self.estimates[segments] = estimate

    def fcfs_below(self, problem: Problem, segments: tuple[JobSegments, ...],
                   threshold: float) -> float:
        """`fcfs`, unless ``segments`` is known not to beat ``threshold``: then its lower
        bound (>= threshold) without a simulation."""
        if segments not in self.values:
            low = self.lower(segments)
            if low >= threshold:
                self.pruned += 1
                return low
        return self.fcfs(problem, segments)

    def exhausted(self) -> bool:
        if self.evaluations >= self.max_evaluations:
            self.stopped = "evaluation budget"
        elif self.deadline is not None and time.perf_counter() >= self.deadline:
            self.stopped = "deadline"
        return bool(self.stopped)

    def value(self, problem: Problem, schedule: Schedule) -> float:
        self.evaluations += 1
        return simulated_value(problem, schedule)

    def fcfs(self, problem: Problem, segments: tuple[JobSegments, ...]) -> float:
        if segments not in self.values:
            self.values[segments] = self.value(problem, Schedule(segments))
        return self.values[segments]


def _climb(problem: Problem, value: float, current: Schedule, budget: _Budget
           ) -> tuple[float, Schedule, int]:
    """First-improvement hill climbing; neighbours in a fixed order."""
    moves = 0
    improved = True
    while improved and not budget.stopped:
        improved = False
        for segments in _neighbours(problem, current.segments):
            if segments not in budget.values and budget.exhausted():
                break
            # the tie rule of every search (model.md 5): equal value, fewer transitions
            # then loadables also moves (simplicity only decreases: no cycling)
            simpler = simplicity(segments) < simplicity(current.segments)
            cand_value = budget.fcfs_below(problem, segments,
                                           value * (1 + TIE_RTOL if simpler else 1 - 1e-12))
            if better(cand_value, segments, value, current.segments):
                value, current = cand_value, Schedule(segments)
                moves += 1
                improved = True
                break
    return value, current, moves


def _kick(problem: Problem, segments: tuple[JobSegments, ...], rng: random.Random
          ) -> tuple[JobSegments, ...] | None:
    """`KICK_MOVES` random neighbour moves in a row (None if there is no neighbour)."""
    for _ in range(KICK_MOVES):
        options = list(_neighbours(problem, segments))
        if not options:
            return None
        segments = rng.choice(options)
    return segments


def _steps(length: int) -> list[int]:
    out, k = [], 1
    while k <= length:
        out.append(k)
        k *= 2
    return out


def _neighbours(problem: Problem, segments: tuple[JobSegments, ...]
                ) -> Iterator[tuple[JobSegments, ...]]:
    for j, segs in enumerate(segments):
        groups = [s.device for s in segs for _ in range(s.first_group, s.last_group + 1)]
        n = len(groups)
        variants: list[list] = []
        # move the boundary between two segments either way
        for left, right in itertools.pairwise(segs):
            for k in _steps(right.last_group - right.first_group):
                new = list(groups)
                new[right.first_group:right.first_group + k] = [left.device] * k
                variants.append(new)
            for k in _steps(left.last_group - left.first_group):
                new = list(groups)
                new[left.last_group - k + 1:left.last_group + 1] = [right.device] * k
                variants.append(new)
        for seg in segs:
            length = seg.last_group - seg.first_group + 1
            for dst in problem.devices:
                if dst == seg.device:
                    continue
                # the whole segment elsewhere, then its head or tail
                new = list(groups)
                new[seg.first_group:seg.last_group + 1] = [dst] * length
                variants.append(new)
                for k in _steps(length - 1):
                    head = list(groups)
                    head[seg.first_group:seg.first_group + k] = [dst] * k
                    tail = list(groups)
                    tail[seg.last_group - k + 1:seg.last_group + 1] = [dst] * k
                    variants.extend((head, tail))
        for new in variants:
            if any(new[g] not in problem.allowed(j, g) for g in range(n)):
                continue
            job_segs = runs(new)
            if switches(problem, j, job_segs) > problem.max_transitions:
                continue
            out = (*segments[:j], job_segs, *segments[j + 1:])
            if fits_loadables(problem, out):
                yield out

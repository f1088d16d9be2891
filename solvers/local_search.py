"""Simulator-guided local search for what the exact models only approximate.

Throughput with memory contention has no exact backend model (docs/model.md section 4):
the backends optimise the placement contention-free, which gives a valid lower bound, but
the schedule that is best without contention can be far from the best with it (measured
on the benchmark's 2 x 30 pair: contention slows the contention-free optimum by 50 %).
Latency with contention has an exact CP-SAT model, but from 3 models on it stops at the
time limit with a gap, and a few hundred simulations around its schedule often find a
better one (model.md section 3). `improve` searches around the candidates it is given,
judging every neighbour with the simulator, the reference for both objectives:

- neighbours of a schedule move one segment boundary of one job by 1, 2, 4, ... groups
  (either way), move a segment to another device, or carve the head or tail (1, 2, 4, ...
  groups) of a segment onto another device; the device order of a neighbour is the
  simulator's earliest-ready dispatch;
- first-improvement hill climbing from every candidate in turn (best first), neighbours
  in a fixed order, so the same inputs and budget give the same schedule; it stops at the
  last local optimum, after ``max_evaluations`` simulations or at the deadline (then the
  result depends on speed, like any time-limited search).

It never returns anything worse than the best candidate.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from solvers.baselines import JobSegments, fits_loadables, runs, simulated_value
from solvers.problem import Problem
from solvers.schedule import Schedule
from solvers.simulator import simulate

MAX_EVALUATIONS = 2000
"""Simulations one `improve` call may run, candidates included (a deterministic budget;
the candidates themselves are always judged)."""


@dataclass(frozen=True)
class Improved:
    schedule: Schedule
    objective_ms: float
    start_objective_ms: float
    evaluations: int
    moves: int
    stopped: str       # "local optimum", "evaluation budget" or "deadline"


def improve(problem: Problem, candidates: Sequence[Schedule], *,
            deadline: float | None = None,
            max_evaluations: int = MAX_EVALUATIONS) -> Improved | None:
    """Hill-climb from each of ``candidates`` in turn, best first; the best schedule seen
    (None if no candidate is valid). ``deadline`` is a `time.perf_counter()` value."""
    budget = _Budget(deadline, max_evaluations)
    starts: list[tuple[float, int, Schedule]] = []
    for i, cand in enumerate(candidates):
        value = budget.value(problem, cand)
        if value != float("inf"):
            starts.append((value, i, cand))
    if not starts:
        return None
    starts.sort(key=lambda x: (x[0], x[1]))
    start_value = starts[0][0]
    best_value, best = start_value, starts[0][2]
    seen: set[tuple[JobSegments, ...]] = set()
    moves = 0
    for value, _, current in starts:
        if current.segments in seen:
            continue
        seen.add(current.segments)
        value, current, n = _climb(problem, value, current, seen, budget)
        moves += n
        if value < best_value:
            best_value, best = value, current
        if budget.stopped:
            break
    if best.order is None:
        best = Schedule(best.segments, simulate(problem, best).order)
    return Improved(best, best_value, start_value, budget.evaluations, moves,
                    budget.stopped or "local optimum")


class _Budget:
    def __init__(self, deadline: float | None, max_evaluations: int) -> None:
        self.deadline = deadline
        self.max_evaluations = max_evaluations
        self.evaluations = 0
        self.stopped = ""

    def exhausted(self) -> bool:
        if self.evaluations >= self.max_evaluations:
            self.stopped = "evaluation budget"
        elif self.deadline is not None and time.perf_counter() >= self.deadline:
            self.stopped = "deadline"
        return bool(self.stopped)

    def value(self, problem: Problem, schedule: Schedule) -> float:
        self.evaluations += 1
        return simulated_value(problem, schedule)


def _climb(problem: Problem, value: float, current: Schedule,
           seen: set[tuple[JobSegments, ...]], budget: _Budget
           ) -> tuple[float, Schedule, int]:
    """First-improvement hill climbing; neighbours in a fixed order."""
    moves = 0
    improved = True
    while improved and not budget.stopped:
        improved = False
        for segments in _neighbours(problem, current.segments):
            if segments in seen:
                continue
            if budget.exhausted():
                break
            seen.add(segments)
            cand = Schedule(segments)
            cand_value = budget.value(problem, cand)
            if cand_value < value * (1 - 1e-12):
                value, current = cand_value, cand
                moves += 1
                improved = True
                break
    return value, current, moves


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
            if len(job_segs) - 1 > problem.max_transitions:
                continue
            out = (*segments[:j], job_segs, *segments[j + 1:])
            if fits_loadables(problem, out):
                yield out

"""The exhaustive oracle: the true optimum of a small problem under the simulator.

How it works: it enumerates, for every job, every segmentation into ``1..T+1`` non-empty
contiguous segments and every device assignment (allowed devices for all groups of a
segment, consecutive segments on different devices); then every combination over jobs
that respects the DLA loadable limit; then, for each combination, every device order
(all permutations of each device's segments). Each complete schedule is judged by the
simulator's own engine (`solvers.judges.simulator`); deadlocking orders are skipped, schedules
missing a deadline are infeasible.

The answer (docs/model.md section 5): among the schedules whose value is within `TIE_RTOL`
of the least, the one with the fewest transitions, then the fewest DLA loadables, then the
first in enumeration order (deterministic): the secondary objective, exact here
(``stats["tie_break"] = "proven"``). A throughput value may be an estimate with an error
bound (drifting phases, docs/model.md 4.1): the answer is ``optimal`` only if every other
schedule's value minus its error is at least the answer's value plus its error (the next
candidate is separated), and the lower bound is the least value minus error over all
schedules, so it never exceeds the true optimum. A schedule whose contention-free period (a
lower bound on its period with contention) is already too high to tie with or touch the
best is not simulated: that period stands for its lower end.

Symmetry breaking (``symmetry=True``, the default, provably safe, and applied only when no
pin tells the cores apart): DLA0 and DLA1 have the
same costs, transitions and loss rates (everything depends on the device *kind*) and the
same loadable limit, so swapping them in a schedule (segments and orders) gives the same
timeline. Every schedule is therefore equivalent to one whose first DLA segment, in
(job, segment) order, is on DLA0; only those are enumerated. ``symmetry=False`` turns
this off (tests check both give the same optimum).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from solvers.backends.base import BackendAnswer, SolveOptions
from solvers.errors import ProblemError
from solvers.judges.simulator import (
    Prepared,
    assemble,
    contention_free_period,
    latency_objective,
    simulate,
    throughput_estimate,
)
from solvers.model.problem import Device, Objective, Problem, dla_symmetric
from solvers.model.schedule import (
    TIE_RTOL,
    Result,
    Schedule,
    Segment,
    SolveStatus,
    simplicity,
    switches,
)

DEFAULT_LIMIT = 2_000_000


@dataclass(frozen=True)
class _Option:
    """One way to run one job: its segments with precomputed base and transition times."""

    segments: tuple[Segment, ...]
    base: tuple[float, ...]
    tr_in: tuple[float, ...]


OPTIONS_LIMIT = 200_000
"""Most segmentations of one job the oracle lists (each a few hundred bytes): past it the
problem is far beyond what enumerating schedules can finish, whatever the other jobs."""


class _Cut(Exception):
    """The listing of a job's segmentations passed its cap or, with ``late``, its
    deadline."""

    def __init__(self, why: str, *, late: bool = False) -> None:
        super().__init__(why)
        self.late = late


def job_options(problem: Problem, job: int, *, cap: int | None = None,
                deadline: float | None = None) -> list[_Option]:
    """Every segmentation x assignment of one job (<= max_transitions switches), with each
    segment's base and incoming transition; costs are cached per span (2 x 30 groups:
    ~10x faster than recomputing them; `pair_bound` enumerates 5,049 options per job).
    With GPU fallback (docs/model.md 2.1) the segments are the executed pieces: up to
    `Problem.max_segments` of them, kept when their `switches` fit max_transitions; that is
    exactly the expansions of the user-level segmentations. Raises `_Cut` past ``cap``
    options or past ``deadline`` (a `time.perf_counter()` value), so that memory and time
    stay bounded whatever ``max_transitions`` is."""
    cost: dict[tuple[int, int, Device], float] = {}
    trans: dict[tuple[int, Device, Device], float] = {}

    def seg_cost(a: int, b: int, d: Device) -> float:
        if (a, b, d) not in cost:
            cost[a, b, d] = problem.segment_cost(job, a, b, d)
        return cost[a, b, d]

    def transition(g: int, src: Device, dst: Device) -> float:
        if (g, src, dst) not in trans:
            trans[g, src, dst] = problem.transition(job, g, src, dst)
        return trans[g, src, dst]

    n = problem.n_groups(job)
    devices = problem.devices
    allowed = [problem.allowed(job, g) for g in range(n)]
    ok_devices: dict[tuple[int, int], list[Device]] = {}
    out: list[_Option] = []
    fallback = problem.gpu_fallback(job)
    for m in range(1, problem.max_segments(job) + 1):
        for cuts in itertools.combinations(range(1, n), m - 1):
            bounds = (0, *cuts, n)
            ranges = [(bounds[i], bounds[i + 1] - 1) for i in range(m)]
            per_range = []
            for a, b in ranges:
                if (a, b) not in ok_devices:
                    ok_devices[a, b] = [d for d in devices
                                        if all(d in allowed[g] for g in range(a, b + 1))]
                per_range.append(ok_devices[a, b])
            for devs in itertools.product(*per_range):
                if any(x == y for x, y in itertools.pairwise(devs)):
                    continue
                segs = tuple(Segment(a, b, d) for (a, b), d in zip(ranges, devs, strict=True))
                if fallback and switches(problem, job, segs) > problem.max_transitions:
                    continue
                base = tuple(seg_cost(s.first_group, s.last_group, s.device) for s in segs)
                tr = tuple(0.0 if k == 0 else transition(segs[k - 1].last_group,
                                                         segs[k - 1].device, segs[k].device)
                           for k in range(m))
                out.append(_Option(segs, base, tr))
                if cap is not None and len(out) > cap:
                    raise _Cut(f"more than {cap:,} segmentations of {problem.jobs[job].name}")
            if deadline is not None and time.perf_counter() > deadline:
                raise _Cut("time limit reached while listing segmentations", late=True)
    return out


def _canonical(combo: Sequence[_Option]) -> bool:
    """True if the first DLA segment (in job, segment order) is on DLA0 (or there is none)."""
    for opt in combo:
        for s in opt.segments:
            if s.device.kind == "dla":
                return s.device is Device.DLA0
    return True


def _loadables_ok(problem: Problem, combo: Sequence[_Option]) -> bool:
    limit = problem.dla_loadable_limit
    counts: dict[Device, int] = {}
    for opt in combo:
        for s in opt.segments:
            if s.device.kind == "dla":
                counts[s.device] = counts.get(s.device, 0) + 1
                if counts[s.device] > limit:
                    return False
    return True


def count_space(problem: Problem, *, symmetry: bool = True) -> int:
    """Number of complete schedules (segment choices x device orders) to enumerate."""
    options = [job_options(problem, j.index) for j in problem.jobs]
    total = 0
    for combo in _combos(problem, options, symmetry):
        total += _order_count(problem, combo)
    return total


def _combos(problem: Problem, options: list[list[_Option]], symmetry: bool
            ) -> Iterator[tuple[_Option, ...]]:
    # Only safe when no pin tells the two cores apart (a pin allowing DLA1 but not DLA0
    # would otherwise hide the optimum).
    symmetry = symmetry and dla_symmetric(problem)
    for combo in itertools.product(*options):
        if symmetry and not _canonical(combo):
            continue
        if _loadables_ok(problem, combo):
            yield combo


def _order_count(problem: Problem, combo: Sequence[_Option]) -> int:
    counts = {d: 0 for d in problem.devices}
    for opt in combo:
        for s in opt.segments:
            counts[s.device] += 1
    return math.prod(math.factorial(c) for c in counts.values())


class _Loss:
    """`Problem.loss_rate` (victim job, device, aggressor job, device, aggressor's first
    and last group), cached."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.cache: dict[tuple[int, Device, int, Device, int, int], float] = {}

    def __call__(self, a: int, da: Device, b: int, db: Device, first: int, last: int
                 ) -> float:
        key = (a, da, b, db, first, last)
        if key not in self.cache:
            self.cache[key] = self.problem.loss_rate(a, da, b, db, first, last)
        return self.cache[key]


def _prepare_combo(problem: Problem, combo: Sequence[_Option], loss: _Loss) -> Prepared:
    return assemble(problem.devices,
                    [list(zip((seg.device for seg in opt.segments), opt.base, opt.tr_in,
                              ((seg.first_group, seg.last_group) for seg in opt.segments),
                              strict=True)) for opt in combo],
                    loss)


def _orders(prep: Prepared) -> Iterator[list[list[int]]]:
    per_device = [list(itertools.permutations(segs)) for segs in prep.on_device]
    for combo in itertools.product(*per_device):
        yield [list(p) for p in combo]


@dataclass
class _Candidate:
    value: float
    error: float
    key: tuple[int, int, int]      # (transitions, loadables, enumeration index)
    combo: tuple[_Option, ...]
    order: list[list[int]]
    prep: Prepared


@dataclass
class _Search:
    best_value: float = math.inf
    max_error: float = 0.0
    lower: float = math.inf        # least value - error over every feasible schedule
    near: list[_Candidate] | None = None   # candidates that may tie with or touch the best
    dropped: float = math.inf      # least value - error of the candidates not kept in near
    evaluated: int = 0
    deadlocked: int = 0
    missed_deadline: int = 0
    timed_out: bool = False

    def offer(self, value: float, error: float, key: tuple[int, int, int],
              combo: tuple[_Option, ...], order: list[list[int]], prep: Prepared) -> None:
        self.lower = min(self.lower, value - error)
        self.max_error = max(self.max_error, error)
        if self.near is None:
            self.near = []
        if value - error > self.reach():
            self.dropped = min(self.dropped, value - error)
            return
        self.near.append(_Candidate(value, error, key, combo, order, prep))
        if value < self.best_value:
            self.best_value = value
            if len(self.near) > 64:
                reach = self.reach()
                keep = []
                for c in self.near:
                    if c.value - c.error <= reach:
                        keep.append(c)
                    else:
                        self.dropped = min(self.dropped, c.value - c.error)
                self.near = keep

    def skip(self, low: float) -> None:
        """A schedule not simulated: its true value is at least ``low`` > `reach`."""
        self.lower = min(self.lower, low)
        self.dropped = min(self.dropped, low)

    def reach(self) -> float:
        """Candidates whose value minus error exceeds this are no ties (their value is
        above the least by more than `TIE_RTOL`); only their least value minus error is
        kept (``dropped``) for the separation test."""
        if not math.isfinite(self.best_value):
            return math.inf
        return self.best_value * (1 + 3 * TIE_RTOL) + 2 * self.max_error

    def answer(self) -> tuple[_Candidate, bool] | None:
        """The chosen schedule (least value, then simplest) and whether it is separated
        from every schedule outside its ties."""
        if not self.near:
            return None
        ties = [c for c in self.near if c.value <= self.best_value * (1 + TIE_RTOL)]
        chosen = min(ties, key=lambda c: c.key)
        top = chosen.value + chosen.error
        separated = self.dropped >= top - TIE_RTOL * top and all(
            c.value - c.error >= top - TIE_RTOL * top
            for c in self.near if c.value > self.best_value * (1 + TIE_RTOL))
        return chosen, separated


def exhaustive(problem: Problem, *, limit: int = DEFAULT_LIMIT, symmetry: bool = True,
               time_limit: float | None = None) -> Result:
    """Enumerate every schedule of ``problem`` and return the simulator's optimum.

    Raises ProblemError (stating the count) when the space exceeds ``limit`` schedules.
    Status ``optimal`` (``lower_bound == objective``), or ``infeasible`` when no schedule
    meets the deadlines, or ``feasible`` if ``time_limit`` (seconds) cut the search short.
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    try:
        options = [job_options(problem, j.index, cap=OPTIONS_LIMIT, deadline=deadline)
                   for j in problem.jobs]
    except _Cut as cut:
        if not cut.late:
            raise ProblemError(f"the exhaustive oracle would list {cut}, above its limit; use "
                               "fewer groups or max_transitions") from None
        return Result(SolveStatus.UNKNOWN, "exhaustive", None, None, None, None,
                      time.perf_counter() - t0, {"space": None},
                      f"{cut}: no schedule evaluated")
    space = 0
    for n, combo in enumerate(_combos(problem, options, symmetry)):
        space += _order_count(problem, combo)
        if space > limit:
            break
        if deadline is not None and n % 4096 == 0 and time.perf_counter() > deadline:
            return Result(SolveStatus.UNKNOWN, "exhaustive", None, None, None, None,
                          time.perf_counter() - t0, {"space": None},
                          "time limit reached while counting the schedules")
    if space > limit:
        full = count_space(problem, symmetry=symmetry) if space < 50 * limit else None
        size = f"{full:,}" if full is not None else f"more than {50 * limit:,}"
        raise ProblemError(
            f"the exhaustive oracle would enumerate {size} schedules, above its limit of "
            f"{limit:,}; use fewer groups, models or max_transitions, or raise the limit")
    search = _Search()
    loss = _Loss(problem)
    latency = problem.objective is Objective.LATENCY
    for combo in _combos(problem, options, symmetry):
        prep = _prepare_combo(problem, combo, loss)
        simple = simplicity([opt.segments for opt in combo])
        for order in _orders(prep):
            search.evaluated += 1
            error = 0.0
            if latency:
                res = latency_objective(problem, prep, order)
                if res is None:
                    search.deadlocked += 1
                    continue
                value, ok = res
                if not ok:
                    search.missed_deadline += 1
                    continue
            else:
                low = contention_free_period(problem, prep, order)
                if low is None:
                    search.deadlocked += 1
                    continue
                if prep.contention and low > search.reach():
                    search.skip(low)  # a valid lower end: no need to simulate it
                    continue
                found = throughput_estimate(problem, prep, order)
                if found is None:
                    search.deadlocked += 1
                    continue
                value, error = found
            search.offer(value, error, (*simple, search.evaluated), combo, order, prep)
        if deadline is not None and time.perf_counter() > deadline:
            search.timed_out = True
            break
    return _result(problem, search, space, symmetry, time.perf_counter() - t0)


def _result(problem: Problem, search: _Search, space: int, symmetry: bool,
            seconds: float) -> Result:
    stats = {"space": space, "evaluated": search.evaluated, "deadlocked": search.deadlocked,
             "missed_deadline": search.missed_deadline, "symmetry_breaking": symmetry}
    found = search.answer()
    if found is None:
        if search.timed_out:
            return Result(SolveStatus.UNKNOWN, "exhaustive", None, None, None, None, seconds,
                          stats, "time limit reached before any schedule was evaluated")
        why = ("every schedule misses a deadline" if search.missed_deadline
               else "no valid schedule exists (pins, eligibility or loadable limit)")
        return Result(SolveStatus.INFEASIBLE, "exhaustive", None, None, None, None, seconds,
                      stats, why)
    chosen, separated = found
    combo, order, prep = chosen.combo, chosen.order, chosen.prep
    segments = tuple(opt.segments for opt in combo)
    order_map = {prep.devices[d]: tuple(prep.refs[i] for i in order[d])
                 for d in range(len(prep.devices))}
    schedule = Schedule(segments, order_map)
    timeline = simulate(problem, schedule)
    stats["tie_break"] = "best_effort" if search.timed_out else "proven"
    stats["max_period_error_ms"] = search.max_error
    status = SolveStatus.OPTIMAL
    bound = None if search.timed_out else min(search.lower, timeline.objective_ms)
    msg = ""
    if search.timed_out:
        status, msg = SolveStatus.FEASIBLE, "time limit reached: best schedule found so far"
    elif not separated:
        status = SolveStatus.FEASIBLE
        msg = (f"not proven optimal: the best periods are estimates (phases drifting with "
               f"contention, docs/model.md 4.1) that their error bounds (up to "
               f"{search.max_error:.3g} ms) do not separate; lower bound {bound:.9g} ms")
    return Result(status, "exhaustive", schedule, timeline, timeline.objective_ms, bound,
                  seconds, stats, msg)


def solve_exhaustive(problem: Problem, options: SolveOptions) -> BackendAnswer:
    """Backend entry point for ``solve(..., solver="exhaustive")``."""
    result = exhaustive(problem, time_limit=options.time_limit)
    return BackendAnswer(status=result.status, schedule=result.schedule,
                         objective_ms=result.objective, bound_ms=result.lower_bound,
                         stats=dict(result.stats), message=result.message)


def best_of(problem: Problem, schedules: Sequence[Schedule]) -> tuple[int, float] | None:
    """Index and value of the best feasible schedule in a list (helper for tests)."""
    best: tuple[int, float] | None = None
    for i, s in enumerate(schedules):
        tl = simulate(problem, s)
        if tl.feasible and (best is None or tl.objective_ms < best[1]):
            best = (i, tl.objective_ms)
    return best

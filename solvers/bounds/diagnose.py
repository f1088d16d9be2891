"""Why a problem is infeasible, when a cheap check can tell: a deadline below a job's
fastest standalone time, a job that cannot be cut into ``max_transitions + 1`` segments on
its allowed devices, or DLA-only groups that need more loadables than the cores hold. The
backends call it when their search proves infeasibility, so the status comes with a reason
the user can act on."""

from __future__ import annotations

import math

from solvers.bounds.lower import fastest_chain
from solvers.model.problem import Device, Problem

DEADLINE_TOLERANCE = 1e-9
"""Relative slack when comparing a deadline with a fastest time summed in floating point."""


def diagnose_infeasible(problem: Problem) -> str:
    """Name the constraint that makes ``problem`` infeasible, when a cheap check can."""
    reasons: list[str] = []
    need_dla = 0
    dla_cores = [d for d in problem.devices if d.kind == "dla"]
    for job in problem.jobs:
        j, name = job.index, job.name
        fastest = fastest_chain(problem, j)
        deadline = problem.deadline(j)
        if math.isinf(fastest):
            reasons.append(f"{name} cannot be split into at most "
                           f"{problem.max_transitions + 1} segments on allowed devices "
                           f"(raise max_transitions or relax the pins)")
            continue
        if deadline is not None and fastest > deadline * (1 + DEADLINE_TOLERANCE):
            reasons.append(f"{name}: deadline {deadline} ms is below its fastest standalone "
                           f"time {fastest:.6f} ms")
        need_dla += _dla_only_runs(problem, j)
    limit = problem.dla_loadable_limit
    if dla_cores and need_dla > limit * len(dla_cores):
        reasons.append(f"groups that cannot run on the GPU need at least {need_dla} DLA "
                       f"loadables, more than the limit {limit} x {len(dla_cores)} cores "
                       "(raise loadable_limit or relax the pins)")
    if reasons:
        return "infeasible: " + "; ".join(reasons)
    return ("infeasible: no schedule satisfies the deadlines, loadable limit, pins and "
            "max_transitions together (each holds on its own)")


def _dla_only_runs(problem: Problem, job: int) -> int:
    """Maximal runs of DLA-allowed groups that contain a group the GPU may not run: each
    needs a DLA loadable of its own."""
    runs, g, n = 0, 0, problem.n_groups(job)
    while g < n:
        if not any(d.kind == "dla" for d in problem.allowed(job, g)):
            g += 1
            continue
        dla_only = False
        while g < n and any(d.kind == "dla" for d in problem.allowed(job, g)):
            dla_only |= Device.GPU not in problem.allowed(job, g)
            g += 1
        runs += int(dla_only)
    return runs

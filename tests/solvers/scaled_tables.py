"""Shared pieces of the exact searches' property tests (`test_latency_pair.py`,
`test_latency_cuts.py`, `test_latency_jobs.py`, ...): cost tables scaled as a whole (one
factor on every time of a table), and the latency problems they draw."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, reject
from hypothesis import strategies as st

from profiles.costtable import CostTable
from profiles.synthetic import synthetic_table
from solvers.errors import ProblemError
from solvers.judges.oracle import count_space
from solvers.model.problem import Pin, Problem
from solvers.model.schedule import Result
from solvers.solve import solve

SCALES = (1e-3, 0.02, 1.0, 30.0, 1e3)
"""Synthetic groups take ~0.02-1.4 ms: scaled, the times span the realistic range of
magnitudes (1 us .. 10 s per group) and past it at both ends."""


def scaled(table: CostTable, scale: float) -> CostTable:
    """``table`` with every time multiplied by ``scale`` (rounded to 1e-9 ms)."""
    def s(v: float | None) -> float | None:
        return None if v is None else round(v * scale, 9)

    rows = [replace(r, gpu_ms=s(r.gpu_ms), dla_ms=s(r.dla_ms), gpu_to_dla_ms=s(r.gpu_to_dla_ms),
                    dla_to_gpu_ms=s(r.dla_to_gpu_ms)) for r in table.rows]
    return CostTable.build(rows, dict(table.metadata), origin=f"<scaled {scale}>")


@st.composite
def latency_problems(draw: st.DrawFn, jobs: st.SearchStrategy[int], max_groups: int,
                     weighted: tuple[str, str]) -> Problem:
    """Latency without contention for the exact searches' property tests: ``jobs`` jobs of
    1..``max_groups`` groups scaled by one of `SCALES`, 0-2 switches, some DLA-ineligible
    groups, pins, loadable limits, a deadline, and now and then the models ``weighted``
    weighing 2.5 (or m1 1.7)."""
    scale = draw(st.sampled_from(SCALES))
    frac = draw(st.sampled_from([0.0, 0.0, 0.3]))
    n = draw(jobs)
    tables = [scaled(synthetic_table(draw(st.integers(1, max_groups)),
                                     draw(st.integers(0, 10_000)), model=f"m{i}",
                                     ineligible_fraction=frac), scale)
              for i in range(n)]
    pins = []
    if draw(st.integers(0, 3)) == 0:
        g = draw(st.integers(0, tables[0].n_groups - 1))
        pins.append(Pin.forbid("m0", g, draw(st.integers(g, tables[0].n_groups - 1)),
                               [draw(st.sampled_from(["DLA0", "DLA1", "GPU"]))]))
    deadlines = None
    if draw(st.integers(0, 3)) == 0:
        deadlines = {"m1": round(sum(tables[1].gpu_ms) * draw(st.sampled_from([0.6, 1.0, 1.3])),
                                 9)}
    weights = draw(st.sampled_from([None, None, dict.fromkeys(weighted, 2.5), {"m1": 1.7}]))
    try:
        return Problem.create(tables, draw(st.sampled_from(["xavier-agx", "orin-agx",
                                                            "xavier-agx"])),
                              objective="latency", contention="none", pins=pins,
                              max_transitions=draw(st.integers(0, 2)), deadlines=deadlines,
                              loadable_limit=draw(st.sampled_from([None, None, 1, 2])),
                              weights=weights)
    except ProblemError:   # e.g. a pin forbidding the GPU on a DLA-ineligible group
        reject()


def oracle_within(problem: Problem, space: int) -> Result:
    """The exhaustive oracle's answer; examples whose space passes ``space`` are skipped."""
    assume(count_space(problem) <= space)
    return solve(problem, "exhaustive", time_limit=None, hint=None)

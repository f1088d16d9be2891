"""solvers: the scheduling problem, the simulator that judges schedules, and the backends.

Layout (docs/solvers.md): `model` (the problem and its answer), `judges` (simulator, reference,
oracle), `bounds`, `backends` (cpsat, ilp, sat), `heuristics` (baselines, local search), and
`solve` (the one entry point: `solvers.solve.solve`)."""

from solvers.errors import BackendClaimError, ProblemError, UnsupportedFeatureError
from solvers.judges.simulator import simulate
from solvers.model.contention import ContentionModel, PiecewiseLinear, no_contention
from solvers.model.problem import (
    PLATFORMS,
    Device,
    Job,
    ModelSpec,
    Objective,
    Pin,
    Platform,
    Problem,
    get_platform,
)
from solvers.model.schedule import Result, Schedule, Segment, SolveStatus, Timeline

__all__ = [
    "PLATFORMS",
    "BackendClaimError",
    "ContentionModel",
    "Device",
    "Job",
    "ModelSpec",
    "Objective",
    "PiecewiseLinear",
    "Pin",
    "Platform",
    "Problem",
    "ProblemError",
    "Result",
    "Schedule",
    "Segment",
    "SolveStatus",
    "Timeline",
    "UnsupportedFeatureError",
    "get_platform",
    "no_contention",
    "simulate",
]

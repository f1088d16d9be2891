"""solvers: the scheduling problem, the simulator that judges schedules, and the backends."""

from solvers.contention import ContentionModel, PiecewiseLinear, no_contention
from solvers.errors import BackendClaimError, ProblemError, UnsupportedFeatureError
from solvers.problem import (
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
from solvers.schedule import Result, Schedule, Segment, SolveStatus, Timeline

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
]

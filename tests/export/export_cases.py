"""Problems, schedules and ONNX files for the exporter tests (small DAG models)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import onnx
from dag_models import MODELS

from profiles.synthetic import synthetic_onnx_table
from solvers.model.problem import Device, Problem
from solvers.model.schedule import Schedule, Segment

G, D0, D1 = Device.GPU, Device.DLA0, Device.DLA1


def save_models(tmp: Path, names: Sequence[str]) -> dict[str, Path]:
    out = {}
    for name in names:
        path = tmp / f"{name}.onnx"
        onnx.save(MODELS[name](), path)
        out[name] = path
    return out


def problem_for(files: dict[str, Path], groups: dict[str, int], *, objective: str = "latency",
                frames_per_round: int = 1, platform: str = "orin-agx",
                max_transitions: int = 2) -> Problem:
    tables = [synthetic_onnx_table(path, groups[name], seed=i, name=name, platform=platform)
              for i, (name, path) in enumerate(files.items())]
    return Problem.create(tables, platform, objective=objective, max_transitions=max_transitions,
                          frames_per_round=frames_per_round, contention="none")


def schedule(*jobs: Sequence[tuple[int, int, Device]]) -> Schedule:
    return Schedule(tuple(tuple(Segment(a, b, d) for a, b, d in job) for job in jobs))


# per model: >= 5 schedules over a 5-group table (1, 2 and 3 segments, every device mix)
FIVE_GROUP_SCHEDULES: tuple[tuple[tuple[int, int, Device], ...], ...] = (
    ((0, 4, G),),
    ((0, 1, D0), (2, 4, G)),
    ((0, 2, G), (3, 4, D1)),
    ((0, 0, G), (1, 3, D0), (4, 4, G)),
    ((0, 1, D1), (2, 2, G), (3, 4, D0)),
    ((0, 3, D0),  (4, 4, D1)),
)

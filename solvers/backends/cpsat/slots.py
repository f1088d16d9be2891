"""The variables of one CP-SAT slot, shared by the constraint families."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ortools.sat.python import cp_model

from solvers.model.problem import Device


@dataclass
class _Slot:
    """Variables of one slot (segment position) of one job."""

    job: int
    k: int
    name: str
    used: cp_model.IntVar
    cut: cp_model.IntVar           # exclusive end group of this slot
    on: dict[Device, cp_model.IntVar]
    is_kind: dict[str, Any]        # 'gpu' -> bool var (or constant 0), 'dla' -> bool var
    base: cp_model.IntVar
    duration: cp_model.IntVar      # base plus contention (the base itself without it)
    start: cp_model.IntVar
    end: cp_model.IntVar
    ready: Any = 0                 # linear expression
    trans_out: Any = 0             # delay after this slot (0 if the next slot is unused)


@dataclass(frozen=True)
class _Read:
    """A contention loss read that varies with the slot's group span (`_loss_reads`)."""

    var: cp_model.IntVar
    low: int
    high: int

"""Typed access to hand-editable JSON documents (schedule and problem files).

Files a user may edit by hand are read field by field: a missing key or a value of the
wrong type becomes a `ProblemError` that names the field by its path (e.g.
``schedule.segments[0][1].last_group: expected an integer >= 0, got "x"``) instead of a
``KeyError('segments')`` repr or a traceback deep inside a solver.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from solvers.errors import ProblemError


def show(value: Any) -> str:
    """A short JSON rendering of a bad value for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def need(data: Any, key: str, where: str) -> Any:
    """``data[key]`` of a JSON object, or an error naming ``where.key``."""
    obj = as_object(data, where)
    if key not in obj:
        raise ProblemError(f"{where}: missing key {key!r}")
    return obj[key]


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProblemError(f"{where}: expected a JSON object, got {show(value)}")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ProblemError(f"{where}: expected a JSON list, got {show(value)}")
    return list(value)


def as_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProblemError(f"{where}: expected a non-empty string, got {show(value)}")
    return value


def as_int(value: Any, where: str, *, minimum: int | None = None,
           maximum: int | None = None) -> int:
    """An integer (a JSON boolean or a fractional number is not one) within the bounds."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProblemError(f"{where}: expected an integer, got {show(value)}")
    if minimum is not None and value < minimum:
        raise ProblemError(f"{where}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ProblemError(f"{where}: must be <= {maximum}, got {show(value)}")
    return value


def as_number(value: Any, where: str, *, positive: bool = False) -> float:
    """A finite number (> 0 when ``positive``); booleans and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProblemError(f"{where}: expected a number, got {show(value)}")
    number = float(value) if not isinstance(value, int) or abs(value) < 2**1023 else math.inf
    if not math.isfinite(number):
        raise ProblemError(f"{where}: expected a finite number, got {show(value)}")
    if positive and number <= 0:
        raise ProblemError(f"{where}: must be > 0, got {show(value)}")
    return number


def as_choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ProblemError(f"{where}: expected one of {', '.join(choices)}, got {show(value)}")
    return value

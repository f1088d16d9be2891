"""One point of a sweep, run anywhere (a pool worker, a Ray worker): solve, judge with the
simulator, run the baselines, and return the database row.

`run_point` never raises for a point that cannot be solved: the error (type and message)
goes into the row with status ``error``, so one bad point never stops a sweep. Every number
comes from `optimizer.api` (the solver behind `solvers.solve.solve`, the baselines, the
simulator); this module only arranges them into columns.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import time
import traceback
from typing import Any

from optimizer.sweep.points import Point

ROW_STATUSES = ("optimal", "feasible", "infeasible", "unknown", "unsupported", "error")


def tool_version() -> str:
    """The installed layerswap's version (``unknown`` when run from an uninstalled tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("layerswap")
    except PackageNotFoundError:
        return "unknown"


def run_point(point: Point) -> dict[str, Any]:
    """The database row of ``point`` (`optimizer.sweep.db.COLUMNS`)."""
    started = time.perf_counter()
    row: dict[str, Any] = {"point_id": point.point_id, **point.axes()}
    try:
        row.update(_solve(point))
    except Exception as exc:  # recorded for this point; the sweep goes on
        row.update(status="error", error=error_text(exc))
    return _stamp(row, time.perf_counter() - started)


def error_row(point: Point, exc: BaseException) -> dict[str, Any]:
    """The row of a point whose task failed outside `run_point` (its worker died, the
    cluster lost it): status ``error`` with what happened."""
    return _stamp({"point_id": point.point_id, **point.axes(), "status": "error",
                   "error": error_text(exc)}, None)


def error_text(exc: BaseException) -> str:
    """``Type: message`` on one line (a domain error's message; else Python's own)."""
    from profiles.errors import LayerswapError

    detail = (str(exc) if isinstance(exc, LayerswapError)
              else "".join(traceback.format_exception_only(exc)).strip())
    return f"{type(exc).__name__}: {' '.join(detail.split())}"


def _stamp(row: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    row["task_seconds"] = None if seconds is None else round(seconds, 6)
    row["tool_version"] = tool_version()
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    row["finished_at"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return row


def _solve(point: Point) -> dict[str, Any]:
    from optimizer import api
    from profiles.costtable import CostTable
    from solvers import ModelSpec, Result, SolveStatus

    specs = [ModelSpec(CostTable.from_csv_text(text, origin=f"{name} ({source})"), name)
             for name, text, source in zip(point.models, point.tables, point.sources,
                                           strict=True)]
    problem = api.make_problem(specs, point.platform, point.objective,
                               point.max_transitions,
                               "preset" if point.contention == "on" else "none",
                               frames_per_round=point.frames_per_round)
    results: dict[str, Result] = {}
    frame = api.compare(problem, solvers=[point.solver], time_limit=point.time_limit,
                        workers=point.threads, results=results)
    rows = {r["name"]: r for r in frame.to_dict(orient="records")}
    mine = rows[point.solver]
    base = [(r["objective"], n) for n, r in rows.items()
            if r["kind"] == "baseline" and _num(r["objective"]) is not None]
    best_ms, best_name = min(base) if base else (None, None)
    out: dict[str, Any] = {"status": mine["status"], "best_baseline": best_name,
                           "best_baseline_ms": _num(best_ms),
                           "warnings": json.dumps(list(problem.warnings))}
    result = results.get(point.solver)
    if result is None:  # the backend cannot express this problem
        out["error"] = mine["message"] or None
        return out
    found = result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    out.update(objective_ms=_num(result.objective) if found else None,
               lower_bound_ms=_num(result.lower_bound), gap=_num(result.gap),
               solve_seconds=_num(result.solve_seconds),
               gain_pct=_num(mine["gain_pct"]) if found else None,
               error=(result.message or None) if result.status is not SolveStatus.OPTIMAL
               else None)
    if result.schedule is None:
        return out
    timeline = api.timeline_of(problem, result)  # the simulator's judgement
    busy = {d.value: v for d, v in timeline.busy_ms.items()}
    fps = (timeline.throughput_fps if timeline.period_ms is not None
           else 1000.0 / timeline.makespan_ms if timeline.makespan_ms > 0 else None)
    out.update(
        simulated_ms=_num(timeline.objective_ms), makespan_ms=_num(timeline.makespan_ms),
        period_ms=_num(timeline.period_ms), fps=_num(fps),
        busy_gpu_ms=_num(busy.get("GPU")), busy_dla0_ms=_num(busy.get("DLA0")),
        busy_dla1_ms=_num(busy.get("DLA1")),
        transitions=sum(result.schedule.transitions(j.index) for j in problem.jobs),
        loadables=sum(timeline.loadables.values()),
        schedule_json=json.dumps(result.schedule.to_dict(), sort_keys=True))
    return out


def _num(value: Any) -> float | None:
    """A finite float rounded to 1e-9, or None (missing, NaN)."""
    if value is None:
        return None
    x = float(value)
    return round(x, 9) if x == x and abs(x) != float("inf") else None


__all__ = ["ROW_STATUSES", "error_row", "error_text", "run_point", "tool_version"]

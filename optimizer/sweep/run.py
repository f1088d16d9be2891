"""Run a sweep into a results database: plan, skip what is there, run, write as rows come.

`run_sweep` is what `layerswap sweep` does; it is importable for scripts and notebooks::

    from optimizer.sweep import load_spec, run_sweep
    summary = run_sweep(load_spec("examples/sweep_haxconn.toml"), "out/sweep.db")
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.sweep import db
from optimizer.sweep.executors import default_workers, run_points
from optimizer.sweep.points import Plan, expand
from optimizer.sweep.spec import SweepSpec
from profiles.errors import LayerswapError


class ResumeError(LayerswapError):
    """The database already holds points of this sweep and ``resume`` was not asked."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the rows written so far are kept; ``summary`` says how many."""

    def __init__(self, summary: SweepSummary) -> None:
        super().__init__("interrupted")
        self.summary = summary


@dataclass
class SweepSummary:
    """What a sweep did (``layerswap sweep --json`` prints `to_dict`)."""

    results: str
    spec: str
    name: str
    spec_digest: str
    executor: str
    workers: int | None
    points: int
    already_done: int
    ran: int = 0
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"results": self.results, "spec": self.spec, "name": self.name,
                "spec_digest": self.spec_digest, "executor": self.executor,
                "workers": self.workers, "points": self.points,
                "already_done": self.already_done, "ran": self.ran,
                "written": self.written, "skipped": self.skipped,
                "statuses": self.statuses, "seconds": round(self.seconds, 3),
                "points_per_s": round(self.ran / self.seconds, 4) if self.seconds > 0 and self.ran
                else None, "interrupted": self.interrupted}


Listener = Callable[[str, dict[str, Any] | None], None]
"""Called with ("plan", summary) once the plan is known, ("row", row) after each written
row, ("tick", None) every few seconds while no row comes, and ("news", {"message": ...})
for planning news (e.g. estimating a model)."""


def run_sweep(spec: SweepSpec, results: str | Path, *, executor: str = "local",
              workers: int | None = None, address: str | None = None,
              resume: bool = False, retry_errors: bool = False,
              listener: Listener | None = None, plan: Plan | None = None) -> SweepSummary:
    """Run the points of ``spec`` missing from ``results``; rows are written one by one as
    they finish. Without ``resume``, a database that already holds points of this sweep is
    an error (`ResumeError`): nothing is run twice by accident. ``retry_errors`` (with
    ``resume``) first deletes this sweep's ``error`` rows, so those points run again."""
    def news(message: str) -> None:
        if listener:
            listener("news", {"message": message})

    plan = plan or expand(spec, progress=news)
    if workers is None and (executor == "local" or address is None):
        workers = default_workers()
    conn = db.connect(results)
    try:
        ids = [p.point_id for p in plan.points]
        if retry_errors and resume:
            db.delete_errors(conn, ids)
        done = db.existing_ids(conn, ids)
        if done and not resume:
            raise ResumeError(
                f"{results} already holds {len(done)} of the {len(ids)} points of this sweep; "
                "pass --resume to run only the missing ones, or write to another file")
        todo = [p for p in plan.points if p.point_id not in done]
        summary = SweepSummary(str(results), spec.path, spec.name, spec.digest, executor,
                               workers, len(ids), len(done), skipped=dict(plan.skipped))
        db.record_sweep(conn, spec.digest, spec.name, spec.path, spec.text, len(ids), executor)
        if listener:
            listener("plan", {"todo": len(todo), **summary.to_dict()})
        started = time.perf_counter()

        def on_row(row: dict[str, Any]) -> None:
            row = {**row, "spec_digest": spec.digest, "sweep": spec.name}
            summary.ran += 1
            summary.written += _insert(conn, row)
            if listener:
                listener("row", row)

        try:
            run_points(todo, on_row, executor=executor, workers=workers, address=address,
                       on_tick=(lambda: listener("tick", None)) if listener else None)
        except KeyboardInterrupt:
            summary.interrupted = True
        summary.seconds = time.perf_counter() - started
        summary.statuses = db.summary(conn, ids)
    finally:
        conn.close()
    if summary.interrupted:
        raise SweepInterrupted(summary)
    return summary


def _insert(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    return 1 if db.insert_row(conn, row) else 0


__all__ = ["ResumeError", "SweepInterrupted", "SweepSummary", "run_sweep"]

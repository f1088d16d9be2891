"""The results database: one SQLite file, one row per point.

Why SQLite (and not DuckDB): it ships with Python (no new dependency), and it gives what a
sweep needs from its store: each point is one ``INSERT`` that is atomic and durable on its
own (write-ahead log, ``synchronous=NORMAL``: a kill -9 loses at most the row being
written, never an earlier one, and never leaves half a row), and several writers (two
sweeps into one file) queue on a lock (``busy_timeout``) instead of corrupting the file.
The rows are small (the widest column is the schedule JSON), so analytic speed is not the
bottleneck; `to_parquet` hands them to DuckDB, Spark or pandas when it is.

Keys: ``point_id`` (`optimizer.sweep.points.Point`: the tables' digests plus the axes) is
the primary key, and rows are written with ``INSERT OR IGNORE``: a point solved by two
sweeps, or again after ``--resume``, stays one row (the first one written).
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from profiles.errors import LayerswapError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

COLUMNS: dict[str, str] = {
    "point_id": "TEXT PRIMARY KEY",   # SHA-256 of the tables' digests and the axes
    "spec_digest": "TEXT",            # the sweep that wrote the row first
    "sweep": "TEXT",                  # its name
    # axes
    "models": "TEXT",                 # model names joined by '+', in the spec's order
    "n_models": "INTEGER",
    "platform": "TEXT",               # the axis value: solver platform or estimator module
    "family": "TEXT",                 # its family: contention preset, DLA rules
    "precision": "TEXT",
    "objective": "TEXT",              # latency | throughput
    "max_transitions": "INTEGER",
    "contention": "TEXT",             # on | off
    "variant": "TEXT",                # original | rewritten
    "solver": "TEXT",
    "time_limit_s": "REAL",
    "threads": "INTEGER",             # solver threads of the task
    "frames_per_round": "INTEGER",
    "groups_total": "INTEGER",        # layer groups over all models (problem size)
    # outcome
    "status": "TEXT",                 # optimal|feasible|infeasible|unknown|unsupported|error
    "error": "TEXT",                  # why there is no (proven) answer, when known
    "objective_ms": "REAL",           # the solver's objective (makespan or period, ms)
    "simulated_ms": "REAL",           # the simulator's objective of that schedule
    "lower_bound_ms": "REAL",
    "gap": "REAL",                    # (objective - bound) / objective
    "solve_seconds": "REAL",          # the solver's own time
    "task_seconds": "REAL",           # the whole task: solve, simulate, baselines
    "transitions": "INTEGER",         # device changes, summed over models
    "loadables": "INTEGER",           # DLA loadables, summed over cores
    "makespan_ms": "REAL",
    "period_ms": "REAL",              # throughput: steady-state time per frame
    "fps": "REAL",                    # throughput: frames/s; latency: 1000 / makespan
    "busy_gpu_ms": "REAL",
    "busy_dla0_ms": "REAL",
    "busy_dla1_ms": "REAL",
    "best_baseline": "TEXT",
    "best_baseline_ms": "REAL",
    "gain_pct": "REAL",               # (best baseline - objective) / best baseline * 100
    "schedule_json": "TEXT",          # solvers.Schedule.to_dict()
    "warnings": "TEXT",               # JSON list of the problem's warnings
    "tool_version": "TEXT",
    "table_digest": "TEXT",           # SHA-256 over the tables' SHA-256s
    "tables_json": "TEXT",            # [{model, source, sha256}]
    "worker": "TEXT",                 # host:pid that ran it
    "finished_at": "TEXT",            # UTC, ISO 8601
}
"""The ``points`` table: column -> SQLite type (docs/formats.md lists them too)."""

TIMING_COLUMNS = ("spec_digest", "sweep", "solve_seconds", "task_seconds", "worker",
                  "finished_at", "tool_version")
"""Columns that differ between two runs of the same point (which run, how fast)."""


class ResultsError(LayerswapError):
    """A results file that cannot be opened, read or queried."""


def connect(path: str | Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open (create unless ``read_only``) the database, in WAL mode with a busy timeout."""
    p = Path(path)
    if read_only and not p.is_file():
        raise ResultsError(f"{p}: no such results database (write one with `layerswap "
                           "sweep SPEC -o FILE`)")
    try:
        if read_only:
            conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True,
                                   timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(p, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not read_only:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            _create(conn)
        else:
            _check_schema(conn, p)
    except sqlite3.DatabaseError as exc:
        raise ResultsError(f"{p}: not a layerswap results database ({exc})") from None
    return conn


def _create(conn: sqlite3.Connection) -> None:
    cols = ",\n  ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute(f"CREATE TABLE IF NOT EXISTS points (\n  {cols}\n)")
        conn.execute("CREATE TABLE IF NOT EXISTS sweeps (spec_digest TEXT, name TEXT, "
                     "spec_path TEXT, spec_text TEXT, points INTEGER, executor TEXT, "
                     "started_at TEXT)")
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                     (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    _check_schema(conn, None)


def _check_schema(conn: sqlite3.Connection, path: Path | None) -> None:
    try:
        got = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        got = None
    if got is None or got[0] != str(SCHEMA_VERSION):
        raise ResultsError(f"{path or 'database'}: not a layerswap results database of schema "
                           f"{SCHEMA_VERSION} (found {got[0] if got else 'none'})")


def record_sweep(conn: sqlite3.Connection, digest: str, name: str, path: str, text: str,
                 points: int, executor: str) -> None:
    """Note that a sweep (re)started on this database."""
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    conn.execute("INSERT INTO sweeps VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (digest, name, path, text, points, executor, now))


def insert_row(conn: sqlite3.Connection, row: Mapping[str, Any]) -> bool:
    """Write one point's row atomically; False when the point was already there."""
    unknown = set(row) - set(COLUMNS)
    if unknown:
        raise ValueError(f"unknown result columns {sorted(unknown)}")
    names = list(COLUMNS)
    cur = conn.execute(
        f"INSERT OR IGNORE INTO points ({', '.join(names)}) VALUES "
        f"({', '.join('?' for _ in names)})", [row.get(n) for n in names])
    return cur.rowcount == 1


def existing_ids(conn: sqlite3.Connection, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` already have a row."""
    wanted = list(ids)
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        found.update(r[0] for r in conn.execute(
            f"SELECT point_id FROM points WHERE point_id IN ({', '.join('?' * len(chunk))})",
            chunk))
    return found


def read_frame(path: str | Path, query: str | None = None) -> Any:
    """The ``points`` table (or the rows of a read-only SQL ``query``) as a DataFrame."""
    import pandas as pd

    conn = connect(path, read_only=True)
    try:
        return pd.read_sql_query(query or "SELECT * FROM points ORDER BY rowid", conn)
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
        raise ResultsError(f"{path}: query failed: {' '.join(str(exc).split())}") from None
    finally:
        conn.close()


def to_parquet(frame: Any, path: str | Path) -> Path:
    """Write ``frame`` as Parquet (atomically: temp file + rename)."""
    import io

    from profiles.fileio import atomic_write_bytes

    try:
        import pyarrow  # noqa: F401  (pandas needs it for Parquet)
    except ImportError:
        raise ResultsError("Parquet export needs pyarrow: pip install pyarrow (a layerswap "
                           "dependency; reinstall with pip install -e .)") from None
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return atomic_write_bytes(path, buf.getvalue())


def delete_errors(conn: sqlite3.Connection, ids: Iterable[str]) -> int:
    """Delete the ``error`` rows among ``ids`` (to run those points again); how many."""
    wanted = list(ids)
    removed = 0
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        removed += conn.execute(
            f"DELETE FROM points WHERE status = 'error' AND point_id IN "
            f"({', '.join('?' * len(chunk))})", chunk).rowcount
    return removed


def summary(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, int]:
    """Status counts of the rows of ``ids``."""
    wanted = list(ids)
    counts: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        for status, n in conn.execute(
                f"SELECT status, COUNT(*) FROM points WHERE point_id IN "
                f"({', '.join('?' * len(chunk))}) GROUP BY status", chunk):
            counts[status] = counts.get(status, 0) + n
    return dict(sorted(counts.items()))


__all__ = ["COLUMNS", "TIMING_COLUMNS", "ResultsError", "connect", "delete_errors", "existing_ids",
           "insert_row", "read_frame", "record_sweep", "summary", "to_parquet"]

"""Small sweeps for the sweep tests: tiny synthetic tables (3-4 groups) whose points each
solve to proven optimality in well under a second."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from profiles.synthetic import synthetic_table

ROOT = Path(__file__).resolve().parents[2]


def write_tables(folder: Path, n: int, *, groups: int = 3, platform: str = "xavier-agx",
                 bandwidth: bool = True) -> list[str]:
    """``n`` tiny tables t0.csv .. in ``folder``; returns their model names."""
    names = []
    for i in range(n):
        name = f"t{i}"
        synthetic_table(groups, seed=100 + i, model=name, platform=platform,
                        bandwidth=bandwidth).to_csv(folder / f"{name}.csv")
        names.append(name)
    return names


def write_spec(folder: Path, text: str, name: str = "spec.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def models_block(names: list[str]) -> str:
    return "[models]\n" + "".join(f'{n} = "{n}.csv"\n' for n in names)


SIXTY_POINTS_AXES = """
[groups]
size = 2
[axes]
platforms = ["xavier-agx"]
objectives = ["latency", "throughput"]
max_transitions = [0, 1, 2]
time_limits = [20]
"""
"""With 5 models: 10 pairs x 2 objectives x 3 max transitions = 60 points."""


def sixty_point_spec(folder: Path) -> Path:
    names = write_tables(folder, 5)
    return write_spec(folder, 'name = "sixty"\n' + models_block(names) + SIXTY_POINTS_AXES)


def cli(*argv: str, cwd: Path, **popen: object) -> subprocess.Popen[str]:
    """``layerswap ARGV`` as a child process (for signals and kills)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "optimizer.cli", *argv], cwd=cwd, env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **popen)  # type: ignore[call-overload]


def count_rows(db: Path) -> int:
    """Rows in the points table (0 while the database is not there yet)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.OperationalError:  # created but no table yet
        return 0

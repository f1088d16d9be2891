"""Design-space sweeps: many independent solves described by one TOML spec, run on a local
process pool or a Ray cluster, each point's row written to a SQLite results database as it
finishes.

    spec.py       the spec format and its checks (`load_spec`)
    points.py     models -> cost tables, the cross product -> `Point`s (`expand`)
    task.py       one point: solve, simulate, baselines -> one row (`run_point`)
    executors.py  local pool | Ray (`run_points`)
    db.py         the SQLite store, Parquet export (`connect`, `read_frame`, `to_parquet`)
    run.py        plan, skip what is done, run, write (`run_sweep`)
    results.py    reading a database: best configurations, heatmap, Pareto, scaling
"""

from optimizer.sweep.db import COLUMNS, ResultsError, read_frame, to_parquet
from optimizer.sweep.points import Plan, Point, expand, model_sets
from optimizer.sweep.run import ResumeError, SweepInterrupted, SweepSummary, run_sweep
from optimizer.sweep.spec import SpecError, SweepSpec, load_spec, parse_spec

__all__ = ["COLUMNS", "Plan", "Point", "ResultsError", "ResumeError", "SpecError",
           "SweepInterrupted", "SweepSpec", "SweepSummary", "expand", "load_spec",
           "model_sets", "parse_spec", "read_frame", "run_sweep", "to_parquet"]

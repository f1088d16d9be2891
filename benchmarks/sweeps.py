"""Benchmark: sweep throughput (points/s) against workers, and the per-task overhead of Ray
against the local process pool.

Run: ``python benchmarks/sweeps.py [--workload tiny|medium] [--runs local:1,local:2,ray:2]
[--json FILE]``. Each run solves the same generated sweep (5 synthetic models, every pair,
latency and throughput, 0-2 transitions: 60 points, contention off, CP-SAT with 1 thread per
task, 10 s limit) into a fresh database, through `optimizer.sweep.run_sweep`, so the
numbers include what a user waits for: the pool's or Ray's start, the tasks, the writes.

- ``tiny``: 3 groups per model; a task takes tens of ms, so the executor's own cost shows.
- ``medium``: 12 groups per model (the size of examples/detector.csv); tasks take 0.1-5 s.

Per run: wall seconds, points/s, the sum of the tasks' own seconds, the executor's start
(a pool of spawned workers importing the solver stack, or ``ray.init``) and the overhead
per task = (wall x workers - sum of task seconds) / points: the time a worker slot spent not
running a task, start included (and, after start, the same with the start taken off the
wall time). The machine's load (``os.getloadavg``) is printed before
and after each run: on a shared box other jobs steal cores, so record it with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# this folder holds benchmarks/solvers.py: keep it off the path (the pool's spawned workers
# inherit sys.path) so that `solvers` is the package, and put the repository first
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

from optimizer.sweep import expand, load_spec, read_frame, run_sweep  # noqa: E402
from profiles.synthetic import synthetic_table  # noqa: E402

WORKLOADS = {"tiny": 3, "medium": 12}
SPEC = """name = "bench-{workload}"
[models]
{models}
[groups]
size = 2
[axes]
platforms = ["xavier-agx"]
objectives = ["latency", "throughput"]
max_transitions = [0, 1, 2]
time_limits = [10]
[settings]
threads = 1
"""


def make_spec(folder: Path, workload: str) -> Path:
    groups = WORKLOADS[workload]
    lines = []
    for i in range(5):
        synthetic_table(groups, seed=200 + i, model=f"m{i}").to_csv(folder / f"m{i}.csv")
        lines.append(f'm{i} = "m{i}.csv"')
    path = folder / "spec.toml"
    path.write_text(SPEC.format(workload=workload, models="\n".join(lines)), encoding="utf-8")
    return path


def _noop(x: int) -> int:
    return x


def _echo(point: Any) -> dict[str, Any]:
    """A task that solves nothing: the row of a point, as a worker would send it back."""
    return {"point_id": point.point_id, **point.axes(), "status": "optimal"}


def dispatch(spec_path: Path, executor: str, workers: int, n: int) -> dict[str, Any]:
    """Seconds per task of the executor's own loop (submit, run a no-op, send the row back,
    hand it over), without solving: the slope between a run of ``n // 5`` and a run of
    ``n`` no-op tasks, so that the start (a fresh pool, or Ray's workers) cancels out."""
    from optimizer.sweep.executors import run_local, run_ray

    base = list(expand(load_spec(spec_path)).points)
    got: list[dict[str, Any]] = []

    def timed(k: int) -> float:
        points = (base * (k // len(base) + 1))[:k]
        t0 = time.perf_counter()
        if executor == "local":
            run_local(points, got.append, workers, task=_echo)
        else:
            run_ray(points, got.append, task=_echo)
        return time.perf_counter() - t0

    if executor == "ray":
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        timed(workers)  # warm: imports, Ray's workers
        small, large = timed(n // 5), timed(n)
    finally:
        if executor == "ray":
            ray.shutdown()
    return {"executor": executor, "workers": workers, "tasks": n,
            "per_task_ms": round((large - small) / (n - n // 5) * 1000, 3)}


def start_seconds(executor: str, workers: int) -> float:
    """The executor's start alone: a spawned pool importing the solver stack, or ray.init."""
    t0 = time.perf_counter()
    if executor == "local":
        import concurrent.futures as cf
        import multiprocessing as mp

        from optimizer.sweep.executors import _start_worker

        with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                    initializer=_start_worker) as pool:
            list(pool.map(abs, range(workers)))
    else:
        import ray

        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        ray.get(ray.remote(_noop).remote(1))
        ray.shutdown()
    return time.perf_counter() - t0


def one_run(spec_path: Path, executor: str, workers: int, folder: Path) -> dict[str, Any]:
    spec = load_spec(spec_path)
    plan = expand(spec)
    db = folder / f"{executor}-{workers}.db"
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    summary = run_sweep(spec, db, executor=executor, workers=workers, plan=plan)
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    frame = read_frame(db)
    tasks = float(frame["task_seconds"].sum())
    n = len(frame)
    return {"executor": executor, "workers": workers, "points": n,
            "statuses": summary.statuses, "wall_s": round(wall, 2),
            "points_per_s": round(n / wall, 3), "task_s_sum": round(tasks, 2),
            "task_s_mean": round(tasks / n, 4),
            "overhead_per_task_s": round((wall * workers - tasks) / n, 4),
            "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in load_after]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=tuple(WORKLOADS), default="tiny")
    parser.add_argument("--runs", default="local:1,local:2,ray:2",
                        help="comma-separated EXECUTOR:WORKERS (default: %(default)s)")
    parser.add_argument("--dispatch", type=int, default=0, metavar="N",
                        help="also time N no-op tasks through each executor (per-task "
                             "overhead without solving)")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the rows")
    args = parser.parse_args()
    runs = [(e, int(w)) for e, w in (r.split(":") for r in args.runs.split(","))]
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores; workload {args.workload} "
          f"({WORKLOADS[args.workload]} groups per model)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = make_spec(folder, args.workload)
        for executor, workers in runs:
            start = start_seconds(executor, workers)
            row = {**one_run(spec, executor, workers, folder), "start_s": round(start, 2)}
            row["overhead_per_task_after_start_s"] = round(
                ((row["wall_s"] - start) * workers - row["task_s_sum"]) / row["points"], 4)
            rows.append(row)
            print(f"{executor}:{workers}  {row['points']} points  wall {row['wall_s']:7.2f} s"
                  f"  {row['points_per_s']:6.3f} points/s  task mean {row['task_s_mean']:.4f}"
                  f" s  start {row['start_s']:5.2f} s  overhead/task "
                  f"{row['overhead_per_task_s']:.4f} s (after start "
                  f"{row['overhead_per_task_after_start_s']:.4f} s)  load "
                  f"{row['load_before'][0]:.1f}->"
                  f"{row['load_after'][0]:.1f}  {row['statuses']}", flush=True)
        for executor, workers in runs if args.dispatch else []:
            d = dispatch(spec, executor, workers, args.dispatch)
            rows.append(d)
            print(f"dispatch {executor}:{workers}  {d['tasks']} no-op tasks  "
                  f"{d['per_task_ms']:.3f} ms per task  load {os.getloadavg()[0]:.1f}",
                  flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

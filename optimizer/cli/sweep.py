"""`layerswap sweep`: many solves described by one TOML spec, on a local process pool or a
Ray cluster, each point's row written to a results database as it finishes (a thin wrapper
over `optimizer.sweep`)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from optimizer.cli.common import (
    EXIT_OK,
    UsageError,
    add_command,
    console,
    emit_json,
    integer,
)

EXIT_INTERRUPTED = 130
PROGRESS_EVERY_S = 10.0
"""Off a terminal, a progress line at most this often (and at the end)."""


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


@contextmanager
def sweep_progress(enabled: bool) -> Iterator[Callable[[str, dict[str, Any] | None], None]]:
    """A `run_sweep` listener drawing progress on stderr: a bar with ETA on a terminal
    (unless ``enabled`` is False, e.g. under --json), otherwise a plain line at most every
    `PROGRESS_EVERY_S` seconds and at the end, so a log shows the sweep is alive."""
    state: dict[str, Any] = {"total": 0, "done": 0, "errors": 0, "start": 0.0, "last": 0.0}
    tty = sys.stderr.isatty()
    bar: Any = None
    task: Any = None
    stack: list[Any] = []

    def line(message: str) -> None:
        print(f"layerswap: {message}", file=sys.stderr, flush=True)

    def listener(kind: str, data: dict[str, Any] | None) -> None:
        nonlocal bar, task
        data = data or {}
        if kind == "news":
            if not tty:
                line(data["message"])
            return
        if kind == "plan":
            state.update(total=data["todo"], start=time.monotonic(), last=time.monotonic())
            skipped = sum(data["skipped"].values())
            where = "local pool" if data["executor"] == "local" else "Ray"
            line(f"sweep {data['name']}: {data['points']} points, {data['already_done']} "
                 f"already in {data['results']}, {data['todo']} to run on the {where}"
                 + (f" ({skipped} combinations skipped; see --dry-run)" if skipped else ""))
            if tty and enabled and data["todo"]:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                    TimeRemainingColumn,
                )

                bar = Progress(TextColumn("{task.description}"), BarColumn(),
                               MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                               TimeRemainingColumn(), console=console(stderr=True),
                               transient=True)
                bar.start()
                stack.append(bar)
                task = bar.add_task("solving", total=data["todo"])
            return
        if kind == "row":
            state["done"] += 1
            state["errors"] += data.get("status") == "error"
            if bar is not None:
                bar.update(task, advance=1, description=f"solving ({state['errors']} errors)")
        if bar is not None:
            return
        now = time.monotonic()
        last = kind == "row" and state["done"] == state["total"]
        if now - state["last"] >= PROGRESS_EVERY_S or last:
            state["last"] = now
            elapsed = now - state["start"]
            rate = state["done"] / elapsed if elapsed > 0 else 0.0
            eta = (_duration((state["total"] - state["done"]) / rate) if rate > 0
                   else "unknown until a point finishes")
            line(f"[{state['done']}/{state['total']}] {rate:.2f} points/s, elapsed "
                 f"{_duration(elapsed)}, ETA {eta}, {state['errors']} errors")

    try:
        yield listener
    finally:
        for b in stack:
            b.stop()


def cmd_sweep(args: argparse.Namespace) -> int:
    from optimizer.sweep import SweepInterrupted, expand, load_spec, run_sweep

    if args.address and args.executor != "ray":
        raise UsageError("--address needs --executor ray")
    if args.retry_errors and not args.resume:
        raise UsageError("--retry-errors goes with --resume")
    if args.executor == "ray":
        from optimizer.sweep.executors import import_ray

        import_ray()  # before any planning: a missing extra is one line at once
    spec = load_spec(args.spec)
    try:
        with sweep_progress(not args.json) as listener:
            plan = expand(spec, progress=lambda m: listener("news", {"message": m}))
            if args.dry_run:
                return _print_plan(args, plan)
            summary = run_sweep(spec, args.output, executor=args.executor,
                                workers=args.workers, address=args.address,
                                resume=args.resume, retry_errors=args.retry_errors,
                                listener=listener, plan=plan)
    except KeyboardInterrupt as exc:  # SweepInterrupted: rows written; else while planning
        done = exc.summary.to_dict() if isinstance(exc, SweepInterrupted) else {}
        if done:
            print(f"layerswap: kept {done['written']} new row(s) in {done['results']}; "
                  "`--resume` runs the rest", file=sys.stderr)
        print("layerswap: interrupted", file=sys.stderr)
        if args.json:
            emit_json({"error": "interrupted", "exit_code": EXIT_INTERRUPTED, **done})
        return EXIT_INTERRUPTED
    doc = summary.to_dict()
    if args.json:
        emit_json(doc)
        return EXIT_OK
    statuses = ", ".join(f"{k} {v}" for k, v in doc["statuses"].items())
    rate = f", {doc['points_per_s']:.2f} points/s" if doc["points_per_s"] else ""
    console().print(f"{doc['results']}: ran {doc['ran']} of {doc['points']} points in "
                    f"{_duration(doc['seconds'])}{rate} ({doc['already_done']} were already "
                    f"there); statuses of the sweep's points: {statuses}")
    console().print(f"next: layerswap results {doc['results']} --best-by pair")
    return EXIT_OK


def _print_plan(args: argparse.Namespace, plan: Any) -> int:
    points = plan.points
    doc = {"spec": plan.spec.path, "name": plan.spec.name, "spec_digest": plan.spec.digest,
           "points": len(points), "skipped": plan.skipped,
           "model_sets": len({p.models for p in points}),
           "axes": {k: list(v) for k, v in plan.spec.axes.items()},
           "time_limit_total_s": sum(p.time_limit for p in points)}
    if args.json:
        emit_json(doc)
        return EXIT_OK
    con = console()
    con.print(f"{doc['name']}: {doc['points']} points over {doc['model_sets']} model sets; "
              f"time limits adding up to {_duration(doc['time_limit_total_s'])} "
              "(baselines and simulation come on top)")
    for why, n in plan.skipped.items():
        con.print(f"skipped {n}: {why}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `sweep`."""
    p = add_command(
        sub, "sweep", cmd_sweep,
        "solve every point of a design-space spec (models x platforms x objectives ...) "
        "into a results database",
        "  layerswap sweep examples/sweep_small.toml -o out/sweep.db\n"
        "  layerswap sweep examples/sweep_small.toml -o out/sweep.db --resume   # after a "
        "crash\n"
        "  layerswap sweep examples/sweep_haxconn.toml --dry-run          # count the points\n"
        "  layerswap sweep spec.toml -o s.db --executor ray --address auto   # on a cluster\n"
        "  layerswap results out/sweep.db --best-by pair\n\n"
        "The spec (TOML) names [models] (stored tables, CSV or ONNX files, zoo:NAME),\n"
        "[groups] (size = 2 for every pair, sets = [[...]]), [axes] (platforms, precision,\n"
        "objectives, max_transitions, contention, variants, solvers, time_limits) and\n"
        "[settings] (threads per task, frames_per_round, groups, max_crossing); see\n"
        "docs/sweeps.md. Each point is one task: solve, simulate, baselines; a point that\n"
        "fails is recorded with its error (status 'error') and the sweep goes on. Ctrl-C\n"
        "keeps every finished row (exit 130).")
    p.add_argument("spec", metavar="SPEC.toml", help="the sweep spec")
    p.add_argument("-o", "--output", metavar="RESULTS.db", default="sweep.db",
                   help="results database (SQLite; created if missing; default: "
                        "%(default)s)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: a process pool on this machine (default); ray: a Ray "
                        "cluster (pip install -e \".[ray]\")")
    p.add_argument("--address", metavar="ADDR", default=None,
                   help="Ray cluster to join: auto (the one `ray start` made here) or "
                        "HOST:PORT (default: start a local Ray instance)")
    p.add_argument("--workers", type=integer(minimum=1), default=None, metavar="N",
                   help="parallel tasks on this machine (local pool, or a local Ray "
                        "instance's CPUs; default: every core)")
    p.add_argument("--resume", action="store_true",
                   help="run only the points missing from RESULTS (after a crash, Ctrl-C "
                        "or kill)")
    p.add_argument("--retry-errors", action="store_true",
                   help="with --resume: also run again the points recorded as errors")
    p.add_argument("--dry-run", action="store_true",
                   help="resolve the models and count the points; run nothing")

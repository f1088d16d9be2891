"""`layerswap plot gantt|pareto|solve-times`: figures as PNG + SVG (thin wrappers)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from optimizer.cli.common import (
    MAX_WORKERS,
    Command,
    UsageError,
    add_command,
    add_group,
    add_problem_options,
    build_problem,
    declare_output,
    emit_json,
    integer,
    step_progress,
    time_limit,
)
from optimizer.defaults import MAX_TRANSITIONS_SWEEP, TIME_LIMIT
from solvers.errors import ProblemError


def _done(args: argparse.Namespace, paths: tuple[Path, Path], extra: dict[str, Any]) -> int:
    if args.json:
        emit_json({"written": [str(p) for p in paths], **extra})
    else:
        print(f"wrote {paths[0]} and {paths[1]}")
    return 0


def cmd_plot_gantt(args: argparse.Namespace) -> int:
    from optimizer.plots import plot_gantt, save_figure
    from solvers.judges.simulator import simulate
    from solvers.model.schedule import load_schedule_file

    problem, schedule = load_schedule_file(args.schedule)
    timeline = simulate(problem, schedule)
    paths = save_figure(plot_gantt(problem, timeline, title=args.title), args.output)
    return _done(args, paths, {"objective": timeline.objective_ms})


def cmd_plot_pareto(args: argparse.Namespace) -> int:
    from optimizer.api import pareto_front, sweep_max_transitions
    from optimizer.plots import plot_pareto, save_figure

    if args.objective_given is not None:
        raise UsageError("plot pareto solves both objectives (latency and throughput) at "
                         "every --max-transitions value; drop --objective")
    values = args.max_transitions
    # the base problem keeps pins, weights, deadlines, contention; the sweep varies T and
    # the objective (throughput when frames per round > 1, which latency refuses)
    base = argparse.Namespace(**{**vars(args), "max_transitions": max(values),
                                 "objective": "throughput" if args.frames_per_round > 1
                                 else "latency"})
    problem = build_problem(base)
    with step_progress(2 * len(values), enabled=not args.json) as progress:
        frame = sweep_max_transitions(problem, values, time_limit=args.time_limit,
                                      workers=args.workers, progress=progress)
    paths = save_figure(plot_pareto(frame), args.output)
    front = pareto_front(frame)
    return _done(args, paths, {"points": json.loads(frame.to_json(orient="records")),
                               "front": json.loads(front.to_json(orient="records"))})


def _int_list(text: str) -> list[int]:
    """``0,1,2,3``: whole numbers >= 0 (--max-transitions of `plot pareto`)."""
    parse = integer(minimum=0)
    values = [parse(v.strip()) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected whole numbers like 0,1,2, got {text!r}")
    return sorted(set(values))


def cmd_plot_solve_times(args: argparse.Namespace) -> int:
    from optimizer.plots import plot_solve_times, save_figure

    path = Path(args.records)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise ProblemError(f"{path}: not JSON ({exc}); pass benchmarks/results/solvers.json")\
            from exc
    records = data.get("records", data) if isinstance(data, dict) else data
    if not isinstance(records, list) or not records:
        raise ProblemError(f"{path}: no benchmark records (expected a list under 'records')")
    paths = save_figure(plot_solve_times(records), args.output)
    return _done(args, paths, {"records": len(records)})


def register(sub: argparse._SubParsersAction) -> None:
    """Add `plot gantt|pareto|solve-times`."""
    steps = add_group(sub, "plot", "Gantt chart, Pareto front, solve times (PNG + SVG)",
                      "Draw figures; each is written as PNG and SVG.",
                      "  layerswap plot gantt schedule.json -o gantt.png\n"
                      "  layerswap plot pareto --max-transitions 0,1,2,3 -o pareto.png\n"
                      "  layerswap plot solve-times benchmarks/results/solvers.json -o times.png",
                      dest="plot_command", metavar="FIGURE")

    def add(name: str, help_: str, examples: str, func: Command) -> argparse.ArgumentParser:
        p = add_command(steps, name, func, help_, examples, json_flag=False, exit_codes=False)
        p.add_argument("-o", "--output", required=True, metavar="FILE.png",
                       help="output path; the SVG is written next to it")
        declare_output(p, "output", "figure")
        p.add_argument("--json", action="store_true",
                       help="print exactly one JSON object on stdout")
        return p

    p = add("gantt", "per-device Gantt chart of a saved schedule (contention hatched)",
            "  layerswap plot gantt schedule.json -o gantt.png", cmd_plot_gantt)
    p.add_argument("schedule", help="schedule file from `layerswap solve -o`")
    p.add_argument("--title", default=None)

    p = add("pareto", "latency vs throughput over max transitions values (exact solver "
                      "per value and objective)",
            "  layerswap plot pareto -o pareto.png\n"
            "  layerswap plot pareto a.csv b.csv --platform orin-agx --max-transitions 0,1,2 "
            "-o p.png",
            cmd_plot_pareto)
    add_problem_options(p, sweep=True)
    p.add_argument("--max-transitions", type=_int_list, metavar="T,T,...",
                   default=",".join(map(str, MAX_TRANSITIONS_SWEEP)),
                   help="max transitions values to solve for, each with both objectives "
                        "(default: %(default)s)")
    p.add_argument("--budgets", type=_int_list, dest="max_transitions",
                   help=argparse.SUPPRESS)  # deprecated name of --max-transitions
    p.add_argument("--objective", dest="objective_given", default=None,
                   help=argparse.SUPPRESS)  # refused with a message: both are solved
    p.add_argument("--time-limit", type=time_limit, default=TIME_LIMIT, metavar="S",
                   help="seconds per solve, or auto (10 s plus 0.025 s per group; "
                        "default: %(default)s)")
    p.add_argument("--workers", type=integer(minimum=1, maximum=MAX_WORKERS), default=2,
                   metavar="N",
                   help="solver threads (default: %(default)s)")

    p = add("solve-times", "solve time against problem size from benchmark records",
            "  layerswap plot solve-times benchmarks/results/solvers.json -o times.png",
            cmd_plot_solve_times)
    p.add_argument("records", help="benchmarks/results/solvers.json")

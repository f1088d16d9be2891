"""`layerswap solve | simulate | compare`: find, judge and compare schedules (thin wrappers
over `solvers.solve`, `solvers.judges.simulator` and `optimizer.api.compare`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from optimizer.bands import band_line, problem_band
from optimizer.cli.common import (
    EXIT_INFEASIBLE,
    EXIT_OK,
    MAX_WORKERS,
    UsageError,
    add_command,
    add_export_options,
    add_problem_options,
    add_solver_options,
    build_problem,
    console,
    declare_output,
    emit_json,
    fmt,
    integer,
    onnx_map,
    solver_list,
    spinner,
    status_exit,
    step_progress,
    time_limit,
)
from optimizer.defaults import COMPARE_SOLVERS, TIME_LIMIT
from optimizer.text import signed_pct

DEFAULT_GANTT = "out/default_gantt.png"


def cmd_solve(args: argparse.Namespace) -> int:
    from solvers.model.render import render_text
    from solvers.model.schedule import result_to_dict, save_schedule_file
    from solvers.solve import solve

    problem = build_problem(args)
    if bool(args.export) != bool(args.onnx):
        raise UsageError("--export DIR and --onnx MODEL=FILE go together")
    if args.export:
        from export.exporter import match_onnx

        match_onnx(problem, onnx_map(args.onnx))  # a wrong model name before the solve
    with spinner(f"solving with {args.solver}…", not args.json) as progress:
        result = solve(problem, args.solver, time_limit=args.time_limit, workers=args.workers,
                       progress=progress)
    written: dict[str, Any] = {}
    if args.output and result.schedule is not None:
        save_schedule_file(args.output, problem, result.schedule, result)
        written["schedule"] = str(args.output)
    if args.export and result.schedule is not None:
        from export.exporter import export_schedule
        from profiles.platforms import default_trt_version

        with spinner(f"exporting to {args.export}…", not args.json):
            export_schedule(problem, result.schedule, onnx_map(args.onnx), args.export,
                            result=result,
                            trt_version=args.trt_version
                            or default_trt_version(problem.platform.name),
                            precision=args.precision, allow_gpu_fallback=args.allow_gpu_fallback)
        written["export"] = str(args.export)
    plot = args.plot
    if plot is None and not args.tables and not args.no_plot:
        plot = DEFAULT_GANTT  # the embedded default demo always shows its chart
    if plot and result.timeline is not None:
        from optimizer.plots import plot_gantt, save_figure

        fig = plot_gantt(problem, result.timeline)
        written["plot"] = [str(p) for p in save_figure(fig, plot)]
    band = problem_band(problem, result.timeline)
    if args.json:
        doc = result_to_dict(problem, result)
        doc["error_band"] = band
        doc["written"] = written
        emit_json(doc)
    else:
        con = console()
        for w in problem.warnings:
            con.print(f"[yellow]warning:[/yellow] {w}")
        con.print(render_text(problem, result))
        if band_line(band):
            con.print(band_line(band))
        for kind, path in written.items():
            con.print(f"wrote {kind}: {path if isinstance(path, str) else ', '.join(path)}")
    return status_exit(result.status.value)


def cmd_simulate(args: argparse.Namespace) -> int:
    from solvers.judges.simulator import simulate
    from solvers.model.render import render_text
    from solvers.model.schedule import load_schedule_file, transitions

    problem, schedule = load_schedule_file(args.schedule)
    timeline = simulate(problem, schedule)
    if args.json:
        doc: dict[str, Any] = {
            "objective_kind": problem.objective.value,
            "objective": timeline.objective_ms,
            "makespan_ms": timeline.makespan_ms,
            "busy_ms": {d.value: v for d, v in timeline.busy_ms.items()},
            "idle_ms": {d.value: timeline.idle_ms(d) for d in timeline.busy_ms},
            "loadables": {d.value: n for d, n in timeline.loadables.items()},
            "violations": list(timeline.violations),
            "models": [{"name": job.name, "transitions": transitions(problem, schedule,
                                                                      job.index)}
                       for job in problem.jobs],
            "segments": [{"model": problem.jobs[t.job].name, "index": t.index,
                          "first_group": t.segment.first_group,
                          "last_group": t.segment.last_group, "device": t.segment.device.value,
                          "start_ms": t.start_ms, "end_ms": t.end_ms,
                          "contention_ms": t.contention_ms} for t in timeline.segments],
        }
        if timeline.period_ms is not None:
            doc["period_ms"] = timeline.period_ms
            doc["throughput_fps"] = timeline.throughput_fps
            doc["period_error_ms"] = timeline.period_error_ms
            if timeline.streaming is not None:
                doc["streaming"] = timeline.streaming.to_dict()
        doc["error_band"] = problem_band(problem, timeline)
        emit_json(doc)
    else:
        console().print(render_text(problem, timeline, schedule=schedule))
        line = band_line(problem_band(problem, timeline))
        if line:
            console().print(line)
    return EXIT_INFEASIBLE if timeline.violations else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from optimizer.api import compare, fallback_matters

    problem = build_problem(args)
    solvers = args.solvers
    fallback = False if args.no_fallback_rows else fallback_matters(problem)
    # the fallback rows: the baseline, and each optimum that is not the cpsat row's
    extra = 1 + sum("cpsat" not in solvers or problem.with_gpu_fallback(on) != problem
                    for on in (True, False)) if fallback else 0
    with step_progress(len(solvers) + 1 + extra, enabled=not args.json) as progress:
        frame = compare(problem, solvers=solvers, time_limit=args.time_limit,
                        workers=args.workers, progress=progress, fallback=fallback)
    records = json.loads(frame.to_json(orient="records"))
    disagreement = frame.attrs.get("disagreement", [])
    if args.json:
        emit_json({"objective_kind": problem.objective.value,
                   "platform": problem.platform.name,
                   "models": [j.name for j in problem.jobs], "rows": records,
                   "disagreement": disagreement, "warnings": [
                       *problem.warnings, *map(_disagreement_text, disagreement)]})
        return EXIT_OK
    from rich.table import Table

    unit = "period ms" if problem.objective.value == "throughput" else "latency ms"
    table = Table(title=f"{' + '.join(j.name for j in problem.jobs)} on "
                        f"{problem.platform.name} ({problem.objective.value})")
    for col, justify in (("name", "left"), ("kind", "left"), (unit, "right"),
                         ("gain", "right"), ("status", "left"), ("gap", "right"),
                         ("solve s", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.caption = ("gain: over the best baseline; gap: to the proven lower bound "
                     "(the solver's, or a cheap load/chain bound for baselines)"
                     + ("; 'as TensorRT builds it': one switch per model, DLA part built "
                        "with --allowGPUFallback; the cpsat rows with GPU fallback allowed / "
                        "forbidden for every model" if fallback else ""))
    for r in records:
        table.add_row(r["name"], r["kind"], fmt(r.get("objective"), "{:.4f}"),
                      signed_pct(r.get("gain_pct")), str(r.get("status", "")),
                      fmt(r.get("gap"), "{:.2%}"), fmt(r.get("solve_seconds"), "{:.2f}"))
    con = console()
    for w in [*problem.warnings, *map(_disagreement_text, disagreement)]:
        con.print(f"[yellow]warning:[/yellow] {w}")
    con.print(table)
    return EXIT_OK


def _disagreement_text(d: dict[str, Any]) -> str:
    (a, b), (x, y) = d["solvers"], d["objectives"]
    return (f"{a} and {b} both claim optimal but disagree: {x:.6g} vs {y:.6g} ms "
            f"({d['relative_difference']:.2%} apart); at most one of them is right, check "
            "with a longer --time-limit or the exhaustive solver on a smaller problem")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `solve`, `simulate` and `compare`."""
    p = add_command(
        sub, "solve", cmd_solve, "find the transition layers of every model (exact solvers)",
        "  layerswap solve                          # GoogleNet + AlexNet, Xavier\n"
        "  layerswap solve yolo.csv gan.csv --platform orin-agx --objective throughput\n"
        "  layerswap solve googlenet_xavier alexnet_xavier --max-transitions 1 --solver ilp "
        "--json\n"
        "  layerswap solve examples/detector.csv examples/segmenter.csv --platform orin-agx "
        "-o schedule.json --plot gantt.png\n"
        "  layerswap solve left=googlenet_xavier right=googlenet_xavier --pin left:0-4:GPU\n"
        "  layerswap solve gan.csv --export out/gan --onnx gan=gan.onnx   # + engines plan")
    add_problem_options(p)
    add_solver_options(p)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the self-contained schedule (problem + schedule) as JSON")
    declare_output(p, "output", "file")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the Gantt chart (PNG and SVG next to it); with no TABLE it "
                        f"defaults to {DEFAULT_GANTT}")
    declare_output(p, "plot", "figure")
    p.add_argument("--no-plot", action="store_true",
                   help="do not write the default pair's Gantt chart")
    add_export_options(p, standalone=False)

    p = add_command(sub, "simulate", cmd_simulate,
                    "judge a saved schedule with the event-driven simulator (throughput: "
                    "also as the runtime streams it)",
                    "  layerswap simulate schedule.json\n"
                    "  layerswap simulate schedule.json --json")
    p.add_argument("schedule", help="schedule file written by `layerswap solve -o`")

    p = add_command(sub, "compare", cmd_compare,
                    "run every baseline and backend on one problem and tabulate them",
                    "  layerswap compare\n"
                    "  layerswap compare examples/detector.csv examples/segmenter.csv "
                    "--platform orin-agx --solvers cpsat,ilp --json")
    add_problem_options(p)
    p.add_argument("--solvers", default=",".join(COMPARE_SOLVERS), type=solver_list,
                   help="backends to run, comma-separated (default: %(default)s)")
    p.add_argument("--no-fallback-rows", action="store_true",
                   help="leave out the GPU fallback rows (shown when some model has layers "
                        "the DLA refuses: 'as TensorRT builds it' and cpsat with fallback "
                        "allowed / forbidden)")
    p.add_argument("--time-limit", type=time_limit, default=TIME_LIMIT, metavar="S",
                   help="per-backend time limit in seconds, or auto (10 s plus 0.025 s per "
                        "group; default: %(default)s)")
    p.add_argument("--workers", type=integer(minimum=1, maximum=MAX_WORKERS), default=2,
                   metavar="N")

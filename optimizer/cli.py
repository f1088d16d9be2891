"""The `layerswap` command line: a thin face over profiles/ and solvers/.

Every reporting command takes ``--json`` and then prints exactly one JSON object on stdout
(keys in shared/docs/design.md section 4). User errors print one line
``layerswap: error: ...`` on stderr (with ``--json`` also ``{"error": ..., "exit_code": 1}``
on stdout); bugs keep their traceback.

Exit codes: 0 success (optimal or feasible schedule), 1 bad input or unsupported request,
2 bad command line, 3 the problem is infeasible, 4 no schedule found within the time limit,
5 regression check failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from profiles.errors import LayerswapError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_REGRESSION = range(6)
DEFAULT_TABLES = ("googlenet_xavier", "alexnet_xavier")
DEFAULT_GANTT = "out/default_gantt.png"

SOLVER_CHOICES = ("cpsat", "ilp", "sat", "exhaustive")

EPILOG = """\
exit codes: 0 ok, 1 bad input, 2 bad command line, 3 infeasible, 4 no schedule in time,
5 regression check failed. With --json, stdout holds exactly one JSON object; on bad
input it is {"error": MESSAGE, "exit_code": 1} (the message also goes to stderr).
"""


class CommandError(LayerswapError):
    """A bad combination of command-line options (exit 1, one line)."""


# ---------------------------------------------------------------------- output helpers
def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def emit_json(obj: dict[str, Any]) -> None:
    """The one way a command prints its --json answer: one object, no NaN."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


@contextmanager
def _spinner(message: str, enabled: bool):
    """A status spinner on stderr when it is a terminal (never pollutes --json stdout).

    Yields a progress callback for `solvers.solve.solve` that shows the latest line (best
    schedule so far, bound, seconds) next to the message, or None when there is no spinner.
    """
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    with _console(stderr=True).status(message) as status:
        yield lambda line: status.update(f"{message} {line}")


# ---------------------------------------------------------------------- shared options
def _resolve_table(ref: str):
    from profiles.costtable import CostTable, load_published, published_names

    path = Path(ref)
    if path.exists():
        return CostTable.from_csv(path)
    if ref in published_names():
        return load_published(ref)
    raise CommandError(
        f"{ref}: no such file and not a stored table; stored tables are "
        f"{', '.join(published_names())} (list them with `layerswap tables`)")


def _add_problem_options(p: argparse.ArgumentParser, *, tables: bool = True) -> None:
    if tables:
        p.add_argument("tables", nargs="*", metavar="TABLE",
                       help="cost-table CSV files or stored table names "
                            f"(default: {' + '.join(DEFAULT_TABLES)})")
    g = p.add_argument_group("problem")
    g.add_argument("--platform", default="xavier-agx",
                   help="xavier-agx | orin-agx | orin-nx | gpu-only (default: %(default)s)")
    g.add_argument("--objective", choices=("latency", "throughput"), default="latency",
                   help="latency: makespan of one concurrent inference; throughput: period "
                        "of a stream of frames (default: %(default)s)")
    g.add_argument("--max-transitions", type=int, default=2, metavar="N",
                   help="device switches allowed per model (default: %(default)s)")
    g.add_argument("--contention", choices=("auto", "none", "preset"), default="auto",
                   help="memory-contention model: auto uses the platform preset when the "
                        "tables have bandwidth columns (default: %(default)s)")
    g.add_argument("--contention-strength", type=float, default=None, metavar="X",
                   help="scale the contention loss rates (0 = off, 1 = preset)")
    g.add_argument("--contention-model", metavar="FILE.json", default=None,
                   help="use a calibrated contention model (`layerswap calibrate -o`)")
    g.add_argument("--frames-per-round", type=int, default=1, metavar="F",
                   help="throughput: frames per round; each model gets F instances that "
                        "may be partitioned differently (default: %(default)s)")
    g.add_argument("--loadable-limit", type=int, default=None, metavar="N",
                   help="DLA loadables per core (default: from the tables' TRT version: "
                        "8 for TRT 7, 4 for 8.0-8.4, 16 later)")
    g.add_argument("--weight", action="append", default=[], metavar="MODEL=W",
                   help="latency weight of a model (repeatable)")
    g.add_argument("--deadline", action="append", default=[], metavar="MODEL=MS",
                   help="hard completion deadline of a model in ms (repeatable)")
    g.add_argument("--pin", action="append", default=[], metavar="MODEL:A-B:DEV[,DEV]",
                   help="groups A..B of MODEL may only run on these devices, e.g. "
                        "yolo:0-40:GPU (repeatable)")
    g.add_argument("--forbid", action="append", default=[], metavar="MODEL:A-B:DEV[,DEV]",
                   help="groups A..B of MODEL may not run on these devices (repeatable)")


def _parse_mapping(items: Sequence[str], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise CommandError(f"--{what} {item!r}: expected MODEL=NUMBER") from None
    return out


def _parse_pins(items: Sequence[str], forbid: bool):
    from solvers.problem import Device, Pin

    pins = []
    for item in items:
        parts = item.split(":")
        try:
            model, span, devs = parts
            a, _, b = span.partition("-")
            first, last = int(a), int(b or a)
            devices = [Device(d.strip().upper()) for d in devs.split(",") if d.strip()]
        except ValueError:
            flag = "forbid" if forbid else "pin"
            raise CommandError(f"--{flag} {item!r}: expected MODEL:FIRST-LAST:DEV[,DEV] with "
                               "DEV in GPU, DLA0, DLA1") from None
        pins.append(Pin.forbid(model, first, last, devices) if forbid
                    else Pin(model, first, last, frozenset(devices)))
    return pins


def _build_problem(args: argparse.Namespace):
    from solvers.problem import Problem

    refs = list(getattr(args, "tables", None) or DEFAULT_TABLES)
    tables = [_resolve_table(r) for r in refs]
    contention: Any = args.contention
    if args.contention_model:
        from solvers.contention import load_contention_model

        contention = load_contention_model(args.contention_model)
    problem = Problem.create(
        tables, args.platform, objective=args.objective,
        max_transitions=args.max_transitions, loadable_limit=args.loadable_limit,
        pins=[*_parse_pins(args.pin, False), *_parse_pins(args.forbid, True)],
        contention=contention, frames_per_round=args.frames_per_round,
        weights=_parse_mapping(args.weight, "weight"),
        deadlines=_parse_mapping(args.deadline, "deadline"))
    if args.contention_strength is not None:
        from dataclasses import replace

        if not problem.contention.enabled and args.contention_strength > 0:
            raise CommandError("--contention-strength needs contention on: the tables need "
                               "gpu_bw_gbps/dla_bw_gbps columns")
        problem = replace(problem, contention=problem.contention.scaled(
            args.contention_strength))
    return problem


def _add_solver_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("solver")
    g.add_argument("--solver", choices=SOLVER_CHOICES, default="cpsat",
                   help="backend (default: %(default)s)")
    g.add_argument("--time-limit", type=float, default=10.0, metavar="S",
                   help="seconds; on expiry the best schedule found is returned with its "
                        "gap. With memory contention the last quarter is kept for a local "
                        "search judged by the simulator (throughput has no exact model; "
                        "latency uses it when the exact model stops with a gap) "
                        "(default: %(default)s)")
    g.add_argument("--workers", type=int, default=2, metavar="N",
                   help="solver threads (default: %(default)s)")


def _status_exit(status: str) -> int:
    return {"infeasible": EXIT_INFEASIBLE, "unknown": EXIT_NO_SOLUTION}.get(status, EXIT_OK)


# ---------------------------------------------------------------------- commands
def cmd_solve(args: argparse.Namespace) -> int:
    from solvers.render import render_text
    from solvers.schedule import result_to_dict, save_schedule_file
    from solvers.solve import solve

    problem = _build_problem(args)
    with _spinner(f"solving with {args.solver}…", not args.json) as progress:
        result = solve(problem, args.solver, time_limit=args.time_limit, workers=args.workers,
                       progress=progress)
    written: dict[str, Any] = {}
    if args.output and result.schedule is not None:
        save_schedule_file(args.output, problem, result.schedule, result)
        written["schedule"] = str(args.output)
    plot = args.plot
    if plot is None and not args.tables and not args.no_plot:
        plot = DEFAULT_GANTT  # the embedded default demo always shows its chart
    if plot and result.timeline is not None:
        from optimizer.plots import plot_gantt, save_figure

        fig = plot_gantt(problem, result.timeline)
        written["plot"] = [str(p) for p in save_figure(fig, plot)]
    if args.json:
        doc = result_to_dict(problem, result)
        doc["written"] = written
        emit_json(doc)
    else:
        con = _console()
        for w in problem.warnings:
            con.print(f"[yellow]warning:[/yellow] {w}")
        con.print(render_text(problem, result))
        for kind, path in written.items():
            con.print(f"wrote {kind}: {path if isinstance(path, str) else ', '.join(path)}")
    return _status_exit(result.status.value)


def cmd_simulate(args: argparse.Namespace) -> int:
    from solvers.render import render_text
    from solvers.schedule import load_schedule_file
    from solvers.simulator import simulate

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
            "segments": [{"model": problem.jobs[t.job].name, "index": t.index,
                          "first_group": t.segment.first_group,
                          "last_group": t.segment.last_group, "device": t.segment.device.value,
                          "start_ms": t.start_ms, "end_ms": t.end_ms,
                          "contention_ms": t.contention_ms} for t in timeline.segments],
        }
        if timeline.period_ms is not None:
            doc["period_ms"] = timeline.period_ms
            doc["throughput_fps"] = timeline.throughput_fps
        emit_json(doc)
    else:
        _console().print(render_text(problem, timeline, schedule=schedule))
    return EXIT_INFEASIBLE if timeline.violations else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from optimizer.api import compare

    problem = _build_problem(args)
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    bad = [s for s in solvers if s not in SOLVER_CHOICES]
    if bad:
        raise CommandError(f"--solvers: unknown {', '.join(bad)}; choose from "
                           f"{', '.join(SOLVER_CHOICES)}")
    with _step_progress(len(solvers) + 1, enabled=not args.json) as progress:
        frame = compare(problem, solvers=solvers, time_limit=args.time_limit,
                        workers=args.workers, progress=progress)
    records = json.loads(frame.to_json(orient="records"))
    if args.json:
        emit_json({"objective_kind": problem.objective.value,
                    "platform": problem.platform.name,
                    "models": [j.name for j in problem.jobs], "rows": records})
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
                     "(the solver's, or a cheap load/chain bound for baselines)")
    for r in records:
        table.add_row(r["name"], r["kind"], _fmt(r.get("objective"), "{:.4f}"),
                      _fmt(r.get("gain_pct"), "{:+.1f} %"), str(r.get("status", "")),
                      _fmt(r.get("gap"), "{:.2%}"), _fmt(r.get("solve_seconds"), "{:.2f}"))
    _console().print(table)
    return EXIT_OK


def _fmt(value: Any, spec: str) -> str:
    return "—" if value is None else spec.format(value)


@contextmanager
def _step_progress(steps: int, *, enabled: bool):
    """A progress bar on stderr (terminals only) fed by one-line progress messages: the
    top-level ones ('running baselines', 'solving with X') advance it, the others (a
    backend's own news) update its text."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=steps)
        started = [False]

        def report(message: str) -> None:
            if message.startswith(("running baselines", "solving with")):
                if started[0]:
                    bar.advance(task)
                started[0] = True
            bar.update(task, description=message[:60])

        yield report


def cmd_tables(args: argparse.Namespace) -> int:
    from profiles.costtable import load_published, published_names

    names = published_names()
    tables = [load_published(n) for n in names]
    if args.json:
        emit_json({"tables": [{"name": n, "model": t.model, "platform": t.platform,
                                "source": t.source, "groups": t.n_groups,
                                "provenance": t.metadata.get("provenance", "")}
                               for n, t in zip(names, tables, strict=True)]})
        return EXIT_OK
    from rich.table import Table

    table = Table(title="stored cost tables (profiles/data)")
    for col in ("name", "model", "platform", "source", "groups"):
        table.add_column(col)
    for n, t in zip(names, tables, strict=True):
        table.add_row(n, t.model, t.platform, t.source, str(t.n_groups))
    _console().print(table)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Validate cost tables; one line per table (errors exit 1 at the first bad one)."""
    reports = []
    for ref in args.tables:
        t = _resolve_table(ref)
        reports.append({"table": ref, "model": t.model, "platform": t.platform,
                        "source": t.source, "groups": t.n_groups,
                        "dla_ineligible_groups": [r.group for r in t.rows if r.dla_ms is None],
                        "gpu_ms_total": sum(t.gpu_ms),
                        "has_bandwidth": all(r.gpu_bw_gbps is not None for r in t.rows)})
    if args.json:
        emit_json({"valid": True, "tables": reports})
    else:
        con = _console()
        for r in reports:
            con.print(f"[green]ok[/green] {r['table']}: {r['model']} on {r['platform']}, "
                      f"{r['groups']} groups, {r['source']}, GPU total "
                      f"{r['gpu_ms_total']:.4f} ms")
    return EXIT_OK


def cmd_regress(args: argparse.Namespace) -> int:
    from optimizer.regression import check_expectations, update_expectations

    if args.update:
        paths = update_expectations(args.directory)
        if args.json:
            emit_json({"updated": [str(p) for p in paths]})
        else:
            folder = paths[0].parent if paths else args.directory
            _console().print(f"updated {len(paths)} expectation file(s) in {folder}")
        return EXIT_OK
    failures = check_expectations(args.directory)
    if args.json:
        emit_json({"passed": not failures, "failures": failures})
    else:
        con = _console()
        for f in failures:
            con.print(f"[red]changed[/red] {f}")
        if not failures:
            con.print("all stored profile expectations hold")
    return EXIT_REGRESSION if failures else EXIT_OK


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerswap",
        description="Partition several DNNs layer by layer across the GPU and DLA cores of a "
                    "Jetson, exactly: profiles -> cost tables -> schedule.",
        epilog=EPILOG + """
typical flow:
  layerswap tables                                   # stored cost tables
  layerswap solve                                    # solve the embedded default pair
  layerswap solve a.csv b.csv --platform orin-agx --objective throughput -o s.json
  layerswap simulate s.json                          # judge a saved schedule
  layerswap compare a.csv b.csv                      # every baseline and backend
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="layerswap 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str, examples: str,
            *, json_flag: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_,
                           epilog="examples:\n" + examples + "\n\n" + EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if json_flag:
            p.add_argument("--json", action="store_true",
                           help="print exactly one JSON object on stdout")
        p.set_defaults(func=func)
        return p

    p = add("solve", cmd_solve, "find the transition layers of every model (exact solvers)",
            "  layerswap solve                          # GoogleNet + AlexNet, Xavier\n"
            "  layerswap solve yolo.csv gan.csv --platform orin-agx --objective throughput\n"
            "  layerswap solve a.csv b.csv --max-transitions 1 --solver ilp --json\n"
            "  layerswap solve a.csv b.csv -o schedule.json --plot gantt.png")
    _add_problem_options(p)
    _add_solver_options(p)
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the self-contained schedule (problem + schedule) as JSON")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the Gantt chart (PNG and SVG next to it); with no TABLE it "
                        f"defaults to {DEFAULT_GANTT}")
    p.add_argument("--no-plot", action="store_true",
                   help="do not write the default pair's Gantt chart")

    p = add("simulate", cmd_simulate, "judge a saved schedule with the event-driven simulator",
            "  layerswap simulate schedule.json\n  layerswap simulate schedule.json --json")
    p.add_argument("schedule", help="schedule file written by `layerswap solve -o`")

    p = add("compare", cmd_compare,
            "run every baseline and backend on one problem and tabulate them",
            "  layerswap compare\n  layerswap compare a.csv b.csv --solvers cpsat,ilp --json")
    _add_problem_options(p)
    p.add_argument("--solvers", default="cpsat,ilp,sat",
                   help="backends to run, comma-separated (default: %(default)s)")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="S",
                   help="per-backend time limit in seconds (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2, metavar="N")

    add("tables", cmd_tables, "list the stored cost tables (profiles/data)",
        "  layerswap tables\n  layerswap tables --json")

    p = add("check", cmd_check, "validate cost-table CSV files against the contract",
            "  layerswap check my_model.csv\n  layerswap check googlenet_xavier --json")
    p.add_argument("tables", nargs="+", metavar="TABLE")

    p = add("regress", cmd_regress,
            "check (or --update) the recorded schedules of every stored profile pair",
            "  layerswap regress               # exit 5 when a result changed\n"
            "  layerswap regress --update      # record the current results")
    p.add_argument("--update", action="store_true",
                   help="rewrite the expectation files from the current results")
    p.add_argument("--directory", default=None, metavar="DIR",
                   help="expectation folder (default: tests/expected in the source tree)")

    _add_profile_commands(sub, add)
    _add_calibrate_command(add)
    _add_plot_commands(sub, add)
    return parser


def _add_profile_commands(sub, add) -> None:
    from optimizer import cli_profiles

    cli_profiles.register(sub, add)


def _add_calibrate_command(add) -> None:
    from optimizer import cli_calibrate

    cli_calibrate.register(add)


def _add_plot_commands(sub, add) -> None:
    from optimizer import cli_plots

    cli_plots.register(sub, _add_problem_options, _build_problem)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        code = args.func(args)
    except LayerswapError as exc:
        message = " ".join(str(exc).split())
        print(f"layerswap: error: {message}", file=sys.stderr)
        if getattr(args, "json", False):
            # a script parsing stdout gets an answer on bad input too
            emit_json({"error": message, "exit_code": EXIT_ERROR})
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("layerswap: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())

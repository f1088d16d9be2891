"""What every `layerswap` command family shares: exit codes, errors, output helpers, table
resolution, reusable option groups, the `add_command` helper and the error-handling wrapper.

The CLI is a thin face over profiles/ and solvers/ (Polygraphy's `tools/` layout): one module
per command family under `optimizer/cli/`, each importing only this module and the library,
never `optimizer/cli/__init__.py` (which only assembles the families).

Every reporting command takes ``--json`` and then prints exactly one JSON object on stdout
(keys in docs/formats.md). User errors print one line ``layerswap: error: ...`` on
stderr (with ``--json`` also ``{"error": ..., "exit_code": 1}`` on stdout); command-line
errors keep argparse's usage + message on stderr, exit 2 (with ``--json`` also
``{"error": ..., "exit_code": 2}``); bugs keep their traceback.

Exit codes: 0 success (optimal or feasible schedule), 1 bad input or unsupported request
(an output path that cannot be written included), 2 bad command line, 3 the problem is
infeasible, 4 no schedule found within the time limit, 5 regression check failed, 6 internal
error (a backend claimed optimality, infeasibility or a bound that the cross-check in
`solvers.solve` refutes: one line, never a result), 130 interrupted (Ctrl-C: ``layerswap:
interrupted`` on stderr, ``{"error": "interrupted", "exit_code": 130}`` under --json).

Output paths: declare each option that names a file or folder the command writes with
`declare_output`; `run_command` checks them all before the command starts
(`runtime.fileio.check_file_target` / `check_folder_target`), so a wrong ``-o`` costs nothing
and a run never loses its result at the end. Write files with `runtime.fileio` (re-exported by
``profiles.fileio``); fill folders through `runtime.fileio.staged_folder`.

How to add a command
--------------------
Write a family module ``optimizer/cli/NAME.py`` with the command functions
(``cmd_x(args: argparse.Namespace) -> int``, returning an exit code; library imports inside
the function so ``layerswap --help`` stays fast) and one entry point::

    def register(sub: argparse._SubParsersAction) -> None:
        p = add_command(sub, "x", cmd_x, "one-line help", "  layerswap x FILE --json")
        add_problem_options(p)          # reuse the shared option groups where they fit
        p.add_argument("file")

then add the family to ``FAMILIES`` in ``optimizer/cli/__init__.py`` (one import, one list
entry: the order there is the order in ``layerswap --help``). A command with steps (``plot
gantt``) creates its own nested subparsers with ``add_group`` and adds each step with
``add_command``. Validate option values at parse time with the ``type=`` helpers here
(`number`, `integer`, `platform_name`, `model_number`, `pin_spec`, `solver_list`, or your
own raising ``argparse.ArgumentTypeError``): a bad value is then exit 2 naming the option
as typed. Raise a `LayerswapError` subclass (`CommandError` when the inputs cannot satisfy
the request) for anything the user can fix: `run_command` prints it as one line, exit 1;
`UsageError` for a bad option combination found after parsing (exit 2). Print results
with `emit_json` under ``--json``; progress goes to stderr only (`spinner`,
`step_progress`, `say_err`), never stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn

from optimizer.defaults import TIME_LIMIT
from profiles.errors import LayerswapError
from runtime.errors import LayerswapRuntimeError  # runtime/ has its own base (ships alone)

if TYPE_CHECKING:
    from profiles.costtable import CostTable
    from solvers.model.problem import Pin, Problem

(EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INFEASIBLE, EXIT_NO_SOLUTION, EXIT_REGRESSION,
 EXIT_INTERNAL) = range(7)
# Copies of solvers' bounds: importing solvers costs ~1 s, and --help must stay fast
# (tests/optimizer/test_cli_internal.py checks they are the same numbers).
MAX_FRAMES = 8  # solvers.model.problem.MAX_FRAMES_PER_ROUND
MAX_WORKERS = 64  # solvers.backends.base.MAX_WORKERS
MAX_COUNT = 2**31 - 1
"""Largest count, limit or seed an option takes: the native solvers take 32-bit integers
(CP-SAT refused 10**20 workers or loadables with a TypeError traceback)."""
DEFAULT_TABLES = ("googlenet_xavier", "alexnet_xavier")

SOLVER_CHOICES = ("cpsat", "ilp", "sat", "exhaustive")

EXIT_INTERRUPTED = 130
EPILOG = """\
exit codes: 0 ok, 1 bad input or an output path that cannot be written, 2 bad command line,
3 infeasible, 4 no schedule in time, 5 regression check failed, 6 internal error (a solver
claim refuted by the cross-check), 130 interrupted (Ctrl-C).
With --json, stdout holds exactly one JSON object; on bad input, a bad command line, an
internal error or an interrupt it is {"error": MESSAGE, "exit_code": 1, 2, 6 or 130} (the
message also goes to stderr).
"""
WRITES = "_writes"
"""Namespace attribute: option dest -> 'file' | 'folder' | 'figure' (see `declare_output`)."""

Command = Callable[[argparse.Namespace], int]


class CommandError(LayerswapError):
    """A request the inputs cannot satisfy (exit 1, one line)."""


class UsageError(CommandError):
    """A bad command line found after parsing, e.g. two options that exclude each other
    (exit 2, one line; under --json also ``{"error", "exit_code": 2}``)."""


class UsageExit(SystemExit):
    """What `LayerswapParser.error` raises: exit 2, with the message kept for --json."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_USAGE)
        self.message = message


class LayerswapParser(argparse.ArgumentParser):
    """An ArgumentParser whose command-line errors keep argparse's output (usage and one
    error line on stderr, exit 2) but raise `UsageExit`, so `main` can also print the
    ``{"error", "exit_code": 2}`` object when --json was given."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise UsageExit(message)


# ---------------------------------------------------------------------- output helpers
PIPE_WIDTH = 1000
"""Console width off a terminal (a pipe, a file, a CI log): tables keep their natural
width there instead of rich's default 80 columns, which cut names (``original-g...``) and
wrapped one refusal over 8 lines. Tables never stretch to it (they size to their content)."""


def console(stderr: bool = False):  # -> rich.console.Console (rich imported lazily)
    """A rich console without highlighting or hard wrapping (stdout, or stderr).

    The one place the CLI makes a console: on a terminal it takes the terminal's width; off
    one it takes `PIPE_WIDTH`, so no table is truncated or wrapped in a pipe or a log, even
    where the environment sets ``COLUMNS`` (CI runners and pytest-xdist workers set 80)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if _isatty(stream) else PIPE_WIDTH
    return Console(file=stream, highlight=False, soft_wrap=True, width=width)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or foreign stream
        return False


def say(message: str) -> None:
    """Print one line of rich markup on stdout."""
    console().print(message)


def say_err(message: str) -> None:
    """Print one line of rich markup on stderr (news beside a result that owns stdout)."""
    console(stderr=True).print(message)


def emit_json(obj: dict[str, Any]) -> None:
    """The one way a command prints its --json answer: one object, no NaN."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def fmt(value: Any, spec: str) -> str:
    """`spec.format(value)`, or an em dash for a missing value (table cells)."""
    return "—" if value is None else spec.format(value)


@contextmanager
def spinner(message: str, enabled: bool) -> Iterator[Callable[[str], None] | None]:
    """A status spinner on stderr when it is a terminal (never pollutes --json stdout).

    Yields a progress callback for `solvers.solve.solve` that shows the latest line (best
    schedule so far, bound, seconds) next to the message, or None when there is no spinner.
    """
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    with console(stderr=True).status(message) as status:
        yield lambda line: status.update(f"{message} {line}")


STEP_MESSAGES = ("running baselines", "solving with", "max transitions")
"""Progress messages that start a new step (the others are a backend's own news)."""


@contextmanager
def step_progress(steps: int, *, enabled: bool = True
                  ) -> Iterator[Callable[[str], None] | None]:
    """Progress of a multi-step command (compare, plot pareto) on stderr, never stdout.

    On a terminal (unless ``enabled`` is False, e.g. under --json): a transient bar fed by
    one-line messages; those starting with `STEP_MESSAGES` advance it, the others (a
    backend's own news) update its text. Off a terminal (a pipe, a log, CI), where a
    silent 10 s looks like a hang: one plain line per step, ``layerswap: [2/4] solving
    with ilp``, whatever ``enabled`` says (stdout stays clean for --json).
    """
    if not sys.stderr.isatty():
        done = [0]

        def line(message: str) -> None:
            if message.startswith(STEP_MESSAGES):
                done[0] += 1
                print(f"layerswap: [{done[0]}/{steps}] {message}", file=sys.stderr,
                      flush=True)

        yield line
        return
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("starting", total=steps)
        started = [False]

        def report(message: str) -> None:
            if message.startswith(STEP_MESSAGES):
                if started[0]:
                    bar.advance(task)
                started[0] = True
            bar.update(task, description=message[:60])

        yield report


def status_exit(status: str) -> int:
    """The exit code of a solve status (infeasible 3, unknown 4, else 0)."""
    return {"infeasible": EXIT_INFEASIBLE, "unknown": EXIT_NO_SOLUTION}.get(status, EXIT_OK)


# ---------------------------------------------------------------------- tables and problems
def resolve_table(ref: str) -> CostTable:
    """A cost table from a CSV path or a stored table name (profiles/data)."""
    from pathlib import Path

    from profiles.costtable import CostTable, load_published, published_names

    path = Path(ref)
    if path.exists():
        return CostTable.from_csv(path)
    if ref in published_names():
        return load_published(ref)
    raise CommandError(
        f"{ref}: no such file and not a stored table; stored tables are "
        f"{', '.join(published_names())} (list them with `layerswap tables`)")


def resolve_named_table(ref: str) -> tuple[str | None, CostTable]:
    """``NAME=TABLE`` (the model's name in this problem, for --pin/--weight/--deadline and
    the output) or a plain ``TABLE`` (named by its ``# model:`` line). A path that exists
    as written wins, so a file name containing ``=`` still works."""
    from pathlib import Path

    name, sep, rest = ref.partition("=")
    if not sep or Path(ref).exists():
        return None, resolve_table(ref)
    name = name.strip()
    if not name or any(c in name for c in ":=,#") or not rest:
        raise CommandError(f"{ref!r}: expected TABLE or NAME=TABLE with a NAME free of "
                           "':', '=', ',' and '#'")
    return name, resolve_table(rest)


def add_problem_options(p: argparse.ArgumentParser, *, tables: bool = True,
                        sweep: bool = False) -> None:
    """The problem option group (platform, objective, constraints, contention) and, unless
    ``tables=False``, the TABLE positionals; `build_problem` reads them back. ``sweep=True``
    leaves out --objective and --max-transitions (a command that varies them adds its
    own)."""
    if tables:
        p.add_argument("tables", nargs="*", metavar="TABLE",
                       help="cost-table CSV files or stored table names, each optionally "
                            "NAME=TABLE to name the model (needed when two tables name the "
                            f"same model) (default: {' + '.join(DEFAULT_TABLES)})")
    g = p.add_argument_group("problem")
    g.add_argument("--platform", default="xavier-agx", type=platform_name,
                   help="xavier-agx | orin-agx | orin-nx | gpu-only (default: %(default)s)")
    if not sweep:
        g.add_argument("--objective", choices=("latency", "throughput"), default="latency",
                       help="latency: makespan of one concurrent inference; throughput: "
                            "period of a stream of frames (default: %(default)s)")
        g.add_argument("--max-transitions", type=integer(minimum=0, maximum=MAX_COUNT),
                       default=2, metavar="N",
                       help="max transitions: device changes allowed within each model "
                            "(default: %(default)s)")
    g.add_argument("--contention", choices=("auto", "none", "preset"), default="auto",
                   help="memory-contention model: auto uses the platform preset when the "
                        "tables have bandwidth columns (default: %(default)s)")
    g.add_argument("--contention-strength", type=number(minimum=0), default=None, metavar="X",
                   help="scale the contention loss rates (0 = off, 1 = preset)")
    g.add_argument("--contention-model", metavar="FILE.json", default=None,
                   help="use a calibrated contention model (`layerswap calibrate -o`)")
    g.add_argument("--frames-per-round", type=integer(minimum=1, maximum=MAX_FRAMES),
                   default=1, metavar="F",
                   help="throughput: frames per round; each model gets F instances that "
                        "may be partitioned differently (default: %(default)s)")
    g.add_argument("--loadable-limit", type=integer(minimum=0, maximum=MAX_COUNT),
                   default=None, metavar="N",
                   help="DLA loadables per core (default: from the tables' TRT version: "
                        "8 for TRT 7, 4 for 8.0-8.4, 16 later)")
    g.add_argument("--weight", action="append", default=[], metavar="MODEL=W",
                   type=model_number,
                   help="latency weight of a model (repeatable)")
    g.add_argument("--deadline", action="append", default=[], metavar="MODEL=MS",
                   type=model_number,
                   help="hard completion deadline of a model in ms (repeatable)")
    g.add_argument("--pin", action="append", default=[], metavar="MODEL:A-B:DEV[,DEV]",
                   type=pin_spec,
                   help="groups A..B of MODEL may only run on these devices, e.g. "
                        "yolo:0-40:GPU (repeatable)")
    g.add_argument("--forbid", action="append", default=[], metavar="MODEL:A-B:DEV[,DEV]",
                   type=pin_spec,
                   help="groups A..B of MODEL may not run on these devices (repeatable)")
    g.add_argument("--gpu-fallback", nargs="?", const="all", default=None,
                   metavar="all|NAME,...",
                   help="build these models (alone: all) with TensorRT's --allowGPUFallback: "
                        "a DLA segment may span layers the DLA refuses, which then run on "
                        "the GPU; those hops cost transitions and split loadables but do "
                        "not count against --max-transitions (docs/model.md 2.1)")


def add_solver_options(p: argparse.ArgumentParser) -> None:
    """The solver option group: --solver, --time-limit, --workers."""
    g = p.add_argument_group("solver")
    g.add_argument("--solver", choices=SOLVER_CHOICES, default="cpsat",
                   help="backend (default: %(default)s)")
    g.add_argument("--time-limit", type=time_limit, default=TIME_LIMIT, metavar="S",
                   help="seconds, or auto: 10 s plus 0.025 s per group of every model "
                        "(2 x 600 groups: 40 s); on expiry the best schedule found is "
                        "returned with its gap, and the output says when more time may pay. "
                        "With memory contention the last quarter is kept for a local "
                        "search judged by the simulator (throughput has no exact model; "
                        "latency uses it when the exact model stops with a gap) "
                        "(default: %(default)s)")
    g.add_argument("--workers", type=integer(minimum=1, maximum=MAX_WORKERS), default=2,
                   metavar="N",
                   help="solver threads (default: %(default)s)")


# ---------------------------------------------------------------------- option value types
# argparse `type=` functions: a bad value is a command-line error (exit 2, usage on stderr,
# `{"error", "exit_code": 2}` under --json) whose message names the option, not a Python name.
def number(*, minimum: float | None = None, above: float | None = None
           ) -> Callable[[str], float]:
    """A finite float, >= ``minimum`` or > ``above``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (minimum is None or value >= minimum) and (
            above is None or value > above)
        if not ok:
            bound = f" >= {minimum:g}" if minimum is not None else (
                f" > {above:g}" if above is not None else "")
            raise argparse.ArgumentTypeError(f"expected a finite number{bound}, got {text!r}")
        return value

    return parse


def time_limit(text: str) -> float | str:
    """``--time-limit``: ``auto`` (`solvers.solve.suggested_time_limit`) or seconds > 0."""
    return "auto" if text.strip().lower() == "auto" else number(above=0)(text)


def integer(*, minimum: int = 0, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number in ``minimum..maximum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            span = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise argparse.ArgumentTypeError(f"expected a whole number {span}, got {text!r}")
        return value

    return parse


def platform_name(text: str) -> str:
    """A known platform name (lower-cased): a module, an alias or gpu-only
    (`profiles.platforms`, listed by `layerswap platforms`)."""
    from solvers.model.problem import PLATFORMS

    key = text.strip().lower()
    if key not in PLATFORMS:
        raise argparse.ArgumentTypeError(f"unknown platform {text!r}; choose one of "
                                         f"{', '.join(PLATFORMS)}")
    return key


def model_number(text: str) -> tuple[str, float]:
    """``MODEL=NUMBER`` (--weight, --deadline)."""
    name, sep, value = text.partition("=")
    parsed = number()(value) if sep and name and _is_number(value) else None
    if parsed is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected MODEL=NUMBER")
    return name, parsed


def model_file(text: str) -> tuple[str, str]:
    """``MODEL=FILE`` (--onnx): a model name and an existing file."""
    from pathlib import Path

    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected MODEL=FILE.onnx")
    if not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"{path}: no such ONNX file (in {text!r})")
    return name, path


def add_export_options(p: argparse.ArgumentParser, *, standalone: bool) -> None:
    """The export option group (`layerswap export`, `layerswap solve --export DIR`)."""
    g = p.add_argument_group("export")
    if not standalone:
        g.add_argument("--export", metavar="DIR",
                       help="also export the schedule to DIR (manifest, sub-models, build "
                            "script); needs --onnx for every model")
        declare_output(p, "export", "folder")
    g.add_argument("--onnx", action="append", type=model_file, default=[],
                   metavar="MODEL=FILE",
                   help="the ONNX model a table was made from (repeat per model)")
    g.add_argument("--trt-version", default=None, metavar="V",
                   help="TensorRT of the target for the build script: 8.5, 8.6, 10.x (DLA: "
                        "<= 10.7) or 11.4+ (default: the TensorRT of the schedule's platform, "
                        "`layerswap platforms`)")
    g.add_argument("--precision", choices=("fp16", "fp32"), default="fp16",
                   help="engine precision (fp32: GPU-only schedules; default: %(default)s)")
    g.add_argument("--allow-gpu-fallback", action="store_true",
                   help="build DLA engines with --allowGPUFallback (default: a layer the DLA "
                        "cannot run fails the build)")


def onnx_map(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """--onnx pairs as a dict; a model named twice is a usage error."""
    out: dict[str, str] = {}
    for name, path in pairs:
        if name in out:
            raise UsageError(f"--onnx names model {name!r} twice")
        out[name] = path
    return out


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


PinSpec = tuple[str, int, int, tuple[str, ...]]


def pin_spec(text: str) -> PinSpec:
    """``MODEL:FIRST-LAST:DEV[,DEV]`` (--pin, --forbid); the range must not be reversed."""
    devices = ("GPU", "DLA0", "DLA1")
    try:
        model, span, devs = text.split(":")
        a, _, b = span.partition("-")
        first, last = int(a), int(b or a)
        names = tuple(d.strip().upper() for d in devs.split(",") if d.strip())
        if not model or not names or any(d not in devices for d in names):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected MODEL:FIRST-LAST:DEV[,DEV] with "
                                         "DEV in GPU, DLA0, DLA1") from None
    if first < 0 or last < first:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the group range {first}-{last} is "
            f"{'reversed' if last < first else 'negative'}; write FIRST-LAST with "
            "0 <= FIRST <= LAST")
    return model, first, last, names


def solver_list(text: str) -> list[str]:
    """Comma-separated backends (--solvers)."""
    solvers = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in solvers if s not in SOLVER_CHOICES]
    if bad or not solvers:
        raise argparse.ArgumentTypeError(f"unknown {', '.join(bad) or 'empty list'}; choose "
                                         f"from {', '.join(SOLVER_CHOICES)}")
    return solvers


def pins_from(specs: Sequence[PinSpec], forbid: bool) -> list[Pin]:
    """`Pin`s from parsed --pin (or --forbid when ``forbid``) values."""
    from solvers.model.problem import Device, Pin

    out = []
    for model, first, last, names in specs:
        devices = [Device(d) for d in names]
        out.append(Pin.forbid(model, first, last, devices) if forbid
                   else Pin(model, first, last, frozenset(devices)))
    return out


def build_problem(args: argparse.Namespace) -> Problem:
    """The `Problem` described by the options of `add_problem_options`."""
    from solvers.model.problem import ModelSpec, Problem

    refs = list(getattr(args, "tables", None) or DEFAULT_TABLES)
    tables = [ModelSpec(table, name or "") for name, table in map(resolve_named_table, refs)]
    contention: Any = args.contention
    if args.contention_model:
        from solvers.model.contention import load_contention_model

        contention = load_contention_model(args.contention_model)
    problem = Problem.create(
        tables, args.platform, objective=args.objective,
        max_transitions=args.max_transitions, loadable_limit=args.loadable_limit,
        pins=[*pins_from(args.pin, False), *pins_from(args.forbid, True)],
        contention=contention, frames_per_round=args.frames_per_round,
        weights=dict(args.weight), deadlines=dict(args.deadline),
        gpu_fallback=getattr(args, "gpu_fallback", None))
    if args.contention_strength is not None:
        from dataclasses import replace

        if not problem.contention.enabled and args.contention_strength > 0:
            raise CommandError("--contention-strength needs contention on: the tables need "
                               "gpu_bw_gbps/dla_bw_gbps columns")
        problem = replace(problem, contention=problem.contention.scaled(
            args.contention_strength))
    return problem


# ---------------------------------------------------------------------- parser helpers
def declare_output(p: argparse.ArgumentParser, dest: str, kind: str) -> None:
    """Mark option ``dest`` as a path the command writes: ``file``, ``folder`` (a folder it
    fills) or ``figure`` (``STEM.png`` and ``STEM.svg``). `run_command` checks every declared
    path before the command starts."""
    if kind not in ("file", "folder", "figure"):
        raise ValueError(f"unknown output kind {kind!r}")
    writes = dict(p.get_default(WRITES) or {})
    writes[dest] = kind
    p.set_defaults(**{WRITES: writes})


def check_outputs(args: argparse.Namespace) -> None:
    """`runtime.fileio`'s checks of every declared output path that was given (a
    `WriteError` naming the option's path and the reason)."""
    from pathlib import Path

    from runtime.fileio import WriteError, check_file_target, check_folder_target

    for dest, kind in (getattr(args, WRITES, None) or {}).items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        what = f"--{dest.replace('_', '-')}"
        if kind == "folder":
            check_folder_target(value, what)
        elif kind == "figure":
            from optimizer.plots import figure_paths

            if Path(value).name in ("", ".", ".."):
                raise WriteError(value, f"{what} must be a file path")
            for path in figure_paths(value):
                check_file_target(path, what)
        else:
            check_file_target(value, what)


def _print_notes(exc: BaseException) -> None:
    """What a failed or interrupted command left behind (`runtime.fileio.staged_folder` adds
    it to the exception as a note): one stderr line each."""
    for note in getattr(exc, "__notes__", ()):
        print(f"layerswap: {note}", file=sys.stderr)


def add_json_flag(p: argparse.ArgumentParser) -> None:
    """The ``--json`` flag every reporting command takes."""
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout")


def add_command(sub: argparse._SubParsersAction, name: str, func: Command, help_: str,
                examples: str, *, json_flag: bool = True, exit_codes: bool = True
                ) -> argparse.ArgumentParser:
    """Add subcommand ``name`` running ``func``: its help, an ``examples:`` epilog (and the
    exit-code note unless ``exit_codes=False``) and, unless ``json_flag=False``, ``--json``."""
    epilog = "examples:\n" + examples + ("\n\n" + EPILOG if exit_codes else "")
    p = sub.add_parser(name, help=help_, description=help_, epilog=epilog,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    if json_flag:
        add_json_flag(p)
    p.set_defaults(func=func)
    return p


def add_group(sub: argparse._SubParsersAction, name: str, help_: str, description: str,
              examples: str, *, dest: str, metavar: str) -> argparse._SubParsersAction:
    """A command made of steps (``layerswap plot gantt``): returns the steps' subparsers,
    to which `add_command` adds each step."""
    group = sub.add_parser(name, help=help_, description=description,
                           epilog="examples:\n" + examples,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    return group.add_subparsers(dest=dest, metavar=metavar, required=True)


# ---------------------------------------------------------------------- running a command
def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str]
                       ) -> argparse.Namespace | int:
    """The parsed arguments, or exit code 2 after a command-line error (argparse's usage
    and message on stderr; with --json anywhere in ``argv`` also ``{"error", "exit_code":
    2}`` on stdout). ``--help`` and ``--version`` still exit through SystemExit(0)."""
    try:
        return parser.parse_args(argv)
    except UsageExit as exc:
        if "--json" in argv:
            emit_json({"error": " ".join(exc.message.split()), "exit_code": EXIT_USAGE})
        return EXIT_USAGE


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; a user error (`LayerswapError`) becomes one line on stderr
    (and the ``{"error", "exit_code"}`` object under --json), exit 1 (2 for a
    `UsageError`); so is an OSError (the path and the OS's reason) and a declared output
    path that `check_outputs` refuses before the command starts; Ctrl-C is
    ``layerswap: interrupted``, exit 130 (`_interrupted`); a solver claim the cross-check
    refutes (`BackendClaimError`) is one ``layerswap: internal error: ...`` line, exit 6.
    Other bugs keep their traceback."""
    try:
        return _run(args)
    except Exception as exc:
        if _interrupted_by(exc):  # e.g. "ImportError: initialization failed" from Ctrl-C
            return _interrupted(args, exc)
        raise


def _interrupted_by(exc: BaseException) -> bool:
    """A Ctrl-C somewhere in ``exc``'s chain of causes (a library turned it into its own
    exception, as an extension module's import does)."""
    seen = 0
    link: BaseException | None = exc
    while link is not None and seen < 32:
        if isinstance(link, KeyboardInterrupt):
            return True
        link = link.__cause__ or link.__context__
        seen += 1
    return False


def _run(args: argparse.Namespace) -> int:
    try:
        check_outputs(args)
        return args.func(args)
    except (LayerswapError, LayerswapRuntimeError) as exc:
        message = " ".join(str(exc).split())
        code = EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ERROR
        return _fail(args, message, code, exc)
    except KeyboardInterrupt as exc:
        return _interrupted(args, exc)
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # the system refused a file: one line naming it and the reason
        where = exc.filename if exc.filename is not None else ""
        reason = exc.strerror or " ".join(str(exc).split())
        return _fail(args, f"{where}: {reason}" if where else reason, EXIT_ERROR, exc)
    except RuntimeError as exc:
        from solvers.errors import BackendClaimError  # lazy: `--help` stays fast

        if not isinstance(exc, BackendClaimError):
            raise  # a bug: keep its traceback
        # a solver claim refuted by the cross-check: one line, never a result
        message = " ".join(str(exc).split())
        print(f"layerswap: {message}", file=sys.stderr)
        if getattr(args, "json", False):
            emit_json({"error": message, "exit_code": EXIT_INTERNAL})
        return EXIT_INTERNAL


def _fail(args: argparse.Namespace, message: str, code: int, exc: BaseException) -> int:
    print(f"layerswap: error: {message}", file=sys.stderr)
    _print_notes(exc)
    if getattr(args, "json", False):
        # a script parsing stdout gets an answer on bad input too
        emit_json({"error": message, "exit_code": code})
    return code


def _interrupted(args: argparse.Namespace, exc: BaseException) -> int:
    """Ctrl-C: ``layerswap: interrupted`` (and what was left) on stderr, exit 130; under
    --json the one object ``{"error": "interrupted", "exit_code": 130}``, with the partial
    result a command attached to the exception as ``partial`` (labelled so)."""
    print("layerswap: interrupted", file=sys.stderr)
    _print_notes(exc)
    if getattr(args, "json", False):
        doc: dict[str, Any] = {"error": "interrupted", "exit_code": EXIT_INTERRUPTED}
        partial = getattr(exc, "partial", None)
        if partial is not None:
            doc["partial_result"] = partial
        with suppress(BrokenPipeError):
            emit_json(doc)
    return EXIT_INTERRUPTED

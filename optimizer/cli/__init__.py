"""The `layerswap` command line: assembles the command families (one module each under
`optimizer/cli/`) into one parser. Shared machinery and "how to add a command" live in
`optimizer.cli.common`; no family imports this module."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence


def _as_program() -> bool:
    """This process is `layerswap` (or `python -m optimizer.cli`), not a library user."""
    return bool(sys.argv) and (sys.argv[0] == "-m" or os.path.basename(sys.argv[0]) ==
                               "layerswap")


def _end_interrupted(json_flag: bool) -> None:
    """Ctrl-C before a command runs: the same line, object and exit code as during one."""
    print("layerswap: interrupted", file=sys.stderr, flush=True)
    if json_flag:
        print('{\n  "error": "interrupted",\n  "exit_code": 130\n}', flush=True)
    os._exit(130)


try:
    from optimizer.cli import (
        calibrate,
        dla,
        estimate,
        example,
        export,
        plots,
        profiles,
        results,
        run,
        solve,
        sweep,
        tables,
    )
except KeyboardInterrupt:  # Ctrl-C while the program starts (imports take a while)
    if not _as_program():
        raise
    _end_interrupted("--json" in sys.argv)

from optimizer.cli.common import (  # noqa: E402
    EPILOG,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    LayerswapParser,
    parse_command_line,
    run_command,
)

# One entry per command family, in `layerswap --help` order; each has register(sub).
FAMILIES = (solve, export, run, tables, profiles, estimate, calibrate, plots, dla, example,
            sweep, results)


def build_parser() -> argparse.ArgumentParser:
    """The whole `layerswap` parser: every family's commands under one subparser."""
    parser = LayerswapParser(
        prog="layerswap",
        description="Partition several DNNs layer by layer across the GPU and DLA cores of a "
                    "Jetson, exactly: profiles -> cost tables -> schedule.",
        epilog=EPILOG + """
typical flow:
  layerswap tables                                   # stored cost tables
  layerswap solve                                    # solve the embedded default pair
  layerswap solve examples/detector.csv examples/segmenter.csv --platform orin-agx \\
      --objective throughput -o s.json
  layerswap simulate s.json                          # judge a saved schedule
  layerswap compare examples/detector.csv examples/segmenter.csv --platform orin-agx
  layerswap export s.json --onnx a=a.onnx -o out/    # sub-models, build script, manifest
  layerswap run out/manifest.json --frames 100       # execute it: workers, trace, report
  layerswap dla model.onnx --platform orin-agx --trt-version 10.3   # DLA refusals, islands
  layerswap rewrite model.onnx -o model_dla.onnx     # exact DLA rewrites, verified
  layerswap example medical -o out/medical           # the seed scenario, end to end
  layerswap sweep examples/sweep_small.toml -o out/sweep.db   # many solves -> database
  layerswap results out/sweep.db --best-by pair      # best module per model set
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="layerswap 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for family in FAMILIES:
        family.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `layerswap` console script (and `python -m optimizer.cli`).

    Called without ``argv`` it owns the process: after a Ctrl-C (exit 130, see
    `optimizer.cli.common.run_command`) it ends the process at once, without the second or
    two the interpreter's teardown of the native solver libraries takes, so Ctrl-C ends every
    command within 2 s. Called with ``argv`` (tests, scripts) it always returns."""
    argv_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parse_command_line(parser, argv_list)
    except KeyboardInterrupt:
        if argv is not None:
            raise
        _end_interrupted("--json" in argv_list)
    if isinstance(args, int):
        return args
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    code = run_command(args)
    # a process pool (sweep) registered semaphores with multiprocessing's resource tracker:
    # only the interpreter's own exit releases them (else the tracker prints a leak warning)
    pooled = "multiprocessing.resource_tracker" in sys.modules
    if code == EXIT_INTERRUPTED and argv is None and not pooled:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    return code


"""`layerswap run`: execute an exported manifest and show where the time went (a thin face
over `runtime.api.run_manifest` and `runtime.report`; see docs/runtime.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from optimizer.cli.common import (
    EXIT_OK,
    CommandError,
    add_command,
    console,
    declare_output,
    emit_json,
    integer,
    number,
)

PROGRESS_MIN_FRAMES = 20  # fewer frames than this finish too fast for a bar to help


@contextmanager
def frame_progress(total: int, *, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar of completed frames on stderr, only when stderr is a terminal."""
    if not enabled or total < PROGRESS_MIN_FRAMES or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("running frames"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("frames", total=total)
        yield lambda done, _total: bar.update(task, completed=done)


def cmd_run(args: argparse.Namespace) -> int:
    from runtime.api import load_plan, run_manifest
    from runtime.errors import LayerswapRuntimeError, RunInterrupted
    from runtime.io import npz_inputs
    from runtime.report import format_report, summary, write_trace

    try:
        plan = load_plan(args.manifest)
        source, frames = None, args.frames or 1
        if args.inputs:
            source, frames = npz_inputs(plan, args.inputs, args.frames)
        with frame_progress(frames * len(plan.models), enabled=True) as progress:
            result = run_manifest(plan, frames=frames, backend=args.backend,
                                  threads=args.threads, inputs=source, seed=args.seed,
                                  save_outputs=args.save_outputs,
                                  rounds_in_flight=args.rounds_in_flight,
                                  stall_timeout_s=args.stall_timeout, progress=progress)
    except RunInterrupted as exc:  # `run_command` prints `layerswap: interrupted`, exit 130
        stop = KeyboardInterrupt()
        stop.add_note(_with_saved(str(exc), args, exc.completed_frames))
        stop.partial = {"completed_frames": exc.completed_frames,  # type: ignore[attr-defined]
                        "saved_outputs": args.save_outputs, "stopped": str(exc)}
        raise stop from exc
    except LayerswapRuntimeError as exc:
        done = getattr(exc, "completed_frames", None)
        raise CommandError(_with_saved(" ".join(str(exc).split()), args, done)) from exc
    doc = summary(result)
    if args.save_outputs:
        doc["saved_outputs"] = {m.name: str(Path(args.save_outputs) / f"{m.name}.npz")
                                for m in plan.models}
    if args.trace:
        doc["trace"] = str(write_trace(result, args.trace))
    if args.json:
        emit_json(doc)
        return EXIT_OK
    con = console()
    con.print(format_report(doc), markup=False)
    if args.trace:
        con.print(f"trace: {doc['trace']} (open it in https://ui.perfetto.dev)", markup=False)
    if args.save_outputs:
        con.print(f"outputs: {', '.join(doc['saved_outputs'].values())}", markup=False)
    return EXIT_OK


def _with_saved(message: str, args: argparse.Namespace, done: dict[str, int] | None) -> str:
    if not args.save_outputs or not done:
        return message
    counts = ", ".join(f"{m}: {n}" for m, n in done.items())
    return f"{message}; completed frames saved in {args.save_outputs} ({counts})"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "run", cmd_run, "execute an exported manifest: device workers, streamed frames, "
        "trace and predicted-vs-measured report",
        "  layerswap run out/manifest.json\n"
        "  layerswap run out/manifest.json --frames 500 --trace trace.json --json\n"
        "  layerswap run out/manifest.json --inputs frames.npz --save-outputs results/\n"
        "  layerswap run out/manifest.json --backend trt        # on the Jetson\n"
        "\n"
        "--inputs: one .npz keyed MODEL/INPUT_NAME, arrays [frames, *shape]; default: seeded\n"
        "random tensors of the manifest's shapes. --save-outputs DIR: DIR/MODEL.npz keyed by\n"
        "output name, arrays [frames, *shape] (also written, with the completed frames, when\n"
        "a run stops early). Ctrl-C stops the run cleanly (exit 130).")
    p.add_argument("manifest", help="DIR/manifest.json written by `layerswap export` (or DIR)")
    p.add_argument("--frames", type=integer(minimum=1), default=None, metavar="N",
                   help="frames per model (default: 1, or every frame of --inputs)")
    p.add_argument("--backend", choices=("ort", "ort-trt", "trt"), default="ort",
                   help="ort: ONNX Runtime on the CPU; ort-trt: ONNX Runtime with the "
                        "TensorRT EP; trt: native TensorRT engines (default: %(default)s)")
    p.add_argument("--threads", type=integer(minimum=1), default=None, metavar="N",
                   help="ort: total intra-op threads shared by the device workers "
                        "(default: the CPU count)")
    p.add_argument("--inputs", metavar="FILE.npz", default=None,
                   help="input frames, keyed MODEL/INPUT_NAME with a leading frames axis")
    p.add_argument("--seed", type=integer(minimum=0), default=0,
                   help="seed of the random input frames (default: %(default)s)")
    p.add_argument("--save-outputs", metavar="DIR", default=None,
                   help="write DIR/MODEL.npz (output name -> [frames, *shape])")
    declare_output(p, "save_outputs", "folder")
    p.add_argument("--trace", metavar="OUT.json", default=None,
                   help="write a Chrome trace (opens in Perfetto) of every segment run")
    declare_output(p, "trace", "file")
    p.add_argument("--rounds-in-flight", type=integer(minimum=1), default=2, metavar="K",
                   help="rounds that may overlap (pipelining); bounds memory "
                        "(default: %(default)s)")
    p.add_argument("--stall-timeout", type=number(above=0), default=None, metavar="S",
                   help="stop with an error when no segment finishes for S seconds")

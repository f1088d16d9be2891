"""`layerswap run`: execute an exported manifest and show where the time went (a thin face
over `runtime.api.run_manifest` and `runtime.report`; see docs/runtime.md)."""

from __future__ import annotations

import argparse
import sys
import time
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
PROGRESS_EVERY_S = 10.0  # off a terminal: one progress line on stderr this often
MAX_RUN_FRAMES = 10**9  # more is a typo, not a plan: say `forever` to run until Ctrl-C
FOREVER = "forever"


def run_frames(text: str) -> int | None:
    """``--frames``: a whole number 1..`MAX_RUN_FRAMES`, or ``forever`` (None: until
    Ctrl-C)."""
    if text.strip().lower() == FOREVER:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_RUN_FRAMES:
        raise argparse.ArgumentTypeError(
            f"expected a whole number in 1..{MAX_RUN_FRAMES:_} or {FOREVER!r} (run until "
            f"Ctrl-C), got {text!r}")
    return value


@contextmanager
def frame_progress(total: int | None, *, every_s: float = PROGRESS_EVERY_S
                   ) -> Iterator[Callable[[int, int | None], None] | None]:
    """Progress of completed frames on stderr (never stdout, so --json stays one object).

    On a terminal: a transient bar (a counter for a run until Ctrl-C). Off a terminal (a
    pipe, a log, CI), where a silent long run looks like a hang: one plain line every
    ``every_s`` seconds, ``layerswap: run: 52000 frames done (all models), 4100/s``."""
    if total is not None and total < PROGRESS_MIN_FRAMES:
        yield None
        return
    if not sys.stderr.isatty():
        start = time.monotonic()
        due = [start + every_s]

        def line(done: int, _total: int | None) -> None:
            now = time.monotonic()
            if now < due[0]:
                return
            due[0] = now + every_s
            of = "" if total is None else f" of {total}"
            print(f"layerswap: run: {done}{of} frames done (all models), "
                  f"{done / max(now - start, 1e-9):.0f}/s, {now - start:.0f} s", file=sys.stderr,
                  flush=True)

        yield line
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = ((TextColumn("running frames"), BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn()) if total is not None else
               (TextColumn("running frames until Ctrl-C:"),
                TextColumn("{task.completed} done"), TimeElapsedColumn()))
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("frames", total=total)
        yield lambda done, _total: bar.update(task, completed=done)


def cmd_run(args: argparse.Namespace) -> int:
    from runtime.api import load_plan, run_manifest
    from runtime.errors import LayerswapRuntimeError, RunInterrupted
    from runtime.io import npz_inputs
    from runtime.report import format_report, summary

    try:
        plan = load_plan(args.manifest)
        source, frames = None, 1 if args.frames is _DEFAULT else args.frames
        if args.inputs:
            if frames is None:
                raise CommandError(f"--frames {FOREVER} needs random inputs: --inputs "
                                   f"{args.inputs} holds a fixed number of frames")
            source, frames = npz_inputs(plan, args.inputs,
                                        None if args.frames is _DEFAULT else args.frames)
        total = None if frames is None else frames * len(plan.models)
        with frame_progress(total) as progress:
            result = run_manifest(plan, frames=frames, backend=args.backend,
                                  threads=args.threads, inputs=source, seed=args.seed,
                                  save_outputs=args.save_outputs, trace=args.trace,
                                  rounds_in_flight=args.rounds_in_flight,
                                  stall_timeout_s=args.stall_timeout, progress=progress)
    except RunInterrupted as exc:  # `run_command` prints `layerswap: interrupted`, exit 130
        stop = KeyboardInterrupt()
        stop.add_note(_with_saved(str(exc), args, exc))
        stop.partial = {"completed_frames": exc.completed_frames,  # type: ignore[attr-defined]
                        "saved_outputs": args.save_outputs, "stopped": str(exc)}
        raise stop from exc
    except LayerswapRuntimeError as exc:
        raise CommandError(_with_saved(" ".join(str(exc).split()), args, exc)) from exc
    from optimizer.replay import format_replay, replay

    doc = summary(result)
    doc["simulated"] = replay(result)
    if args.save_outputs:
        doc["saved_outputs"] = {m.name: str(Path(args.save_outputs) / f"{m.name}.npz")
                                for m in plan.models}
    if args.trace:
        doc["trace"] = str(args.trace)
    if args.json:
        emit_json(doc)
        return EXIT_OK
    con = console()
    con.print(format_report(doc), markup=False)
    con.print("", markup=False)
    con.print(format_replay(doc["simulated"]), markup=False)
    if args.trace:
        con.print(f"trace: {doc['trace']} (open it in https://ui.perfetto.dev)", markup=False)
    if args.save_outputs:
        con.print(f"outputs: {', '.join(doc['saved_outputs'].values())}", markup=False)
    return EXIT_OK


def _with_saved(message: str, args: argparse.Namespace, exc: Exception) -> str:
    """The error line plus what the output writer kept (frames per model, from the writer
    itself: a write that failed part-way keeps fewer than were completed)."""
    saved = getattr(exc, "saved_outputs", None)
    if not args.save_outputs or not saved:
        return message
    counts = ", ".join(f"{m}: {n}" for m, n in saved.items())
    return f"{message}; completed frames saved in {args.save_outputs} ({counts})"


_DEFAULT = object()  # --frames not given: 1, or every frame of --inputs


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "run", cmd_run, "execute an exported manifest: device workers, streamed frames, "
        "trace and predicted-vs-measured report",
        "  layerswap run out/manifest.json\n"
        "  layerswap run out/manifest.json --frames 500 --trace trace.json --json\n"
        "  layerswap run out/manifest.json --frames forever     # until Ctrl-C\n"
        "  layerswap run out/manifest.json --inputs frames.npz --save-outputs results/\n"
        "  layerswap run out/manifest.json --backend trt        # on the Jetson\n"
        "\n"
        "--inputs: one .npz keyed MODEL/INPUT_NAME, arrays [frames, *shape]; default: seeded\n"
        "random tensors of the manifest's shapes. --save-outputs DIR: DIR/MODEL.npz keyed by\n"
        "output name, arrays [frames, *shape] (also written, with the completed frames, when\n"
        "a run stops early). Ctrl-C stops a run of N frames cleanly (exit 130, completed\n"
        "frames saved); with --frames forever it is the normal end (report, exit 0).\n"
        "Throughput is the steady state (period per frame after round 0), with the fill\n"
        "time before it named separately; frame latency is p50 and worst per model.\n"
        "Beside them: the simulator's stream fed with this run's own segment times (mean\n"
        "execution + dispatch delay, same device orders and rounds in flight), with the\n"
        "error of each figure: it checks that the runtime runs the stream the way the\n"
        "model says (JSON: `simulated`; docs/runtime.md).")
    p.add_argument("manifest", help="DIR/manifest.json written by `layerswap export` (or DIR)")
    p.add_argument("--frames", type=run_frames, default=_DEFAULT, metavar="N|forever",
                   help=f"frames per model: a whole number 1..{MAX_RUN_FRAMES:_} (an upper "
                        f"bound: more is refused), or {FOREVER!r} to stream until Ctrl-C, "
                        "which then ends the run and prints its report (exit 0); memory "
                        "stays bounded either way, and off a terminal a progress line goes "
                        f"to stderr every {PROGRESS_EVERY_S:g} s (default: 1, or every "
                        "frame of --inputs)")
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

"""`layerswap example medical`: the seed scenario end to end (a thin face over
`optimizer.medical.run_medical`: zoo models -> DLA report -> rewrite -> estimated cost
tables -> solves -> export -> runtime check -> report)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from optimizer.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    MAX_COUNT,
    MAX_WORKERS,
    add_command,
    add_group,
    console,
    declare_output,
    emit_json,
    integer,
    number,
    platform_name,
)
from optimizer.text import signed_pct
from profiles.platforms import default_trt_version

if TYPE_CHECKING:
    from optimizer.medical import MedicalRun

DEFAULT_DIR = "out/medical"
MAX_NGF = 256            # 4x the seed paper's width; the weights grow with its square
MAX_YOLO_SIZE = 1280     # the largest input Ultralytics trains YOLOv8 for
MAX_MEDICAL_FRAMES = 1000  # 256 KB of phantom per frame, held in memory


def cmd_example_medical(args: argparse.Namespace) -> int:
    from optimizer.medical import MedicalOptions, run_medical

    opts = MedicalOptions(ngf=args.ngf, yolo_size=args.yolo_size, platform=args.platform,
                          trt_version=args.trt_version or default_trt_version(args.platform),
                          gan_groups=args.groups,
                          yolo_groups=args.groups, max_transitions=args.max_transitions,
                          solver=args.solver, time_limit=args.time_limit,
                          workers=args.workers, frames=args.frames, seed=args.seed,
                          contention=args.contention, paper=args.paper)
    show = args.progress or sys.stderr.isatty()

    def progress(line: str) -> None:
        if show:
            print(f"layerswap: {line}", file=sys.stderr, flush=True)

    run = run_medical(args.output, opts, progress=progress)
    report = run.report
    summary = [{"name": s["name"], "setup": s["setup"], "variant": s["variant"],
                "scenario": s["scenario"], "status": s["status"], "objective": s["objective"],
                "objective_ms": s["objective_ms"], "throughput_fps": s["throughput_fps"],
                "gain_pct": s["gain_pct"], "best_baseline": s["best_baseline"],
                "balanced": s["balance"]["balanced"] if s["objective"] == "throughput"
                else None,
                "loadables": s["loadables"],
                "run_ok": bool(s["run"] and s["run"]["ok"]),
                "manifest": s["manifest"], "gantt": s["gantt"]}
               for s in report["solves"]]
    failed = [s["name"] for s in summary if not s["run_ok"]]
    if args.json:
        emit_json({"out_dir": str(run.out_dir), "report": str(run.out_dir / "report.md"),
                   "estimated": True, "checks": report["checks"], "solves": summary,
                   "paper": report["paper"], "timings_s": run.timings})
    else:
        _print_summary(run, summary)
    if failed:
        print(f"layerswap: error: runtime outputs differ from the unsplit models for "
              f"{', '.join(failed)} (see {run.out_dir / 'report.md'})", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _print_summary(run: MedicalRun, summary: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="medical example: ESTIMATED times (cost tables from the ONNX graphs)")
    table.add_column("schedule", overflow="fold")  # the key: wrapped, never cut to "..."
    for col in ("status", "ms", "FPS", "gain vs best baseline", "balanced",
                "runtime = unsplit"):
        table.add_column(col)
    for s in summary:
        fps = "" if s["throughput_fps"] is None else f"{s['throughput_fps']:.1f}"
        gain = ("" if s["gain_pct"] is None
                else f"{signed_pct(s['gain_pct'])} ({s['best_baseline']})")
        balanced = "" if s["balanced"] is None else ("yes" if s["balanced"] else "no")
        table.add_row(s["name"], s["status"], f"{s['objective_ms']:.3f}", fps, gain, balanced,
                      "yes" if s["run_ok"] else "NO")
    con = console()
    con.print(table)
    con.print(f"report: {run.out_dir / 'report.md'} (+ report.json, gantt/, schedules/); "
              f"took {run.timings.get('total', 0.0):.1f} s")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `example medical`."""
    from optimizer.medical_setup import MedicalOptions

    d = MedicalOptions()
    steps = add_group(sub, "example", "run a worked example end to end",
                      "Worked examples: each builds its models, solves, exports, runs and "
                      "writes a report.",
                      "  layerswap example medical -o out/medical", dest="example",
                      metavar="EXAMPLE")
    p = add_command(
        steps, "medical", cmd_example_medical,
        "the seed scenario: CT->MRI Pix2Pix + YOLOv8n on a Jetson AGX Orin, end to end",
        "  layerswap example medical                      # real sizes (ngf 64), out/medical\n"
        "  layerswap example medical -o /tmp/med --ngf 8  # small generator, seconds\n"
        "  layerswap example medical --json --progress    # one JSON object + step lines\n"
        "  layerswap example medical --paper -o out/paper # the seed paper's setup and tables")
    p.add_argument("-o", "--output", default=DEFAULT_DIR, metavar="DIR",
                   help="output folder (default: %(default)s)")
    declare_output(p, "output", "folder")
    p.add_argument("--ngf", type=integer(minimum=1, maximum=MAX_NGF), default=d.ngf,
                   metavar="N",
                   help="generator base width: 64 is the seed paper's model; 8 runs in "
                        f"seconds; at most {MAX_NGF} (default: %(default)s)")
    p.add_argument("--yolo-size", type=integer(minimum=32, maximum=MAX_YOLO_SIZE),
                   default=d.yolo_size, metavar="S",
                   help=f"YOLOv8n input side, a multiple of 32 up to {MAX_YOLO_SIZE} "
                        "(default: %(default)s)")
    p.add_argument("--platform", default=d.platform, type=platform_name,
                   help="Jetson to estimate and solve for (`layerswap platforms`; default: "
                        "%(default)s)")
    p.add_argument("--trt-version", default=None, metavar="V",
                   help="TensorRT version for the DLA rules and loadable limit (default: the "
                        "platform's JetPack, `layerswap platforms`)")
    p.add_argument("--groups", type=integer(minimum=1, maximum=MAX_COUNT),
                   default=d.gan_groups, metavar="K",
                   help="layer groups per estimated cost table (default: %(default)s)")
    p.add_argument("--max-transitions", type=integer(minimum=0, maximum=MAX_COUNT),
                   default=d.max_transitions, metavar="T",
                   help="device switches per model instance (default: %(default)s)")
    p.add_argument("--solver", default=d.solver, choices=("cpsat", "ilp", "sat"),
                   help="exact backend (default: %(default)s)")
    p.add_argument("--time-limit", type=number(above=0), default=d.time_limit, metavar="S",
                   help="seconds per solve (default: %(default)s)")
    p.add_argument("--workers", type=integer(minimum=1, maximum=MAX_WORKERS),
                   default=d.workers, metavar="N",
                   help="solver threads per solve (default: %(default)s)")
    p.add_argument("--frames", type=integer(minimum=1, maximum=MAX_MEDICAL_FRAMES),
                   default=d.frames, metavar="N",
                   help=f"phantom frames each manifest runs, at most {MAX_MEDICAL_FRAMES} "
                        "(default: %(default)s)")
    p.add_argument("--seed", type=integer(minimum=0, maximum=MAX_COUNT), default=d.seed,
                   metavar="N",
                   help="seed of the zoo weights and the phantom noise (default: %(default)s)")
    p.add_argument("--contention", default=d.contention, choices=("none", "preset"),
                   help="memory contention in the solves: off, or the platform preset (AGX "
                        "Orin: fitted to published co-run data; Orin NX: a placeholder; "
                        "throughput solves then use their "
                        "whole time limit) (default: %(default)s)")
    p.add_argument("--paper", action="store_true",
                   help="the seed paper's setup: its generator (the TensorFlow Pix2Pix "
                        "tutorial's U-Net, 3->3 channels) as original, cropping and "
                        "convolution variants; throughput with one DLA core, at most one "
                        "switch per instance, the two GANs starting on the DLA and on the "
                        "GPU (and GPU fallback for the original, once the model has it), "
                        "beside the default setup; the report adds the paper's tables with "
                        "its measured numbers beside ours")
    p.add_argument("--progress", action="store_true",
                   help="print a line per step on stderr even when it is not a terminal")

"""`layerswap export`: a saved schedule -> sub-models, engine build script and manifest (thin
wrapper over `export.exporter.export_schedule`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from optimizer.cli.common import (
    EXIT_OK,
    CommandError,
    add_command,
    add_export_options,
    console,
    declare_output,
    emit_json,
    onnx_map,
    spinner,
)
from profiles.platforms import default_trt_version


def _result_from_file(path: str, schedule: Any) -> Any:
    """The solver's summary saved next to the schedule (`solve -o`), as a `Result`."""
    from solvers.model.schedule import Result, SolveStatus

    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    info = doc.get("result")
    if not isinstance(info, dict):
        return None
    try:
        return Result(status=SolveStatus(info["status"]), solver=str(info["solver"]),
                      schedule=schedule, timeline=None, objective=info.get("objective"),
                      lower_bound=info.get("lower_bound"),
                      solve_seconds=float(info.get("solve_seconds") or 0.0))
    except (KeyError, TypeError, ValueError):
        return None  # a hand-made schedule file: no solver provenance


def cmd_export(args: argparse.Namespace) -> int:
    from export.exporter import export_schedule
    from solvers.model.schedule import load_schedule_file

    problem, schedule = load_schedule_file(args.schedule)  # a missing file is named first
    if not args.onnx:
        raise CommandError(f"give the ONNX file of every model of {args.schedule} "
                           f"({', '.join(m.name for m in problem.models)}): --onnx "
                           "MODEL=FILE (repeat)")
    args.trt_version = args.trt_version or default_trt_version(problem.platform.name)
    with spinner(f"exporting to {args.output}…", not args.json):
        manifest = export_schedule(problem, schedule, onnx_map(args.onnx), args.output,
                                   result=_result_from_file(args.schedule, schedule),
                                   trt_version=args.trt_version, precision=args.precision,
                                   allow_gpu_fallback=args.allow_gpu_fallback)
    out = Path(args.output)
    engines = sorted({s.engine.file for s in manifest.segments})
    files = sorted({s.file for s in manifest.segments}
                   | {s.engine.onnx for s in manifest.segments if s.engine.onnx})
    p = manifest.predicted
    if args.json:
        emit_json({
            "directory": str(out), "manifest": str(out / "manifest.json"),
            "build_script": str(out / "build_engines.sh"), "summary": str(out / "SUMMARY.md"),
            "trt_version": args.trt_version, "precision": args.precision,
            "objective_kind": manifest.objective, "platform": manifest.platform,
            "frames_per_round": manifest.frames_per_round,
            "models": [m.name for m in manifest.models],
            "segments": [{"id": s.id, "device": s.device, "first_group": s.first_group,
                          "last_group": s.last_group, "first_layer": s.first_layer,
                          "last_layer": s.last_layer, "file": s.file,
                          "engine": s.engine.file} for s in manifest.segments],
            "files": files, "engines": engines,
            "predicted": {"makespan_ms": p.makespan_ms, "period_ms": p.period_ms,
                          "throughput_fps": p.throughput_fps},
        })
        return EXIT_OK
    con = console()
    con.print(f"exported {len(manifest.segments)} segment(s) of "
              f"{', '.join(m.name for m in manifest.models)} to {out}")
    for s in manifest.segments:
        con.print(f"  {s.id:<16} {s.device:<5} groups {s.first_group}-{s.last_group}  "
                  f"{s.first_layer} .. {s.last_layer}")
    con.print(f"wrote {out / 'manifest.json'}, {len(files)} ONNX file(s), "
              f"{out / 'build_engines.sh'} ({len(engines)} engine(s), TensorRT "
              f"{args.trt_version}), {out / 'SUMMARY.md'}")
    con.print(f"next: copy {out} to the Jetson and run ./build_engines.sh there")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `export`."""
    p = add_command(
        sub, "export", cmd_export,
        "cut a saved schedule into sub-models, an engine build script and a manifest",
        "  layerswap solve gan.csv yolo.csv --platform orin-agx -o s.json\n"
        "  layerswap export s.json --onnx gan=gan.onnx --onnx yolo=yolo.onnx -o out/\n"
        "  layerswap export s.json --onnx gan=gan.onnx -o out/ --trt-version 11.4 --json\n"
        "\n"
        "Every table must carry the ONNX mapping (first_layer/last_layer columns and an\n"
        "'# onnx_graph:' line): tables from `layerswap estimate` or `profile ingest-sweep`.")
    p.add_argument("schedule", help="schedule file written by `layerswap solve -o`")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output directory (new, empty, or a previous export to replace)")
    declare_output(p, "output", "folder")
    add_export_options(p, standalone=True)

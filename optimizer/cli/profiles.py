"""CLI commands that turn measurements into cost tables: `ingest` and `profile plan|ingest-sweep`.

Thin wrappers over `profiles.ingest` and `profiles.sweep`; no parsing logic lives here.
"""

from __future__ import annotations

import argparse
import sys

from optimizer.cli.common import (
    Command,
    add_command,
    add_group,
    declare_output,
    emit_json,
    platform_name,
    resolve_table,
    say,
    say_err,
)
from profiles.costtable import CostTable


def _write_table(table: CostTable, output: str | None) -> str | None:
    if output is None:
        return None
    return str(table.to_csv(output))


def cmd_ingest(args: argparse.Namespace) -> int:
    from profiles.ingest import DlaCosts, ingest_trtexec

    dla = None
    if args.dla_from:
        dla = DlaCosts.from_table(resolve_table(args.dla_from))
    starts: list[int | str] | None = None
    if args.group_starts:
        starts = [int(s) if s.strip().isdigit() else s.strip()
                  for s in args.group_starts.split(",") if s.strip()]
    result = ingest_trtexec(
        args.profile, platform=args.platform, model=args.model, precision=args.precision,
        trt_version=args.trt_version, statistic="median" if args.median else "average",
        layer_info=args.layer_info, build_log=args.build_log, dla=dla, group_starts=starts)
    path = _write_table(result.table, args.output)
    if args.json:
        doc = result.to_json()
        doc["written"] = path
        emit_json(doc)
        return 0
    t = result.table
    # with no -o, stdout is exactly the CSV (so `> t.csv` is a valid table): news to stderr
    tell = say if path else say_err
    tell(f"{t.model}: {t.n_groups} groups from {args.profile}, GPU total "
         f"{sum(t.gpu_ms):.4f} ms ({'median' if args.median else 'average'} per layer)")
    for note in result.notes:
        tell(f"  note: {note}")
    if path:
        say(f"wrote {path}")
    else:
        sys.stdout.write(t.to_csv_text())
    return 0


def cmd_profile_plan(args: argparse.Namespace) -> int:
    from profiles.sweep import plan_sweep

    candidates: list[str | int] | None = None
    if args.after:
        candidates = [int(a) if a.isdigit() else a for a in args.after]
    plan = plan_sweep(args.model, candidates, dla_core=args.dla_core, precision=args.precision,
                      trt_version=args.trt_version, repeats=args.repeats,
                      max_crossing=args.max_crossing, out_dir=args.output)
    runs = sum(len(e.runs) for e in plan.engines)
    if args.json:
        emit_json({"model": plan.model, "trt_version": plan.trt_version, "cuts": len(plan.cuts),
               "engines": len(plan.engines), "runs": runs, "directory": args.output,
               "script": f"{args.output}/sweep.sh", "notes": list(plan.notes)})
        return 0
    say(f"{plan.model}: {len(plan.cuts)} candidate cuts, {len(plan.engines)} engines, "
         f"{runs} runs (TRT {plan.trt_version}, {plan.precision}, DLA core {plan.dla_core})")
    for note in plan.notes:
        say(f"  note: {note}")
    say(f"wrote {args.output}/sweep_plan.json and {args.output}/sweep.sh: run the script on "
         "the Jetson, then `layerswap profile ingest-sweep` on the folder")
    return 0


def cmd_profile_ingest_sweep(args: argparse.Namespace) -> int:
    from profiles.sweep import ingest_sweep

    result = ingest_sweep(args.directory, timing=args.timing)
    anomalies = [str(a) for a in result.anomalies]
    table = result.to_cost_table(platform=args.platform, model=args.model,
                                 merge_noisy_groups=args.merge_noisy_groups)
    path = _write_table(table, args.output)
    if args.json:
        emit_json({"model": table.model, "groups": table.n_groups, "anomalies": anomalies,
               "merged": list(result.merged),
               "transition_method": result.transition_method, "written": path,
               "csv": table.to_csv_text()})
        return 0
    tell = say if path else say_err  # no -o: stdout is exactly the CSV
    tell(f"{table.model}: {table.n_groups} groups measured from {args.directory} "
         f"({result.transition_method})")
    for a in anomalies:
        tell(f"  [yellow]noisy:[/yellow] {a}")
    if path:
        say(f"wrote {path}")
    else:
        sys.stdout.write(table.to_csv_text())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add `ingest` and `profile plan|ingest-sweep`."""
    p = add_command(
        sub, "ingest", cmd_ingest, "turn a trtexec per-layer profile into a cost table",
        "  layerswap ingest model.profile.json --platform orin-agx -o model.csv\n"
        "  layerswap ingest run.log --layer-info layers.json --build-log build.log \\\n"
        "      --dla-from sweep.csv --platform orin-agx -o model.csv --json")
    p.add_argument("profile", help="--exportProfile JSON, or a log with a --dumpProfile table")
    p.add_argument("--platform", required=True, type=platform_name,
                   help="where it was measured, e.g. orin-agx")
    p.add_argument("--model", help="model name (default: from the file name)")
    p.add_argument("--precision", help="fp16 | int8 | fp32 (recorded in the metadata)")
    p.add_argument("--trt-version", help="TensorRT version (default: read from the log)")
    p.add_argument("--median", action="store_true",
                   help="use medianMs instead of averageMs (TRT >= 8.4)")
    p.add_argument("--layer-info", metavar="FILE", help="--exportLayerInfo JSON of the engine")
    p.add_argument("--build-log", metavar="FILE", help="verbose build log (DLA/GPU placement)")
    p.add_argument("--dla-from", metavar="TABLE",
                   help="take dla_ms and transition costs from this table (same groups), "
                        "e.g. the output of `profile ingest-sweep`")
    p.add_argument("--group-starts", metavar="I,J,...",
                   help="engine rows (positions or names) that begin a group")
    p.add_argument("-o", "--output", metavar="FILE.csv", help="write the table (else stdout)")
    declare_output(p, "output", "file")

    steps = add_group(sub, "profile", "plan and ingest the DLA transition sweep",
                      "Plan the DLA transition sweep (engines to build and run with trtexec on "
                      "the Jetson) and ingest its results.",
                      "  layerswap profile plan yolo.onnx --trt-version 10.3 -o sweep/\n"
                      "  layerswap profile ingest-sweep sweep/ --platform orin-agx -o yolo.csv",
                      dest="profile_command", metavar="STEP")

    def add_step(name: str, func: Command, help_: str, examples: str
                 ) -> argparse.ArgumentParser:
        return add_command(steps, name, func, help_, examples, exit_codes=False)

    p = add_step("plan", cmd_profile_plan,
                 "write the trtexec commands of a transition sweep for one ONNX model",
                 "  layerswap profile plan yolo.onnx --trt-version 10.3 -o sweep/\n"
                 "  layerswap profile plan gan.onnx --after conv4 --after conv9 -o sweep/")
    p.add_argument("model", help="ONNX model (static shapes)")
    p.add_argument("--after", action="append", metavar="LAYER",
                   help="candidate cut after this layer (name or position; repeatable; "
                        "default: every valid cut)")
    p.add_argument("--trt-version", default="8.5",
                   help="TensorRT on the Jetson; picks the flag set (default: %(default)s)")
    p.add_argument("--dla-core", type=int, default=0, choices=(0, 1))
    p.add_argument("--precision", default="fp16", choices=("fp16", "int8"))
    p.add_argument("--repeats", type=int, default=3, help="runs per engine (default: 3)")
    p.add_argument("--max-crossing", type=int, default=1,
                   help="tensors allowed to cross a cut (default: 1)")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for the plan, derived models and sweep.sh")
    declare_output(p, "output", "folder")

    p = add_step("ingest-sweep", cmd_profile_ingest_sweep,
                 "difference the sweep's runs into per-group GPU/DLA and transition costs",
                 "  layerswap profile ingest-sweep sweep/ --platform orin-agx -o yolo.csv\n"
                 "  layerswap profile ingest-sweep sweep/ --platform orin-agx "
                 "--merge-noisy-groups --json")
    p.add_argument("directory", help="the folder `profile plan` wrote, with the runs' outputs")
    p.add_argument("--platform", required=True, type=platform_name)
    p.add_argument("--model", help="model name (default: from the plan)")
    p.add_argument("--timing", default="gpu_compute_median",
                   choices=("gpu_compute_median", "gpu_compute_mean", "profile_total"))
    p.add_argument("--merge-noisy-groups", action="store_true",
                   help="merge a group whose difference is negative or exceeds its total "
                        "into its neighbour (recorded in the metadata) instead of refusing")
    p.add_argument("-o", "--output", metavar="FILE.csv", help="write the table (else stdout)")
    declare_output(p, "output", "file")

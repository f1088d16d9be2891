"""`layerswap calibrate`: fit the contention model from co-run measurements (thin wrapper
over `solvers.model.contention.calibrate`)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any

from optimizer.cli.common import add_command, declare_output, emit_json, number, platform_name
from solvers.errors import ProblemError

COLUMNS = ("victim", "standalone_ms", "corun_ms", "corunner_bw_gbps")


def read_corun_csv(path: str) -> dict[str, list[dict[str, str]]]:
    """Samples per victim kind from a CSV with columns victim (gpu|dla), standalone_ms,
    corun_ms, corunner_bw_gbps (``#`` lines are comments)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ProblemError(f"{path}: not a UTF-8 CSV file") from exc
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ProblemError(f"{path}: missing column(s) {', '.join(missing)}; the header must "
                           f"be {','.join(COLUMNS)}")
    by_kind: dict[str, list[dict[str, str]]] = {"gpu": [], "dla": []}
    for row_no, row in enumerate(reader, start=1):
        kind = (row.get("victim") or "").strip().lower()
        if kind not in by_kind:
            raise ProblemError(f"{path}: row {row_no}: victim must be gpu or dla, not "
                               f"{row.get('victim')!r}")
        by_kind[kind].append(row)
    if not any(by_kind.values()):
        raise ProblemError(f"{path}: no samples")
    return by_kind


def cmd_calibrate(args: argparse.Namespace) -> int:
    from solvers.model.contention import calibrate, save_contention_model
    from solvers.model.problem import get_platform

    breakpoints = args.breakpoints
    model = get_platform(args.platform).contention
    report: dict[str, Any] = {}
    for kind, rows in read_corun_csv(args.samples).items():
        if not rows:
            report[kind] = {"samples": 0, "curve": f"kept from the {model.name} preset"}
            continue
        try:
            fit = calibrate(rows, kind=kind, breakpoints=breakpoints, base=model,
                            k_max=model.k_max, name=f"{args.platform}-calibrated")
        except ProblemError as exc:
            raise ProblemError(f"{args.samples}: {kind} victims: {exc}") from exc
        model = fit.model
        report[kind] = {"samples": fit.n, "rmse_k": fit.rmse,
                        "max_abs_error_k": fit.max_abs_error, "rmse_ms": fit.rmse_ms,
                        "curve": [list(p) for p in fit.curve.points]}
    if args.output:
        save_contention_model(args.output, model, report)
    if args.json:
        emit_json({"model": model.to_dict(), "fit": report, "written": args.output})
        return 0
    for kind, info in report.items():
        if not info["samples"]:
            print(f"{kind} victims: no samples, {info['curve']}")
            continue
        points = ", ".join(f"({x:g} GB/s, {y:.4f})" for x, y in info["curve"])
        print(f"{kind} victims: {info['samples']} samples, rmse of k {info['rmse_k']:.4f} "
              f"(max {info['max_abs_error_k']:.4f}), rmse {info['rmse_ms']:.4f} ms; "
              f"curve {points}")
    if args.output:
        print(f"wrote {args.output}: use it with `layerswap solve --contention-model "
              f"{args.output}`")
    return 0


def _breakpoints(text: str) -> list[float]:
    """``0,20,40,80``: finite bandwidths in GB/s (--breakpoints)."""
    parse = number(minimum=0)
    try:
        values = [parse(b.strip()) for b in text.split(",") if b.strip()]
    except argparse.ArgumentTypeError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: expected bandwidths >= 0 like 0,20,40,80 "
                                         "(GB/s)")
    return values


def register(sub: argparse._SubParsersAction) -> None:
    """Add `calibrate`."""
    p = add_command(sub, "calibrate", cmd_calibrate,
            "fit the memory-contention model from co-run measurements",
            "  layerswap calibrate examples/corun.csv --platform orin-agx -o orin.json\n"
            "  layerswap solve examples/detector.csv examples/segmenter.csv --platform "
            "orin-agx --contention-model orin.json\n"
            "corun.csv columns: victim (gpu|dla), standalone_ms, corun_ms (fully overlapped\n"
            "by one co-runner), corunner_bw_gbps (the co-runner's bandwidth demand)")
    p.add_argument("samples", help="co-run CSV (see the columns below)")
    p.add_argument("--platform", default="xavier-agx", type=platform_name,
                   help="preset to start from; a kind without samples keeps its curve")
    p.add_argument("--breakpoints", metavar="X,Y,...", type=_breakpoints,
                   help="bandwidths (GB/s) where the fitted curve may bend "
                        "(default: 0, the quartiles and the maximum of the samples)")
    p.add_argument("-o", "--output", metavar="FILE.json", help="write the fitted model")
    declare_output(p, "output", "file")

"""`layerswap estimate`: an estimated cost table from an ONNX model (thin wrapper over
`profiles.estimate.estimate`)."""

from __future__ import annotations

import argparse
from typing import Any

from optimizer.cli.common import (
    MAX_COUNT,
    add_command,
    declare_output,
    emit_json,
    integer,
    say,
    say_err,
)

PRECISIONS = ("fp16", "int8", "fp32")


def cmd_estimate(args: argparse.Namespace) -> int:
    from profiles.costtable import band_range, table_error_bands
    from profiles.estimate import estimate

    est = estimate(args.model, platform=args.platform, precision=args.precision,
                   groups=args.groups, max_crossing=args.max_crossing, params=args.params,
                   trt_version=args.trt_version, unknown=args.unknown_ops, name=args.name,
                   align_dla=not args.no_align_dla)
    table = est.table
    if args.output:
        table.to_csv(args.output)
    refused = [{"layer": la.name, "op": la.op_type, "reason": la.dla_reason}
               for la in est.layers if not la.dla_ok]
    dla_total = None if any(r.dla_ms is None for r in table.rows) else sum(
        r.dla_ms for r in table.rows if r.dla_ms is not None)
    bands = table_error_bands(table) or {}
    gpu_total = sum(table.gpu_ms)
    if args.json:
        out: dict[str, Any] = {
            "model": table.model, "platform": table.platform,
            "module": est.platform.name, "precision": est.precision,
            "groups": table.n_groups, "layers": len(est.layers),
            "gpu_ms_total": gpu_total, "dla_ms_total": dla_total,
            "error_band": bands,
            "gpu_ms_total_range": band_range(gpu_total, bands.get("gpu")),
            "dla_ms_total_range": band_range(dla_total, bands.get("dla")),
            "dla_ineligible_groups": [r.group for r in table.rows if r.dla_ms is None],
            "dla_refused_layers": refused,
            "assumed_figures": list(est.platform.assumptions),
            "metadata": dict(table.metadata),
            "written": args.output,
        }
        if not args.output:
            out["csv"] = table.to_csv_text()
        emit_json(out)
        return 0
    if not args.output:
        print(table.to_csv_text(), end="")
        say_err(f"estimated {table.model} on {est.platform.name} ({est.precision}): "
                f"{table.n_groups} groups, {len(refused)} layer(s) refused by the DLA; GPU "
                f"{gpu_total:.3f} ms {_pm(bands.get('gpu'))}")
        return 0
    dla = "no whole-model DLA time" if dla_total is None else \
        f"DLA {dla_total:.3f} ms {_pm(bands.get('dla'))}"
    say(f"wrote {args.output}: {table.model} on {est.platform.name} ({est.precision}), "
        f"{table.n_groups} groups over {len(est.layers)} layers; GPU "
        f"{gpu_total:.3f} ms {_pm(bands.get('gpu'))}, {dla}")
    if refused:
        ineligible = [r.group for r in table.rows if r.dla_ms is None]
        say(f"DLA refuses {len(refused)} layer(s) (e.g. {refused[0]['layer']}: "
            f"{refused[0]['reason']}); group(s) without dla_ms: "
            f"{', '.join(map(str, ineligible))}")
    if est.platform.assumptions:
        say(f"assumed (unsourced) figures of {est.platform.name}: "
            f"{', '.join(est.platform.assumptions)}")
    say(f"source: estimated ({table.metadata.get('estimator_fit', 'roofline')}); the "
        "error band is the estimator's held-out error on published measurements "
        "(benchmarks/results/estimator.md)")
    return 0


def _pm(band: dict[str, Any] | None) -> str:
    """'± 4 % (max 11 %)' for a measured band, '(error not measured)' otherwise."""
    if not band or not band.get("measured"):
        return "(error not measured)"
    return f"\u00b1 {100 * band['mean_abs']:.0f} % (held out; max {100 * band['max_abs']:.0f} %)"


def register(sub: argparse._SubParsersAction) -> None:
    """Add `estimate`."""
    p = add_command(
        sub, "estimate", cmd_estimate,
        "estimate a cost table from an ONNX model (no Jetson needed)",
        "  layerswap estimate gan.onnx --platform orin-agx --precision fp16 -o gan.csv\n"
        "  layerswap estimate yolo.onnx --platform orin-nx-8 --groups 20 --json\n"
        "  layerswap estimate unet.onnx --platform orin-agx --max-crossing 8 -o unet.csv\n"
        "platforms: xavier-agx, orin-agx (= orin-agx-64), orin-agx-32, orin-nx (= orin-nx-16),\n"
        "orin-nx-8; figures and sources in profiles/estimate/platforms.toml")
    p.add_argument("model", metavar="MODEL.onnx", help="ONNX model with static shapes")
    p.add_argument("--platform", default="orin-agx",
                   help="Jetson module (default: orin-agx)")
    p.add_argument("--precision", choices=PRECISIONS, default="fp16",
                   help="engine precision (fp32: GPU only; default fp16)")
    p.add_argument("--groups", type=integer(minimum=1, maximum=MAX_COUNT), default=None,
                   metavar="K",
                   help="number of layer groups (default: 16, fewer if the model has fewer "
                        "valid cuts)")
    p.add_argument("--max-crossing", type=integer(minimum=1, maximum=MAX_COUNT), default=1,
                   metavar="N",
                   help="tensors a cut may hand over (default 1; U-Nets need more)")
    p.add_argument("--trt-version", default=None, metavar="V",
                   help="TensorRT version for the DLA rules (default: the module's JetPack)")
    p.add_argument("--params", default=None, metavar="FILE.toml",
                   help="efficiency parameters (default: the fitted profiles/estimate/"
                        "params.toml)")
    p.add_argument("--unknown-ops", choices=("error", "conservative"), default="error",
                   help="an op without a work formula: stop (default), or estimate it as a "
                        "memory-bound copy labelled in the table")
    p.add_argument("--name", default=None, help="model name in the table (default: graph name)")
    p.add_argument("--no-align-dla", action="store_true",
                   help="do not force cuts where DLA eligibility changes")
    p.add_argument("-o", "--output", metavar="T.csv",
                   help="write the table here (default: print the CSV on stdout)")
    declare_output(p, "output", "file")

"""`layerswap dla | rewrite`: which layers of an ONNX model can run on a Jetson DLA and why
not (`profiles.dla.check_model`), and exact rewrites that fix what can be fixed, verified
with ONNX Runtime (`export.rewrite`, `export.verify`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from optimizer.cli.common import (
    EXIT_OK,
    MAX_COUNT,
    CommandError,
    UsageError,
    add_command,
    console,
    declare_output,
    emit_json,
    integer,
    number,
    platform_name,
    spinner,
)
from runtime.agreement import SAME_KERNELS

if TYPE_CHECKING:
    from profiles.dla import DlaReport

def _add_target_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    g = p.add_argument_group("DLA target")
    g.add_argument("--platform", type=platform_name, required=required, default=None,
                   help="Jetson with DLA (`layerswap platforms`): xavier-agx (DLA 1.0), "
                        "orin-agx, orin-nx, orin-nx-8, ... (DLA 2.0)")
    g.add_argument("--trt-version", default=None, metavar="V",
                   help="TensorRT version, e.g. 8.5.2 (JetPack 5.1), 8.6.2 (JetPack 6.0), "
                        "10.3 (JetPack 6.1/6.2); 10.8+, 11.0-11.3 and 11.4.0 have no DLA "
                        "(default: the module's JetPack, `layerswap platforms`)")
    g.add_argument("--precision", choices=("fp16", "int8", "fp32"), default="fp16",
                   help="engine precision; DLA runs fp16 and int8 only (default: %(default)s)")
    g.add_argument("--allow-unknown-ops", action="store_true",
                   help="report ops without an ONNX schema as GPU plugins instead of failing")


def _check(model: Any, args: argparse.Namespace, label: str) -> DlaReport:
    from profiles.dla import check_model

    report = check_model(model, platform=args.platform, trt_version=args.trt_version,
                         precision=args.precision)
    unknown = report.unknown_ops
    if unknown and not args.allow_unknown_ops:
        first = unknown[0]
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise CommandError(f"{label}: node {first.name!r} has unknown op {first.op!r}{more} "
                           "with no ONNX schema; export it with standard ONNX ops, or pass "
                           "--allow-unknown-ops to report it as a GPU plugin")
    return report


def _refusal_table(report: DlaReport, title: str) -> Any:
    """One row per distinct refusal (rule, parameter, value, why, source) with the nodes it
    refuses: eight padded ConvTransposes are one row, not eight."""
    from rich.table import Table
    from rich.text import Text

    rows: dict[tuple[str, ...], list[str]] = {}
    for v in report.gpu_fallbacks:
        for r in v.reasons:
            # The message names the value in most rules; repeat it only where it does not.
            why = (r.message if not r.value or r.value in r.message
                   else f"{r.message} ({r.parameter} = {r.value})")
            key = (r.rule, why, r.source, v.op)
            rows.setdefault(key, []).append(v.name)
    table = Table(title=title)
    table.add_column("rule", no_wrap=True)
    table.add_column("nodes", overflow="fold", ratio=2)
    table.add_column("why", overflow="fold", ratio=4)
    table.add_column("source", overflow="fold", ratio=2)
    for (rule, why, source, op), names in rows.items():
        shown = ", ".join(names[:4]) + (f" (+{len(names) - 4} more)" if len(names) > 4 else "")
        table.add_row(Text(rule), Text(f"{len(names)} {op}: {shown}"), Text(why), Text(source))
    return table


def _island_table(report: DlaReport) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="DLA islands (one loadable each with GPU fallback)")
    for col in ("#", "first node", "last node", "nodes", "internal MiB"):
        table.add_column(col, overflow="fold")
    for isl in report.islands:
        mib = "—" if isl.internal_bytes is None else f"{isl.internal_bytes / 2**20:.1f}"
        table.add_row(*(Text(x) for x in (str(isl.index), isl.first, isl.last,
                                          str(len(isl.nodes)), mib)))
    return table


def _loadables_line(report: DlaReport) -> str:
    lo = report.loadables
    if lo.per_instance == 0:
        return "loadables: none (nothing runs on the DLA)"
    fits = (f"[green]within[/green] the limit of {lo.limit_per_core} per core "
            f"({lo.instances_per_core} instance(s) per core)" if lo.within_limit else
            f"[red]over[/red] the limit of {lo.limit_per_core} per core: islands "
            f"{', '.join(map(str, lo.fallback_islands))} would fall back to the GPU")
    return f"loadables per instance: {lo.per_instance}, {fits}"


def print_report(report: DlaReport, heading: str) -> None:
    """The human report: summary, refusals, islands, loadables vs limit."""
    from rich.markup import escape

    con = console()
    t = report.target
    con.print(f"[bold]{heading}[/bold] {escape(report.source)} on {t.platform} "
              f"(DLA {t.dla_version}), TensorRT {t.trt_version}, {t.precision}")
    if t.dla_unavailable:
        con.print(f"[red]no DLA:[/red] {escape(t.dla_unavailable)} "
                  f"{escape(t.unavailable_source)}")
    n = len(report.nodes)
    con.print(f"nodes: {n}, DLA-eligible: {report.eligible_count}, GPU fallbacks: "
              f"{n - report.eligible_count}, islands: {len(report.islands)}")
    if report.gpu_fallbacks and not t.dla_unavailable and t.precision != "fp32":
        con.print(_refusal_table(report, "refused on the DLA (GPU fallbacks)"))
    elif not report.gpu_fallbacks:
        con.print("[green]every node may run on the DLA[/green]")
    if report.islands:
        con.print(_island_table(report))
    con.print(_loadables_line(report))


def cmd_dla(args: argparse.Namespace) -> int:
    with spinner("checking DLA rules…", not args.json):
        report = _check(args.model, args, args.model)
    if args.json:
        emit_json(report.to_dict())
    else:
        print_report(report, "DLA report:")
    return EXIT_OK


def cmd_rewrite(args: argparse.Namespace) -> int:
    from export.rewrite import rewrite
    from export.verify import verify
    from profiles.fileio import atomic_write_bytes

    if args.platform is None and args.trt_version is not None:
        raise UsageError("--trt-version needs --platform (the before/after DLA reports check "
                         "the model for that Jetson)")
    reports = args.platform is not None
    before = _check(args.model, args, args.model) if reports else None
    with spinner("rewriting and verifying…", not args.json):
        # passes named explicitly must each change something (one line says why not)
        result = rewrite(args.model, args.passes, strict=args.passes is not None)
        check = verify(_load(args.model), result.model, seed=args.seed, samples=args.samples,
                       tolerance=args.tolerance)
    if not check.passed:
        bad = next(o for o in check.outputs if not o.max_abs_diff <= o.allowed)
        raise CommandError(f"{args.model}: the rewritten model differs from the original on "
                           f"{bad.name!r} by {bad.max_abs_diff:.3g} > {bad.allowed:.3g} "
                           f"allowed ({args.tolerance:g} + {check.comparison.rtol:g} x max "
                           f"|output| {bad.scale:.3g}); not "
                           f"written to {args.output} (a pass is not exact: please report it)")
    atomic_write_bytes(args.output, result.model.SerializeToString(deterministic=True))
    after = _check(args.output, args, args.output) if reports else None
    if args.json:
        doc: dict[str, Any] = {"input": args.model, "output": args.output, **result.to_dict(),
                               "verification": check.to_dict(),
                               "dla": None if before is None or after is None else
                               {"before": before.to_dict(), "after": after.to_dict()}}
        emit_json(doc)
        return EXIT_OK
    con = console()
    if before is not None:
        print_report(before, "before:")
    con.print(f"passes: {', '.join(result.passes)}")
    for c in result.applied:
        con.print(f"  [green]rewrote[/green] {c.node} ({c.pass_name}): {c.detail}")
    for c in result.skipped:
        con.print(f"  [yellow]left[/yellow] {c.node} ({c.pass_name}): {c.detail}")
    if not result.applied:
        con.print("  nothing to rewrite")
    con.print(_metrics_table(check))
    if after is not None:
        print_report(after, "after:")
    con.print(f"wrote {args.output}")
    return EXIT_OK


def _load(path: str) -> Any:
    from profiles.dla.context import load_model

    return load_model(path).proto


def _metrics_table(check: Any) -> Any:
    from rich.table import Table

    verdict = "[green]equal[/green]" if check.passed else "[red]DIFFERENT[/red]"
    table = Table(title=f"verification: ONNX Runtime, seed {check.seed}, {check.samples} "
                        f"sample(s), tolerance {check.tolerance:g}: {verdict}")
    for col in ("output", "shape", "max |diff|", "MSE", "PSNR dB", "SSIM"):
        table.add_column(col)
    for o in check.outputs:
        psnr = "inf (identical)" if o.identical else ("—" if o.psnr_db is None
                                                        else f"{o.psnr_db:.2f}")
        table.add_row(o.name, "x".join(map(str, o.shape)), f"{o.max_abs_diff:.3g}",
                      f"{o.mse:.3g}", psnr, "—" if o.ssim is None else f"{o.ssim:.6f}")
    return table


def _passes(text: str) -> list[str]:
    from export.rewrite import PASSES

    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [n for n in names if n not in PASSES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown pass {', '.join(bad) or '(empty)'}; choose "
                                         f"from {', '.join(PASSES)}")
    return names


def register(sub: argparse._SubParsersAction) -> None:
    """Add `dla` and `rewrite`."""
    p = add_command(
        sub, "dla", cmd_dla, "which ONNX layers can run on a Jetson DLA, and why not",
        "  layerswap dla pix2pix.onnx --platform orin-agx --trt-version 10.3\n"
        "  layerswap dla yolov8n.onnx --platform orin-agx --trt-version 8.6.2 --precision int8\n"
        "  layerswap dla googlenet.onnx --platform xavier-agx --trt-version 8.5.2 --json\n"
        "rules and their sources: docs/dla_rules.md")
    p.add_argument("model", metavar="MODEL.onnx", help="ONNX model with static shapes")
    _add_target_options(p, required=True)

    p = add_command(
        sub, "rewrite", cmd_rewrite,
        "apply exact DLA rewrites to an ONNX model and verify them with ONNX Runtime",
        "  layerswap rewrite pix2pix.onnx -o pix2pix_dla.onnx\n"
        "  layerswap rewrite pix2pix.onnx -o out.onnx --platform orin-agx --trt-version 10.3\n"
        "  layerswap rewrite resnet50.onnx -o out.onnx --passes global_pool_to_pool --json\n"
        "  layerswap rewrite gen.onnx -o gen_conv.onnx --passes convtranspose_pad_to_conv\n"
        "passes (all exact): convtranspose_pad_to_crop, global_pool_to_pool, pad_into_conv "
        "(the default set); convtranspose_pad_to_conv (on request: the seed paper's "
        "convolution variant, an identity-initialised 3x3 valid Conv after each unpadded "
        "ConvTranspose, adding weights to retrain). A pass named in --passes that changes "
        "nothing is an error")
    p.add_argument("model", metavar="IN.onnx", help="ONNX model with static shapes")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx",
                   help="where to write the rewritten model (atomically)")
    declare_output(p, "output", "file")
    p.add_argument("--passes", type=_passes, default=None, metavar="A,B",
                   help="comma-separated passes (default: every pass but "
                        "convtranspose_pad_to_conv)")
    p.add_argument("--seed", type=integer(minimum=0, maximum=MAX_COUNT), default=0,
                   metavar="N",
                   help="verification input seed (default: 0)")
    p.add_argument("--samples", type=integer(minimum=1, maximum=64), default=1, metavar="N",
                   help="seeded inputs to verify on, 1-64 (default: 1)")
    p.add_argument("--tolerance", type=number(minimum=0), default=1e-5, metavar="X",
                   help="absolute part of the max abs difference allowed per output, on top "
                        f"of {SAME_KERNELS.rtol:g} x the output's largest magnitude; both "
                        "models run with ONNX Runtime's graph optimisations off (default: "
                        "%(default)g)")
    _add_target_options(p, required=False)


__all__ = ["cmd_dla", "cmd_rewrite", "print_report", "register"]

"""`layerswap tables | platforms | check | regress`: the stored cost tables, what each platform
name means, table validation and the recorded-schedule regression check (thin wrappers over
`profiles.costtable` and
`optimizer.regression`)."""

from __future__ import annotations

import argparse

from optimizer.cli.common import (
    EXIT_OK,
    EXIT_REGRESSION,
    add_command,
    console,
    emit_json,
    resolve_table,
)


def cmd_tables(args: argparse.Namespace) -> int:
    from profiles.costtable import load_published, published_names

    names = published_names()
    tables = [load_published(n) for n in names]
    if args.json:
        emit_json({"tables": [{"name": n, "model": t.model, "platform": t.platform,
                                "source": t.source, "groups": t.n_groups,
                                "provenance": t.metadata.get("provenance", ""),
                                "placeholder_columns": list(t.placeholder_columns)}
                               for n, t in zip(names, tables, strict=True)]})
        return EXIT_OK
    from rich.table import Table

    table = Table(title="stored cost tables (profiles/data)")
    for col in ("name", "model", "platform", "source", "groups", "placeholders"):
        table.add_column(col)
    for n, t in zip(names, tables, strict=True):
        table.add_row(n, t.model, t.platform, t.source, str(t.n_groups),
                      ", ".join(t.placeholder_columns) or "none")
    console().print(table)
    return EXIT_OK


def cmd_platforms(args: argparse.Namespace) -> int:
    """Every platform name every command accepts, and what it means (profiles.platforms)."""
    from profiles import platforms

    if args.json:
        emit_json({"platforms": [{**platforms.resolve(n).summary(), "name": n,
                                  "module": platforms.resolve(n).name}
                                 for n in platforms.names()]})
        return EXIT_OK
    from rich.table import Table

    table = Table(title="platform names (profiles/estimate/platforms.toml; every command)")
    for col in ("name", "module", "DLA cores", "TensorRT", "JetPack", "power mode", "DRAM GB/s"):
        table.add_column(col)
    for n in platforms.names():
        info = platforms.resolve(n)
        table.add_row(n, info.name, str(info.dla_cores), info.trt_version or "-",
                      info.jetpack or "-", info.power_mode,
                      "-" if info.dram_gbps is None else f"{info.dram_gbps:g}")
    console().print(table)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Validate cost tables; one line per table (errors exit 1 at the first bad one)."""
    reports = []
    for ref in args.tables:
        t = resolve_table(ref)
        reports.append({"table": ref, "model": t.model, "platform": t.platform,
                        "source": t.source, "groups": t.n_groups,
                        "dla_ineligible_groups": [r.group for r in t.rows if r.dla_ms is None],
                        "gpu_ms_total": sum(t.gpu_ms),
                        "has_bandwidth": all(r.gpu_bw_gbps is not None for r in t.rows)})
    if args.json:
        emit_json({"valid": True, "tables": reports})
    else:
        con = console()
        for r in reports:
            con.print(f"[green]ok[/green] {r['table']}: {r['model']} on {r['platform']}, "
                      f"{r['groups']} groups, {r['source']}, GPU total "
                      f"{r['gpu_ms_total']:.4f} ms")
    return EXIT_OK


def cmd_regress(args: argparse.Namespace) -> int:
    from optimizer.regression import check_expectations, update_expectations

    if args.update:
        paths = update_expectations(args.directory)
        if args.json:
            emit_json({"updated": [str(p) for p in paths]})
        else:
            folder = paths[0].parent if paths else args.directory
            console().print(f"updated {len(paths)} expectation file(s) in {folder}")
        return EXIT_OK
    failures = check_expectations(args.directory)
    if args.json:
        emit_json({"passed": not failures, "failures": failures})
    else:
        con = console()
        for f in failures:
            con.print(f"[red]changed[/red] {f}")
        if not failures:
            con.print("all stored profile expectations hold")
    return EXIT_REGRESSION if failures else EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add `tables`, `platforms`, `check` and `regress`."""
    add_command(sub, "tables", cmd_tables, "list the stored cost tables (profiles/data)",
                "  layerswap tables\n  layerswap tables --json")

    add_command(sub, "platforms", cmd_platforms,
                "list the platform names every command accepts: module, DLA cores, TensorRT, "
                "JetPack, power mode",
                "  layerswap platforms\n  layerswap platforms --json")

    p = add_command(sub, "check", cmd_check, "validate cost-table CSV files against the contract",
                    "  layerswap check examples/detector.csv\n"
                    "  layerswap check googlenet_xavier --json")
    p.add_argument("tables", nargs="+", metavar="TABLE")

    p = add_command(sub, "regress", cmd_regress,
                    "check (or --update) the recorded schedules of every stored profile pair",
                    "  layerswap regress               # exit 5 when a result changed\n"
                    "  layerswap regress --update      # record the current results")
    p.add_argument("--update", action="store_true",
                   help="rewrite the expectation files from the current results")
    p.add_argument("--directory", default=None, metavar="DIR",
                   help="expectation folder (default: tests/expected in the source tree)")

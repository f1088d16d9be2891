"""`layerswap results`: read a sweep's results database: an overview, the best
configuration per model set or per platform, any SQL query, figures and Parquet export (a
thin wrapper over `optimizer.sweep.results` and `optimizer.sweep.db`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from optimizer.cli.common import EXIT_OK, UsageError, add_command, console, emit_json

TABLE_ROWS = 40
"""Rows shown in a terminal table (--json and --parquet carry all)."""


def cmd_results(args: argparse.Namespace) -> int:
    from optimizer.sweep import db, results

    if args.plot and not args.plot_output:
        raise UsageError("--plot needs -o FILE (PNG and SVG are written)")
    if args.query and (args.where or args.best_by or args.plot):
        raise UsageError("--query is a whole SQL statement: use it alone (add WHERE inside)")
    sql = args.query or ("SELECT * FROM points" + (f" WHERE {args.where}" if args.where
                                                    else "") + " ORDER BY rowid")
    frame = db.read_frame(args.results, sql)
    doc: dict[str, Any] = {"results": args.results}
    if args.query:
        table = frame
        doc["rows"] = _records(frame)
    elif args.best_by:
        table = results.best_by(frame, args.best_by)
        doc["best_by"] = args.best_by
        doc["rows"] = _records(table)
    else:
        table = None
        doc.update(results.overview(frame))
    written: dict[str, Any] = {}
    if args.plot:
        written["plot"] = results.write_plot(frame, args.plot, args.plot_output)
    if args.parquet:
        written["parquet"] = str(db.to_parquet(table if table is not None else frame,
                                               args.parquet))
    doc["written"] = written
    if args.json:
        emit_json(doc)
        return EXIT_OK
    con = console()
    if table is None:
        statuses = ", ".join(f"{k} {v}" for k, v in doc["statuses"].items())
        con.print(f"{args.results}: {doc['points']} points ({statuses}) over "
                  f"{doc['model_sets']} model sets on {', '.join(doc['platforms']) or '—'}"
                  f"; sweeps: {', '.join(doc['sweeps']) or '—'}")
    else:
        _print_table(table, args.best_by)
    for kind, path in written.items():
        con.print(f"wrote {kind}: {path if isinstance(path, str) else ', '.join(path)}")
    return EXIT_OK


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _print_table(frame: Any, best_by: str | None) -> None:
    from rich.table import Table

    never = {"point_id", "schedule_json", "tables_json", "warnings"}
    if_varied = {"precision", "contention", "solver", "variant", "best_baseline",
                 "status", "objective", "platform"}
    cols = [c for c in frame.columns if c not in never and (
        c not in if_varied or frame[c].nunique(dropna=True) > 1)][:12]
    title = {"pair": "best configuration per model set (lowest objective)",
             "platform": "per platform"}.get(best_by or "", "query")
    table = Table(title=title)
    for c in cols:
        table.add_column(c, overflow="fold")
    for _, row in frame.head(TABLE_ROWS).iterrows():
        table.add_row(*(_cell(row[c]) for c in cols))
    if len(frame) > TABLE_ROWS:
        table.caption = f"first {TABLE_ROWS} of {len(frame)} rows (--json or --parquet: all)"
    console().print(table)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `results`."""
    p = add_command(
        sub, "results", cmd_results,
        "read a sweep's results database: best configurations, SQL, plots, Parquet",
        "  layerswap results out/sweep.db                      # overview\n"
        "  layerswap results out/sweep.db --best-by pair       # best module per model set\n"
        "  layerswap results out/sweep.db --best-by platform --where \"objective = "
        "'latency'\"\n"
        "  layerswap results out/sweep.db --query \"SELECT models, platform, gain_pct FROM "
        "points WHERE status = 'optimal'\" --json\n"
        "  layerswap results out/sweep.db --plot heatmap -o out/gain.png\n"
        "  layerswap results out/sweep.db --parquet out/sweep.parquet\n\n"
        "Columns of the points table: docs/sweeps.md.")
    p.add_argument("results", metavar="RESULTS.db", help="database written by layerswap sweep")
    p.add_argument("--query", metavar="SQL", default=None,
                   help="a read-only SQL query over the table `points`")
    p.add_argument("--where", metavar="SQL", default=None,
                   help="keep only the points matching this SQL condition (before "
                        "--best-by, --plot and --parquet)")
    p.add_argument("--best-by", choices=("platform", "pair"), default=None,
                   help="pair: the best configuration (platform, max transitions, "
                        "variant, solver) of each model set; platform: a summary per "
                        "platform and objective")
    p.add_argument("--plot", choices=("heatmap", "pareto", "scaling"), default=None,
                   help="heatmap: gain over the best baseline per pair; pareto: latency vs "
                        "FPS across platforms; scaling: solve time vs problem size")
    p.add_argument("-o", "--output", dest="plot_output", metavar="FILE.png", default=None,
                   help="where --plot writes (PNG and SVG)")
    p.add_argument("--parquet", metavar="FILE.parquet", default=None,
                   help="also write the rows (or the --best-by / --query table) as Parquet")

"""Solver benchmark: how fast the exact backends prove optimality, and on what.

Cases (issue "Exact solvers"): 2 models x {10, 20, 30, 60, 120, 250} groups (latency and
throughput), 3 and 4 models x 30 groups on GPU + 2 DLA, and the published GoogleNet +
AlexNet pair; contention off (and on where listed). Synthetic tables use fixed seeds
(`profiles.synthetic.synthetic_table`), so every run solves the same problems. Each record
holds status, objective, lower bound, gap and the solve seconds of `solvers.solve.solve`
(build + search + simulator), plus the machine, its load and the command.

Opt-in (``--only``): ``latency-2x600`` and ``throughput-2x600``, the time-limit record, and
``latency-2x250-contention``.

Usage: ``python benchmarks/solvers.py [--solver cpsat] [--time-limit 60] [--quick]
[--only NAME ...]``; writes ``benchmarks/results/solvers.{json,md}`` atomically.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from profiles.costtable import load_published  # noqa: E402
from profiles.fileio import atomic_write_text  # noqa: E402
from profiles.synthetic import synthetic_table  # noqa: E402
from solvers.model.problem import Problem  # noqa: E402
from solvers.solve import solve  # noqa: E402

TARGETS = {
    "latency-2x30": 1.0,
    "latency-2x250": 30.0,
    "latency-4x30": 30.0,
    "latency-2x60-contention": 20.0,
    "latency-2x600": 30.0,
    "latency-2x250-contention": 120.0,
}
"""Issue targets: proven optimal within this many seconds (issue 23: 2 x 60 latency with
contention in 20 s, 2 x 250 with contention proven within its 120 s run, 2 x 600 in 30 s;
4 x 30 in 60 s there, 30 s in the earlier issue kept here; 3 x 30 with contention asks a
gap <= 5 % at 40 s, which this table does not check)."""


@dataclass(frozen=True)
class Case:
    name: str
    models: int
    groups: int          # 0 = the published GoogleNet + AlexNet pair
    objective: str
    contention: str      # "none" or "auto"
    max_transitions: int = 2


def cases(quick: bool) -> list[Case]:
    out: list[Case] = []
    sizes = (10, 20, 30) if quick else (10, 20, 30, 60, 120, 250)
    for objective in ("latency", "throughput"):
        out.append(Case(f"{objective}-googlenet+alexnet", 2, 0, objective, "none"))
        for g in sizes:
            out.append(Case(f"{objective}-2x{g}", 2, g, objective, "none"))
        for n in (3, 4):
            out.append(Case(f"{objective}-{n}x30", n, 30, objective, "none"))
    for g in (10, 30) if quick else (10, 30, 60):
        out.append(Case(f"latency-2x{g}-contention", 2, g, "latency", "auto"))
    out.append(Case("latency-3x30-contention", 3, 30, "latency", "auto"))
    out.append(Case("throughput-2x30-contention", 2, 30, "throughput", "auto"))
    return out


LARGE_CASES = (Case("latency-2x600", 2, 600, "latency", "none"),
               Case("throughput-2x600", 2, 600, "throughput", "none"),
               Case("latency-2x250-contention", 2, 250, "latency", "auto"))
"""Run only when named with ``--only``: the time-limit record (issue 11: ``--time-limit 60``
on 2 x 600 ran 69 s; the default 10 s left a 28 % gap) and 2 x 250 latency with contention
(issue 23: stopped `feasible` at a 0.36 % gap with a 120 s limit)."""


def problem_of(case: Case) -> Problem:
    if case.groups == 0:
        tables = [load_published("googlenet_xavier"), load_published("alexnet_xavier")]
    else:
        tables = [synthetic_table(case.groups, seed, model=f"synth{seed}")
                  for seed in range(1, case.models + 1)]
    return Problem.create(tables, "xavier-agx", objective=case.objective,
                          contention=case.contention, max_transitions=case.max_transitions)


def run_case(case: Case, solver: str, time_limit: float, workers: int) -> dict[str, Any]:
    problem = problem_of(case)
    result = solve(problem, solver, time_limit=time_limit, workers=workers)
    record: dict[str, Any] = {
        "case": case.name, "models": case.models, "groups": case.groups or "published",
        "objective_kind": case.objective, "contention": problem.contention.enabled,
        "max_transitions": case.max_transitions, "solver": solver,
        "status": result.status.value,
        "objective_ms": _r(result.objective), "lower_bound_ms": _r(result.lower_bound),
        "gap": _r(result.gap), "solve_seconds": round(result.solve_seconds, 3),
        "search_seconds": result.stats.get("cpsat_wall_seconds"),
        "canonical_phase": result.stats.get("canonical_phase"),
        "local_search": result.stats.get("local_search"),
        "message": result.message,
        "time_limit_s": time_limit,
        "overrun_s": round(result.solve_seconds - time_limit, 3),
        "phases_s": result.stats.get("phases_s"),
        "advice": result.stats.get("advice"),
    }
    target = TARGETS.get(case.name)
    if target is not None:
        met = result.status.value == "optimal" and result.solve_seconds <= target
        record["target_seconds"] = target
        record["target_met"] = met
        if not met:
            record["target_miss"] = (
                f"{result.solve_seconds:.2f} s vs {target} s, status {result.status.value}, "
                f"gap {record['gap']}")
    return record


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "uptime_at_start": load}


def to_markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# Solver benchmark results", "",
        f"- command: `{doc['command']}`",
        f"- date: {doc['date']}",
        f"- machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}",
        f"- load at start: `{m['uptime_at_start']}`; at end: `{doc['uptime_at_end']}`",
        f"- time limit per case: {doc['time_limit']} s, workers: {doc['workers']}", "",
        "| case | contention | status | objective ms | lower bound ms | gap | seconds | "
        "target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        target = ""
        if "target_seconds" in r:
            target = "met" if r["target_met"] else f"MISSED: {r['target_miss']}"
        lines.append(f"| {r['case']} | {'on' if r['contention'] else 'off'} | {r['status']} | "
                     f"{r['objective_ms']} | {r['lower_bound_ms']} | {r['gap']} | "
                     f"{r['solve_seconds']} | {target} |")
    lines += ["", "Notes:", ""] + [f"- {n}" for n in doc.get("notes", [])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", default="cpsat")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--only", nargs="*", help="case names to run")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "solvers"))
    ap.add_argument("--note", action="append", default=[], help="a note for the record")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render the .md from the recorded .json, adding --note lines")
    args = ap.parse_args(argv)
    if args.render_only:
        doc = json.loads(Path(args.out + ".json").read_text(encoding="utf-8"))
        doc["notes"] = list(doc.get("notes", [])) + list(args.note)
        atomic_write_text(args.out + ".json", json.dumps(doc, indent=2) + "\n")
        atomic_write_text(args.out + ".md", to_markdown(doc))
        return 0
    doc: dict[str, Any] = {
        "command": "python benchmarks/solvers.py " + " ".join(argv or sys.argv[1:]),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(), "time_limit": args.time_limit, "workers": args.workers,
        "results": [], "notes": args.note,
    }
    large = [c for c in LARGE_CASES if args.only and c.name in args.only]
    for case in cases(args.quick) + large:
        if args.only and case.name not in args.only:
            continue
        record = run_case(case, args.solver, args.time_limit, args.workers)
        doc["results"].append(record)
        print(json.dumps(record), flush=True)
    if args.only and Path(args.out + ".json").exists():
        # re-run of some cases: keep the other recorded cases, replace these
        old = json.loads(Path(args.out + ".json").read_text(encoding="utf-8"))
        fresh = {r["case"]: r for r in doc["results"]}
        for r in doc["results"]:
            r["rerun"] = doc["date"]
        merged = [fresh.pop(r["case"], r) for r in old["results"]] + list(fresh.values())
        doc["results"] = merged
        rerun = (f"{doc['date']}: re-ran {', '.join(args.only)} (`{doc['command']}`, "
                 f"load at start `{doc['machine']['uptime_at_start']}`)")
        doc["notes"] = [*old.get("notes", []), rerun, *args.note]
        doc["command"] = old["command"]
        doc["date"] = old["date"]
        doc["machine"] = old["machine"]
        doc["time_limit"] = old["time_limit"]
        # the full run's end load, and records this script does not write (e.g.
        # time_limit_records), stay as they were
        doc = {**old, **doc}
    else:
        doc["uptime_at_end"] = subprocess.run(["uptime"], capture_output=True, text=True,
                                              check=False).stdout.strip()
    atomic_write_text(args.out + ".json", json.dumps(doc, indent=2) + "\n")
    atomic_write_text(args.out + ".md", to_markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Contention fidelity: how far the solvers' contention term is from the group-level truth.

The solvers (docs/model.md section 3) charge a victim a loss rate set by its co-runner
*segment*'s own time-weighted bandwidth (`Problem.segment_bandwidth`: the segment-level
term, one constant per pair of segments). Before issue 17 they used the co-runner's
*model-mean* bandwidth over all its groups (the mean term); this script keeps that term
locally (`mean_term_prepared`) for the before/after comparison. `solvers.judges.reference_sim`
simulates the finer truth: groups run one after the other, each with its own demand, and
the loss rate follows the group running on the other device at each instant. This script
measures, on random synthetic tables (per-group demand uniform in 5-60 GB/s on the GPU,
3-25 GB/s on the DLA) and on estimator tables of the zoo models
(`benchmarks/data/estimated/`, written by `layerswap estimate` on the `estimator` branch,
commit 3afba13, Xavier AGX fp16):

1. **Exhaustive part** (small problems): every schedule (segments x device orders) is
   judged three ways: the mean term, the segment-level term (the simulator, so the
   solvers' term now) and the reference. Reported: relative objective error against the
   reference (mean and max over all schedules), and the *decision* error: the reference
   value of each term's optimum against the reference optimum (0 % = the term picks a
   truly optimal schedule).
2. **Solver part** (realistic sizes): a solver's schedule under the segment-level term,
   its objective against the mean-term and reference values of the same schedule. The
   solver is CP-SAT through `solvers.solve` (which models the segment-level term), so
   where CP-SAT stops unproven the simulator-guided local search (`solvers.heuristics.local_search`)
   gets the last share of the time limit; the row says when it replaced CP-SAT's schedule.

Usage: ``python benchmarks/contention_fidelity.py [--time-limit 20] [--quick]``; writes
``benchmarks/results/contention_fidelity.{json,md}`` atomically.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.solvers import machine  # noqa: E402
from profiles.costtable import CostTable  # noqa: E402
from profiles.fileio import atomic_write_text  # noqa: E402
from profiles.synthetic import synthetic_table  # noqa: E402
from solvers.judges.oracle import _combos, _Loss, _orders, _prepare_combo, job_options  # noqa: E402
from solvers.judges.reference_sim import reference_objective  # noqa: E402
from solvers.judges.simulator import (  # noqa: E402
    Prepared,
    latency_objective,
    order_indices,
    prepare,
    simulate,
    throughput_objective,
)
from solvers.model.problem import Objective, Problem  # noqa: E402
from solvers.model.schedule import Schedule  # noqa: E402
from solvers.solve import solve  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "estimated"
MAX_SPACE = 6000


def estimated(name: str) -> CostTable:
    return CostTable.from_csv(str(DATA / f"{name}.csv"))


def mean_term_prepared(problem: Problem, prep: Prepared) -> Prepared:
    """``prep`` with the loss-rate matrix of the *model-mean* term the solvers used before
    issue 17: ``K[i][j] = loss_rate(kind_i, problem.bandwidth(job_j, kind_j))``, the
    co-runner's mean demand over all its groups whatever segment overlaps (same zero
    rules as `Problem.loss_rate`). Kept here only for the before/after comparison."""
    model = problem.contention
    latency = problem.objective is Objective.LATENCY
    rows = []
    for a in range(len(prep.refs)):
        row = []
        for b in range(len(prep.refs)):
            if (not model.enabled or prep.dev[a] == prep.dev[b]
                    or (latency and prep.job[a] == prep.job[b])):
                row.append(0.0)
                continue
            bw = problem.bandwidth(prep.job[b], prep.devices[prep.dev[b]].kind)
            row.append(model.loss_rate(prep.devices[prep.dev[a]].kind, bw))
        rows.append(tuple(row))
    return replace(prep, k=tuple(rows), contention=any(v > 0 for r in rows for v in r))


def _value(problem: Problem, prep: Any, order: list[list[int]]) -> float | None:
    if problem.objective is Objective.LATENCY:
        res = latency_objective(problem, prep, order)
        return None if res is None else res[0]
    return throughput_objective(problem, prep, order)


def exhaustive_case(name: str, problem: Problem) -> dict[str, Any]:
    """Judge every schedule three ways; see the module docstring."""
    t0 = time.perf_counter()
    options = [job_options(problem, j.index) for j in problem.jobs]
    loss = _Loss(problem)
    rows: list[tuple[float, float, float]] = []   # (mean, segment, reference)
    for combo in _combos(problem, options, True):
        prep = _prepare_combo(problem, combo, loss)   # the segment-level term
        mean_prep = mean_term_prepared(problem, prep)
        segments = tuple(opt.segments for opt in combo)
        for order in _orders(prep):
            seg = _value(problem, prep, order)
            if seg is None:
                continue   # deadlock
            schedule = Schedule(segments, {prep.devices[d]: tuple(prep.refs[i]
                                                                  for i in order[d])
                                           for d in range(len(prep.devices))})
            mean = _value(problem, mean_prep, order)
            ref = reference_objective(problem, schedule)
            assert mean is not None
            rows.append((mean, seg, ref))
    ref_opt = min(r[2] for r in rows)

    def pick(col: int) -> float:
        best = min(r[col] for r in rows)
        # ties: the worst reference value among the term's tied optima (a solver may
        # return any of them)
        return max(r[2] for r in rows if r[col] <= best * (1 + 1e-12))

    def err(col: int) -> tuple[float, float]:
        rel = [abs(r[col] - r[2]) / r[2] for r in rows]
        return sum(rel) / len(rel), max(rel)

    mean_err, seg_err = err(0), err(1)
    return {
        "case": name, "objective": problem.objective.value, "schedules": len(rows),
        "mean_term_err_mean": mean_err[0], "mean_term_err_max": mean_err[1],
        "segment_term_err_mean": seg_err[0], "segment_term_err_max": seg_err[1],
        "reference_optimum": ref_opt,
        "mean_term_pick_loss": pick(0) / ref_opt - 1,
        "segment_term_pick_loss": pick(1) / ref_opt - 1,
        "seconds": time.perf_counter() - t0,
    }


def solver_case(name: str, problem: Problem, time_limit: float) -> dict[str, Any]:
    result = solve(problem, "cpsat", time_limit=time_limit)
    assert result.schedule is not None and result.objective is not None
    schedule, seconds = result.schedule, result.solve_seconds
    stats = result.stats
    # `solve` runs the simulator-guided local search after CP-SAT when CP-SAT stops
    # unproven; the row names it when it replaced CP-SAT's schedule
    polished = "local search" in result.message
    solver = "CP-SAT + local search" if polished else "CP-SAT"
    status = result.status.value
    if stats.get("cpsat_status") and stats["cpsat_status"].lower() != status:
        status += f" (CP-SAT {stats['cpsat_status']})"
    if result.gap is not None and result.status.value != "optimal":
        status += f", gap {100 * result.gap:.1f} %"
    seg = simulate(problem, schedule).objective_ms
    ref = reference_objective(problem, schedule)
    prep = prepare(problem, schedule)
    mean = _value(problem, mean_term_prepared(problem, prep),
                  order_indices(prep, schedule) or [])
    assert mean is not None
    return {"case": name, "objective": problem.objective.value, "solver": solver,
            "status": status, "cpsat_status": stats.get("cpsat_status"),
            "lower_bound": result.lower_bound, "local_search": stats.get("local_search"),
            "mean_term": mean, "segment_term": seg, "reference": ref,
            "mean_term_err": (mean - ref) / ref,
            "segment_term_err": (seg - ref) / ref, "seconds": seconds}


def small_problems(quick: bool) -> list[tuple[str, Problem]]:
    out = []
    seeds = range(1, 3 if quick else 6)
    for s in seeds:
        tables = [synthetic_table(4, 10 * s + i, model=f"r{10 * s + i}") for i in range(2)]
        out.append((f"random 2x4 seed {s} latency",
                    Problem.create(tables, "xavier-agx", contention="preset",
                                   max_transitions=2)))
    for a, b in (("googlenet", "resnet50"), ("yolov8n", "pix2pix"), ("googlenet", "yolov8n"),
                 ("resnet50", "pix2pix")):
        tables = [estimated(f"{a}_xavier-agx_g5"), estimated(f"{b}_xavier-agx_g5")]
        out.append((f"zoo {a}+{b} 2x5 latency",
                    Problem.create(tables, "xavier-agx", contention="preset",
                                   max_transitions=2)))
    for s in seeds[:3]:
        tables = [synthetic_table(3, 10 * s + i, model=f"r{10 * s + i}") for i in range(2)]
        out.append((f"random 2x3 seed {s} throughput",
                    Problem.create(tables, "xavier-agx", objective="throughput",
                                   contention="preset", max_transitions=1)))
    tables = [estimated("googlenet_xavier-agx_g5"), estimated("resnet50_xavier-agx_g5")]
    out.append(("zoo googlenet+resnet50 2x5 throughput",
                Problem.create(tables, "xavier-agx", objective="throughput",
                               contention="preset", max_transitions=1)))
    return out


def large_problems(quick: bool) -> list[tuple[str, Problem]]:
    out = []
    for s in (1, 2) if quick else (1, 2, 3):
        tables = [synthetic_table(30, 100 * s + i, model=f"r{100 * s + i}") for i in range(2)]
        out.append((f"random 2x30 seed {s} latency",
                    Problem.create(tables, "xavier-agx", contention="preset")))
    zoo = [("googlenet_xavier-agx_g30", "resnet50_xavier-agx_g30"),
           ("yolov8n_xavier-agx_g24", "pix2pix_xavier-agx_g15")]
    for a, b in zoo:
        tables = [estimated(a), estimated(b)]
        out.append((f"zoo {a.split('_')[0]}+{b.split('_')[0]} latency",
                    Problem.create(tables, "xavier-agx", contention="preset")))
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def to_markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# Contention fidelity: segment-level and model-mean terms vs group-level reference",
        "",
        f"- command: `{doc['command']}`",
        f"- date (UTC): {doc['date']}",
        f"- machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}",
        f"- load at start: `{m['uptime_at_start']}`",
        "- script: benchmarks/contention_fidelity.py (what is measured: its docstring)",
        "- **segment term** = the solvers' contention term now (co-runner demand = the "
        "overlapping segment's own time-weighted demand, `Problem.segment_bandwidth`); "
        "**mean term** = the term before issue 17 (co-runner demand = its whole model's "
        "mean), kept in the script only; **reference** = `solvers.judges.reference_sim` (loss rate "
        "follows the group running at each instant)",
        "",
        "## Every schedule of small problems",
        "",
        "Objective error = |term - reference| / reference over all schedules (mean / max). "
        "Pick loss = reference value of the term's optimum / reference optimum - 1 (ties: "
        "the worst of the term's tied optima).",
        "",
        "| case | schedules | segment term (solvers) err mean / max | mean term (before) err "
        "mean / max | segment term pick loss | mean term pick loss |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in doc["exhaustive"]:
        lines.append(
            f"| {r['case']} | {r['schedules']} | {_pct(r['segment_term_err_mean'])} / "
            f"{_pct(r['segment_term_err_max'])} | {_pct(r['mean_term_err_mean'])} / "
            f"{_pct(r['mean_term_err_max'])} | {_pct(r['segment_term_pick_loss'])} | "
            f"{_pct(r['mean_term_pick_loss'])} |")
    lines += [
        "",
        "## A solver's schedule (segment term) at realistic sizes",
        "",
        "Schedules from `solve(problem, \"cpsat\", time_limit=T)`: where CP-SAT stops "
        "unproven, the simulator-guided local search gets the last quarter of T and the "
        "solver column says \"+ local search\" where it replaced CP-SAT's schedule; gap = "
        "against the lower bound `solve` reports. Signed error = (term - reference) / "
        "reference for the same schedule.",
        "",
        "| case | solver | status | segment term (ms) | mean term (ms) | reference (ms) "
        "| segment term err | mean term err |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in doc["solver"]:
        lines.append(
            f"| {r['case']} | {r['solver']} | {r['status']} | {r['segment_term']:.4f} | "
            f"{r['mean_term']:.4f} | {r['reference']:.4f} | {_pct(r['segment_term_err'])} | "
            f"{_pct(r['mean_term_err'])} |")
    lines += ["", "## Summary", "", *doc["summary"], ""]
    return "\n".join(lines)


def _avg(rows: Sequence[dict[str, Any]], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows) if rows else math.nan


def summary(ex: Sequence[dict[str, Any]], so: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    groups = [("latency", [r for r in ex if r["objective"] == "latency"]),
              ("throughput, random tables", [r for r in ex if r["objective"] == "throughput"
                                             and r["case"].startswith("random")]),
              ("throughput, zoo", [r for r in ex if r["objective"] == "throughput"
                                   and r["case"].startswith("zoo")])]
    for term, label in (("segment", "segment-level term (the solvers' term)"),
                        ("mean", "model-mean term (before issue 17)")):
        parts = []
        for name, rows in groups:
            if not rows:
                continue
            lo = min(r[f"{term}_term_err_mean"] for r in rows)
            hi = max(r[f"{term}_term_err_mean"] for r in rows)
            worst = _pct(max(r[f"{term}_term_err_max"] for r in rows))
            if len(rows) == 1:
                parts.append(f"{name} {_pct(lo)} on average (worst schedule {worst})")
                continue
            parts.append(f"{name} {_pct(lo)} to {_pct(hi)} on average per case "
                         f"(mean of cases {_pct(_avg(rows, f'{term}_term_err_mean'))}, "
                         f"worst schedule {worst})")
        pick = max(r[f"{term}_term_pick_loss"] for r in ex)
        out.append(f"- {label}: objective error {'; '.join(parts)}; its optimum loses up to "
                   f"{_pct(pick)} against the reference optimum.")
    if so:
        seg = max(abs(r["segment_term_err"]) for r in so)
        mean = max(abs(r["mean_term_err"]) for r in so)
        solvers = sorted({r["solver"] for r in so})
        out.append(f"- {', '.join(solvers)} schedules at realistic sizes: segment term off by "
                   f"up to {_pct(seg)} from the reference, mean term by up to {_pct(mean)}.")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    doc: dict[str, Any] = {
        "command": "python benchmarks/contention_fidelity.py " + " ".join(
            argv if argv is not None else sys.argv[1:]),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(), "exhaustive": [], "solver": []}
    for name, problem in small_problems(args.quick):
        row = exhaustive_case(name, problem)
        print(json.dumps(row), file=sys.stderr)
        doc["exhaustive"].append(row)
    for name, problem in large_problems(args.quick):
        row = solver_case(name, problem, args.time_limit)
        print(json.dumps(row), file=sys.stderr)
        doc["solver"].append(row)
    doc["summary"] = summary(doc["exhaustive"], doc["solver"])
    out = ROOT / "benchmarks" / "results"
    atomic_write_text(str(out / "contention_fidelity.json"), json.dumps(doc, indent=1) + "\n")
    atomic_write_text(str(out / "contention_fidelity.md"), to_markdown(doc))
    print("\n".join(doc["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Contention fidelity: how far the solvers' model-mean term is from the group-level truth.

The solvers (docs/model.md section 3) charge a victim a loss rate set by its co-runner's
*model-mean* bandwidth. `solvers.reference_sim` simulates the finer truth: groups run one
after the other, each with its own demand, and the loss rate follows the group running on
the other device at each instant. This script measures, on random synthetic tables (per-
group demand uniform in 5-60 GB/s on the GPU, 3-25 GB/s on the DLA) and on estimator
tables of the zoo models (`benchmarks/data/estimated/`, written by `layerswap estimate` on
the `estimator` branch, commit 3afba13, Xavier AGX fp16):

1. **Exhaustive part** (small problems): every schedule (segments x device orders) is
   judged three ways: the model-mean term (the simulator), the segment-level term (each
   co-runner segment's own time-weighted demand, `segment_level_prepared`) and the
   reference. Reported: relative objective error against the reference (mean and max
   over all schedules), and the *decision* error: the reference value of each term's
   optimum against the reference optimum (0 % = the term picks a truly optimal schedule).
2. **Solver part** (realistic sizes): CP-SAT's schedule under the model-mean term, its
   objective against the reference value of the same schedule.

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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.solvers import machine  # noqa: E402
from profiles.costtable import CostTable  # noqa: E402
from profiles.fileio import atomic_write_text  # noqa: E402
from profiles.synthetic import synthetic_table  # noqa: E402
from solvers.oracle import _combos, _Loss, _orders, _prepare_combo, job_options  # noqa: E402
from solvers.problem import Objective, Problem  # noqa: E402
from solvers.reference_sim import reference_objective, segment_level_prepared  # noqa: E402
from solvers.schedule import Schedule  # noqa: E402
from solvers.simulator import (  # noqa: E402
    latency_objective,
    order_indices,
    throughput_objective,
)
from solvers.solve import solve  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "estimated"
MAX_SPACE = 6000


def estimated(name: str) -> CostTable:
    return CostTable.from_csv(str(DATA / f"{name}.csv"))


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
        prep = _prepare_combo(problem, combo, loss)
        segments = tuple(opt.segments for opt in combo)
        for order in _orders(prep):
            mean = _value(problem, prep, order)
            if mean is None:
                continue   # deadlock
            schedule = Schedule(segments, {prep.devices[d]: tuple(prep.refs[i]
                                                                  for i in order[d])
                                           for d in range(len(prep.devices))})
            seg_prep = segment_level_prepared(problem, schedule)
            seg = _value(problem, seg_prep, order)
            ref = reference_objective(problem, schedule)
            assert seg is not None
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
    ref = reference_objective(problem, result.schedule)
    seg_prep = segment_level_prepared(problem, result.schedule)
    seg = _value(problem, seg_prep, order_indices(seg_prep, result.schedule) or [])
    assert seg is not None
    return {"case": name, "objective": problem.objective.value,
            "status": result.status.value, "mean_term": result.objective,
            "segment_term": seg, "reference": ref,
            "mean_term_err": (result.objective - ref) / ref,
            "segment_term_err": (seg - ref) / ref, "seconds": result.solve_seconds}


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
        "# Contention fidelity: model-mean term vs group-level reference",
        "",
        f"- command: `{doc['command']}`",
        f"- date (UTC): {doc['date']}",
        f"- machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}",
        f"- load at start: `{m['uptime_at_start']}`",
        "- script: benchmarks/contention_fidelity.py (what is measured: its docstring)",
        "",
        "## Every schedule of small problems",
        "",
        "Objective error = |term - reference| / reference over all schedules (mean / max). "
        "Pick loss = reference value of the term's optimum / reference optimum - 1.",
        "",
        "| case | schedules | mean term err mean / max | segment term err mean / max "
        "| mean term pick loss | segment term pick loss |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in doc["exhaustive"]:
        lines.append(
            f"| {r['case']} | {r['schedules']} | {_pct(r['mean_term_err_mean'])} / "
            f"{_pct(r['mean_term_err_max'])} | {_pct(r['segment_term_err_mean'])} / "
            f"{_pct(r['segment_term_err_max'])} | {_pct(r['mean_term_pick_loss'])} | "
            f"{_pct(r['segment_term_pick_loss'])} |")
    lines += [
        "",
        "## CP-SAT's schedule (model-mean term) at realistic sizes",
        "",
        "| case | status | mean term (ms) | segment term (ms) | reference (ms) "
        "| mean term err | segment term err |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in doc["solver"]:
        lines.append(
            f"| {r['case']} | {r['status']} | {r['mean_term']:.4f} | {r['segment_term']:.4f} "
            f"| {r['reference']:.4f} | {_pct(r['mean_term_err'])} | "
            f"{_pct(r['segment_term_err'])} |")
    lines += ["", "## Summary", "", *doc["summary"], ""]
    return "\n".join(lines)


def summary(ex: Sequence[dict[str, Any]], so: Sequence[dict[str, Any]]) -> list[str]:
    worst_err = max(r["mean_term_err_max"] for r in ex)
    mean_err = sum(r["mean_term_err_mean"] for r in ex) / len(ex)
    seg_mean = sum(r["segment_term_err_mean"] for r in ex) / len(ex)
    worst_pick = max(r["mean_term_pick_loss"] for r in ex)
    worst_seg_pick = max(r["segment_term_pick_loss"] for r in ex)
    solver_err = max(abs(r["mean_term_err"]) for r in so) if so else math.nan
    return [
        f"- model-mean term: objective error {_pct(mean_err)} on average over all schedules, "
        f"{_pct(worst_err)} at worst; its optimum loses up to {_pct(worst_pick)} against "
        "the reference optimum.",
        f"- segment-level term: objective error {_pct(seg_mean)} on average; its optimum "
        f"loses up to {_pct(worst_seg_pick)}.",
        f"- CP-SAT schedules at realistic sizes: model-mean term off by up to "
        f"{_pct(solver_err)} from the reference.",
    ]


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

"""The medical example's report: DIR/report.json, DIR/report.md and the Gantt charts.

Laid out like the seed paper's tables (Majeed, Meribout, Sali): transition layers per
model (its tables III and V), per-device capacity and balance (cf. tables IV and VI), then
what the paper has no table for: the gain over the baselines, loadables per DLA core, the
DLA checker's fallback report, the rewrite's verification and the runtime check. The
generator variants sit side by side in every table. A ``--paper`` run adds the paper's own
tables, its measured numbers beside ours (`optimizer.medical_paper.section`).

Every time here comes from estimated cost tables (no Jetson measured it) and every
table, heading and JSON key says so. The report holds no wall-clock timings, so it is
byte-identical from run to run whenever the solves are proven optimal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from optimizer import medical_paper
from optimizer.medical_setup import (
    BALANCE_TOLERANCE,
    OBJECTIVES,
    SCENARIOS,
    MedicalOptions,
    finite,
    fmt_num,
    fmt_share,
    options_dict,
)
from optimizer.text import signed_pct
from profiles.fileio import atomic_write_text

REFUSED_SHOWN = 12  # refused nodes listed per model in the report
REPORT_FORMAT = "layerswap-medical-report"
REPORT_VERSION = 2
"""2: ``rewrite`` is keyed by variant; ``variants``, ``setups`` and ``paper`` added."""
SCENARIO_TITLES = {"gan2": "two GAN instances", "gan_yolo": "GAN + YOLO"}


# --------------------------------------------------------------------------- entry point
def write(out: Path, opts: MedicalOptions, *, models: Mapping[str, Any],
          dla: Mapping[str, Any], rewrite: Mapping[str, Any], tables: Mapping[str, Any],
          solved: Sequence[Any], exported: Mapping[str, Path],
          runs: Mapping[str, Any]) -> dict[str, Any]:
    """Build the report document, write report.json, report.md and the charts; return it."""
    from solvers.model.schedule import save_schedule_file

    graphs = _LayerIndex()
    solves = []
    for s in solved:
        folder = out / "schedules" / s.name
        save_schedule_file(str(folder / "schedule.json"), s.problem, s.result.schedule,
                           s.result)
        gantt = out / "gantt" / f"{s.name}.png"
        _gantt(s, gantt, graphs)
        solves.append(_solve_entry(s, graphs, out, gantt, exported.get(s.name),
                                   runs["manifests"].get(s.name)))
    variants = ["original", *rewrite]
    dla_doc = {"gan_original": _dla_entry(dla["gan_original"]),
               **{f"gan_{v}": _dla_entry(r["dla"]) for v, r in rewrite.items()},
               "yolo": _dla_entry(dla["yolo"])}
    setups = [x for x in medical_paper.SETUPS if any(s["setup"] == x for s in solves)]
    doc: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "estimated": True,
        "note": ("every time, FPS and gain below comes from cost tables ESTIMATED from the "
                 f"ONNX graphs for {opts.platform} (profiles.estimate), not from a "
                 "measurement"),
        "options": options_dict(opts),
        "variants": variants,
        "setups": setups,
        "models": {**dict(models),
                   **{f"gan_{v}": {k: x for k, x in r.items()
                                   if k in ("file", "nodes", "parameters", "ops")}
                      for v, r in rewrite.items()}},
        "dla": dla_doc,
        "rewrite": {v: {"passes": r["passes"], "changes": list(r["changes"]),
                        "verify": r["verify"],
                        "on_phantom": runs.get("rewrite_on_phantom", {}).get(v)}
                    for v, r in rewrite.items()},
        "tables": {k: _table_entry(v["table"], v["file"]) for k, v in tables.items()},
        "solves": solves,
        "run": {"frames": runs["frames"], "comparison": runs["comparison"]},
    }
    doc["paper"] = medical_paper.entries(solves, doc["tables"]) if opts.paper else None
    from profiles.costtable import error_band_of

    doc["error_band"] = error_band_of([m.table for s in solved for m in s.problem.models])
    doc["checks"] = _checks(doc)
    doc = _clean(doc)
    atomic_write_text(out / "report.json",
                      json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n")
    atomic_write_text(out / "report.md", render_markdown(doc))
    return doc


# --------------------------------------------------------------------------- entries
class _LayerIndex:
    """Position of an ONNX node in `LayerGraph.order` (the cost table's layer order)."""

    def __init__(self) -> None:
        self._cache: dict[str, dict[str, int]] = {}

    def position(self, onnx_path: Path, layer: str | None) -> int | None:
        if layer is None:
            return None
        key = str(onnx_path)
        if key not in self._cache:
            from profiles.graph import LayerGraph

            order = LayerGraph.from_onnx(onnx_path).order
            self._cache[key] = {name: i for i, name in enumerate(order)}
        return self._cache[key].get(layer)


def _model_of(problem: Any, job: int) -> str:
    return problem.models[problem.jobs[job].model_index].name


def _solve_entry(s: Any, graphs: _LayerIndex, out: Path, gantt: Path,
                 manifest: Path | None, run: Mapping[str, Any] | None) -> dict[str, Any]:
    from optimizer.bands import problem_band
    from solvers.judges.simulator import simulate

    problem, result = s.problem, s.result
    tl = result.timeline or simulate(problem, result.schedule)
    jobs = []
    for job, segs in zip(problem.jobs, result.schedule.segments, strict=True):
        table = problem.table(job.index)
        onnx_path = s.onnx[_model_of(problem, job.index)]
        cuts = []
        for a, b in pairwise(segs):
            row = table.rows[a.last_group]
            cuts.append({"after_group": a.last_group, "after_layer": row.last_layer,
                         "after_layer_index": graphs.position(onnx_path, row.last_layer),
                         "from": a.device.value, "to": b.device.value})
        jobs.append({"job": job.name, "model": _model_of(problem, job.index),
                     "segments": [{"first_group": g.first_group, "last_group": g.last_group,
                                   "device": g.device.value} for g in segs],
                     "cuts": cuts})
    frames = problem.frames_per_round
    span = tl.round_period_ms if tl.round_period_ms else tl.makespan_ms
    devices = {}
    for d in problem.devices:
        busy = float(tl.busy_ms.get(d, 0.0))
        devices[d.value] = {"busy_ms": busy,
                            "utilisation": busy / span if span else None,
                            "capacity_fps": frames * 1000.0 / busy if busy > 0 else None}
    gpu = devices["GPU"]["busy_ms"]
    dla_busy = max((v["busy_ms"] for k, v in devices.items() if k != "GPU"), default=0.0)
    imbalance = abs(gpu - dla_busy) / max(gpu, dla_busy) if max(gpu, dla_busy) > 0 else None
    compare = []
    for row in s.compare.to_dict(orient="records"):
        # no solve_seconds: wall-clock time would make the report differ run to run
        compare.append({k: row[k] for k in ("name", "kind", "status", "objective",
                                            "gain_pct")})
    best = [r for r in compare if r["kind"] == "baseline" and finite(r["objective"])]
    best_row = min(best, key=lambda r: r["objective"]) if best else None
    loadables = {d.value: int(n) for d, n in tl.loadables.items()}
    return {
        "name": s.name, "variant": s.variant, "scenario": s.scenario, "setup": s.setup,
        "objective": s.objective, "frames_per_round": frames,
        "solver": result.solver, "status": result.status.value,
        "objective_ms": result.objective, "lower_bound_ms": result.lower_bound,
        "makespan_ms": tl.makespan_ms, "period_ms": tl.period_ms,
        "round_period_ms": tl.round_period_ms, "throughput_fps": tl.throughput_fps,
        "devices": devices,
        "error_band": problem_band(problem, tl),
        "balance": {"gpu_busy_ms": gpu, "dla_busy_ms": dla_busy, "imbalance": imbalance,
                    "balanced": imbalance is not None and imbalance <= BALANCE_TOLERANCE,
                    "tolerance": BALANCE_TOLERANCE},
        "jobs": jobs,
        "loadables": loadables, "loadable_limit": problem.dla_loadable_limit,
        "compare": compare,
        "best_baseline": None if best_row is None else best_row["name"],
        "gain_pct": None if best_row is None or not finite(result.objective) else
        (best_row["objective"] - result.objective) / best_row["objective"] * 100.0,
        "warnings": list(problem.warnings),
        "schedule_file": f"schedules/{s.name}/schedule.json",
        "manifest": None if manifest is None else
        Path(manifest).relative_to(out).as_posix(),
        "gantt": gantt.relative_to(out).as_posix(),
        "run": None if run is None else dict(run),
    }


def _dla_entry(report: Any) -> dict[str, Any]:
    """The checker's report (`profiles.dla.DlaReport`), summarised: refused nodes with
    their rules and messages, the predicted DLA islands (one loadable each with GPU
    fallback) and the loadables one instance needs against the per-core limit."""
    refused = [{"name": n.name, "op": n.op,
                "rules": sorted({r.rule for r in n.reasons}),
                "reasons": [f"{r.rule}: {r.message} {r.source}" for r in n.reasons]}
               for n in report.nodes if not n.dla]
    return {"nodes": len(report.nodes), "eligible": sum(1 for n in report.nodes if n.dla),
            "refused": refused,
            "refused_ops": sorted({r["op"] for r in refused}),
            "refusals_by_rule": {k: len(v) for k, v in report.refusals_by_rule().items()},
            "islands": [{"index": i.index, "first": i.first, "last": i.last,
                         "size": len(i.nodes)} for i in report.islands],
            "loadables": report.loadables.to_dict()}


def _table_entry(table: Any, file: str) -> dict[str, Any]:
    rows = table.rows
    return {"file": file, "groups": len(rows), "source": table.metadata.get("source"),
            "dla_eligible_groups": sum(1 for r in rows if r.dla_ms is not None),
            "gpu_ms_total": sum(r.gpu_ms for r in rows),
            "dla_ms_total": (sum(r.dla_ms for r in rows)
                             if all(r.dla_ms is not None for r in rows) else None)}


def _checks(doc: Mapping[str, Any]) -> dict[str, Any]:
    runs = {s["name"]: bool(s["run"] and s["run"]["ok"]) for s in doc["solves"]}
    statuses = {s["name"]: s["status"] for s in doc["solves"]}
    balance = {s["name"]: s["balance"]["balanced"] for s in doc["solves"]
               if s["objective"] == "throughput"}
    valid = all(v in ("optimal", "feasible") for v in statuses.values())
    return {"schedules_found": valid, "runtime_matches_unsplit": runs,
            "throughput_balanced": balance,
            "all_ok": valid and all(runs.values())}


# --------------------------------------------------------------------------- charts
def _gantt(s: Any, path: Path, graphs: _LayerIndex) -> None:
    """The schedule's Gantt chart; each box names its layers as the tables do: ONNX node
    indices (``LayerGraph.order``) first..last and the last layer's name."""
    from matplotlib import pyplot as plt

    from optimizer import api

    title = (f"{s.variant} generator, {SCENARIO_TITLES[s.scenario]}"
             + ("" if s.setup == "default" else f" ({s.setup} setup)")
             + f", {s.objective} (estimated times)")

    def label(job: int, segment: Any) -> str:
        return _layers_label(s, graphs, job, segment.first_group, segment.last_group)

    fig = api.gantt(s.problem, s.result, path, title=title, segment_label=label)
    plt.close(fig)


def _layers_label(s: Any, graphs: _LayerIndex, job: int, first: int, last: int) -> str:
    """``L<first>-<last> <last layer>``: the layer range of groups first..last of a job."""
    table = s.problem.table(job)
    onnx_path = s.onnx[_model_of(s.problem, job)]
    a = graphs.position(onnx_path, table.rows[first].first_layer)
    b = graphs.position(onnx_path, table.rows[last].last_layer)
    if a is None or b is None:
        return f"g{first}-{last}"
    return f"L{a}-{b} {table.rows[last].last_layer}"


# --------------------------------------------------------------------------- markdown
def _clean(x: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, tuples -> lists, numpy scalars -> Python."""
    if isinstance(x, Mapping):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        try:
            x = x.item()
        except (TypeError, ValueError):
            return str(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, (bool, int, str)):
        return x
    return str(x)


def _find(doc: Mapping[str, Any], variant: str, scenario: str, objective: str,
          setup: str = "default") -> Mapping[str, Any] | None:
    for s in doc["solves"]:
        if (s["variant"], s["scenario"], s["objective"], s.get("setup", "default")) == (
                variant, scenario, objective, setup):
            return s
    return None


def _cases(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(setup, scenario, objective) of every solve, in report order."""
    seen = {(s.get("setup", "default"), s["scenario"], s["objective"]) for s in doc["solves"]}
    return [(u, sc, ob) for u in doc["setups"] for sc in SCENARIOS for ob in OBJECTIVES
            if (u, sc, ob) in seen]


def _title(doc: Mapping[str, Any], setup: str, scenario: str) -> str:
    """The scenario's title, with its setup when the report has more than one."""
    title = SCENARIO_TITLES[scenario]
    return title if len(doc["setups"]) < 2 else f"{title} ({setup} setup)"


def _cuts_text(job: Mapping[str, Any]) -> str:
    if not job["cuts"]:
        return f"whole on {job['segments'][0]['device']}"
    parts = []
    for c in job["cuts"]:
        where = (f"layer {c['after_layer_index']} `{c['after_layer']}`"
                 if c["after_layer_index"] is not None else f"group {c['after_group']}")
        parts.append(f"{c['from']}->{c['to']} after {where}")
    return f"starts on {job['segments'][0]['device']}; " + ", ".join(parts)


def render_markdown(doc: Mapping[str, Any]) -> str:
    """The report as Markdown (the paper's own tables in a ``--paper`` run, the tables laid
    out like the paper's, then the rest)."""
    o = doc["options"]
    channels = 3 if o.get("paper") else 1
    generator = ("the seed paper's generator (the TensorFlow Pix2Pix tutorial's U-Net, "
                 "`pix2pix_tf`)" if o.get("paper") else "Pix2Pix generator (`unet_256`)")
    lines = [
        "# Medical pipeline: CT->MRI Pix2Pix + YOLOv8n on "
        f"{o['platform']} (layerswap example medical{' --paper' if o.get('paper') else ''})",
        "",
        f"**All times, FPS and gains are ESTIMATES** ({doc['note']}). "
        f"{generator} ngf={o['ngf']} (64 is the seed paper's model), {channels}->{channels} "
        f"channels, 256x256, variants {', '.join(doc['variants'])}; YOLOv8n "
        f"{o['yolo_size']}x{o['yolo_size']}; TensorRT {o['trt_version']}, "
        f"{o['precision']}; solver {o['solver']} (time limit {o['time_limit']:g} s), at most "
        f"{o['max_transitions']} device switches per model instance"
        + (" (default setup; the paper setup: 1)" if o.get("paper") else "")
        + ", memory contention "
        + ("off (`--contention preset` turns it on: on AGX Orin a preset fitted to one "
           "published co-run, NVIDIA/TensorRT#2745, without bandwidths; on Orin NX a "
           "placeholder)." if o["contention"] == "none"
           else f"{o['contention']} (AGX Orin: fitted to NVIDIA/TensorRT#2745, "
                "bandwidth-independent, held-out error in "
                "benchmarks/results/contention_orin.md; Orin NX: a placeholder)."),
        "",
        f"**Expected error of these estimates**: {_band_sentence(doc.get('error_band'))}"
        + (" Ranges in the tables below apply the mean held-out error."
           if (doc.get("error_band") or {}).get("measured") else ""),
        "",
    ]
    if doc.get("paper"):
        lines += medical_paper.section(doc["paper"], o)
    lines += _md_dla(doc)
    lines += _md_rewrite(doc)
    lines += _md_transitions(doc)
    lines += _md_devices(doc)
    lines += _md_gain(doc)
    lines += _md_loadables(doc)
    lines += _md_runs(doc)
    lines += _md_gantt(doc)
    return "\n".join(lines).rstrip() + "\n"


def _band_sentence(band: Mapping[str, Any] | None) -> str:
    from profiles.costtable import band_text

    return (band_text(band) or "no estimated table") + "."


def _range(s: Mapping[str, Any], key: str, digits: int) -> str:
    """' (lo-hi)' from a solve entry's error band, '' without a measured band."""
    r = (s.get("error_band") or {}).get(key)
    return "" if not r else f" ({r[0]:.{digits}f}-{r[1]:.{digits}f})"


def _md_dla(doc: Mapping[str, Any]) -> list[str]:
    lines = ["## DLA capability (profiles.dla)", "",
             "The whole model built for one DLA core with GPU fallback: every refused node runs "
             "on the GPU, and every maximal DLA region between them (an island) becomes one "
             "DLA loadable.", "",
             "| model | nodes | DLA-eligible | refused (GPU fallback) | refused ops | islands |"
             " predicted loadables |",
             "|---|---|---|---|---|---|---|"]
    keys = [(f"gan_{v}", f"generator, {v}") for v in doc["variants"]] + [("yolo", "YOLOv8n")]
    for key, label in keys:
        d = doc["dla"][key]
        ld = d["loadables"]
        lines.append(f"| {label} | {d['nodes']} | {d['eligible']} | {len(d['refused'])} | "
                     f"{', '.join(d['refused_ops']) or '–'} | {len(d['islands'])} | "
                     f"{ld['per_instance']} per instance (limit {ld['limit_per_core']} per "
                     f"core{'' if ld['within_limit'] else ', OVER'}) |")
    lines.append("")
    for key, label in (("gan_original", "original generator"), ("yolo", "YOLOv8n")):
        refused = doc["dla"][key]["refused"]
        if refused:
            shown = refused[:REFUSED_SHOWN]
            count = (f"first {len(shown)} of {len(refused)}" if len(shown) < len(refused)
                     else f"all {len(refused)}")
            lines.append(f"Refused nodes of the {label} ({count}):")
            lines.append("")
            for r in shown:
                lines.append(f"- `{r['name']}` ({r['op']}): {'; '.join(r['reasons'])}")
            lines.append("")
    return lines


def _short(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, Mapping):
        return ", ".join(f"{k}: {_short(v)}" for k, v in x.items())
    return str(x)


def _md_rewrite(doc: Mapping[str, Any]) -> list[str]:
    lines = ["## Rewrite for the DLA (export.rewrite), verified (export.verify)", ""]
    for variant in doc["variants"][1:]:   # report order, not report.json's sorted keys
        rw = doc["rewrite"][variant]
        changes = rw["changes"]
        passes = sorted({c["pass"] for c in changes})
        params = doc["models"].get(f"gan_{variant}", {}).get("parameters")
        lines.append(f"**{variant}**: {len(changes)} node(s) rewritten by "
                     f"{', '.join(passes) or 'no pass'}"
                     + (f", e.g. `{changes[0]['node']}`: {changes[0]['detail']}" if changes
                        else "")
                     + (f"; {params:,} parameters (original "
                        f"{doc['models']['gan_original']['parameters']:,})."
                        if params is not None else "."))
        lines += ["", f"Original vs {variant} generator on {rw['verify']['samples']} seeded "
                  "inputs (ONNX Runtime, fp32; metrics from scikit-image):", "",
                  "| output | max abs diff | MSE | PSNR dB | SSIM |", "|---|---|---|---|---|"]
        for o in rw["verify"]["outputs"]:
            psnr = "inf (identical)" if o["psnr_db"] is None and o["identical"] else \
                _short(o["psnr_db"])
            ssim = "–" if o["ssim"] is None else f"{o['ssim']:.6f}"
            lines.append(f"| {o['name']} | {o['max_abs_diff']:.3g} | {o['mse']:.3g} | {psnr} "
                         f"| {ssim} |")
        ph = rw.get("on_phantom")
        if ph:
            psnr = "inf (identical)" if ph["psnr_db"] is None else f"{ph['psnr_db']:.1f} dB"
            lines += ["", f"On the {ph['frames']} phantom frames (output `{ph['output']}`): "
                      f"max abs diff {ph['max_abs_diff']:.3g}, MSE {ph['mse']:.3g}, PSNR "
                      f"{psnr}, SSIM {ph['ssim']:.6f} (equal within fp32 rounding: the same "
                      "function, computed by different kernels)."]
        lines.append("")
    return lines


def _md_transitions(doc: Mapping[str, Any]) -> list[str]:
    variants = doc["variants"]
    lines = ["## Transition layers per model (cf. the paper's tables III and V; estimated)",
             "", "Layer indices are positions in the ONNX graph's topological order "
             "(`LayerGraph.order`, 0-based), with the node's name; a cut *after layer k* "
             "hands the tensors produced up to k to the next device. The Gantt boxes name "
             "their layers the same way (`L<first>-<last> <last layer>`).", "",
             "| scenario | objective | instance | "
             + " | ".join(f"{v} generator" for v in variants) + " |",
             "|---|---|---|" + "---|" * len(variants)]
    for setup, scenario, objective in _cases(doc):
        row = [_find(doc, v, scenario, objective, setup) for v in variants]
        present = [p for p in row if p is not None]
        if not present:
            continue
        for i, job in enumerate(present[0]["jobs"]):
            cells = ["–" if p is None else _cuts_text(p["jobs"][i]) for p in row]
            lines.append(f"| {_title(doc, setup, scenario)} | {objective} | {job['job']} | "
                         + " | ".join(cells) + " |")
    return [*lines, ""]


def _md_devices(doc: Mapping[str, Any]) -> list[str]:
    lines = ["## Per-device capacity and balance (cf. tables IV and VI; estimated)", "",
             "Throughput objective. The capacity of a device = frames per round x 1000 / its "
             "busy ms per round (what it would sustain alone); it is not the paper's GPU FPS / "
             "DLA FPS (the frame rate of the instance that starts on that device: see the "
             "paper's tables above in a `--paper` run). The stream runs at the achieved FPS. "
             "Balance compares the GPU with the busiest DLA core: balanced when they differ "
             f"by at most {BALANCE_TOLERANCE:.0%} of the larger.", "",
             "| scenario | generator | achieved FPS | GPU capacity FPS | DLA0 capacity FPS | "
             "DLA1 capacity FPS | GPU vs DLA imbalance | balanced |",
             "|---|---|---|---|---|---|---|---|"]
    for setup, scenario, objective in _cases(doc):
        if objective != "throughput":
            continue
        for v in doc["variants"]:
            s = _find(doc, v, scenario, objective, setup)
            if s is None:
                continue
            fps = [s["devices"].get(d, {}).get("capacity_fps") for d in ("GPU", "DLA0", "DLA1")]
            imb = s["balance"]["imbalance"]
            lines.append(f"| {_title(doc, setup, scenario)} | {v} | "
                         f"{fmt_num(s['throughput_fps'], 1)}"
                         f"{_range(s, 'throughput_fps_range', 1)} | "
                         f"{' | '.join(fmt_num(f, 1) for f in fps)} | "
                         f"{fmt_share(imb)} | "
                         f"{'yes' if s['balance']['balanced'] else 'no'} |")
    return [*lines, ""]


GAIN_BASELINES = ("gpu_only", "whole_models", "herald_like", "h2h_like")


def _md_gain(doc: Mapping[str, Any]) -> list[str]:
    names = {r["name"] for s in doc["solves"] for r in s["compare"] if r["kind"] == "baseline"}
    extra = [n for n in sorted(names) if n not in GAIN_BASELINES]
    lines = ["## Gain over the baselines (solvers.heuristics.baselines; estimated ms, lower is "
             "better)",
             "", "Objective: makespan of one concurrent inference (latency) or time per "
             "frame of the stream (throughput). Gain = how much lower than the best "
             "baseline.", "",
             "*Whole models* is the best assignment of whole models to devices; the paper's "
             "client-server scheme (GAN on a DLA, YOLO on the GPU) is one of them, and is "
             "impossible for the original generator without GPU fallback.", "",
             "| scenario | objective | generator | GPU only | whole models (client-server) "
             "| Herald-like | H2H-like | " + "".join(f"{n} | " for n in extra)
             + "layerswap | status | gain |",
             "|---|---|---|---|---|---|---|" + "---|" * len(extra) + "---|---|---|"]
    for setup, scenario, objective in _cases(doc):
        for v in doc["variants"]:
            s = _find(doc, v, scenario, objective, setup)
            if s is None:
                continue
            by = {r["name"]: r for r in s["compare"]}
            cells = [fmt_num(by.get(n, {}).get("objective")) for n in (*GAIN_BASELINES, *extra)]
            lines.append(f"| {_title(doc, setup, scenario)} | {objective} | {v} | "
                         f"{' | '.join(cells)} | {fmt_num(s['objective_ms'])}"
                         f"{_range(s, 'objective_range_ms', 3)} | {s['status']} "
                         f"| {signed_pct(s['gain_pct'])} |")
    return [*lines, ""]


def _md_loadables(doc: Mapping[str, Any]) -> list[str]:
    lines = ["## Loadables per DLA core", "",
             "Scheduled DLA segments per core (each is one DLA loadable) against the limit; "
             "the DLA checker's prediction for the whole model with GPU fallback is in the "
             "first table.", "",
             "| scenario | objective | generator | DLA0 | DLA1 | limit |",
             "|---|---|---|---|---|---|"]
    tail = ["", "The whole generator built for one DLA core with GPU fallback (DLA checker):", "",
            "| generator | GPU fallback nodes | DLA loadables per instance |", "|---|---|---|"]
    for v in doc["variants"]:
        d = doc["dla"][f"gan_{v}"]
        tail.append(f"| {v} | {len(d['refused'])} ({', '.join(d['refused_ops']) or 'none'}) | "
                    f"{d['loadables']['per_instance']} |")
    for setup, scenario, objective in _cases(doc):
        for v in doc["variants"]:
            s = _find(doc, v, scenario, objective, setup)
            if s is None:
                continue
            ld = s["loadables"]
            lines.append(f"| {_title(doc, setup, scenario)} | {objective} | {v} | "
                         f"{ld.get('DLA0', 0)} | {ld.get('DLA1', 0)} | "
                         f"{s['loadable_limit']} |")
    return [*lines, *tail, ""]


def _md_runs(doc: Mapping[str, Any]) -> list[str]:
    cmp = doc["run"]["comparison"]
    lines = ["## Runtime check (runtime, ONNX Runtime CPU backend)", "",
             f"Each manifest ran on {doc['run']['frames']} frames of a seeded Shepp-Logan head "
             "phantom (256x256, Gaussian noise); outputs compared with the unsplit model run "
             f"whole by ONNX Runtime (fp32). Comparison `{cmp['comparison']}`: "
             f"{cmp['kernels']}; \"equal to the unsplit model\" means max |difference| <= "
             f"{cmp['atol']:g} + {cmp['rtol']:g} x max |unsplit output|, per output "
             "(runtime.agreement).", "",
             "| schedule | worst max abs diff | ok |", "|---|---|---|"]
    for s in doc["solves"]:
        run = s["run"] or {}
        worst = run.get("worst")
        lines.append(f"| {s['name']} | {'–' if worst is None else f'{worst:.3g}'} | "
                     f"{'yes' if run.get('ok') else 'NO'} |")
    return [*lines, ""]


def _md_gantt(doc: Mapping[str, Any]) -> list[str]:
    variants = doc["variants"]
    lines = ["## Gantt charts (estimated times)", "",
             "| scenario | objective | " + " | ".join(f"{v} generator" for v in variants)
             + " |", "|---|---|" + "---|" * len(variants)]
    for setup, scenario, objective in _cases(doc):
        row = [_find(doc, v, scenario, objective, setup) for v in variants]
        cells = ["–" if p is None else f"![{p['name']}]({p['gantt']})" for p in row]
        lines.append(f"| {_title(doc, setup, scenario)} | {objective} | "
                     + " | ".join(cells) + " |")
    return [*lines, ""]

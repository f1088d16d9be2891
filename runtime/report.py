"""Where the time went: Chrome trace, per-device utilisation, predicted vs measured.

The Chrome trace (Trace Event Format, ``traceEvents`` of complete events ``ph: "X"``, times
in microseconds) opens in Perfetto (ui.perfetto.dev) and chrome://tracing: one process per
device worker (GPU, DLA0, DLA1) with one slice per segment execution (args: model, frame,
instance, round, segment, the wait for inputs), plus one "predicted" process per device
showing the manifest's predicted round 0 for side-by-side reading.

The comparison reports, it does not judge: on a CPU the "GPU" and "DLA" workers are host
threads, so measured times say how this machine ran the plan, not how a Jetson would.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from runtime.executor import RunResult
from runtime.fileio import atomic_write_text
from runtime.manifest import DEVICES

PIDS = {d: i + 1 for i, d in enumerate(DEVICES)}
PREDICTED_PID_OFFSET = 10


def chrome_trace(result: RunResult) -> dict[str, Any]:
    """The run as a Chrome trace object (``json.dump`` it, or use `write_trace`)."""
    events: list[dict[str, Any]] = []
    for dev in result.plan.devices:
        pid = PIDS[dev]
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 1,
                       "args": {"name": f"{dev} (measured)"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 1,
                       "args": {"sort_index": pid}})
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": 1,
                       "args": {"name": f"layerswap-{dev} worker"}})
    for r in result.records:
        events.append({
            "ph": "X", "name": r.segment, "cat": r.model, "pid": PIDS[r.device], "tid": 1,
            "ts": r.start_ns / 1e3, "dur": (r.end_ns - r.start_ns) / 1e3,
            "args": {"model": r.model, "frame": r.frame, "instance": r.instance,
                     "round": r.round, "segment": r.segment,
                     "waited_for_inputs_us": round((r.start_ns - r.reached_ns) / 1e3, 3)}})
    for dev in result.plan.devices:
        pid = PIDS[dev] + PREDICTED_PID_OFFSET
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 1,
                       "args": {"name": f"{dev} (predicted, round 0)"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 1,
                       "args": {"sort_index": pid}})
        for seg in result.plan.segments:
            if seg.device != dev or seg.predicted_start_ms is None or seg.predicted_ms is None:
                continue
            events.append({"ph": "X", "name": seg.id, "cat": f"{seg.model} predicted",
                           "pid": pid, "tid": 1, "ts": seg.predicted_start_ms * 1e3,
                           "dur": seg.predicted_ms * 1e3,
                           "args": {"model": seg.model, "instance": seg.instance,
                                    "segment": seg.id, "frame": seg.instance}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"manifest": result.plan.source, "backend": result.backend,
                          "frames": result.frames}}


def write_trace(result: RunResult, path: str | Path) -> Path:
    """Write the Chrome trace JSON atomically (`runtime.fileio`)."""
    text = json.dumps(chrome_trace(result), separators=(",", ":"), allow_nan=False)
    return atomic_write_text(path, text)


def utilisation(result: RunResult) -> dict[str, dict[str, float]]:
    """Per device: busy ms (sum of its segment executions), the run's span, busy / span."""
    if result.records:
        span_ns = max(r.end_ns for r in result.records) - min(r.start_ns for r in result.records)
    else:
        span_ns = 0
    out = {}
    for dev in result.plan.devices:
        recs = [r for r in result.records if r.device == dev]
        busy = sum(r.end_ns - r.start_ns for r in recs)
        out[dev] = {"busy_ms": busy / 1e6, "span_ms": span_ns / 1e6,
                    "utilisation": busy / span_ns if span_ns else 0.0, "executions": len(recs)}
    return out


def _round_windows(result: RunResult) -> dict[int, tuple[int, int]]:
    windows: dict[int, tuple[int, int]] = {}
    for r in result.records:
        lo, hi = windows.get(r.round, (r.start_ns, r.end_ns))
        windows[r.round] = (min(lo, r.start_ns), max(hi, r.end_ns))
    return windows


def compare(result: RunResult) -> dict[str, Any]:
    """Predicted vs measured, per segment (median execution) and end to end."""
    plan = result.plan
    per_segment = []
    for seg in plan.segments:
        times = [r.duration_ms for r in result.records if r.segment == seg.id]
        measured = statistics.median(times) if times else None
        predicted = seg.predicted_ms
        per_segment.append({
            "segment": seg.id, "device": seg.device, "executions": len(times),
            "predicted_ms": predicted, "measured_median_ms": measured,
            "measured_min_ms": min(times) if times else None,
            "ratio": (measured / predicted) if measured is not None and predicted else None})
    windows = _round_windows(result)
    full = plan.frames_per_round
    complete_rounds = sorted(r for r in windows
                             if (r + 1) * full <= result.frames)
    spans = [(windows[r][1] - windows[r][0]) / 1e6 for r in complete_rounds]
    ends = [windows[r][1] for r in complete_rounds]
    period = None
    if len(ends) >= 2:
        period = (ends[-1] - ends[0]) / 1e6 / (len(ends) - 1) / full
    pred = plan.predicted
    fps = {m.name: (result.frames / result.seconds if result.seconds > 0 else None)
           for m in plan.models}
    measured_end_to_end = {
        "round_span_median_ms": statistics.median(spans) if spans else None,
        "round_span_first_ms": spans[0] if spans else None,
        "period_ms": period,
        "throughput_fps": (1000.0 / period) if period else None,
        "fps_per_model": fps,
    }
    predicted = {"makespan_ms": pred.makespan_ms if pred else None,
                 "period_ms": pred.period_ms if pred else None,
                 "throughput_fps": pred.throughput_fps if pred else None}
    return {"segments": per_segment, "predicted": predicted, "measured": measured_end_to_end}


def summary(result: RunResult) -> dict[str, Any]:
    """The JSON report of ``layerswap run --json``."""
    cmp = compare(result)
    return {
        "manifest": result.plan.source, "objective": result.plan.objective,
        "backend": result.backend, "frames": result.frames,
        "seconds": result.seconds, "load_seconds": result.load_seconds,
        "fps": cmp["measured"]["fps_per_model"],
        "utilisation": utilisation(result),
        "predicted": cmp["predicted"], "measured": cmp["measured"],
        "segments": cmp["segments"],
    }


def format_report(doc: dict[str, Any]) -> str:
    """The human-readable report (utilisation table, predicted vs measured)."""
    lines = [f"{doc['frames']} frame(s) per model in {doc['seconds']:.3f} s "
             f"(backend {doc['backend']}, load {doc['load_seconds']:.2f} s)"]
    for model, fps in doc["fps"].items():
        lines.append(f"  {model}: {fps:.1f} frames/s" if fps else f"  {model}: -")
    lines.append("")
    lines.append(f"{'device':<7}{'busy ms':>11}{'span ms':>11}{'util':>8}{'runs':>7}")
    for dev, u in doc["utilisation"].items():
        lines.append(f"{dev:<7}{u['busy_ms']:>11.2f}{u['span_ms']:>11.2f}"
                     f"{100 * u['utilisation']:>7.1f}%{u['executions']:>7}")
    lines.append("")
    lines.append(f"{'segment':<22}{'device':<7}{'predicted ms':>13}{'measured ms':>13}"
                 f"{'ratio':>8}")
    for s in doc["segments"]:
        p = "-" if s["predicted_ms"] is None else f"{s['predicted_ms']:.3f}"
        m = "-" if s["measured_median_ms"] is None else f"{s['measured_median_ms']:.3f}"
        r = "-" if s["ratio"] is None else f"{s['ratio']:.2f}"
        lines.append(f"{s['segment']:<22}{s['device']:<7}{p:>13}{m:>13}{r:>8}")
    pred, meas = doc["predicted"], doc["measured"]

    def fmt(v: float | None, unit: str = " ms") -> str:
        return "-" if v is None else f"{v:.3f}{unit}"

    lines.append("")
    lines.append(f"end to end: predicted makespan {fmt(pred['makespan_ms'])}, measured round "
                 f"span (median) {fmt(meas['round_span_median_ms'])}")
    lines.append(f"            predicted period {fmt(pred['period_ms'])}, measured period "
                 f"{fmt(meas['period_ms'])} per frame")
    if doc["backend"] == "ort":
        lines.append("(the ort backend runs every device worker on the CPU: these times say "
                     "nothing about a Jetson's)")
    return "\n".join(lines)

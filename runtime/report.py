"""Where the time went: Chrome trace, per-device utilisation, predicted vs measured.

The Chrome trace (Trace Event Format, ``traceEvents`` of complete events ``ph: "X"``, times
in microseconds) opens in Perfetto (ui.perfetto.dev) and chrome://tracing: one process per
device worker (GPU, DLA0, DLA1) with one slice per segment execution (args: model, frame,
instance, round, segment, the wait for inputs), plus one "predicted" process per device
showing the manifest's predicted round 0 for side-by-side reading. `TraceWriter` writes it
as the run goes (one event per execution, a temporary sibling renamed when closed), so a
long run never holds its trace in memory and a path that cannot be written stops the run
before its first frame.

The report (`summary`, JSON version `REPORT_VERSION`; `format_report`, the same figures
in words) reads the run's bounded statistics (`runtime.stats`: definitions of the
steady-state throughput, the fill and the per-frame latency there). It reports, it does not
judge: on a CPU the "GPU" and "DLA" workers are host threads, so measured times say how
this machine ran the plan, not how a Jetson would.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from runtime.errors import RuntimeExecutionError
from runtime.executor import RunResult
from runtime.manifest import DEVICES
from runtime.plan import Plan
from runtime.stats import RESERVOIR, Sample, SegmentRecord

PIDS = {d: i + 1 for i, d in enumerate(DEVICES)}
PREDICTED_PID_OFFSET = 10
REPORT_FORMAT = "layerswap-run-report"
REPORT_VERSION = 3  # 2: one steady-state throughput, fill_ms, per-frame latency; 3: adds
# rounds_in_flight and, per segment, the steady-state mean and the dispatch delay


def _measured_event(r: SegmentRecord) -> dict[str, Any]:
    return {"ph": "X", "name": r.segment, "cat": r.model, "pid": PIDS[r.device], "tid": 1,
            "ts": r.start_ns / 1e3, "dur": (r.end_ns - r.start_ns) / 1e3,
            "args": {"model": r.model, "frame": r.frame, "instance": r.instance,
                     "round": r.round, "segment": r.segment,
                     "waited_for_inputs_us": round((r.start_ns - r.reached_ns) / 1e3, 3)}}


def _header_events(plan: Plan) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for dev in plan.devices:
        pid = PIDS[dev]
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 1,
                       "args": {"name": f"{dev} (measured)"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 1,
                       "args": {"sort_index": pid}})
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": 1,
                       "args": {"name": f"layerswap-{dev} worker"}})
    return events


def _predicted_events(plan: Plan) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for dev in plan.devices:
        pid = PIDS[dev] + PREDICTED_PID_OFFSET
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 1,
                       "args": {"name": f"{dev} (predicted, round 0)"}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 1,
                       "args": {"sort_index": pid}})
        for seg in plan.segments:
            if seg.device != dev or seg.predicted_start_ms is None or seg.predicted_ms is None:
                continue
            events.append({"ph": "X", "name": seg.id, "cat": f"{seg.model} predicted",
                           "pid": pid, "tid": 1, "ts": seg.predicted_start_ms * 1e3,
                           "dur": seg.predicted_ms * 1e3,
                           "args": {"model": seg.model, "instance": seg.instance,
                                    "segment": seg.id, "frame": seg.instance}})
    return events


def chrome_trace(result: RunResult) -> dict[str, Any]:
    """The run's most recent executions (`RunResult.records`: all of a short run) as a
    Chrome trace object; a whole long run is traced by `TraceWriter`."""
    return {"traceEvents": [*_header_events(result.plan),
                            *map(_measured_event, result.records),
                            *_predicted_events(result.plan)],
            "displayTimeUnit": "ms",
            "otherData": {"manifest": result.plan.source, "backend": result.backend,
                          "frames": result.frames}}


class TraceWriter:
    """The Chrome trace of a run, written as it goes: `__call__` is the executor's
    ``on_record`` (one JSON event per execution, appended to a buffered file);
    `close` appends the predicted slices and the footer and renames the temporary sibling
    onto ``path``, also after a run that stopped early (the trace then holds every
    execution that finished). Opening checks the path: a folder, or a place that cannot be
    written, is a `RuntimeExecutionError` naming it, before any frame runs."""

    def __init__(self, plan: Plan, path: str | Path) -> None:
        self.plan = plan
        self.path = Path(path)
        if self.path.is_dir():
            raise RuntimeExecutionError(f"{self.path}: is a folder; pass --trace a file "
                                        f"name, e.g. {self.path / 'trace.json'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        except OSError as exc:
            raise RuntimeExecutionError(f"{self.path}: cannot write the trace there "
                                        f"({exc.strerror or exc})") from exc
        self._tmp = Path(tmp)
        self._fh: IO[str] | None = os.fdopen(fd, "w", encoding="utf-8")
        self.events = 0
        self._lock = threading.Lock()
        self._write('{"traceEvents":[' + ",".join(_dumps(e) for e in _header_events(plan)))

    def __call__(self, record: SegmentRecord) -> None:
        text = "," + _dumps(_measured_event(record))  # built outside the lock
        with self._lock:  # device workers call it concurrently
            self._write(text)
            self.events += 1

    def _write(self, text: str) -> None:
        if self._fh is None:
            raise RuntimeExecutionError(f"{self.path}: the trace is already closed")
        try:
            self._fh.write(text)
        except OSError as exc:
            self.abandon()
            raise RuntimeExecutionError(f"{self.path}: writing the trace failed "
                                        f"({exc.strerror or exc}); nothing written there") from exc

    def close(self, *, backend: str = "", frames: int = 0) -> Path:
        """Finish the file and rename it onto ``path``; returns ``path``."""
        other = {"manifest": self.plan.source, "backend": backend, "frames": frames}
        tail = "".join("," + _dumps(e) for e in _predicted_events(self.plan))
        self._write(tail + '],"displayTimeUnit":"ms","otherData":' + _dumps(other) + "}")
        assert self._fh is not None
        try:
            self._fh.close()
            self._fh = None
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.path)
        except OSError as exc:
            self.abandon()
            raise RuntimeExecutionError(f"{self.path}: writing the trace failed "
                                        f"({exc.strerror or exc}); nothing written there") from exc
        return self.path

    def abandon(self) -> None:
        """Drop the temporary file (nothing is left at ``path``)."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        self._tmp.unlink(missing_ok=True)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def utilisation(result: RunResult) -> dict[str, dict[str, float]]:
    """Per device: busy ms (sum of its segment executions), the run's span, busy / span."""
    st = result.stats
    span_ns = (st.last_end_ns - st.first_start_ns) if st.first_start_ns is not None and (
        st.last_end_ns is not None) else 0
    return {dev: {"busy_ms": st.busy_ns[dev] / 1e6, "span_ms": span_ns / 1e6,
                  "utilisation": st.busy_ns[dev] / span_ns if span_ns else 0.0,
                  "executions": st.executions[dev]}
            for dev in result.plan.devices}


def _ms(value: float | None) -> float | None:
    return None if value is None else value / 1e6


def _method(samples: list[Sample]) -> str:
    if all(s.exact for s in samples):
        return "exact"
    return f"reservoir sample of {RESERVOIR} per quantity (uniform), min/max/mean exact"


def compare(result: RunResult) -> dict[str, Any]:
    """Predicted vs measured, per segment (median execution) and end to end: the one
    throughput (steady state) with its fill, and the per-frame latency per model."""
    plan, st = result.plan, result.stats
    per_segment = []
    for seg in plan.segments:
        sample = st.segments[seg.id]
        measured = _ms(sample.quantile(0.5))
        predicted = seg.predicted_ms
        dispatch = st.dispatch[seg.id]
        per_segment.append({
            "segment": seg.id, "device": seg.device, "executions": sample.count,
            "predicted_ms": predicted, "measured_median_ms": measured,
            "measured_min_ms": _ms(sample.minimum),
            "steady_mean_ms": _ms(st.steady[seg.id].mean),
            "dispatch_mean_ms": _ms(dispatch.mean),
            "dispatch_median_ms": _ms(dispatch.quantile(0.5)),
            "ratio": (measured / predicted) if measured is not None and predicted else None})
    period = st.period_ms
    throughput = {
        "fps": (1000.0 / period) if period else None,
        "period_ms": period,
        "fill_ms": st.fill_ms,
        "rounds": st.complete_rounds,
        "definition": "steady state: frames per second per model between the end of round 0 "
                      "and the end of the last complete round; fill_ms (run start to the end "
                      "of round 0) is not in it",
    }
    latency = {model: {"p50_ms": _ms(s.quantile(0.5)), "worst_ms": _ms(s.maximum),
                       "mean_ms": _ms(s.mean), "frames": s.count,
                       "instances": [{"p50_ms": _ms(i.quantile(0.5)),
                                      "worst_ms": _ms(i.maximum), "mean_ms": _ms(i.mean),
                                      "frames": i.count}
                                     for i in st.instance_latency[model]]}
               for model, s in st.latency.items()}
    measured_end_to_end = {
        "round_span_median_ms": _ms(st.round_spans.quantile(0.5)),
        "round_span_first_ms": _ms(st.round_span_first_ns),
    }
    pred = plan.predicted
    predicted = {"makespan_ms": pred.makespan_ms if pred else None,
                 "period_ms": pred.period_ms if pred else None,
                 "throughput_fps": pred.throughput_fps if pred else None}
    return {"segments": per_segment, "predicted": predicted, "measured": measured_end_to_end,
            "throughput": throughput, "latency": latency,
            "quantiles": _method([*st.segments.values(), *st.latency.values(),
                                  *st.dispatch.values(),
                                  *(i for v in st.instance_latency.values() for i in v)])}


def summary(result: RunResult) -> dict[str, Any]:
    """The JSON report of ``layerswap run --json`` (keys: docs/formats.md)."""
    cmp = compare(result)
    return {
        "format": REPORT_FORMAT, "version": REPORT_VERSION,
        "manifest": result.plan.source, "objective": result.plan.objective,
        "backend": result.backend, "frames": result.frames,
        "frames_requested": result.frames_requested,
        "completed_frames": dict(result.completed_frames),
        "interrupted": result.interrupted,
        "seconds": result.seconds, "load_seconds": result.load_seconds,
        "rounds_in_flight": result.rounds_in_flight,
        "throughput": cmp["throughput"], "latency": cmp["latency"],
        "quantiles": cmp["quantiles"],
        "utilisation": utilisation(result),
        "predicted": cmp["predicted"], "measured": cmp["measured"],
        "segments": cmp["segments"],
    }


def format_report(doc: dict[str, Any]) -> str:
    """The human-readable report: the same figures as `summary` (one throughput, its
    fill, the per-frame latency), the utilisation and the predicted-vs-measured tables."""
    def fmt(v: float | None, unit: str = " ms", spec: str = ".3f") -> str:
        return "-" if v is None else f"{v:{spec}}{unit}"

    until = " until Ctrl-C" if doc["interrupted"] else ""
    lines = [f"{doc['frames']} frame(s) per model{until} in {doc['seconds']:.3f} s (backend "
             f"{doc['backend']}, load {doc['load_seconds']:.2f} s)"]
    thr, pred = doc["throughput"], doc["predicted"]
    if thr["fps"] is None:
        lines.append(f"throughput: - (steady state needs 2 complete rounds; "
                     f"{thr['rounds']} ran), fill {fmt(thr['fill_ms'])}")
    else:
        lines.append(f"throughput (steady state, {thr['rounds']} rounds): "
                     f"{thr['fps']:.1f} frames/s per model = measured period "
                     f"{fmt(thr['period_ms'])} per frame (predicted "
                     f"{fmt(pred['period_ms'])}); fill before it "
                     f"(start to end of round 0): {fmt(thr['fill_ms'])}")
    lat = "; ".join(f"{m} p50 {fmt(v['p50_ms'])}, worst {fmt(v['worst_ms'])}"
                    for m, v in doc["latency"].items())
    lines.append(f"frame latency (first segment start to last output): {lat}"
                 + ("" if doc["quantiles"] == "exact" else
                    " (p50 over a reservoir sample)"))
    lines.append("")
    lines.append(f"{'device':<7}{'busy ms':>11}{'span ms':>11}{'util':>8}{'runs':>9}")
    for dev, u in doc["utilisation"].items():
        lines.append(f"{dev:<7}{u['busy_ms']:>11.2f}{u['span_ms']:>11.2f}"
                     f"{100 * u['utilisation']:>7.1f}%{u['executions']:>9}")
    lines.append("")
    width = max([9, *(len(s["segment"]) + 2 for s in doc["segments"])])
    lines.append(f"{'segment':<{width}}{'device':<7}{'predicted ms':>13}{'measured ms':>13}"
                 f"{'ratio':>8}{'dispatch ms':>13}")
    for s in doc["segments"]:
        r = "-" if s["ratio"] is None else f"{s['ratio']:.2f}"
        lines.append(f"{s['segment']:<{width}}{s['device']:<7}"
                     f"{fmt(s['predicted_ms'], ''):>13}{fmt(s['measured_median_ms'], ''):>13}"
                     f"{r:>8}{fmt(s['dispatch_median_ms'], ''):>13}")
    lines.append("(measured: median execution; dispatch: median delay from when the plan let "
                 "a segment start to its start, the runtime's own cost)")
    meas = doc["measured"]
    lines.append("")
    lines.append(f"one round: predicted makespan {fmt(pred['makespan_ms'])}, measured round "
                 f"span (median) {fmt(meas['round_span_median_ms'])}")
    if doc["backend"] == "ort":
        lines.append("(the ort backend runs every device worker on the CPU: these times say "
                     "nothing about a Jetson's)")
    return "\n".join(lines)

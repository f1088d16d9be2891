"""Does the runtime run the stream the way the model says? The simulator fed with a run's own
segment times, beside what the run measured (docs/model.md 4.2, docs/runtime.md).

A run measures, per segment, its execution time and its dispatch delay (from when the plan
let it start, its device free, its round admitted, its producers ended, to when it started:
the runtime's own cost; `runtime.stats`). `replay` gives the simulator's streaming engine
(`solvers.judges.simulator.stream_of_segments`: the same device orders, admission rule and
rounds in flight as the run) each segment's mean execution time plus its mean dispatch delay
over the steady-state rounds, with no contention and no transition cost (hand-offs are in
the dispatch delay), and reports the simulated period and per-model frame latency (mean,
p50, worst; also per instance) beside the measured ones with their relative errors. The cost
model's error (predicted vs measured segment times) is a separate question, answered per
segment by the run report; this one checks the structure: order, admission, pipelining.

Means, not medians: the period is a long-run average (the measured one is the time of many
rounds divided by their number), so it follows the mean of each time; a median would leave
out every slow execution the period pays for. For the same reason the frame latency that the
mean times predict is the mean latency; the p50 of a skewed time sits below its mean. The
frame latency is counted as the runtime counts it, from the start of the frame's first
segment, i.e. after that segment's dispatch delay (fetching the frame's inputs). The worst
latency is reported, not claimed to agree: the simulator's is the slowest frame of the
periodic stream of mean times (a structural worst, which the run must also show), the
measured one adds every outlier (a preempted execution), so the measured worst is expected
at or above the simulated one.

Part of the agreement holds by construction: a segment's lane time runs from when the plan
let it start to its end, so where the bottleneck device never waits (one chain of rounds, a
saturated device) its lane times add up to the measured period exactly. What is tested is
the structure: that the simulator finds the same critical path under the same admission rule
(the same times replayed with unbounded rounds miss where admission binds), and the figures
that are not sums of lane times: the period of devices that wait on each other, the frame
latency. A runtime that started work late would show it as dispatch delay (reported per
segment and as `period_ms_execution_only`), not as a disagreement."""

from __future__ import annotations

import itertools
from typing import Any

from runtime.executor import RunResult
from solvers.errors import ProblemError
from solvers.judges.simulator import stream_of_segments
from solvers.model.problem import Device
from solvers.model.schedule import Streaming

SOURCE = ("the simulator (docs/model.md 4.2) fed with this run's own segment times: per "
          "segment its mean execution time plus its mean dispatch delay over rounds 1 and "
          "later, the run's device orders and rounds in flight, no contention, no transition "
          "cost (hand-offs are in the dispatch delay)")


def _error(simulated: float | None, measured: float | None) -> float | None:
    if simulated is None or not measured:
        return None
    return (simulated - measured) / measured


def _pair(simulated: float | None, measured: float | None) -> dict[str, float | None]:
    return {"simulated": simulated, "measured": measured,
            "error": _error(simulated, measured)}


def replay(result: RunResult, *, rounds_in_flight: int | str | None = "run"
           ) -> dict[str, Any]:
    """The simulated stream of ``result``'s plan with its measured segment times, beside the
    measured figures (module docstring). ``rounds_in_flight``: ``"run"`` (the run's own), a
    number, or None (unbounded, the solvers' model: for showing that the admission rule
    matters). Without a steady state to compare (fewer than 2 complete rounds, or a
    segment with no execution after round 0) the dict holds ``reason`` and no figures."""
    plan, st = result.plan, result.stats
    k = result.rounds_in_flight if rounds_in_flight == "run" else rounds_in_flight
    doc: dict[str, Any] = {"source": SOURCE, "rounds_in_flight": k}
    if st.period_ms is None:
        return {**doc, "reason": f"the run completed {st.complete_rounds} round(s); a steady "
                                 "state needs 2 (run more frames)"}
    missing = [s.id for s in plan.segments if not st.steady[s.id].count]
    if missing:
        return {**doc, "reason": f"segment(s) {', '.join(missing)} never ran after round 0 "
                                 "(run more frames)"}
    F = plan.frames_per_round
    means = {s.id: (st.steady[s.id].mean / 1e6, st.dispatch[s.id].mean / 1e6)
             for s in plan.segments}
    rows: list[list[tuple[str, str]]] = []  # per job: (segment id, device)
    notes: list[str] = []
    names: list[str] = []
    ref: dict[str, tuple[int, int]] = {}
    for model in plan.models:
        for inst in range(F):
            segs = sorted((s for s in plan.segments
                           if s.model == model.name and s.instance == inst),
                          key=lambda s: s.index)
            for n, s in enumerate(segs):
                ref[s.id] = (len(rows), n)
            rows.append([(s.id, s.device) for s in segs])
            names.append(model.name)
            notes += [f"{b.id} does not read from {a.id}: the simulator makes it wait for "
                      f"{a.id} anyway (its segments are a chain), the runtime does not"
                      for a, b in itertools.pairwise(segs)
                      if a.id not in {i.segment for i in b.inputs}]
    order = {Device(d): [ref[s] for s in ids] for d, ids in plan.device_order.items() if ids}

    def simulate(dispatch: bool) -> Streaming:
        jobs = [[(Device(d), means[sid][0] + (means[sid][1] if dispatch else 0.0), 0.0)
                 for sid, d in row] for row in rows]
        offsets = [means[row[0][0]][1] if dispatch else 0.0 for row in rows]
        return stream_of_segments(tuple(Device), jobs, order, k, job_models=names,
                                  frames_per_round=F, latency_from=offsets)

    try:
        stream = simulate(dispatch=True)
        execution_only = simulate(dispatch=False)
    except ProblemError as exc:  # the run's report must not be lost to its replay
        return {**doc, "reason": f"the simulator cannot replay this run: {exc}"}
    measured_period = st.period_ms
    latency = {}
    for mi, model in enumerate(plan.models):
        sim_p50, sim_worst = stream.latency_by_model[model.name]
        by_job = stream.latency_by_job[mi * F:(mi + 1) * F]
        sample = st.latency[model.name]
        latency[model.name] = {
            "mean_ms": _pair(sum(j[2] for j in by_job) / F, _ms(sample.mean)),
            "p50_ms": _pair(sim_p50, _ms(sample.quantile(0.5))),
            "worst_ms": _pair(sim_worst, _ms(sample.maximum)),
            "instances": [{"mean_ms": _pair(sim[2], _ms(got.mean)),
                           "p50_ms": _pair(sim[0], _ms(got.quantile(0.5))),
                           "worst_ms": _pair(sim[1], _ms(got.maximum))}
                          for sim, got in zip(by_job, st.instance_latency[model.name],
                                              strict=True)]}
    overhead = {d: sum(means[s][1] for s in ids) for d, ids in plan.device_order.items() if ids}
    return {**doc,
            "period_ms": _pair(stream.period_ms, measured_period),
            "fps": _pair(stream.throughput_fps, 1000.0 / measured_period),
            "period_error_bound_ms": stream.period_error_ms,
            "period_ms_execution_only": execution_only.period_ms,
            "latency": latency,
            "dispatch_ms_per_round": overhead, "notes": notes}


def _ms(ns: float | None) -> float | None:
    return None if ns is None else ns / 1e6


def format_replay(doc: dict[str, Any]) -> str:
    """The replay in words, for `layerswap run`'s text report."""
    head = (f"simulated from this run's segment times ({doc['rounds_in_flight']} rounds in "
            "flight; mean execution + dispatch per segment, docs/runtime.md):")
    if "reason" in doc:
        return f"{head} - ({doc['reason']})"

    def pct(e: float | None) -> str:
        return "-" if e is None else f"{100 * e:+.1f}%"

    p = doc["period_ms"]
    lines = [head, f"  period {p['simulated']:.3f} ms vs measured {p['measured']:.3f} ms "
                   f"({pct(p['error'])}); execution times alone: "
                   f"{doc['period_ms_execution_only']:.3f} ms"]
    for model, v in doc["latency"].items():
        parts = [f"{name} {v[key]['simulated']:.3f} vs {v[key]['measured']:.3f} ms "
                 f"({pct(v[key]['error'])})"
                 for key, name in (("mean_ms", "mean"), ("p50_ms", "p50"),
                                   ("worst_ms", "worst"))]
        lines.append(f"  {model} frame latency: " + "; ".join(parts))
    lines.append("  (worst: the measured one adds every outlier; the simulated one is the "
                 "slowest frame of a stream of mean times)")
    return "\n".join(lines)

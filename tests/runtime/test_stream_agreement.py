"""The runtime runs the stream the way the model says (issue 21, item 6): on the CPU backend,
the simulator fed with a run's own segment times (`optimizer.replay`) agrees with the period
and the frame latency the run measured, at 1 and 2 rounds in flight, and misses them when it
is given another admission rule.

The schedule: model ``a`` (a skip net: the cut after node 4 carries r2, the skip r1 and the
model input x, and the first part also delivers the early output) runs its head on the GPU
worker and its tail on DLA0; model ``b`` (a smaller skip net) runs whole on DLA0 after a's
tail. Segments take 0.5-3 ms (32 channels, 64 x 64), 200 frames per run, one ONNX Runtime
thread per device worker.

Tolerances, from about 15 runs each on a 2-core machine under a load of 2-4 (other test
processes; CI runs ``pytest -n 2`` on 2 cores), benchmarks/results/stream_agreement.md:

- period: simulated within -25 % .. +10 % of the measured one. Seen: 0.0 % at 1 round in
  flight (the rounds are then one chain of lane times, which the dispatch accounting sums
  exactly: what is checked there is the admission rule), -3 % .. -18 % at 2. The
  simulator runs every segment at its mean time; the measured stream's times vary, and a
  max-plus system's period grows with the variance of its times (a round that waits for the
  slower of two racing paths pays the mean of the maximum, not the maximum of the means), so
  the simulated period sits below the measured one, more so the more paths race.
- frame latency: the mean per model within 20 % (seen: -7 % .. +0.2 %). The p50 is
  reported, not asserted: a segment's time on a loaded CPU is skewed (a median of 1.2 ms
  beside a mean of 3.4 ms was seen for one segment), and the simulator runs mean times.
  The measured worst is outlier-driven (a preempted execution), so only the weak bound
  "measured worst >= 0.8 x simulated worst" is asserted: the structural worst must be there.
- the check can fail: replayed with no bound on the rounds in flight (the solvers' model),
  the 1-round run's period is missed by -33 % .. -38 %, and its mean latency of ``a`` by
  about +66 %; replayed with 1 round in flight, the 2-round run's period is missed by
  +40 % .. +53 %. Both replays use the same measured times as the right one, so the miss
  is the admission rule's alone: it is also asserted as a distance from the right replay.
"""

from __future__ import annotations

import pytest
import runtime_kit as kit

from optimizer.replay import replay
from runtime.api import load_plan, make_backend, run_manifest

FRAMES = 200
PERIOD_LOW, PERIOD_HIGH = -0.25, 0.10
LATENCY_TOL = 0.20


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    models = {"a": kit.skip_net(seed=0, channels=32, size=64),
              "b": kit.skip_net(seed=1, channels=8, size=64)}
    placements = {("a", 0): [(4, "GPU"), (8, "DLA0")], ("b", 0): [(8, "DLA0")]}
    path = kit.write_export(tmp_path_factory.mktemp("stream"), models, placements,
                            objective="throughput", device_order={
                                "GPU": ["a#0/0"], "DLA0": ["a#0/1", "b#0/0"]})
    plan = load_plan(path)
    cut = plan.segment("a#0/1")
    assert {b.spec.name for b in cut.inputs} == {"r2", "r1", "x"}  # several tensors cross
    return {k: run_manifest(plan, frames=FRAMES, rounds_in_flight=k,
                            backend=make_backend("ort", plan, threads=2))
            for k in (1, 2)}


@pytest.mark.parametrize("k", [1, 2])
def test_the_simulated_stream_agrees_with_the_measured_one(runs, k):
    result = runs[k]
    doc = replay(result)
    assert doc["rounds_in_flight"] == k and "reason" not in doc and doc["notes"] == []
    period = doc["period_ms"]
    assert PERIOD_LOW <= period["error"] <= PERIOD_HIGH, period
    assert period["measured"] == pytest.approx(result.stats.period_ms)
    for model, lat in doc["latency"].items():
        assert abs(lat["mean_ms"]["error"]) <= LATENCY_TOL, (model, lat)
        assert lat["worst_ms"]["measured"] >= 0.8 * lat["worst_ms"]["simulated"], (model, lat)
        assert lat["p50_ms"]["measured"] > 0 and lat["p50_ms"]["simulated"] > 0


def test_the_check_fails_with_another_admission_rule(runs):
    right = {k: replay(runs[k])["period_ms"]["error"] for k in (1, 2)}
    unbounded = replay(runs[1], rounds_in_flight=None)
    assert unbounded["period_ms"]["error"] < min(PERIOD_LOW, right[1] - 0.2)
    assert unbounded["latency"]["a"]["mean_ms"]["error"] > LATENCY_TOL
    one = replay(runs[2], rounds_in_flight=1)
    assert one["period_ms"]["error"] > max(PERIOD_HIGH, right[2] + 0.2)


def test_dispatch_delays_are_measured_from_when_the_plan_let_a_segment_start(runs):
    """``ready_ns`` is the latest of the device's previous end, the producers' ends and, for
    the first segment of a device's round, the end of the round before (1 round in flight):
    the moment the model would start the segment; the start is never before it."""
    result = runs[1]
    records = result.records
    assert len(records) == 3 * FRAMES  # every execution of this short run is kept
    end = {(r.segment, r.frame): r.end_ns for r in records}
    round_end: dict[int, int] = {}
    for r in records:
        round_end[r.round] = max(round_end.get(r.round, 0), r.end_ns)
    previous: dict[str, int] = {}
    for r in sorted(records, key=lambda r: r.start_ns):
        ready = [previous.get(r.device, 0)]
        ready += [end[(b.segment, r.frame)] for b in result.plan.segment(r.segment).inputs
                  if b.segment is not None]
        if r.round and result.plan.device_order[r.device][0] == r.segment:
            ready.append(round_end[r.round - 1])
        assert r.ready_ns == max(ready) <= r.start_ns
        previous[r.device] = r.end_ns
    for seg in result.plan.segments:
        assert result.stats.dispatch[seg.id].count == FRAMES - 1  # rounds 1 and later


def test_a_run_without_a_steady_state_says_why(tmp_path, tiny_models):
    path = kit.write_export(tmp_path / "one", tiny_models, kit.LATENCY)
    doc = replay(run_manifest(path, frames=1))
    assert "2" in doc["reason"] and "period_ms" not in doc

"""Chrome trace, utilisation and predicted-vs-measured report of a real run."""

from __future__ import annotations

import itertools
import json

import pytest

from runtime.api import load_plan, run_manifest
from runtime.report import (
    PIDS,
    chrome_trace,
    compare,
    format_report,
    summary,
    utilisation,
)


@pytest.fixture
def traced(throughput_export, tmp_path):
    result = run_manifest(load_plan(throughput_export), frames=10, threads=2,
                          trace=tmp_path / "trace.json")
    return result, tmp_path / "trace.json"


@pytest.fixture
def run_result(traced):
    return traced[0]


def test_chrome_trace_has_one_complete_event_per_execution(traced):
    run_result, path = traced
    doc = json.loads(path.read_text())
    measured = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] in PIDS.values()]
    assert len(measured) == len(run_result.records) == 5 * len(run_result.plan.segments)
    for e in measured:
        assert e["ts"] >= 0 and e["dur"] >= 0 and isinstance(e["tid"], int)
        assert {"frame", "model", "segment", "round", "instance"} <= set(e["args"])
        seg = run_result.plan.segment(e["name"])
        assert PIDS[seg.device] == e["pid"] and e["args"]["model"] == seg.model
    # a device worker runs one segment at a time: its slices never overlap
    for pid in PIDS.values():
        spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in measured if e["pid"] == pid)
        assert all(a[1] <= b[0] + 1e-3 for a, b in itertools.pairwise(spans))
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    assert {"GPU (measured)", "DLA0 (measured)", "DLA1 (measured)",
            "GPU (predicted, round 0)"} <= names
    predicted = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["pid"] > 10]
    assert len(predicted) == len(run_result.plan.segments)
    # written as the run went, in finishing order: the same events as the in-memory trace
    def key(e: dict) -> str:
        return json.dumps(e, sort_keys=True)

    built = chrome_trace(run_result)
    assert sorted(map(key, built["traceEvents"])) == sorted(map(key, doc["traceEvents"]))
    assert built["otherData"] == doc["otherData"]
    assert not [p.name for p in path.parent.iterdir() if p.name.startswith(".")]


def test_utilisation_and_comparison(run_result):
    util = utilisation(run_result)
    assert set(util) == {"GPU", "DLA0", "DLA1"}
    for dev, u in util.items():
        assert 0 < u["busy_ms"] <= u["span_ms"] + 1e-9
        assert 0 < u["utilisation"] <= 1
        assert u["executions"] == 5 * len(run_result.plan.device_order[dev])
    cmp = compare(run_result)
    assert [s["segment"] for s in cmp["segments"]] == [s.id for s in run_result.plan.segments]
    for entry in cmp["segments"]:
        seg = run_result.plan.segment(entry["segment"])
        assert entry["predicted_ms"] == pytest.approx(seg.predicted_ms)
        assert entry["executions"] == 5 and entry["measured_median_ms"] > 0
        assert entry["ratio"] == pytest.approx(entry["measured_median_ms"] / seg.predicted_ms)
    assert cmp["predicted"]["period_ms"] == run_result.plan.predicted.period_ms
    assert cmp["throughput"]["period_ms"] > 0 and cmp["measured"]["round_span_median_ms"] > 0


def test_summary_is_strict_json_and_the_text_report_names_every_segment(run_result):
    doc = summary(run_result)
    json.dumps(doc, allow_nan=False)
    assert doc["frames"] == 10 and set(doc["latency"]) == {"a", "b"}
    assert (doc["format"], doc["version"]) == ("layerswap-run-report", 3)
    text = format_report(doc)
    for seg in run_result.plan.segments:
        assert seg.id in text
    assert "predicted" in text and "DLA1" in text

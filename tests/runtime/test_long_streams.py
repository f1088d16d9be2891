"""Long streams in bounded memory (issue 24 item 3), one throughput and the per-frame latency
(item 5, issue 21 item 6): the executor's state does not grow with the frames, `--frames`
says what it accepts, a run until Ctrl-C ends normally with its report, progress shows off a
terminal, the trace is written as the run goes."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from optimizer.cli import main
from runtime.api import load_plan, make_backend, run_manifest
from runtime.executor import Executor, close_runners, load_runners
from runtime.io import random_inputs


def layerswap(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _sizes(obj: object, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(name, len) of every container attribute of ``obj`` and of its RunStats."""
    for name, value in vars(obj).items():
        if isinstance(value, list | dict | set | deque):
            yield prefix + name, len(value)
        if name == "stats":
            yield from _sizes(value, "stats.")


def test_executor_state_stays_bounded_over_a_long_stream(throughput_export):
    """Every container the executor (and its statistics) holds, sampled through the run:
    none grows with the number of frames (before: every execution was kept in a list and
    every frame's end time in a dict)."""
    plan = load_plan(throughput_export)
    runners = load_runners(plan, make_backend("ort", plan, threads=1))
    ring = 50
    try:
        executor = Executor(plan, runners, rounds_in_flight=2, recent_records=ring)
        largest: dict[str, int] = {}

        def watch(model: str, frame: int, outputs: dict) -> None:
            if frame % 50 == 0:
                for name, size in _sizes(executor):
                    largest[name] = max(largest.get(name, 0), size)

        result = executor.run(5000, random_inputs(plan, 0), watch)
    finally:
        close_runners(runners)
    assert result.frames == 5000
    assert largest["stats.recent"] == ring and len(result.records) == ring
    others = {n: s for n, s in largest.items() if n != "stats.recent"}
    assert max(others.values()) <= 16, others  # models x rounds in flight x F, not frames
    st = result.stats
    assert st.records_seen == 5000 * len(plan.segments) // plan.frames_per_round
    assert st.in_flight() == 0
    assert {m: s.count for m, s in st.latency.items()} == {"a": 5000, "b": 5000}
    from runtime.stats import RESERVOIR

    # past the reservoir: p50 from a uniform sample of RESERVOIR values, worst exact
    assert all(not s.exact and len(s._kept) == RESERVOIR for s in st.latency.values())


def test_frame_latency_and_throughput_follow_their_definitions(throughput_export):
    """A short run keeps every record: the latency per frame (first segment start to the
    end of its last segment) and the steady-state period recomputed from the records equal
    what the report says."""
    result = run_manifest(load_plan(throughput_export), frames=40, threads=2)
    records = result.records
    assert len(records) == 20 * len(result.plan.segments)
    first: dict[tuple[str, int], int] = {}
    last: dict[tuple[str, int], int] = {}
    for r in records:
        key = (r.model, r.frame)
        first[key] = min(first.get(key, r.start_ns), r.start_ns)
        last[key] = max(last.get(key, r.end_ns), r.end_ns)
    from runtime.report import summary

    doc = summary(result)
    for model in ("a", "b"):
        lat = sorted((last[k] - first[k]) / 1e6 for k in first if k[0] == model)
        assert len(lat) == 40
        assert doc["latency"][model]["worst_ms"] == pytest.approx(lat[-1])
        assert doc["latency"][model]["p50_ms"] == pytest.approx(float(np.median(lat)))
        assert doc["latency"][model]["p50_ms"] <= doc["latency"][model]["worst_ms"]
    ends = {}
    for r in records:
        ends[r.round] = max(ends.get(r.round, 0), r.end_ns)
    rounds = sorted(ends)
    period = (ends[rounds[-1]] - ends[rounds[0]]) / 1e6 / (len(rounds) - 1) / 2
    thr = doc["throughput"]
    assert thr["period_ms"] == pytest.approx(period)
    assert thr["fps"] == pytest.approx(1000.0 / period)
    assert thr["fill_ms"] == pytest.approx(ends[0] / 1e6)
    assert thr["rounds"] == 20 and doc["quantiles"] == "exact"


def test_one_throughput_in_text_and_json(capsys, throughput_export):
    """Before: `fps` (frames / wall seconds, fill included) beside `throughput_fps`
    (1000 / period) for the same frames, and a text `frames/s` that matched neither."""
    code, out, err = layerswap(capsys, "run", str(throughput_export), "--frames", "40",
                               "--threads", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["version"] == 3 and "fps" not in doc and "throughput_fps" not in doc["measured"]
    thr = doc["throughput"]
    assert thr["fps"] == pytest.approx(1000.0 / thr["period_ms"])
    assert thr["fill_ms"] > 0 and "steady state" in thr["definition"]
    code, text, err = layerswap(capsys, "run", str(throughput_export), "--frames", "40",
                                "--threads", "2")
    assert code == 0, err
    rates = re.findall(r"([\d.]+) frames/s", text)
    assert len(rates) == 1, text  # one throughput, and it is 1000 / the period it prints
    line = next(ln for ln in text.splitlines() if "frames/s" in ln)
    period = float(re.search(r"measured period ([\d.]+) ms", line).group(1))
    assert float(rates[0]) == pytest.approx(1000.0 / period, rel=2e-3)
    assert "fill" in line and re.search(r"latency .*a p50 [\d.]+ ms, worst [\d.]+ ms", text)


def test_frames_help_and_absurd_values(capsys):
    """`--frames 99999999999999999999` once ran for minutes with growing memory."""
    for bad in ("99999999999999999999", "1000000001", "0", "-3", "lots", ""):
        code, out, err = layerswap(capsys, "run", "x/manifest.json", "--frames", bad, "--json")
        assert code == 2, bad
        assert "forever" in json.loads(out)["error"] and "1..1_000_000_000" in err
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--frames N|forever" in text and "until Ctrl-C" in text and "upper bound" in text


def test_frames_forever_ends_on_ctrl_c_with_its_report(tmp_path, throughput_export):
    plan = load_plan(throughput_export)

    def on_frame(model: str, frame: int, outputs: dict) -> None:
        if model == "b" and frame == 60:
            os.kill(os.getpid(), signal.SIGINT)

    result = run_manifest(plan, frames=None, threads=2, on_frame=on_frame,
                          save_outputs=tmp_path / "o", trace=tmp_path / "t.json")
    assert result.interrupted and result.frames_requested is None
    assert result.completed_frames["b"] >= 60  # the interrupt came from b's frame 60
    assert result.frames == min(result.completed_frames.values()) >= 50
    for model in ("a", "b"):
        with np.load(tmp_path / "o" / f"{model}.npz") as saved:
            assert saved["y"].shape[0] == result.completed_frames[model]
    trace = json.loads((tmp_path / "t.json").read_text())
    assert sum(e["ph"] == "X" and e["pid"] < 10 for e in trace["traceEvents"]) >= 60


def test_cli_frames_forever_prints_the_report_on_ctrl_c(capsys, monkeypatch, throughput_export):
    import optimizer.cli.run as run_cli

    @contextmanager
    def ctrl_c_after_100_frames(total, **_kw):  # the progress hook sends a real SIGINT
        assert total is None

        def progress(done: int, _total: int | None) -> None:
            if done == 100:
                os.kill(os.getpid(), signal.SIGINT)

        yield progress

    monkeypatch.setattr(run_cli, "frame_progress", ctrl_c_after_100_frames)
    code, out, err = layerswap(capsys, "run", str(throughput_export), "--frames", "forever",
                               "--threads", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["interrupted"] and doc["frames_requested"] is None and doc["frames"] >= 49
    assert doc["throughput"]["fps"] > 0


def test_progress_lines_off_a_terminal(capsys):
    from optimizer.cli.run import frame_progress

    with frame_progress(1000, every_s=0.0) as progress:
        assert progress is not None  # before: nothing at all off a terminal
        progress(250, 1000)
        progress(500, 1000)
    err = capsys.readouterr().err
    assert re.search(r"^layerswap: run: 250 of 1000 frames done \(all models\), \d+/s", err,
                     re.M)
    assert err.count("\n") == 2
    with frame_progress(None, every_s=0.0) as progress:
        progress(7, None)
    assert "layerswap: run: 7 frames done" in capsys.readouterr().err


def test_trace_is_written_as_the_run_goes(tmp_path, latency_export):
    plan = load_plan(latency_export)
    seen: list[int] = []

    def on_frame(model: str, frame: int, outputs: dict) -> None:
        if model == "a" and frame == 150:
            partial = [p for p in tmp_path.iterdir() if p.name.startswith(".t.json.")]
            seen.append(partial[0].stat().st_size if partial else 0)

    run_manifest(plan, frames=300, threads=1, on_frame=on_frame, trace=tmp_path / "t.json")
    assert seen and seen[0] > 10_000  # events already on disk half-way through
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lat", "t.json"]  # no temp left


def test_trace_to_a_folder_fails_before_the_first_frame(capsys, tmp_path, latency_export):
    (tmp_path / "d").mkdir()
    code, out, err = layerswap(capsys, "run", str(latency_export), "--frames", "5",
                               "--trace", str(tmp_path / "d"), "--json")
    assert code == 1 and "Traceback" not in err
    assert "is a folder" in json.loads(out)["error"] and err.count("\n") == 1
    assert list(Path(tmp_path / "d").iterdir()) == []

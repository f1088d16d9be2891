"""`layerswap run`: JSON report, saved outputs equal to the unsplit models, inputs from an
.npz, trace file, one-line errors."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import runtime_kit as kit

from optimizer.cli import main
from runtime.agreement import OPTIMISED, agree
from runtime.api import load_plan
from runtime.io import random_inputs


def layerswap(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_streams_frames_saves_outputs_and_reports(capsys, tmp_path, throughput_export,
                                                      tiny_models):
    code, out, err = layerswap(capsys, "run", str(throughput_export), "--frames", "100",
                               "--threads", "2", "--seed", "4", "--save-outputs",
                               str(tmp_path / "out"), "--trace", str(tmp_path / "t.json"),
                               "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["frames"] == 100 and doc["backend"] == "ort" and set(doc["latency"]) == {"a", "b"}
    assert set(doc["utilisation"]) == {"GPU", "DLA0", "DLA1"}
    assert {"makespan_ms", "period_ms", "throughput_fps"} <= set(doc["predicted"])
    assert doc["throughput"]["period_ms"] > 0
    assert len(doc["segments"]) == 9
    sim = doc["simulated"]  # the simulator fed with this run's times (its own test: agreement)
    assert sim["rounds_in_flight"] == doc["rounds_in_flight"] == 2
    assert sim["period_ms"]["measured"] == doc["throughput"]["period_ms"]
    assert sim["period_ms"]["simulated"] > 0 and sim["period_ms_execution_only"] > 0
    assert [len(sim["latency"][m]["instances"]) for m in ("a", "b")] == [2, 2]
    trace = json.loads((tmp_path / "t.json").read_text())
    assert sum(e["ph"] == "X" and e["pid"] < 10 for e in trace["traceEvents"]) == 50 * 9
    source = random_inputs(load_plan(throughput_export), 4)
    for name in ("a", "b"):
        with np.load(tmp_path / "out" / f"{name}.npz") as saved:
            assert saved["y"].shape[0] == saved["early"].shape[0] == 100
            for f in range(100):
                ref = kit.reference(tiny_models[name], source(name, f))
                for key in ("y", "early"):
                    assert agree(ref[key], saved[key][f], OPTIMISED)


def test_run_reads_inputs_npz_and_prints_a_table(capsys, tmp_path, latency_export,
                                                 tiny_models):
    rng = np.random.default_rng(2)
    arrays = {"a/x": rng.standard_normal((3, 1, 4, 8, 8)).astype(np.float32),
              "b/x": rng.standard_normal((3, 1, 3, 6, 6)).astype(np.float32)}
    np.savez(tmp_path / "in.npz", **arrays)
    code, out, err = layerswap(capsys, "run", str(latency_export), "--inputs",
                               str(tmp_path / "in.npz"), "--save-outputs", str(tmp_path / "o"))
    assert code == 0, err
    assert "3 frame(s) per model" in out and "utilisation" not in err
    assert "simulated from this run's segment times" in out and "period" in out
    for name in ("a", "b"):
        with np.load(tmp_path / "o" / f"{name}.npz") as saved:
            for f in range(3):
                ref = kit.reference(tiny_models[name], {"x": arrays[f"{name}/x"][f]})
                assert agree(ref["y"], saved["y"][f], OPTIMISED)


def test_run_failure_is_one_line_and_keeps_completed_frames(capsys, tmp_path):
    model = kit.gather_net()
    path = kit.write_export(tmp_path / "g", {"g": model}, {("g", 0): [(0, "GPU"), (3, "DLA0")]})
    x = np.tile(np.arange(8, dtype=np.float32), (12, 1, 1))
    x[5, 0, 0] = 50.0
    np.savez(tmp_path / "in.npz", **{"g/x": x})
    code, out, err = layerswap(capsys, "run", str(path), "--inputs", str(tmp_path / "in.npz"),
                               "--save-outputs", str(tmp_path / "o"), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["exit_code"] == 1
    assert "segment 'g#0/1'" in doc["error"] and "frame 5" in doc["error"]
    assert "completed frames saved" in doc["error"] and "g: 5" in doc["error"]
    assert err.count("\n") == 1 and err.startswith("layerswap: error: ")
    with np.load(tmp_path / "o" / "g.npz") as saved:
        assert saved["y"].shape == (5, 1, 8)


def test_run_errors_name_the_file_or_what_to_install(capsys, tmp_path, latency_export):
    code, out, err = layerswap(capsys, "run", str(tmp_path / "none" / "manifest.json"))
    assert code == 1 and "no such file" in err and "Traceback" not in err
    if importlib.util.find_spec("tensorrt") is None:
        code, out, err = layerswap(capsys, "run", str(latency_export), "--backend", "trt")
        assert code == 1 and 'pip install -e ".[trt]"' in err
    code, out, err = layerswap(capsys, "run", str(latency_export), "--frames", "0", "--json")
    assert code == 2 and json.loads(out)["exit_code"] == 2


def test_run_help_has_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "layerswap run out/manifest.json --frames 500" in out and "--save-outputs" in out


def test_ctrl_c_ends_a_run_with_one_line_and_the_completed_frames(tmp_path, throughput_export):
    """SIGINT to a real `layerswap run`: exit 130, `layerswap: interrupted` then where it
    stopped, and under --json the one error object with the labelled partial result."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    proc = subprocess.Popen([sys.executable, "-m", "optimizer.cli", "run",
                             str(throughput_export), "--frames", "100000000", "--threads", "1",
                             "--save-outputs", str(tmp_path / "out"), "--json"],
                            cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        time.sleep(6.0)  # imports, loading, frames streaming
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0] == "layerswap: interrupted" and len(lines) == 2, err
    assert lines[1].startswith("layerswap: interrupted (Ctrl-C) while running")
    assert f"completed frames saved in {tmp_path / 'out'}" in lines[1]
    doc = json.loads(out)
    assert doc["error"] == "interrupted" and doc["exit_code"] == 130
    done = doc["partial_result"]["completed_frames"]
    assert set(done) == {"a", "b"} and min(done.values()) > 0
    with np.load(tmp_path / "out" / "a.npz") as saved:
        assert saved["y"].shape[0] == done["a"]

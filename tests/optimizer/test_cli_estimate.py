"""`layerswap estimate`: the command over profiles.estimate (tables, --json, errors)."""

from __future__ import annotations

import pytest

from export.zoo import save
from profiles.costtable import CostTable
from tests.optimizer.cli_helpers import run, run_json


@pytest.fixture(scope="module")
def googlenet_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("est") / "googlenet.onnx"
    save("googlenet", path)
    return path


def test_estimate_writes_a_checkable_table(googlenet_onnx, tmp_path, capsys):
    out = tmp_path / "g.csv"
    code, stdout, _ = run(capsys, "estimate", str(googlenet_onnx), "--platform", "xavier-agx",
                          "--groups", "8", "-o", str(out))
    assert code == 0 and f"wrote {out}" in stdout and "prob" in stdout
    table = CostTable.from_csv(out)
    assert table.n_groups == 8 and table.source.startswith("estimated")
    assert table.rows[-1].dla_ms is None  # Softmax refused on Xavier
    code, _, _ = run(capsys, "check", str(out))
    assert code == 0


def test_estimate_json_without_output_carries_the_csv(googlenet_onnx, capsys):
    code, obj = run_json(capsys, "estimate", str(googlenet_onnx), "--platform", "orin-agx-32",
                         "--precision", "int8", "--groups", "5")
    assert code == 0
    # the table names the module it was made for (profiles.platforms: one meaning per name)
    assert obj["module"] == "orin-agx-32" and obj["platform"] == "orin-agx-32"
    assert obj["groups"] == 5 and obj["written"] is None
    assert obj["metadata"]["precision"] == "int8"
    assert CostTable.from_csv_text(obj["csv"]).n_groups == 5
    assert "dla_tflops_per_core.fp16" in obj["assumed_figures"]


def test_estimate_without_output_prints_only_the_csv(googlenet_onnx, capsys):
    code, stdout, stderr = run(capsys, "estimate", str(googlenet_onnx), "--groups", "3")
    assert code == 0
    assert CostTable.from_csv_text(stdout).n_groups == 3
    assert "estimated" in stderr


def test_estimate_errors_are_one_line(googlenet_onnx, tmp_path, capsys):
    code, obj = run_json(capsys, "estimate", str(tmp_path / "missing.onnx"))
    assert code == 1 and "not found" in obj["error"]
    code, _, err = run(capsys, "estimate", str(googlenet_onnx), "--platform", "orin-nano")
    assert code == 1 and "unknown platform 'orin-nano'" in err and "Traceback" not in err
    code, _, err = run(capsys, "estimate", str(googlenet_onnx), "--groups", "500")
    assert code == 1 and "--groups" in err
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    code, obj = run_json(capsys, "estimate", str(bad))
    assert code == 1 and "ONNX" in obj["error"]


def test_estimate_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        run(capsys, "--help")
    assert "estimate" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run(capsys, "estimate", "--help")
    text = capsys.readouterr().out
    assert "--max-crossing" in text and "layerswap estimate gan.onnx" in text


def test_estimated_times_carry_the_error_band_in_text_and_json(tmp_path, capsys):
    """Issue 22 item 6: estimate, solve and simulate print the estimator's held-out error
    beside every time and FPS of an estimated table; published tables get none."""
    onnx = tmp_path / "ssd.onnx"
    save("ssd_mobilenet_v1", onnx)
    csv = tmp_path / "ssd.csv"
    code, out, _ = run(capsys, "estimate", str(onnx), "--platform", "orin-agx",
                       "--precision", "int8", "--groups", "6", "-o", str(csv))
    assert code == 0 and "\u00b1" in out and "held out" in out
    code, obj = run_json(capsys, "estimate", str(onnx), "--platform", "orin-agx",
                         "--precision", "int8", "--groups", "6")
    band = obj["error_band"]["dla"]
    lo, hi = obj["dla_ms_total_range"]
    assert band["measured"] and lo < obj["dla_ms_total"] < hi
    assert hi == pytest.approx(obj["dla_ms_total"] * (1 + band["mean_abs"]))
    # an estimate no published figure checks says so instead of inventing a band
    code, obj = run_json(capsys, "estimate", str(onnx), "--platform", "orin-nx-16",
                         "--precision", "int8", "--groups", "6")
    assert obj["error_band"]["gpu"]["measured"] is False and obj["gpu_ms_total_range"] is None

    sched = tmp_path / "s.json"
    code, doc = run_json(capsys, "solve", str(csv), "googlenet_xavier", "--platform",
                         "orin-agx", "--objective", "throughput", "--time-limit", "5",
                         "--no-plot", "-o", str(sched))
    assert code == 0
    eb = doc["error_band"]
    assert eb["estimated_tables"] == [CostTable.from_csv(csv).model] and eb["measured"]
    lo, hi = eb["objective_range_ms"]
    assert lo < doc["objective"] < hi
    flo, fhi = eb["throughput_fps_range"]
    code, sim = run_json(capsys, "simulate", str(sched))
    assert flo < sim["throughput_fps"] < fhi and sim["error_band"]["mean_abs"] == eb["mean_abs"]
    code, text, _ = run(capsys, "simulate", str(sched))
    assert "error band:" in text and "fps" in text.split("error band:")[1]
    code, doc = run_json(capsys, "solve", "googlenet_xavier", "alexnet_xavier",
                         "--time-limit", "5", "--no-plot")
    assert doc["error_band"] is None

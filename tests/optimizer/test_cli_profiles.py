"""`layerswap ingest` and `layerswap profile plan|ingest-sweep` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run

from profiles import CostTable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "trtexec"



def test_ingest_own_fixture_to_csv_and_json(capsys, tmp_path):
    profile = FIXTURES / "trtexec" / "trt10_exportProfile_matching_layerinfo.json"
    info = FIXTURES / "trtexec" / "trt10_exportLayerInfo_detailed.json"
    out_csv = tmp_path / "m.csv"
    code, out, err = run(capsys, "ingest", str(profile), "--layer-info", str(info),
                         "--platform", "orin-agx", "--model", "net", "-o", str(out_csv),
                         "--json")
    assert code == 0, err
    doc = json.loads(out)
    table = CostTable.from_csv(out_csv)
    assert table.model == "net" and table.source.startswith("measured")
    assert doc["n_groups"] == table.n_groups
    assert doc["total_gpu_ms"] == pytest.approx(sum(table.gpu_ms))
    assert all(r.dla_ms is None for r in table.rows)  # DLA not measured: left empty
    assert "not measured" in table.metadata.get("dla", "")


@pytest.mark.skipif(not SHARED.exists(), reason="shared fixtures not beside the checkout")
def test_ingest_real_trt84_profile_prints_csv(capsys):
    profile = SHARED / "trt8.4_a100_exportProfile_resnet50-fp16_count1_zero-time-rows.json"
    code, out, err = run(capsys, "ingest", str(profile), "--platform", "orin-agx")
    assert code == 0, err
    assert "group,gpu_ms,dla_ms" in out


def test_ingest_to_stdout_prints_exactly_the_csv(capsys, tmp_path):
    profile = FIXTURES / "trtexec" / "trt10_exportProfile_matching_layerinfo.json"
    code, out, err = run(capsys, "ingest", str(profile), "--platform", "orin-agx")
    assert code == 0, err
    path = tmp_path / "t.csv"
    path.write_text(out)  # what `layerswap ingest ... > t.csv` writes
    table = CostTable.from_csv(path)
    assert out == table.to_csv_text()
    assert "groups from" in err  # the summary went to stderr


def test_ingest_bad_profile_is_one_line(capsys, tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text('[\n  { "count" : 10 }\n, { "name" : "a", "timeMs" : -1, "averageMs" : -0.1'
                   ', "percentage" : 100 }\n]\n')
    code, out, err = run(capsys, "ingest", str(bad), "--platform", "orin-agx")
    assert code == 1 and out == ""
    assert err.startswith("layerswap: error: ") and "p.json" in err and err.count("\n") == 1


def test_profile_plan_writes_script_and_manifest(capsys, tmp_path):
    out_dir = tmp_path / "sweep"
    code, out, err = run(capsys, "profile", "plan", str(FIXTURES / "sweep_chain" / "chain.onnx"),
                         "--after", "relu1", "--after", "relu3", "--trt-version", "10.3",
                         "-o", str(out_dir), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["cuts"] == 2 and doc["engines"] > 2 and doc["runs"] == doc["engines"] * 3
    assert (out_dir / "sweep.sh").exists() and (out_dir / "sweep_plan.json").exists()
    script = (out_dir / "sweep.sh").read_text()
    assert "trtexec" in script and "--useDLACore=0" in script


def test_profile_plan_refuses_trt_without_dla(capsys, tmp_path):
    code, _, err = run(capsys, "profile", "plan", str(FIXTURES / "sweep_chain" / "chain.onnx"),
                       "--trt-version", "11.1", "-o", str(tmp_path / "s"))
    assert code == 1 and "11.1" in err


def test_profile_ingest_sweep_recovers_the_table(capsys, tmp_path):
    out_csv = tmp_path / "chain.csv"
    code, out, err = run(capsys, "profile", "ingest-sweep", str(FIXTURES / "sweep_chain" / "sweep"),
                         "--platform", "orin-agx", "-o", str(out_csv), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["anomalies"] == [] and doc["groups"] == 4
    table = CostTable.from_csv(out_csv)
    # ground truth of the fixture (see tests/fixtures/sweep_chain/README.md)
    assert table.gpu_ms == pytest.approx([0.35, 0.15, 0.20, 0.11], abs=0.003)
    assert table.dla_ms == pytest.approx([0.75, 0.34, 0.45, 0.37], abs=0.003)
    code, out, _ = run(capsys, "solve", str(out_csv), str(out_csv), "--platform", "orin-agx",
                       "--time-limit", "20", "--json")
    assert code == 0 and json.loads(out)["status"] == "optimal"


def test_profile_ingest_sweep_missing_folder(capsys, tmp_path):
    code, _, err = run(capsys, "profile", "ingest-sweep", str(tmp_path / "none"),
                       "--platform", "orin-agx")
    assert code == 1 and "none" in err

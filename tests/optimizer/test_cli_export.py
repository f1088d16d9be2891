"""`layerswap export` and `layerswap solve --export`: files, --json contract, one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnx
from cli_helpers import run, run_json

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from dag_models import MODELS

from profiles.synthetic import synthetic_onnx_table
from runtime.manifest import load_manifest


def _inputs(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    a_onnx, b_onnx = tmp_path / "unet.onnx", tmp_path / "diamond.onnx"
    onnx.save(MODELS["unet"](), a_onnx)
    onnx.save(MODELS["diamond"](), b_onnx)
    a = synthetic_onnx_table(a_onnx, 4, seed=1, name="unet", platform="orin-agx")
    b = synthetic_onnx_table(b_onnx, 3, seed=2, name="diamond", platform="orin-agx")
    return a.to_csv(tmp_path / "unet.csv"), b.to_csv(tmp_path / "diamond.csv"), a_onnx, b_onnx


def test_solve_then_export_json(capsys, tmp_path):
    a, b, a_onnx, b_onnx = _inputs(tmp_path)
    sched = tmp_path / "s.json"
    code, _, _ = run(capsys, "solve", str(a), str(b), "--platform", "orin-agx",
                     "--time-limit", "5", "-o", str(sched), "--no-plot")
    assert code == 0
    out = tmp_path / "out"
    code, doc = run_json(capsys, "export", str(sched), "--onnx", f"unet={a_onnx}",
                         "--onnx", f"diamond={b_onnx}", "-o", str(out), "--trt-version", "8.6")
    assert code == 0
    assert doc["manifest"] == str(out / "manifest.json") and doc["trt_version"] == "8.6"
    assert doc["models"] == ["unet", "diamond"]
    manifest = load_manifest(out)
    assert [s["id"] for s in doc["segments"]] == [s.id for s in manifest.segments]
    assert manifest.provenance.solver == "cpsat" and manifest.provenance.status
    assert (out / "build_engines.sh").is_file() and (out / "SUMMARY.md").is_file()
    # text mode names the directory and what to do next
    code, text, _ = run(capsys, "export", str(sched), "--onnx", f"unet={a_onnx}",
                        "--onnx", f"diamond={b_onnx}", "-o", str(out))
    assert code == 0 and "build_engines.sh" in text and "next:" in text


def test_solve_with_export_writes_the_directory(capsys, tmp_path):
    a, b, a_onnx, b_onnx = _inputs(tmp_path)
    out = tmp_path / "exp"
    code, doc = run_json(capsys, "solve", str(a), str(b), "--platform", "orin-agx",
                         "--time-limit", "5", "--export", str(out), "--onnx",
                         f"unet={a_onnx}", "--onnx", f"diamond={b_onnx}",
                         "--trt-version", "11.4")
    assert code == 0 and doc["written"]["export"] == str(out)
    manifest = load_manifest(out)
    assert manifest.build is not None and manifest.build.trt_version == "11.4"
    assert manifest.provenance.objective_ms == doc["objective"]


def test_export_errors_are_one_line(capsys, tmp_path):
    a, _b, a_onnx, b_onnx = _inputs(tmp_path)
    sched = tmp_path / "s.json"
    run(capsys, "solve", str(a), "--platform", "orin-agx", "--time-limit", "5", "-o",
        str(sched), "--no-plot")
    # the wrong ONNX for the table: one line naming both files
    code, _out, err = run(capsys, "export", str(sched), "--onnx", f"unet={b_onnx}", "-o",
                         str(tmp_path / "x"))
    assert code == 1 and "Traceback" not in err and str(b_onnx) in err
    assert err.count("\n") == 1 and err.startswith("layerswap: error:")
    code, doc = run_json(capsys, "export", str(sched), "-o", str(tmp_path / "x"))
    assert code == 1 and "--onnx" in doc["error"] and doc["exit_code"] == 1
    code, _, err = run(capsys, "export", str(sched), "--onnx", "unet=/nope.onnx", "-o",
                       str(tmp_path / "x"))
    assert code == 2 and "/nope.onnx" in err
    code, _, err = run(capsys, "solve", str(a), "--export", str(tmp_path / "y"))
    assert code == 2 and "--onnx" in err
    # a published table has no ONNX mapping
    pub = tmp_path / "p.json"
    run(capsys, "solve", "googlenet_xavier", "-o", str(pub), "--no-plot", "--time-limit", "5")
    code, doc = run_json(capsys, "export", str(pub), "--onnx", f"googlenet={a_onnx}", "-o",
                         str(tmp_path / "z"))
    assert code == 1 and "has no ONNX mapping" in doc["error"]
    assert json.loads(json.dumps(doc)) == doc


def test_manifest_errors_are_user_errors_of_the_cli(capsys):
    import argparse

    from optimizer.cli.common import run_command
    from runtime.errors import ManifestError

    def broken(_args):
        raise ManifestError("'gan#0/7' is not a segment", source="m.json",
                            field="segments[3].inputs[0].from.segment")

    code = run_command(argparse.Namespace(func=broken, json=True))
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == ("layerswap: error: m.json: segments[3].inputs[0].from.segment: "
                           "'gan#0/7' is not a segment")
    assert json.loads(out)["exit_code"] == 1

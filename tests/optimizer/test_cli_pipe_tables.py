"""Tables readable in a pipe and a CI log (issue 24, item 4): off a terminal no table is cut
at 80 columns, identifying columns are never truncated and a refusal is one row, one line.
(capsys stands in for the pipe: its stdout is not a terminal.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import run

import optimizer.cli.common as common
from export import zoo
from optimizer.medical import MedicalRun
from optimizer.medical_setup import key_name


@pytest.fixture(autouse=True)
def _ci_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # what CI runners and pytest-xdist workers set


def test_the_one_console_is_wide_off_a_terminal(capsys):
    assert common.console().width >= 200 and common.console(stderr=True).width >= 200


def test_medical_summary_names_every_schedule_in_full(capsys, tmp_path):
    """Before: every row read `original-g...` at 80 columns."""
    from optimizer.cli.example import _print_summary

    names = [key_name(v, s, o) for v in ("original", "rewritten")
             for s in ("gan_gan", "gan_yolo") for o in ("latency", "throughput")]
    summary = [{"name": n, "status": "optimal", "objective_ms": 3.25, "throughput_fps": 307.7,
                "gain_pct": 12.5, "best_baseline": "haxconn-style", "balanced": True,
                "run_ok": True} for n in names]
    _print_summary(MedicalRun(out_dir=Path(tmp_path), report={}), summary)
    out = capsys.readouterr().out
    for name in names:
        assert re.search(rf"\b{re.escape(name)}\b", out), (name, out)
    assert "…" not in out and "..." not in out
    rows = [ln for ln in out.splitlines() if "optimal" in ln]
    assert len(rows) == len(names)  # one line per schedule


def test_dla_refusal_is_one_line(capsys, tmp_path):
    """Before: the `dla` reasons wrapped into 8 lines."""
    path = tmp_path / "p2p.onnx"
    zoo.save("pix2pix", path, ngf=4)
    code, out, err = run(capsys, "dla", str(path), "--platform", "orin-agx",
                         "--trt-version", "10.3")
    assert code == 0, err
    row = [ln for ln in out.splitlines() if "deconv.padding" in ln]
    assert len(row) == 1
    assert "convtranspose_pad_to_crop" in row[0] and "[hdr 7.1-10.16]" in row[0]
    assert "dec8/convT, dec7/convT" in row[0]

"""`layerswap calibrate` and `solve --contention-model`: fit, save, use, refuse junk."""

from __future__ import annotations

import json

import pytest
from cli_helpers import run

from profiles.synthetic import synthetic_table
from solvers.model.contention import PiecewiseLinear

TRUE_DLA = PiecewiseLinear(((0.0, 0.0), (30.0, 0.15), (80.0, 0.35)))



def write_samples(path, curve=TRUE_DLA) -> None:
    lines = ["# co-run measurements: DLA victims beside GPU co-runners",
             "victim,standalone_ms,corun_ms,corunner_bw_gbps"]
    for i in range(12):
        bw = 5.0 + 7.0 * i
        standalone = 0.5 + 0.1 * (i % 3)
        lines.append(f"dla,{standalone},{standalone / (1 - curve(bw)):.9f},{bw}")
    path.write_text("\n".join(lines) + "\n")


def test_calibrate_recovers_the_curve_and_solve_uses_it(capsys, tmp_path):
    samples, model = tmp_path / "corun.csv", tmp_path / "contention.json"
    write_samples(samples)
    code, out, err = run(capsys, "calibrate", str(samples), "--breakpoints", "0,30,80",
                         "-o", str(model), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["fit"]["dla"]["samples"] == 12 and doc["fit"]["dla"]["rmse_k"] < 1e-6
    assert doc["fit"]["gpu"]["samples"] == 0  # kept from the preset
    fitted = dict(map(tuple, doc["fit"]["dla"]["curve"]))
    assert fitted[30.0] == pytest.approx(0.15, abs=1e-6)
    assert fitted[80.0] == pytest.approx(0.35, abs=1e-6)

    a = synthetic_table(6, seed=1, model="a").to_csv(tmp_path / "a.csv")
    b = synthetic_table(6, seed=2, model="b").to_csv(tmp_path / "b.csv")
    code, out, err = run(capsys, "solve", str(a), str(b), "--contention-model", str(model),
                         "--time-limit", "20", "--json")
    assert code == 0, err
    with_model = json.loads(out)
    code, out, _ = run(capsys, "solve", str(a), str(b), "--contention", "none",
                       "--time-limit", "20", "--json")
    without = json.loads(out)
    assert with_model["objective"] >= without["objective"] - 1e-9


def test_calibrate_text_output(capsys, tmp_path):
    samples = tmp_path / "corun.csv"
    write_samples(samples)
    code, out, _ = run(capsys, "calibrate", str(samples))
    assert code == 0 and "dla victims: 12 samples" in out and "gpu victims: no samples" in out


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("victim,standalone_ms\ngpu,1\n", "missing column(s) corun_ms"),
        ("victim,standalone_ms,corun_ms,corunner_bw_gbps\ncpu,1,2,3\n", "row 1: victim"),
        ("victim,standalone_ms,corun_ms,corunner_bw_gbps\n", "no samples"),
        ("victim,standalone_ms,corun_ms,corunner_bw_gbps\ngpu,1,0.5,3\ngpu,1,1.2,5\n",
         "contention cannot speed a segment up"),
        ("victim,standalone_ms,corun_ms,corunner_bw_gbps\ndla,1,nan,3\ndla,1,1.2,5\n",
         "corun_ms is nan"),
    ],
)
def test_bad_samples_are_one_line_errors(capsys, tmp_path, content, fragment):
    samples = tmp_path / "corun.csv"
    samples.write_text(content)
    code, out, err = run(capsys, "calibrate", str(samples))
    assert code == 1 and out == ""
    assert "corun.csv" in err and fragment in err and err.count("\n") == 1


def test_solve_refuses_a_file_that_is_not_a_contention_model(capsys, tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"format": "something else"}')
    code, _, err = run(capsys, "solve", "--contention-model", str(bad))
    assert code == 1 and "not a layerswap contention model" in err


def test_bad_breakpoints_are_a_command_line_error(capsys, tmp_path):
    samples = tmp_path / "s.csv"
    samples.write_text("victim,standalone_ms,corun_ms,corunner_bw_gbps\ngpu,1,1.1,20\n")
    code, out, err = run(capsys, "calibrate", str(samples), "--breakpoints", "0,x", "--json")
    assert code == 2 and "argument --breakpoints" in err
    assert json.loads(out)["exit_code"] == 2

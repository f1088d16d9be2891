"""Every subcommand driven through the CLI: help, success, bad input, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run, run_json

from optimizer.cli import build_parser, main
from profiles import load_published

REQUIRED_SOLVE_KEYS = {"status", "objective", "lower_bound", "solve_seconds", "solver", "models"}






def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in subcommands():
        assert name in out
    assert "exit codes" in out


@pytest.mark.parametrize("name", subcommands())
def test_every_subcommand_help_teaches_with_examples(capsys, name):
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "usage:" in out


def test_console_script_is_installed_and_runs():
    exe = shutil.which("layerswap", path=str(Path(sys.executable).parent) + os.pathsep
                       + os.environ.get("PATH", ""))
    assert exe, "the layerswap console script is not installed"
    proc = subprocess.run([exe, "tables", "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    names = {t["name"] for t in json.loads(proc.stdout)["tables"]}
    assert {"googlenet_xavier", "alexnet_xavier"} <= names


# ---------------------------------------------------------------------- solve
def test_solve_without_arguments_solves_the_default_pair_and_draws_it(capsys, tmp_path,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "solve")
    assert code == 0, err
    assert "googlenet" in out and "alexnet" in out
    assert "->" in out  # names a transition
    assert (tmp_path / "out" / "default_gantt.png").stat().st_size > 1000
    assert (tmp_path / "out" / "default_gantt.svg").exists()
    assert "wrote plot" in out


def test_solve_on_a_terminal_shows_the_solver_progress(capsys, monkeypatch):
    # stderr a terminal: the spinner line carries the backend's progress reports
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "solve", "--no-plot")
    assert code == 0, err
    assert "solving with cpsat" in err and "cpsat: objective" in err and " bound " in err
    assert "cpsat: objective" not in out


def test_no_plot_and_explicit_tables_write_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "solve", "--no-plot")[0] == 0
    assert run(capsys, "solve", "googlenet_xavier", "alexnet_xavier")[0] == 0
    assert not (tmp_path / "out").exists()


def test_solve_json_follows_the_contract(capsys):
    code, doc = run_json(capsys, "solve", "--time-limit", "20", "--no-plot")
    assert code == 0
    assert set(doc) >= REQUIRED_SOLVE_KEYS
    assert doc["status"] in {"optimal", "feasible"}
    assert doc["solver"] == "cpsat"
    assert doc["lower_bound"] <= doc["objective"] + 1e-9
    assert [m["name"] for m in doc["models"]] == ["googlenet", "alexnet"]
    for model in doc["models"]:
        segs = model["segments"]
        assert segs[0]["first_group"] == 0
        for seg in segs:
            assert seg["device"] in {"GPU", "DLA0", "DLA1"}
            assert seg["end_ms"] > seg["start_ms"] >= 0
    ends = [s["end_ms"] for m in doc["models"] for s in m["segments"]]
    assert max(ends) == pytest.approx(doc["objective"])


def test_solve_writes_schedule_and_plot_then_simulate_agrees(capsys, tmp_path):
    sched, plot = tmp_path / "s.json", tmp_path / "g.png"
    code, doc = run_json(capsys, "solve", "--objective", "throughput", "--time-limit", "20",
                         "-o", str(sched), "--plot", str(plot))
    assert code == 0
    assert sched.exists() and plot.exists() and plot.with_suffix(".svg").exists()
    assert doc["period_ms"] == pytest.approx(doc["objective"])
    code, sim = run_json(capsys, "simulate", str(sched))
    assert code == 0
    assert sim["objective"] == pytest.approx(doc["objective"], rel=1e-9)
    assert sim["period_ms"] == pytest.approx(doc["period_ms"], rel=1e-9)
    assert set(sim["busy_ms"]) == {"GPU", "DLA0", "DLA1"}
    code, out, _ = run(capsys, "simulate", str(sched))
    assert code == 0 and "googlenet" in out


def test_solve_on_csv_tables_with_every_option(capsys, tmp_path):
    a = load_published("googlenet_xavier").to_csv(tmp_path / "g.csv")
    b = load_published("alexnet_xavier").to_csv(tmp_path / "a.csv")
    code, doc = run_json(capsys, "solve", str(a), str(b), "--platform", "xavier-agx",
                         "--max-transitions", "1", "--weight", "alexnet=2",
                         "--pin", "googlenet:0-1:GPU", "--forbid", "alexnet:5-5:DLA1",
                         "--loadable-limit", "4", "--time-limit", "20")
    assert code == 0
    g = doc["models"][0]["segments"]
    assert g[0]["device"] == "GPU" and g[0]["last_group"] >= 1
    assert all(len(m["segments"]) <= 2 for m in doc["models"])


def test_gpu_only_platform_puts_everything_on_the_gpu(capsys):
    code, doc = run_json(capsys, "solve", "--platform", "gpu-only", "--time-limit", "20")
    assert code == 0
    assert {s["device"] for m in doc["models"] for s in m["segments"]} == {"GPU"}
    assert doc["objective"] == pytest.approx(1.72 + 1.79)


def test_infeasible_deadline_exits_3_with_status(capsys):
    code, doc = run_json(capsys, "solve", "--deadline", "googlenet=0.5", "--time-limit", "20")
    assert code == 3
    assert doc["status"] == "infeasible"
    assert doc["message"]


BAD_INPUT = [
    (["solve", "nope.csv"], "nope.csv: no such file and not a stored table"),
    (["solve", "--pin", "vgg:0-1:GPU"], "unknown model 'vgg'"),
    (["solve", "--pin", "googlenet:3-12:GPU"], "outside 0..9"),
    (["solve", "--contention", "preset"], "gpu_bw_gbps"),
    (["simulate", "missing.json"], "missing.json"),
    (["check", "nope"], "nope: no such file"),
]

# bad option values are command-line errors: exit 2, the option named as typed
BAD_OPTIONS = [
    (["solve", "--platform", "nano"], "argument --platform: unknown platform 'nano'"),
    (["solve", "--pin", "googlenet-0-3-GPU"], "argument --pin: 'googlenet-0-3-GPU'"),
    (["solve", "--pin", "googlenet:5-2:GPU"], "range 5-2 is reversed"),
    (["solve", "--weight", "googlenet"], "argument --weight: 'googlenet': expected MODEL=NUMBER"),
    (["solve", "--max-transitions", "-1"], "argument --max-transitions: expected a whole number"),
    (["solve", "--time-limit", "0"], "argument --time-limit: expected a finite number > 0"),
    (["solve", "--time-limit", "nan"], "argument --time-limit"),
    (["solve", "--frames-per-round", "0"], "argument --frames-per-round"),
    (["compare", "--solvers", "z3"], "argument --solvers: unknown z3"),
    (["ingest", "x.json", "--platform", "foo"], "argument --platform: unknown platform 'foo'"),
    (["solve", "--objective", "speed"], "argument --objective: invalid choice"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD_INPUT)
def test_bad_input_is_one_line_exit_1_no_traceback(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("layerswap: error: ")
    assert fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "fragment"), BAD_INPUT)
def test_bad_input_with_json_still_prints_one_object(capsys, argv, fragment):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 1
    doc = json.loads(out)  # exactly one object: json.loads refuses trailing data
    assert doc == {"error": err.removeprefix("layerswap: error: ").strip(), "exit_code": 1}
    assert fragment in doc["error"]


def test_malformed_table_names_file_and_row(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("# model: m\n# platform: xavier-agx\n# source: measured\n"
                   "group,gpu_ms,dla_ms,gpu_to_dla_ms,dla_to_gpu_ms\n0,0.1,nan,,\n")
    code, _, err = run(capsys, "solve", str(bad))
    assert code == 1
    assert "bad.csv" in err and "row 0" in err and "dla_ms is nan" in err


def test_simulate_refuses_a_json_that_is_not_a_schedule(capsys, tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    code, _, err = run(capsys, "simulate", str(path))
    assert code == 1 and "not a layerswap schedule file" in err


@pytest.mark.parametrize(("argv", "fragment"), BAD_OPTIONS)
def test_bad_option_values_exit_2_naming_the_option(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert fragment in err and "usage:" in err
    for python_name in ("time_limit", "max_transitions", "frames_per_round"):
        assert python_name not in err  # the option as typed (--time-limit)
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "fragment"), BAD_OPTIONS)
def test_bad_option_values_with_json_print_one_object(capsys, argv, fragment):
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 2
    doc = json.loads(out)
    assert set(doc) == {"error", "exit_code"} and doc["exit_code"] == 2
    assert fragment in doc["error"]


# ---------------------------------------------------------------------- compare, tables, check
def test_compare_tabulates_baselines_and_backends(capsys):
    code, doc = run_json(capsys, "compare", "--solvers", "cpsat", "--time-limit", "20")
    assert code == 0
    rows = {r["name"]: r for r in doc["rows"]}
    assert "cpsat" in rows
    assert any(r["kind"] == "baseline" for r in doc["rows"])
    best_baseline = min(r["objective"] for r in doc["rows"] if r["kind"] == "baseline")
    assert rows["cpsat"]["objective"] <= best_baseline + 1e-9
    code, out, _ = run(capsys, "compare", "--solvers", "cpsat", "--time-limit", "20")
    assert code == 0 and "cpsat" in out


def test_tables_and_check(capsys, tmp_path):
    code, doc = run_json(capsys, "tables")
    assert code == 0 and len(doc["tables"]) >= 2
    path = load_published("alexnet_xavier").to_csv(tmp_path / "a.csv")
    code, doc = run_json(capsys, "check", str(path), "googlenet_xavier")
    assert code == 0 and doc["valid"] and doc["tables"][0]["groups"] == 8
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0 and "ok" in out


def test_solve_with_a_placeholder_contention_preset_says_so(capsys, tmp_path):
    from profiles.synthetic import synthetic_table

    paths = [str(synthetic_table(4, seed=s, platform="orin-nx").to_csv(tmp_path / f"{s}.csv"))
             for s in (1, 2)]
    code, doc = run_json(capsys, "solve", *paths, "--platform", "orin-nx", "--time-limit", "10")
    assert code == 0
    assert doc["contention"]["placeholder"] is True and doc["contention"]["model"] == "orin-nx"
    assert any("placeholder" in w for w in doc["warnings"])
    code, out, _ = run(capsys, "solve", *paths, "--platform", "orin-nx", "--time-limit", "10")
    assert code == 0 and "warning:" in out and "placeholder" in out
    code, doc = run_json(capsys, "solve", *paths, "--platform", "orin-nx", "--contention",
                         "none", "--time-limit", "10")
    assert doc["contention"]["placeholder"] is False


def test_compare_off_a_terminal_prints_progress_lines_on_stderr_only(capsys, monkeypatch):
    """Issue 11: piped, compare was silent for 5-10 s. Progress goes to stderr, one line
    per step, and stdout still holds exactly the JSON object."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    code, out, err = run(capsys, "compare", "--solvers", "cpsat,sat", "--time-limit", "20",
                         "--json")
    assert code == 0
    json.loads(out)
    lines = err.splitlines()
    assert lines == ["layerswap: [1/3] running baselines", "layerswap: [2/3] solving with cpsat",
                     "layerswap: [3/3] solving with sat"]


def test_compare_defaults_agree_between_cli_and_api():
    import inspect

    from optimizer import api

    parser = build_parser()
    compare = next(a for a in parser._actions if a.dest == "command").choices["compare"]
    cli_default = next(a for a in compare._actions if a.dest == "solvers").default
    api_default = inspect.signature(api.compare).parameters["solvers"].default
    assert cli_default.split(",") == list(api_default) == ["cpsat", "ilp", "sat"]


def test_compare_json_has_the_disagreement_field(capsys):
    code, doc = run_json(capsys, "compare", "--solvers", "cpsat,sat", "--time-limit", "20")
    assert code == 0 and doc["disagreement"] == []
    from optimizer.cli.solve import _disagreement_text

    text = _disagreement_text({"solvers": ["cpsat", "ilp"], "objectives": [310.86, 412.96],
                               "relative_difference": 0.2472})
    assert text.startswith("cpsat and ilp both claim optimal but disagree: 310.86 vs 412.96")


def test_transitions_use_one_convention_in_text_and_json(capsys, tmp_path):
    """Issue 11: text said 'after layer 80', JSON 'before 81' as a string. Now both say
    'after layer N' and JSON has structured {after_layer, after_group, from, to, cost_ms}."""
    sched = tmp_path / "s.json"
    code, doc = run_json(capsys, "solve", "--time-limit", "20", "--no-plot", "-o", str(sched))
    assert code == 0
    code, out, _ = run(capsys, "solve", "--time-limit", "20", "--no-plot")
    table = {m: load_published(f"{m}_xavier") for m in ("googlenet", "alexnet")}
    cuts = 0
    for model in doc["models"]:
        segs = model["segments"]
        assert len(model["transitions"]) == len(segs) - 1
        for t, a, b in zip(model["transitions"], segs, segs[1:], strict=False):
            row = table[model["name"]].rows[a["last_group"]]
            assert t == {"after_layer": row.last_layer, "after_group": a["last_group"],
                         "from": a["device"], "to": b["device"], "cost_ms": t["cost_ms"],
                         "fallback": False}
            assert t["cost_ms"] > 0
            assert f"{t['from']} -> {t['to']} after layer {t['after_layer']}" in out
            cuts += 1
        assert model["transition_layers"] == [
            f"{t['from']}->{t['to']} after layer {t['after_layer']}" for t in model["transitions"]]
    assert cuts and "before" not in out
    code, sim = run_json(capsys, "simulate", str(sched))
    assert [m["transitions"] for m in sim["models"]] == [m["transitions"] for m in doc["models"]]


def test_tables_naming_the_same_model_warn_and_can_be_named(capsys):
    """Issue 11: two tables of one model were silently renamed name-1, name-2, and options
    naming the model then failed. Now: a warning, and NAME=TABLE names them."""
    code, doc = run_json(capsys, "solve", "googlenet_xavier", "googlenet_xavier",
                         "--no-plot", "--time-limit", "20")
    assert code == 0
    assert [m["name"] for m in doc["models"]] == ["googlenet-1", "googlenet-2"]
    assert any("renamed googlenet -> googlenet-1" in w and "NAME=TABLE" in w
               for w in doc["warnings"])
    code, _, err = run(capsys, "solve", "googlenet_xavier", "googlenet_xavier",
                         "--pin", "googlenet:0-9:GPU", "--no-plot")
    assert code == 1 and "NAME=TABLE" in err
    code, doc = run_json(capsys, "solve", "left=googlenet_xavier", "right=googlenet_xavier",
                         "--pin", "left:0-9:GPU", "--weight", "right=2", "--no-plot",
                         "--time-limit", "20")
    assert code == 0, doc
    assert [m["name"] for m in doc["models"]] == ["left", "right"]
    assert not any("renamed" in w for w in doc["warnings"])
    left = doc["models"][0]["segments"]
    assert [s["device"] for s in left] == ["GPU"]  # the pin reached the named model
    code, _, err = run(capsys, "solve", "=googlenet_xavier", "--no-plot")
    assert code == 1 and "NAME=TABLE" in err

"""The CLI's answer to a refuted solver claim (exit 6, one line) and `--time-limit auto`."""

from __future__ import annotations

import argparse
import json

import pytest

from optimizer.cli import main
from optimizer.cli.common import EXIT_INTERNAL, run_command, time_limit
from solvers.errors import BackendClaimError


def _claiming(args: argparse.Namespace) -> int:
    raise BackendClaimError("ilp", "optimal 412.960000 ms", "the greedy hint has 310.86 ms")


@pytest.mark.parametrize("as_json", [False, True])
def test_a_refuted_claim_is_one_internal_error_line(as_json, capsys):
    code = run_command(argparse.Namespace(func=_claiming, json=as_json))
    out, err = capsys.readouterr()
    assert code == EXIT_INTERNAL == 6
    assert err.strip().splitlines() == [
        "layerswap: internal error: backend ilp claimed optimal 412.960000 ms but the greedy "
        "hint has 310.86 ms; please report it with the input tables"]
    if as_json:
        assert json.loads(out) == {"error": err.strip()[len("layerswap: "):],
                                   "exit_code": 6}
    else:
        assert out == ""


def test_other_runtime_errors_keep_their_traceback():
    def buggy(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_command(argparse.Namespace(func=buggy, json=False))


def test_time_limit_values():
    assert time_limit("auto") == "auto"
    assert time_limit("AUTO") == "auto"
    assert time_limit("2.5") == 2.5
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(argparse.ArgumentTypeError):
            time_limit(bad)


def test_solve_defaults_to_auto_and_reports_whether_more_time_may_help(capsys):
    assert main(["solve", "--json", "--no-plot"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "optimal"
    assert doc["more_time_may_help"] is False and doc["advice"] is None


def test_a_cut_search_says_more_time_may_help(capsys, tmp_path):
    # 4 models x 30 groups are not proven optimal in 0.3 s (benchmarks/results/solvers.md)
    from profiles.synthetic import synthetic_table

    paths = []
    for i in range(4):
        path = tmp_path / f"m{i}.csv"
        synthetic_table(30, seed=i, model=f"m{i}").to_csv(path)
        paths.append(str(path))
    code = main(["solve", *paths, "--time-limit", "0.3", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    if doc["status"] == "optimal":  # a very fast machine proved it: nothing to advise
        assert doc["more_time_may_help"] is False
    else:
        assert doc["more_time_may_help"] is True
        assert "time limit" in doc["advice"] and "0.3 s" in doc["advice"]


def test_time_limit_zero_is_a_command_line_error(capsys):
    assert main(["solve", "--time-limit", "0", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["exit_code"] == 2


def test_the_cli_bounds_are_the_solvers_bounds():
    """The CLI copies two bounds to keep --help fast; they must stay the solvers' own."""
    from optimizer.cli import common
    from solvers.backends.base import MAX_WORKERS
    from solvers.model.problem import MAX_FRAMES_PER_ROUND

    assert common.MAX_WORKERS == MAX_WORKERS
    assert common.MAX_FRAMES == MAX_FRAMES_PER_ROUND

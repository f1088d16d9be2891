"""`layerswap plot gantt|pareto|solve-times` through the CLI."""

from __future__ import annotations

import json

from cli_helpers import run

from optimizer.cli import main


def test_plot_gantt_of_a_saved_schedule(capsys, tmp_path):
    sched = tmp_path / "s.json"
    assert main(["solve", "--time-limit", "20", "-o", str(sched), "--json"]) == 0
    capsys.readouterr()
    code, out, err = run(capsys, "plot", "gantt", str(sched), "-o", str(tmp_path / "g.png"),
                         "--json")
    assert code == 0, err
    written = json.loads(out)["written"]
    assert sorted(p[-3:] for p in written) == ["png", "svg"]
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_plot_pareto_over_max_transitions(capsys, tmp_path):
    code, out, err = run(capsys, "plot", "pareto", "--max-transitions", "0,1", "--time-limit",
                         "20", "-o", str(tmp_path / "p.png"), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert [p["max_transitions"] for p in doc["points"]] == [0, 1]
    assert doc["points"][1]["latency_ms"] <= doc["points"][0]["latency_ms"] + 1e-9
    assert (tmp_path / "p.svg").exists()
    # the deprecated --budgets still means the same
    code, out, err = run(capsys, "plot", "pareto", "--budgets", "0,1", "--time-limit", "20",
                         "-o", str(tmp_path / "q.png"), "--json")
    assert code == 0, err
    assert [p["max_transitions"] for p in json.loads(out)["points"]] == [0, 1]


def test_plot_pareto_honours_max_transitions_and_the_problem_options(capsys, tmp_path):
    """Issue 11: --max-transitions (and the pins) changed nothing; --objective is refused
    with a reason because the front needs both objectives."""
    def points(*extra: str) -> list[dict]:
        code, out, err = run(capsys, "plot", "pareto", "--time-limit", "20",
                             "-o", str(tmp_path / "p.png"), "--json", *extra)
        assert code == 0, err
        return json.loads(out)["points"]

    one = points("--max-transitions", "2")
    assert [p["max_transitions"] for p in one] == [2]
    pinned = points("--max-transitions", "2", "--pin", "googlenet:0-9:GPU",
                    "--pin", "alexnet:0-7:GPU")
    assert pinned[0]["latency_ms"] > one[0]["latency_ms"]  # everything on the GPU is slower
    code, out, _ = run(capsys, "plot", "pareto", "--objective", "throughput",
                         "-o", str(tmp_path / "p.png"), "--json")
    assert code == 2 and "drop --objective" in json.loads(out)["error"]


def test_plot_pareto_rejects_bad_max_transitions(capsys, tmp_path):
    code, _, err = run(capsys, "plot", "pareto", "--max-transitions", "one",
                       "-o", str(tmp_path / "p"))
    assert code == 2 and "argument --max-transitions" in err


def test_plot_solve_times_from_records(capsys, tmp_path):
    records = [{"case": f"2x{g}", "groups": g, "models": 2, "objective": "latency",
                "solver": "cpsat", "status": "optimal", "solve_seconds": 0.01 * g}
               for g in (10, 20, 30)]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"records": records}))
    code, out, err = run(capsys, "plot", "solve-times", str(path), "-o", str(tmp_path / "t.png"))
    assert code == 0, err
    assert "wrote" in out and (tmp_path / "t.svg").exists()


def test_plot_solve_times_refuses_non_records(capsys, tmp_path):
    path = tmp_path / "r.json"
    path.write_text("[]")
    code, _, err = run(capsys, "plot", "solve-times", str(path), "-o", str(tmp_path / "t.png"))
    assert code == 1 and "no benchmark records" in err
    path.write_text("{not json")
    code, _, err = run(capsys, "plot", "solve-times", str(path), "-o", str(tmp_path / "t.png"))
    assert code == 1 and "not JSON" in err

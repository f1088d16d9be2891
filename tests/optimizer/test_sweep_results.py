"""`layerswap results`: best configuration per model set and per platform, SQL queries
(read-only), filters, figures and Parquet export, on a database of real solves (three tiny
models with a table for each of two platforms, solved in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from optimizer.sweep import db, expand, load_spec, read_frame
from optimizer.sweep.results import best_by_pair, found
from optimizer.sweep.task import run_point
from tests.optimizer.cli_helpers import run
from tests.optimizer.sweep_helpers import write_spec, write_tables


@pytest.fixture(scope="module")
def results_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("results")
    (folder / "x").mkdir()
    (folder / "o").mkdir()
    write_tables(folder / "x", 3, platform="xavier-agx")
    write_tables(folder / "o", 3, platform="orin-agx")
    models = "".join(f't{i} = {{ xavier-agx = "x/t{i}.csv", orin-agx = "o/t{i}.csv" }}\n'
                     for i in range(3))
    spec = write_spec(folder, f"""name = "two-boards"
[models]
{models}
[axes]
platforms = ["xavier-agx", "orin-agx"]
objectives = ["latency", "throughput"]
max_transitions = [1, 2]
""")
    plan = expand(load_spec(spec))
    path = folder / "r.db"
    conn = db.connect(path)
    for point in plan.points:  # the executors have their own tests: solve in-process
        assert db.insert_row(conn, {**run_point(point), "sweep": "two-boards"})
    conn.close()
    return path


def test_best_by_pair_is_the_lowest_objective_of_each_set(results_db, capsys):
    code, out, err = run(capsys, "results", str(results_db), "--best-by", "pair", "--json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    frame = found(read_frame(results_db))
    assert len(rows) == 3 * 2  # pairs x objectives
    for r in rows:
        same = frame[(frame["models"] == r["models"]) & (frame["objective"] == r["objective"])]
        assert r["objective_ms"] == same["objective_ms"].min()
        other = same[same["platform"] != r["platform"]]["objective_ms"].min()
        assert r["runner_up"] != r["platform"]
        assert r["margin_pct"] == pytest.approx((other - r["objective_ms"]) / other * 100,
                                                abs=0.006)


def test_best_by_platform_adds_up(results_db, capsys):
    code, out, err = run(capsys, "results", str(results_db), "--best-by", "platform",
                         "--json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    frame = read_frame(results_db)
    assert {(r["platform"], r["objective"]) for r in rows} == {
        (p, o) for p in ("orin-agx", "xavier-agx") for o in ("latency", "throughput")}
    assert sum(r["points"] for r in rows) == len(frame) == 24
    assert sum(r["best_for_sets"] for r in rows) == len(best_by_pair(frame)) == 6
    for r in rows:
        mine = frame[(frame["platform"] == r["platform"]) & (frame["objective"] ==
                                                             r["objective"])]
        assert r["best_gain_pct"] == pytest.approx(mine["gain_pct"].max(), abs=0.006)


def test_query_where_and_read_only(results_db, capsys):
    code, out, _ = run(capsys, "results", str(results_db), "--query",
                       "SELECT models, COUNT(*) AS n FROM points GROUP BY models", "--json")
    assert code == 0
    assert {r["models"]: r["n"] for r in json.loads(out)["rows"]} == {
        "t0+t1": 8, "t0+t2": 8, "t1+t2": 8}
    code, out, _ = run(capsys, "results", str(results_db), "--where",
                       "platform = 'orin-agx'", "--json")
    assert code == 0 and json.loads(out)["points"] == 12
    code, _, err = run(capsys, "results", str(results_db), "--query", "DELETE FROM points")
    assert code == 1 and "readonly" in err and err.count("\n") == 1
    assert len(read_frame(results_db)) == 24
    code, _, err = run(capsys, "results", str(results_db), "--where", "nosuch = 1")
    assert code == 1 and "nosuch" in err


@pytest.mark.parametrize("kind", ["heatmap", "pareto", "scaling"])
def test_plots_are_written(results_db, tmp_path, capsys, kind):
    code, out, err = run(capsys, "results", str(results_db), "--plot", kind, "-o",
                         str(tmp_path / f"{kind}.png"), "--json")
    assert code == 0, err
    written = json.loads(out)["written"]["plot"]
    assert [Path(p).suffix for p in written] == [".png", ".svg"]
    assert all(Path(p).stat().st_size > 1000 for p in written)


def test_a_plot_without_its_data_says_why(results_db, tmp_path, capsys):
    code, _, err = run(capsys, "results", str(results_db), "--where", "objective = 'latency'",
                       "--plot", "pareto", "-o", str(tmp_path / "p.png"))
    assert code == 1 and "latency and throughput points" in err
    code, _, err = run(capsys, "results", str(results_db), "--plot", "heatmap")
    assert code == 2 and "-o FILE" in err


def test_parquet_export_round_trips(results_db, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    target = tmp_path / "all.parquet"
    code, _, err = run(capsys, "results", str(results_db), "--parquet", str(target))
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_parquet(target), read_frame(results_db))


def test_a_file_that_is_not_a_results_database_is_one_line(tmp_path, capsys):
    bogus = tmp_path / "x.db"
    bogus.write_text("not sqlite")
    code, _, err = run(capsys, "results", str(bogus))
    assert code == 1 and "not a layerswap results database" in err
    code, _, err = run(capsys, "results", str(tmp_path / "missing.db"))
    assert code == 1 and "no such results database" in err

"""Running sweeps: the local pool and a local Ray instance (2 CPUs) give the same rows; kill
-9 then --resume loses and duplicates nothing; Ctrl-C keeps what is done; two sweeps share
one database; a failing point is recorded and the sweep goes on; each row says what the
solver, the simulator and the baselines say."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from optimizer.sweep import expand, load_spec, read_frame
from optimizer.sweep.db import TIMING_COLUMNS
from optimizer.sweep.task import run_point
from tests.optimizer.cli_helpers import run
from tests.optimizer.sweep_helpers import (
    cli,
    count_rows,
    models_block,
    sixty_point_spec,
    write_spec,
    write_tables,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _comparable(db: Path) -> pd.DataFrame:
    frame = read_frame(db).drop(columns=list(TIMING_COLUMNS))
    return frame.sort_values("point_id").reset_index(drop=True)


def _same_proven_rows(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Assert both hold the same points and equal rows where both proved optimality;
    returns how many rows were compared."""
    assert list(a["point_id"]) == list(b["point_id"])
    proven = (a["status"] == "optimal") & (b["status"] == "optimal")
    cols = [c for c in a.columns if c not in ("lower_bound_ms", "gap")]
    pd.testing.assert_frame_equal(a.loc[proven, cols], b.loc[proven, cols])
    return int(proven.sum())


def test_sixty_points_local_pool_ray_and_kill_9_then_resume_give_the_same_rows(
        tmp_path, capsys):
    """One test, so that the reference run is made once (not once per xdist worker)."""
    spec = sixty_point_spec(tmp_path)
    local = tmp_path / "local.db"
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(local), "--workers", "2",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["written"] == 60
    reference = _comparable(local)

    # the same sweep on a local Ray instance with 2 CPUs
    if importlib.util.find_spec("ray") is not None:  # the tests extra brings it
        ray_db = tmp_path / "ray.db"
        code, out, err = run(capsys, "sweep", str(spec), "-o", str(ray_db), "--executor",
                             "ray", "--workers", "2", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["executor"] == "ray" and doc["ran"] == doc["written"] == 60
        assert _same_proven_rows(reference, _comparable(ray_db)) >= 50
        workers = read_frame(ray_db)["worker"].str.split(":").str[1].unique()
        assert str(os.getpid()) not in workers  # ran in Ray's worker processes
    elif os.environ.get("CI"):
        pytest.fail("ray is not installed in CI; the tests extra must bring it")

    # kill -9 in the middle, then --resume: nothing lost, nothing twice
    db = tmp_path / "killed.db"
    proc = cli("sweep", str(spec), "-o", str(db), "--workers", "2", cwd=tmp_path,
               start_new_session=True)  # its own process group: the pool dies with it
    try:
        deadline = time.monotonic() + 180
        while count_rows(db) < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    kept = count_rows(db)
    assert 3 <= kept < 60, kept
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    code, out, err = run(capsys, "sweep", str(spec), "-o", str(db), "--resume",
                         "--workers", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["already_done"] == kept and doc["ran"] == doc["written"] == 60 - kept
    frame = read_frame(db)
    assert len(frame) == 60 and frame["point_id"].is_unique
    assert set(frame["point_id"]) == {p.point_id for p in expand(load_spec(spec)).points}
    assert _same_proven_rows(reference, _comparable(db)) >= 50

    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(db), "--resume", "--json")
    assert code == 0 and json.loads(out)["ran"] == 0  # nothing left to do
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(db))  # without --resume
    assert code == 1 and "--resume" in err and "60 of the 60" in err
    assert count_rows(db) == 60


def _small(tmp_path: Path, name: str, text: str) -> Path:
    names = write_tables(tmp_path, 4)
    return write_spec(tmp_path, f'name = "{name}"\n' + models_block(names) + text,
                      f"{name}.toml")


def test_ctrl_c_keeps_what_is_done_and_exits_130(tmp_path):
    spec = _small(tmp_path, "ctrlc", "[axes]\nobjectives = [\"latency\", \"throughput\"]\n"
                                     "max_transitions = [0, 1, 2, 3]\n")
    db = tmp_path / "r.db"
    proc = cli("sweep", str(spec), "-o", str(db), "--workers", "2", "--json", cwd=tmp_path,
               start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while count_rows(db) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends: the group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "layerswap: interrupted"
    assert "Traceback" not in err
    doc = json.loads(out)
    assert doc["error"] == "interrupted" and doc["exit_code"] == 130
    kept = count_rows(db)
    assert doc["written"] == kept and 2 <= kept < doc["points"] == 48


def test_two_sweeps_into_one_database_neither_corrupt_nor_duplicate(tmp_path):
    a = _small(tmp_path, "a", "[axes]\nmax_transitions = [0, 1]\n")
    b = _small(tmp_path, "b", "[axes]\nmax_transitions = [1, 2]\n")  # shares T = 1
    db = tmp_path / "shared.db"
    procs = [cli("sweep", str(s), "-o", str(db), "--workers", "1", "--json", cwd=tmp_path)
             for s in (a, b)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    docs = [json.loads(o) for o, _ in outs]
    assert [d["points"] for d in docs] == [12, 12]
    frame = read_frame(db)
    assert len(frame) == 18 and frame["point_id"].is_unique  # 6 pairs x T in {0, 1, 2}
    assert sum(d["written"] for d in docs) == 18  # a shared point is written once
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0] == 2


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    names = write_tables(tmp_path, 2)
    spec = write_spec(tmp_path, models_block(names) + """
[axes]
objectives = ["latency", "throughput"]
[settings]
frames_per_round = 500
""")
    db = tmp_path / "r.db"
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(db), "--workers", "1",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["statuses"] == {"error": 1, "optimal": 1}
    frame = read_frame(db).set_index("objective")
    assert frame.loc["throughput", "status"] == "error"
    assert "ProblemError" in frame.loc["throughput", "error"]
    assert "frames_per_round" in frame.loc["throughput", "error"]
    assert frame.loc["latency", "status"] == "optimal"
    # --resume skips it, --retry-errors runs it (and only it) again
    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(db), "--resume", "--json")
    assert code == 0 and json.loads(out)["ran"] == 0
    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(db), "--resume",
                       "--retry-errors", "--workers", "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["already_done"] == 1 and doc["ran"] == doc["written"] == 1
    assert len(read_frame(db)) == 2


def test_without_ray_the_executor_names_the_extra(tmp_path, capsys, monkeypatch):
    names = write_tables(tmp_path, 2)
    spec = write_spec(tmp_path, models_block(names))
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "r.db"),
                         "--executor", "ray", "--json")
    assert code == 1
    assert err.count("\n") == 1 and '.[ray]' in err
    assert json.loads(out)["exit_code"] == 1


def test_a_row_says_what_the_solver_the_simulator_and_the_baselines_say(tmp_path):
    from optimizer import api
    from solvers import Device, Schedule

    names = write_tables(tmp_path, 2, groups=4)
    spec = write_spec(tmp_path, models_block(names) + """
[axes]
objectives = ["throughput"]
contention = ["on"]
max_transitions = [2]
time_limits = [2]
""")
    (point,) = expand(load_spec(spec)).points
    row = run_point(point)
    assert row["status"] in ("optimal", "feasible"), row.get("error")
    problem = api.make_problem([tmp_path / "t0.csv", tmp_path / "t1.csv"], "xavier-agx",
                               "throughput", 2, "preset")
    timeline = api.simulate(problem, Schedule.from_dict(json.loads(row["schedule_json"])))
    assert timeline.objective_ms == pytest.approx(row["objective_ms"], rel=1e-9)
    assert row["simulated_ms"] == pytest.approx(row["objective_ms"], rel=1e-9)
    assert row["fps"] == pytest.approx(timeline.throughput_fps, rel=1e-9)
    assert row["busy_gpu_ms"] == pytest.approx(timeline.busy_ms[Device.GPU], rel=1e-9)
    baselines = api.compare(problem, solvers=[])
    best = baselines.sort_values(["objective", "name"]).iloc[0]
    assert (row["best_baseline"], row["best_baseline_ms"]) == (best["name"], best["objective"])
    gain = (best["objective"] - row["objective_ms"]) / best["objective"] * 100
    assert row["gain_pct"] == pytest.approx(round(gain, 2), abs=0.006)
    assert row["contention"] == "on" and row["models"] == "t0+t1"
    assert json.loads(row["tables_json"])[0]["sha256"] == point.digests[0]

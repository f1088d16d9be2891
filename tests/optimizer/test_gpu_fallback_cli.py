"""GPU fallback from the command line and the API (docs/model.md 2.1): `solve
--gpu-fallback`, the three fallback rows of `compare`, `api.fallback_comparison`, and the
Gantt chart's fallback pieces."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run, run_json

from optimizer import api
from optimizer.plots import artists_with_gid
from profiles.costtable import CostTable, GroupCost
from solvers.model.problem import Device, Problem
from solvers.model.schedule import Schedule, Segment, SolveStatus

LIMIT = "20"


def _gan_table() -> CostTable:
    """Five groups; group 2 (a padded ConvTranspose, say) the DLA refuses."""
    rows = [GroupCost(group=g, gpu_ms=0.5, dla_ms=None if g == 2 else 0.3,
                      gpu_to_dla_ms=None if g in (1, 4) else 0.02,
                      dla_to_gpu_ms=None if g in (2, 4) else 0.03,
                      first_layer=f"conv{g}", last_layer=f"conv{g}", layers=1)
            for g in range(5)]
    return CostTable.build(rows, {"model": "gan", "platform": "xavier-agx",
                                  "source": "synthetic"})


@pytest.fixture
def gan_csv(tmp_path: Path) -> str:
    path = tmp_path / "gan.csv"
    _gan_table().to_csv(path)
    return str(path)


def test_solve_with_gpu_fallback_reports_pieces_and_switches(capsys, gan_csv: str) -> None:
    code, doc = run_json(capsys, "solve", gan_csv, "googlenet_xavier", "--max-transitions",
                         "0", "--gpu-fallback", "gan", "--contention", "none",
                         "--time-limit", LIMIT)
    assert code == 0 and doc["status"] == "optimal"
    gan = next(m for m in doc["models"] if m["name"] == "gan")
    assert gan["gpu_fallback"] is True and gan["switches"] == 0
    flags = [s["fallback"] for s in gan["segments"]]
    # with no switch allowed, gan reaches the DLA (1.75 ms there against 2.5 ms on the
    # GPU, beside GoogleNet) only as one DLA segment spanning its refused group 2
    assert [s["device"] for s in gan["segments"]] == ["DLA0", "GPU", "DLA0"]
    assert flags == [False, True, False]
    assert [t["fallback"] for t in gan["transitions"]] == [True, True]
    google = next(m for m in doc["models"] if m["name"] == "googlenet")
    assert google["gpu_fallback"] is False


def test_saved_fallback_schedule_simulates_the_same(capsys, gan_csv: str,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    code, doc = run_json(capsys, "solve", gan_csv, "--max-transitions", "0",
                         "--gpu-fallback", "--contention", "none", "--time-limit", LIMIT,
                         "-o", str(path))
    assert code == 0
    code, sim = run_json(capsys, "simulate", str(path))
    assert code == 0 and sim["objective"] == pytest.approx(doc["objective"])
    assert [m["transitions"] for m in sim["models"]] == [m["transitions"] for m in doc["models"]]


def test_bad_gpu_fallback_requests_fail_in_one_line(capsys, gan_csv: str) -> None:
    code, _, err = run(capsys, "solve", gan_csv, "--gpu-fallback", "nope")
    assert code == 1 and "unknown model(s) nope" in err and err.strip().count("\n") == 0
    code, _, err = run(capsys, "solve", gan_csv, "--gpu-fallback", "--platform", "gpu-only")
    assert code == 1 and "no DLA core" in err
    code, doc = run_json(capsys, "solve", gan_csv, "--gpu-fallback", "--solver", "ilp")
    assert code != 0 and "does not model GPU fallback" in doc["error"]


def test_compare_shows_tensorrt_build_and_both_optima(capsys, gan_csv: str) -> None:
    code, doc = run_json(capsys, "compare", gan_csv, "googlenet_xavier", "--contention",
                         "none", "--max-transitions", "1", "--solvers", "cpsat",
                         "--time-limit", LIMIT)
    assert code == 0
    rows = {r["name"]: r for r in doc["rows"]}
    trt, allowed = rows["as TensorRT builds it"], rows["cpsat, GPU fallback allowed"]
    forbidden = rows["cpsat, GPU fallback forbidden"]
    assert trt["kind"] == "baseline" and allowed["kind"] == forbidden["kind"] == "solver"
    assert allowed["status"] == forbidden["status"] == "optimal"
    # more freedom never hurts; the optimum with fallback never loses to TensorRT's build
    assert allowed["objective"] <= forbidden["objective"] * (1 + 1e-9)
    assert allowed["objective"] <= trt["objective"] * (1 + 1e-9)
    # the problem as given forbids fallback: its cpsat row is the forbidden optimum
    assert rows["cpsat"]["objective"] == pytest.approx(forbidden["objective"])
    code, doc = run_json(capsys, "compare", gan_csv, "--contention", "none", "--solvers",
                         "cpsat", "--time-limit", LIMIT, "--no-fallback-rows")
    assert "as TensorRT builds it" not in {r["name"] for r in doc["rows"]}


def test_compare_leaves_fallback_out_when_nothing_is_refused() -> None:
    problem = api.make_problem(["googlenet_xavier", "alexnet_xavier"])
    assert not api.fallback_matters(problem)


def test_fallback_comparison_for_the_report() -> None:
    problem = api.make_problem([_gan_table(), "googlenet_xavier"], contention="none",
                               max_transitions=0)
    out = api.fallback_comparison(problem, time_limit=20)
    assert list(out) == ["baseline_with_fallback", "optimum_with_fallback",
                         "optimum_without_fallback"]
    assert out["optimum_with_fallback"].status is SolveStatus.OPTIMAL
    assert (out["optimum_with_fallback"].objective
            <= out["optimum_without_fallback"].objective * (1 + 1e-9))
    # with no switch, TensorRT's build may only put gan whole on a core with fallback;
    # without fallback gan cannot touch the DLA at all
    without = out["optimum_without_fallback"].schedule.segments[0]
    assert without == (Segment(0, 4, Device.GPU),)
    # ... so here fallback is what lets gan use the DLA at all, and it pays
    assert (out["optimum_with_fallback"].objective
            < out["optimum_without_fallback"].objective * (1 - 1e-6))
    assert out["optimum_with_fallback"].objective <= (
        out["baseline_with_fallback"].objective * (1 + 1e-9))


def test_gantt_draws_fallback_on_the_gpu_lane(tmp_path: Path) -> None:
    problem = Problem.create([_gan_table()], "xavier-agx", max_transitions=0,
                             contention="none", gpu_fallback="all")
    segs = (Segment(0, 1, Device.DLA0), Segment(2, 2, Device.GPU), Segment(3, 4, Device.DLA0))
    fig = api.gantt(problem, Schedule((segs,)), tmp_path / "g.png")
    marks = list(artists_with_gid(fig, "fallback:"))
    assert [m.get_gid() for m in marks] == ["fallback:0:1"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.split("\n")[-1].startswith("fallback ") for t in texts)  # its layers follow
    gpu_row = 0  # devices are drawn GPU first
    assert marks[0].get_y() == pytest.approx(gpu_row - 0.3)
    assert (tmp_path / "g.svg").exists()
    text = api.render(problem, Schedule((segs,)))
    assert "groups 2-2 on GPU (GPU fallback)" in text and "0 switch(es)" in text


def test_api_compare_adds_fallback_rows_only_when_asked() -> None:
    problem = api.make_problem([_gan_table(), "googlenet_xavier"], contention="none",
                               max_transitions=1)
    assert api.fallback_matters(problem)
    plain = api.compare(problem, solvers=("cpsat",), time_limit=20)
    assert not set(api.FALLBACK_ROWS.values()) & set(plain["name"])
    results: dict = {}
    rows = api.compare(problem, solvers=("cpsat",), time_limit=20, fallback=True,
                       results=results)
    assert list(rows["name"])[-3:] == list(api.FALLBACK_ROWS.values())
    assert results["as TensorRT builds it"].solver == "baseline:tensorrt_fallback"

"""The notebook façade: tables, problems, compare table, sweeps, Pareto front."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd
import pytest

from optimizer import api
from profiles import ProfileError, load_published
from profiles.synthetic import synthetic_table
from solvers.errors import ProblemError
from solvers.heuristics.baselines import run_baselines
from solvers.judges.simulator import simulate

PAIR = ["googlenet_xavier", "alexnet_xavier"]
LIMIT = 30.0  # seconds; these problems solve to optimality in well under a second


# ---------------------------------------------------------------------- tables, problems
def test_load_table_by_stored_name_and_by_path(tmp_path: Path) -> None:
    assert {"googlenet_xavier", "alexnet_xavier"} <= set(api.stored_tables())
    stored = api.load_table("googlenet_xavier")
    assert stored == load_published("googlenet_xavier")
    path = stored.to_csv(tmp_path / "g.csv")
    from_file = api.load_table(path)
    assert from_file.rows == stored.rows
    assert api.load_table(str(path)).rows == stored.rows
    with pytest.raises(ProfileError, match="googlenet_xavier"):
        api.load_table("no_such_table")


def test_make_problem_from_names_with_options() -> None:
    problem = api.make_problem(PAIR, objective="throughput", max_transitions=1,
                               frames_per_round=2)
    assert [m.name for m in problem.models] == ["googlenet", "alexnet"]
    assert problem.max_transitions == 1 and len(problem.jobs) == 4
    assert not problem.contention.enabled  # stored tables have no bandwidth columns
    assert any("no bandwidth" in w for w in problem.warnings)


def test_strength_needs_bandwidth_and_scales_the_preset() -> None:
    with pytest.raises(ProblemError, match="gpu_bw_gbps"):
        api.make_problem(PAIR, strength=1.0)
    tables = [api.assume_bandwidth(n, 40.0, 15.0, note="test") for n in PAIR]
    assert "assumed" in tables[0].metadata["bandwidth_assumption"]
    assert all(r.gpu_bw_gbps == 40.0 and r.dla_bw_gbps == 15.0 for r in tables[0].rows)
    one = api.make_problem(tables, strength=1.0)
    two = api.make_problem(tables, strength=2.0)
    off = api.make_problem(tables, strength=0.0)
    assert one.contention.enabled and one.contention.strength == 1.0
    assert two.contention.strength == 2.0
    assert not off.contention.enabled
    k1 = one.loss_rate(0, "GPU", 1, "DLA0", 0, 0)
    assert 0 < k1 < two.loss_rate(0, "GPU", 1, "DLA0", 0, 0) <= two.contention.k_max
    with pytest.raises(ProfileError, match="gpu_gbps"):
        api.assume_bandwidth("alexnet_xavier", -1.0, 10.0)


def test_assume_bandwidth_leaves_dla_ineligible_groups_without_dla_bandwidth() -> None:
    table = synthetic_table(12, seed=3, ineligible_fraction=0.4, bandwidth=False)
    out = api.assume_bandwidth(table, 30.0, 10.0)
    for before, after in zip(table.rows, out.rows, strict=True):
        assert after.dla_bw_gbps == (None if before.dla_ms is None else 10.0)
        assert (after.gpu_ms, after.dla_ms) == (before.gpu_ms, before.dla_ms)


# ---------------------------------------------------------------------- compare
def test_compare_agrees_with_solve_and_baselines() -> None:
    problem = api.make_problem(PAIR)
    results: dict = {}
    frame = api.compare(problem, solvers=("cpsat",), time_limit=LIMIT, results=results)
    assert list(frame.columns) == list(api.COMPARE_COLUMNS)
    baselines = run_baselines(problem)
    assert list(frame["name"]) == [*baselines, "cpsat"]
    assert set(frame["kind"]) == {"baseline", "solver"}
    rows = frame.set_index("name")
    for name, res in baselines.items():
        assert rows.loc[name, "objective"] == pytest.approx(res.objective)
        assert rows.loc[name, "status"] == res.status.value
    alone = api.solve(problem, "cpsat", time_limit=LIMIT)
    assert alone.status.value == "optimal" == rows.loc["cpsat", "status"]
    assert rows.loc["cpsat", "objective"] == pytest.approx(alone.objective, rel=1e-9)
    assert results["cpsat"].objective == pytest.approx(rows.loc["cpsat", "objective"])
    best = min(r.objective for r in baselines.values() if r.objective is not None)
    for name in rows.index:
        expect = (best - rows.loc[name, "objective"]) / best * 100
        assert rows.loc[name, "gain_pct"] == pytest.approx(expect, abs=0.005)  # 2 decimals
    # an optimal solve never loses to a baseline; the best baseline's gain is 0
    assert rows.loc["cpsat", "gain_pct"] >= -1e-9
    assert rows[rows["kind"] == "baseline"]["gain_pct"].max() == pytest.approx(0.0)


def test_compare_runs_every_backend_with_latency_contention() -> None:
    """The ILP and SAT backends used to refuse latency contention (status 'unsupported');
    they model it exactly now, so every backend answers with a valid schedule that is never
    better than CP-SAT's proven optimum."""
    tables = [api.assume_bandwidth(n, 40.0, 15.0) for n in PAIR]
    problem = api.make_problem(tables, strength=1.0)
    frame = api.compare(problem, solvers=("ilp", "cpsat"), baselines=False, time_limit=10.0)
    rows = frame.set_index("name")
    assert rows.loc["cpsat", "status"] == "optimal"
    assert rows.loc["ilp", "status"] in ("optimal", "feasible")
    optimum = rows.loc["cpsat", "objective"]
    assert not math.isnan(rows.loc["ilp", "objective"])
    assert rows.loc["ilp", "objective"] >= optimum * (1 - 1e-6)
    with pytest.raises(ProblemError, match="z3"):
        api.compare(problem, solvers=("z3",))


def test_compare_rounds_away_float_noise() -> None:
    """Issue 11: the DataFrame showed gaps like 1.8e-16 and percentages with 15 digits."""
    problem = api.make_problem(PAIR)
    frame = api.compare(problem, solvers=("cpsat",), time_limit=LIMIT)
    for column, decimals in api.COMPARE_DECIMALS.items():
        for value in frame[column].dropna():
            assert value == round(value, decimals), (column, value)
    gaps = frame["gap"].dropna()
    assert all(g == 0.0 or g >= 1e-6 for g in gaps)  # no 1e-16 noise
    text = frame.to_string()
    assert "e-1" not in text and "e-0" not in text


# ---------------------------------------------------------------------- sweeps
def test_max_transitions_sweep_never_worse_with_more_transitions() -> None:
    frame = api.sweep_max_transitions(PAIR, (0, 1, 2, 3), time_limit=LIMIT)
    assert list(frame["max_transitions"]) == [0, 1, 2, 3]
    assert set(frame["latency_status"]) == {"optimal"}
    assert set(frame["throughput_status"]) == {"optimal"}
    lat = list(frame["latency_ms"])
    per = list(frame["period_ms"])
    for a, b in itertools.pairwise(lat):
        assert b <= a + 1e-9
    for a, b in itertools.pairwise(per):
        assert b <= a + 1e-9
    assert list(frame["throughput_fps"]) == pytest.approx([1000 / p for p in per], abs=5e-4)
    # switching pays off on the published pair: T=0 (whole models) is strictly slower
    assert lat[-1] < lat[0] and per[-1] < per[0]
    front = api.pareto_front(frame)
    assert set(front["max_transitions"]) <= {0, 1, 2, 3}
    assert front["latency_ms"].min() == pytest.approx(min(lat))
    assert front["throughput_fps"].max() == pytest.approx(max(frame["throughput_fps"]))


def test_contention_sweep_aware_never_worse_than_blind() -> None:
    tables = [api.assume_bandwidth(n, 40.0, 15.0) for n in PAIR]
    frame = api.sweep_contention(tables, strengths=(0.0, 1.0), time_limit=LIMIT)
    assert list(frame["strength"]) == [0.0, 1.0]
    assert set(frame["aware_status"]) == {"optimal"}
    free, on = frame.iloc[0], frame.iloc[1]
    assert free["aware_ms"] == pytest.approx(free["blind_ms"])
    assert free["contention_ms"] == 0
    assert on["aware_ms"] <= on["blind_ms"] + 1e-9
    assert on["aware_ms"] >= free["aware_ms"] - 1e-9  # contention only slows things down
    assert on["contention_ms"] > 0
    assert on["gain_vs_baseline_pct"] >= -1e-9


def test_pareto_front_of_a_frame() -> None:
    frame = pd.DataFrame({"max_transitions": [0, 1, 2, 3],
                          "latency_ms": [3.0, 2.0, 2.5, None],
                          "throughput_fps": [100.0, 150.0, 200.0, 999.0]})
    front = api.pareto_front(frame)
    assert list(front["max_transitions"]) == [1, 2]


def test_gantt_shortcut_accepts_result_schedule_and_timeline(tmp_path: Path) -> None:
    problem = api.make_problem(PAIR)
    result = api.solve(problem, time_limit=LIMIT)
    via_result = api.gantt(problem, result, tmp_path / "r.png")
    via_schedule = api.gantt(problem, result.schedule)
    via_timeline = api.gantt(problem, simulate(problem, result.schedule))
    n = sum(len(s) for s in result.schedule.segments)
    for fig in (via_result, via_schedule, via_timeline):
        assert len([p for p in fig.axes[0].patches
                    if (p.get_gid() or "").startswith("segment:")]) == n
    assert (tmp_path / "r.png").exists() and (tmp_path / "r.svg").exists()
    assert "makespan" in api.render(problem, result)


def test_disagreements_flags_two_optimal_claims_that_differ() -> None:
    """Issue 11: compare must say when two backends both claim `optimal` but disagree (the
    ILP once proved 412.96 ms 'optimal' where CP-SAT proved 310.86 ms)."""
    from solvers.model.schedule import Result, SolveStatus

    def claim(name: str, status: SolveStatus, objective: float) -> Result:
        return Result(status, name, None, None, objective, objective, 1.0)

    results = {"cpsat": claim("cpsat", SolveStatus.OPTIMAL, 310.86),
               "ilp": claim("ilp", SolveStatus.OPTIMAL, 412.96),
               "sat": claim("sat", SolveStatus.OPTIMAL, 310.86 * (1 + 1e-7)),
               "slow": claim("slow", SolveStatus.FEASIBLE, 500.0)}
    found = api.disagreements(results)
    assert [d["solvers"] for d in found] == [["cpsat", "ilp"], ["ilp", "sat"]]
    assert found[0]["objectives"] == [310.86, 412.96]
    assert found[0]["relative_difference"] == pytest.approx((412.96 - 310.86) / 412.96)
    assert api.disagreements({k: results[k] for k in ("cpsat", "sat", "slow")}) == []


def test_compare_records_that_its_backends_agree() -> None:
    problem = api.make_problem(PAIR)
    frame = api.compare(problem, solvers=("cpsat", "sat"), time_limit=LIMIT)
    assert frame.attrs["disagreement"] == []

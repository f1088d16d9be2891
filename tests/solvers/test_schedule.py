"""Schedule / Result JSON round trips, schedule files, and the text rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiles.costtable import load_published
from profiles.synthetic import synthetic_table
from solvers.errors import ProblemError
from solvers.heuristics.baselines import greedy
from solvers.judges.oracle import exhaustive
from solvers.judges.simulator import simulate
from solvers.model.problem import Device, Problem
from solvers.model.render import render_text
from solvers.model.schedule import (
    Schedule,
    Segment,
    load_schedule_file,
    result_to_dict,
    save_schedule_file,
    transition_layers,
    transitions,
)


@pytest.fixture(scope="module")
def pair() -> Problem:
    return Problem.create([load_published("googlenet_xavier"),
                           load_published("alexnet_xavier")], max_transitions=1)


def test_schedule_json_round_trip(pair: Problem) -> None:
    r = exhaustive(pair)
    assert r.schedule is not None
    again = Schedule.from_dict(json.loads(json.dumps(r.schedule.to_dict())))
    assert again == r.schedule
    assert simulate(pair, again).objective_ms == r.objective
    no_order = Schedule(r.schedule.segments)
    assert Schedule.from_dict(no_order.to_dict()) == no_order
    with pytest.raises(ProblemError, match=r"segments\[0\]\[0\]: missing key .last_group."):
        Schedule.from_dict({"segments": [[{"first_group": 0}]]})


def test_result_to_dict_contract(pair: Problem) -> None:
    r = exhaustive(pair)
    d = json.loads(json.dumps(result_to_dict(pair, r)))
    assert d["status"] == "optimal" and d["solver"] == "exhaustive"
    assert d["objective"] == pytest.approx(r.objective) and d["gap"] == 0
    assert [m["name"] for m in d["models"]] == ["googlenet", "alexnet"]
    seg = d["models"][0]["segments"][0]
    assert set(seg) >= {"first_group", "last_group", "device", "start_ms", "end_ms"}
    assert d["busy_ms"]["GPU"] > 0 and "period_ms" not in d
    t = exhaustive(Problem.create([synthetic_table(3, 1)], objective="throughput",
                                  max_transitions=1))
    dt = result_to_dict(Problem.create([synthetic_table(3, 1)], objective="throughput",
                                       max_transitions=1), t)
    assert dt["period_ms"] == pytest.approx(t.objective)
    assert dt["throughput_fps"] == pytest.approx(1000 / t.objective)  # type: ignore


def test_schedule_file_save_load(tmp_path: Path, pair: Problem) -> None:
    r = greedy(pair)
    assert r.schedule is not None
    path = tmp_path / "sched.json"
    save_schedule_file(str(path), pair, r.schedule, r)
    problem, schedule = load_schedule_file(str(path))
    assert schedule == r.schedule
    assert problem.to_dict() == pair.to_dict()
    assert simulate(problem, schedule).objective_ms == pytest.approx(r.objective)
    first = path.read_bytes()
    save_schedule_file(str(path), pair, r.schedule, r)
    assert path.read_bytes() == first  # deterministic
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ProblemError, match="not a layerswap schedule file"):
        load_schedule_file(str(bad))
    with pytest.raises(ProblemError, match="cannot read"):
        load_schedule_file(str(tmp_path / "missing.json"))


def test_render_names_transition_layers_and_devices(pair: Problem) -> None:
    sched = Schedule(((Segment(0, 2, Device.GPU), Segment(3, 9, Device.DLA0)),
                      (Segment(0, 7, Device.DLA1),)))
    text = render_text(pair, sched)
    assert "GPU -> DLA0 after layer 38" in text   # group 2 of GoogleNet ends at layer 38
    assert "groups 3-9 on DLA0: layers 39..140" in text
    assert "DLA1: busy" in text and "makespan" in text
    assert text == render_text(pair, sched)      # deterministic
    assert transition_layers(pair, sched, 0) == ["GPU->DLA0 after layer 38"]
    assert transitions(pair, sched, 0) == [{"after_layer": "38", "after_group": 2,
                                            "from": "GPU", "to": "DLA0",
                                            "cost_ms": pair.transition(0, 2, "GPU", "DLA0"),
                                            "fallback": False}]
    assert transitions(pair, sched, 1) == []
    res = exhaustive(pair)
    out = render_text(pair, res)
    assert "solver exhaustive: optimal" in out and "gap 0.00%" in out
    tl = simulate(pair, sched)
    assert render_text(pair, tl, sched) == text


def test_render_throughput_shows_period_and_fps() -> None:
    p = Problem.create([synthetic_table(3, 4)], objective="throughput", frames_per_round=2,
                       max_transitions=1)
    res = exhaustive(p)
    text = render_text(p, res)
    assert "per frame" in text and "fps" in text and "#1" in text

"""The executor runs split models like the unsplit ones, in order, as planned (outputs
compared by `runtime.agreement`: the runtime runs ONNX Runtime's optimised kernels)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import runtime_kit as kit

from runtime.agreement import OPTIMISED, agree, agreement
from runtime.api import load_plan, run_manifest
from runtime.backends.base import split_threads
from runtime.errors import ManifestError, RuntimeExecutionError
from runtime.io import npz_inputs, random_inputs
from runtime.manifest import manifest_from_dict
from runtime.plan import Plan


def collect(frames_seen: dict):
    def on_frame(model: str, frame: int, outputs: dict) -> None:
        frames_seen.setdefault(model, []).append((frame, {k: v.copy() for k, v in
                                                          outputs.items()}))
    return on_frame


def disagreements(plan: Plan, tiny_models: dict, seen: dict, seed: int = 0) -> list:
    """Every (model, frame, output) the runtime got wrong against the unsplit model."""
    source = random_inputs(plan, seed)
    bad = []
    for name, frames in seen.items():
        for frame, outputs in frames:
            ref = kit.reference(tiny_models[name], source(name, frame))
            assert set(ref) == set(outputs)
            bad += [(name, frame, a) for key, value in ref.items()
                    if not (a := agreement(key, value, outputs[key], OPTIMISED)).ok]
    return bad


@pytest.mark.parametrize("which", ["latency", "throughput"])
def test_one_inference_equals_unsplit_model(which, latency_export, throughput_export,
                                            tiny_models):
    path = latency_export if which == "latency" else throughput_export
    plan = load_plan(path)
    seen: dict = {}
    result = run_manifest(plan, frames=1, threads=2, on_frame=collect(seen))
    assert {m: [f for f, _ in v] for m, v in seen.items()} == {"a": [0], "b": [0]}
    assert disagreements(plan, tiny_models, seen) == []
    # every segment of instance 0 ran once, none of instance 1 (there is no frame 1)
    ran = sorted(r.segment for r in result.records)
    assert ran == sorted(s.id for s in plan.segments if s.instance == 0)


@pytest.mark.parametrize("which", ["latency", "throughput"])
def test_100_streamed_frames_equal_unsplit_and_keep_order(which, latency_export,
                                                          throughput_export, tiny_models):
    path = latency_export if which == "latency" else throughput_export
    plan = load_plan(path)
    seen: dict = {}
    result = run_manifest(plan, frames=100, threads=2, seed=3, on_frame=collect(seen))
    for model in ("a", "b"):
        assert [f for f, _ in seen[model]] == list(range(100))
    assert disagreements(plan, tiny_models, seen, seed=3) == []
    # frame f ran on instance f % F in round f // F
    F = plan.frames_per_round
    for r in result.records:
        assert r.instance == r.frame % F and r.round == r.frame // F
    assert len(result.records) == 100 // F * len(plan.segments)


def test_frames_not_a_multiple_of_frames_per_round(throughput_export, tiny_models):
    plan = load_plan(throughput_export)
    seen: dict = {}
    result = run_manifest(plan, frames=5, threads=1, on_frame=collect(seen))
    assert [f for f, _ in seen["a"]] == list(range(5))
    assert disagreements(plan, tiny_models, seen) == []
    last_round = [r for r in result.records if r.round == 2]
    assert {r.instance for r in last_round} == {0}


@pytest.mark.parametrize("which", ["latency", "throughput"])
def test_each_device_follows_its_order_round_after_round(which, latency_export,
                                                         throughput_export):
    path = latency_export if which == "latency" else throughput_export
    plan = load_plan(path)
    result = run_manifest(plan, frames=12, threads=2)
    for dev in plan.devices:
        ran = [(r.round, r.segment) for r in sorted(result.records, key=lambda r: r.start_ns)
               if r.device == dev]
        expected = [(rnd, s) for rnd in range(12 // plan.frames_per_round)
                    for s in plan.device_order[dev]]
        assert ran == expected


@pytest.mark.parametrize("in_flight", [1, 2, 3])
def test_rounds_in_flight_are_bounded(in_flight, throughput_export):
    plan = load_plan(throughput_export)
    result = run_manifest(plan, frames=40, threads=2, rounds_in_flight=in_flight)
    end_of_round: dict[int, int] = {}
    for r in result.records:
        end_of_round[r.round] = max(end_of_round.get(r.round, 0), r.end_ns)
    for r in result.records:
        older = r.round - in_flight
        if older >= 0:
            assert r.start_ns >= end_of_round[older], (r, older)


def test_pipelining_lets_rounds_overlap(tmp_path, tiny_models):
    """With 2 rounds in flight a device starts round r+1 before round r ends elsewhere."""
    path = kit.write_export(tmp_path / "pipe", {"a": tiny_models["a"]},
                            {("a", 0): [(2, "GPU"), (4, "DLA0"), (8, "DLA1")]})
    result = run_manifest(load_plan(path), frames=30, threads=3, rounds_in_flight=2)
    overlaps = 0
    by_round: dict[int, list] = {}
    for r in result.records:
        by_round.setdefault(r.round, []).append(r)
    for rnd in range(1, 30):
        start_next = min(r.start_ns for r in by_round[rnd])
        end_prev = max(r.end_ns for r in by_round[rnd - 1])
        overlaps += start_next < end_prev
    assert overlaps > 0


def test_saved_outputs_are_frames_in_order_and_byte_identical(tmp_path, throughput_export,
                                                              tiny_models):
    plan = load_plan(throughput_export)
    seen: dict = {}
    run_manifest(plan, frames=7, threads=2, save_outputs=tmp_path / "o1",
                 on_frame=collect(seen))
    run_manifest(plan, frames=7, threads=1, save_outputs=tmp_path / "o2")
    for model in ("a", "b"):
        one = (tmp_path / "o1" / f"{model}.npz").read_bytes()
        assert one == (tmp_path / "o2" / f"{model}.npz").read_bytes()
        with np.load(tmp_path / "o1" / f"{model}.npz") as saved:
            assert sorted(saved.files) == ["early", "y"]
            for frame, outputs in seen[model]:
                for key, value in outputs.items():
                    assert np.array_equal(saved[key][frame], value)
            assert saved["y"].shape[0] == 7
    assert sorted(p.name for p in (tmp_path / "o1").iterdir()) == ["a.npz", "b.npz"]


def test_npz_inputs_drive_the_run(tmp_path, latency_export, tiny_models):
    plan = load_plan(latency_export)
    rng = np.random.default_rng(9)
    arrays = {f"{m.name}/{t.name}": rng.standard_normal((4, *t.shape)).astype(np.float32)
              for m in plan.models for t in m.inputs}
    np.savez(tmp_path / "in.npz", **arrays)
    source, frames = npz_inputs(plan, tmp_path / "in.npz")
    assert frames == 4
    seen: dict = {}
    run_manifest(plan, frames=frames, inputs=source, on_frame=collect(seen), threads=1)
    for name, got in seen.items():
        for frame, outputs in got:
            ref = kit.reference(tiny_models[name], {"x": arrays[f"{name}/x"][frame]})
            assert agree(ref["y"], outputs["y"], OPTIMISED)


def test_npz_inputs_name_the_missing_key_and_short_files(tmp_path, latency_export):
    plan = load_plan(latency_export)
    np.savez(tmp_path / "bad.npz", **{"a/x": np.zeros((2, 1, 4, 8, 8), np.float32)})
    with pytest.raises(RuntimeExecutionError, match="no array 'b/x'"):
        npz_inputs(plan, tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", **{"a/x": np.zeros((2, 1, 4, 8, 8), np.float32),
                                        "b/x": np.zeros((2, 1, 3, 6, 6), np.float32)})
    with pytest.raises(RuntimeExecutionError, match="holds 2 frames, 5 asked"):
        npz_inputs(plan, tmp_path / "short.npz", frames=5)
    np.savez(tmp_path / "shape.npz", **{"a/x": np.zeros((2, 1, 4, 8, 7), np.float32),
                                        "b/x": np.zeros((2, 1, 3, 6, 6), np.float32)})
    with pytest.raises(RuntimeExecutionError, match=r"'a/x' is \[2, 1, 4, 8, 7\]"):
        npz_inputs(plan, tmp_path / "shape.npz")


def test_random_inputs_are_seeded_per_frame(latency_export):
    plan = load_plan(latency_export)
    one, two = random_inputs(plan, 1), random_inputs(plan, 1)
    assert np.array_equal(one("a", 5)["x"], two("a", 5)["x"])
    assert not np.array_equal(one("a", 5)["x"], one("a", 6)["x"])
    assert not np.array_equal(one("a", 5)["x"], random_inputs(plan, 2)("a", 5)["x"])


def test_plan_names_the_field_of_a_dangling_reference(latency_export):
    """A plan is built only from a loaded manifest: the loader's checks (one home for every
    rule of the format) name the field before the executor sees the document."""
    root = Path(latency_export).parent
    doc = json.loads(Path(latency_export).read_text())
    doc["segments"][1]["inputs"][0]["from"] = {"segment": "a#0/7", "output": "r1"}
    with pytest.raises(ManifestError, match=r"segments\[1\]\.inputs\[0\]\.from\.segment: 'a#0/7'"):
        Plan.from_manifest(manifest_from_dict(doc, root=root))
    doc = json.loads(Path(latency_export).read_text())
    dropped = doc["device_order"]["GPU"].pop()
    with pytest.raises(ManifestError, match=rf"device_order\.GPU: segment '{dropped}' "
                                            r"\(segments\[\d+\]\) is missing from the order"):
        Plan.from_manifest(manifest_from_dict(doc, root=root))


@pytest.mark.parametrize(("total", "busy", "expected"), [
    (2, {"GPU": 3.0, "DLA0": 1.0}, {"GPU": 1, "DLA0": 1}),
    (8, {"GPU": 3.0, "DLA0": 1.0}, {"GPU": 6, "DLA0": 2}),
    (4, {"GPU": 10.0, "DLA0": 0.1, "DLA1": 0.1}, {"GPU": 2, "DLA0": 1, "DLA1": 1}),
    (6, {"GPU": 2.0, "DLA0": 1.0, "DLA1": 1.0}, {"GPU": 3, "DLA0": 2, "DLA1": 1}),
    (1, {"GPU": 2.0, "DLA0": 1.0}, {"GPU": 1, "DLA0": 1}),
    (4, {"GPU": 0.0, "DLA0": 0.0}, {"GPU": 2, "DLA0": 2}),
])
def test_split_threads(total, busy, expected):
    got = split_threads(total, busy)
    assert got == expected
    assert sum(got.values()) == max(total, len(busy))


def test_no_worker_threads_before_or_after(latency_export):
    before = set(threading.enumerate())
    run_manifest(latency_export_plan(latency_export), frames=3, threads=1)
    assert set(threading.enumerate()) == before


def latency_export_plan(path: Path) -> Plan:
    return load_plan(path)


@pytest.mark.parametrize("which", ["latency", "throughput"])
def test_a_segment_starts_only_after_its_producers_of_the_same_frame(which, latency_export,
                                                                     throughput_export):
    plan = load_plan(latency_export if which == "latency" else throughput_export)
    result = run_manifest(plan, frames=20, threads=2)
    end = {(r.segment, r.frame): r.end_ns for r in result.records}
    waited = 0
    for r in result.records:
        assert r.reached_ns <= r.start_ns <= r.end_ns
        for b in plan.segment(r.segment).inputs:
            if b.segment is not None:
                assert end[(b.segment, r.frame)] <= r.start_ns, (r, b.segment)
                waited += r.start_ns > r.reached_ns
    assert waited > 0  # hand-offs across devices make consumers wait at least sometimes

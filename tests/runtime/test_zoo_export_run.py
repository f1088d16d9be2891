"""End to end: a zoo model (pix2pix, ngf 4: a U-Net whose encoder skips cross every cut),
exported by the real exporter (`export.exporter.export_schedule`), run by the runtime: the
outputs equal the unsplit model's, frames in order, for a latency and a throughput export."""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest

from export import zoo
from export.exporter import export_schedule
from profiles.synthetic import synthetic_onnx_table
from runtime.agreement import OPTIMISED, agree, reference_session_options
from runtime.api import load_plan, run_manifest
from runtime.io import random_inputs
from solvers.model.problem import Device, Problem
from solvers.model.schedule import Schedule, Segment

G, D0, D1 = Device.GPU, Device.DLA0, Device.DLA1


def schedule(*jobs) -> Schedule:
    return Schedule(tuple(tuple(Segment(a, b, d) for a, b, d in job) for job in jobs))


@pytest.fixture(scope="module")
def pix2pix(tmp_path_factory):
    path = zoo.save("pix2pix", tmp_path_factory.mktemp("zoo") / "pix2pix.onnx", ngf=4)
    table = synthetic_onnx_table(path, 8, seed=3, name="pix2pix", platform="orin-agx")
    sess = ort.InferenceSession(str(path), reference_session_options(),
                                providers=["CPUExecutionProvider"])
    return path, table, sess


def check_frames(plan, sess, seen, seed: int) -> None:
    source = random_inputs(plan, seed)
    names = [o.name for o in sess.get_outputs()]
    assert [f for f, _ in seen] == list(range(len(seen)))
    for frame, outputs in seen:
        want = dict(zip(names, sess.run(names, dict(source("pix2pix", frame))), strict=True))
        for key, value in want.items():
            assert agree(value, outputs[key], OPTIMISED), (frame, key)


@pytest.mark.parametrize("objective", ["latency", "throughput"])
def test_exported_pix2pix_runs_and_equals_the_unsplit_model(objective, pix2pix, tmp_path):
    path, table, sess = pix2pix
    jobs = [((0, 1, G), (2, 5, D0), (6, 7, G))]  # segment 0's skips reach segment 2
    if objective == "throughput":
        jobs.append(((0, 2, D1), (3, 7, G)))
    problem = Problem.create([table], "orin-agx", objective=objective,
                             frames_per_round=len(jobs), contention="none")
    export_schedule(problem, schedule(*jobs), {"pix2pix": path}, tmp_path / "out")
    plan = load_plan(tmp_path / "out" / "manifest.json")
    assert plan.frames_per_round == len(jobs)
    frames = 1 if objective == "latency" else 6
    seen: list = []
    result = run_manifest(plan, frames=frames, threads=2, seed=5,
                          on_frame=lambda m, f, out: seen.append((f, out)))
    check_frames(plan, sess, seen, 5)
    assert {r.device for r in result.records} == ({"GPU", "DLA0"} if objective == "latency"
                                                  else {"GPU", "DLA0", "DLA1"})
    # the manifest's predictions (from the simulator) are there to compare against
    assert all(s.predicted_ms is not None and s.predicted_ms > 0 for s in plan.segments)
    assert onnx.load(str(plan.segments[0].file)).graph.node  # real sub-models on disk


def test_backend_decisions_accept_the_real_export(pix2pix, tmp_path):
    """The TensorRT paths' decisions on what the exporter really writes (engine files, DLA
    cores, precisions, I/O formats)."""
    from runtime.backends import ort_trt, trt

    path, table, _ = pix2pix
    problem = Problem.create([table], "orin-agx", objective="throughput", frames_per_round=2,
                             contention="none")
    export_schedule(problem, schedule(((0, 1, G), (2, 5, D0), (6, 7, G)),
                                      ((0, 2, D1), (3, 7, G))),
                    {"pix2pix": path}, tmp_path / "out")
    plan = load_plan(tmp_path / "out")
    for seg in plan.segments:
        choice = trt.choose_engine(seg)
        assert choice.engine_file.parent == tmp_path / "out" / "engines"
        assert choice.dla_core == {"GPU": None, "DLA0": 0, "DLA1": 1}[seg.device]
        opts = ort_trt.provider_options(seg, tmp_path / "cache")
        assert opts.get("trt_dla_core") == (None if seg.device == "GPU"
                                            else str(choice.dla_core))
    assert trt.stream_slots(plan.devices) == {"GPU": 0, "DLA0": 1, "DLA1": 2}

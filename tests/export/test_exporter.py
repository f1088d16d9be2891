"""The exporter: manifests that load, sub-models that reproduce every model through the
manifest's own wiring, deterministic files, and clear refusals."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from dag_models import MODELS, random_feeds
from export_cases import D0, D1, FIVE_GROUP_SCHEDULES, G, problem_for, save_models, schedule
from manifest_runner import run_manifest

from export.errors import ExportError
from export.exporter import export_schedule, table_sha256
from profiles.costtable import load_published
from runtime.manifest import load_manifest
from solvers.errors import ProblemError
from solvers.model.problem import Problem
from solvers.solve import solve


def _reference(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds), strict=True))


def _assert_reproduces(manifest, files, feeds):
    got = run_manifest(manifest, feeds)
    for (model, _inst), outs in got.items():
        want = _reference(files[model], feeds[model])
        assert set(outs) == set(want)
        for name, value in want.items():
            assert float(np.max(np.abs(outs[name] - value))) <= 1e-5, (model, name)
    assert {m for m, _ in got} == set(files)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_five_schedules_per_model_reproduce_it_through_the_manifest(name, tmp_path):
    files = save_models(tmp_path, [name])
    problem = problem_for(files, {name: 5})
    feeds = {name: random_feeds(MODELS[name](), seed=2)}
    for k, job in enumerate(FIVE_GROUP_SCHEDULES):
        manifest = export_schedule(problem, schedule(job), files, tmp_path / f"out{k}")
        assert len(manifest.segments) == len(job)
        assert [s.device for s in manifest.segments] == [d.value for _, _, d in job]
        _assert_reproduces(manifest, files, feeds)


def test_two_models_throughput_two_instances_partitioned_differently(tmp_path):
    files = save_models(tmp_path, ["unet", "early_output"])
    problem = problem_for(files, {"unet": 5, "early_output": 4}, objective="throughput",
                          frames_per_round=2)
    sched = schedule(((0, 1, G), (2, 3, D0), (4, 4, G)), ((0, 4, D1),),
                     ((0, 0, D0), (1, 3, G)), ((0, 2, G), (3, 3, D1)))
    manifest = export_schedule(problem, sched, files, tmp_path / "out")
    assert manifest.frames_per_round == 2 and manifest.objective == "throughput"
    ids = [s.id for s in manifest.segments]
    assert ids == ["unet#0/0", "unet#0/1", "unet#0/2", "unet#1/0", "early_output#0/0",
                   "early_output#0/1", "early_output#1/0", "early_output#1/1"]
    assert manifest.predicted.period_ms is not None and manifest.predicted.throughput_fps
    feeds = {n: random_feeds(MODELS[n](), seed=3) for n in files}
    got = run_manifest(manifest, feeds)
    assert set(got) == {("unet", 0), ("unet", 1), ("early_output", 0), ("early_output", 1)}
    _assert_reproduces(manifest, files, feeds)
    # instance 1: the early model output comes from segment 0 (groups 0-2 hold >= 3 of the
    # 6 layers) and is still read by segment 1 (the residual Add)
    first = manifest.segment("early_output#1/0")
    assert [o.name for o in first.outputs if o.model_output] == ["feat_act_out"]
    last = manifest.segment("early_output#1/1")
    assert any(i.source.output == "feat_act_out" for i in last.inputs)


def test_skip_connection_handoffs_and_predictions(tmp_path):
    files = save_models(tmp_path, ["unet"])
    problem = problem_for(files, {"unet": 5})
    manifest = export_schedule(problem, schedule(((0, 1, G), (2, 3, D0), (4, 4, G))), files,
                               tmp_path / "out")
    pairs = {(h.source, h.target): h for h in manifest.handoffs}
    assert set(pairs) >= {("unet#0/0", "unet#0/1"), ("unet#0/1", "unet#0/2")}
    # segment 0 = enc1..enc3: the encoder feature enc1_act skips the DLA segment
    assert manifest.segment("unet#0/0").last_layer == "enc3"
    skip = pairs[("unet#0/0", "unet#0/2")]
    assert skip.tensors == ("enc1_act_out",) and skip.bytes == 4 * 4 * 16 * 16
    assert skip.direction == "GPU->GPU" and skip.predicted_ms is None
    adjacent = pairs[("unet#0/0", "unet#0/1")]
    assert adjacent.direction == "GPU->DLA0" and adjacent.predicted_ms is not None
    assert sorted(adjacent.tensors) == ["enc2_act_out", "enc3_out"]  # two tensors cross
    spans = [s.predicted for s in manifest.segments]
    assert all(p is not None and p.end_ms > p.start_ms for p in spans)
    assert manifest.predicted.makespan_ms == pytest.approx(max(p.end_ms for p in spans))


def test_solved_schedule_exports_with_provenance(tmp_path):
    files = save_models(tmp_path, ["diamond", "multi_output"])
    problem = problem_for(files, {"diamond": 4, "multi_output": 4})
    result = solve(problem, solver="cpsat", time_limit=10)
    manifest = export_schedule(problem, result.schedule, files, tmp_path / "out", result=result)
    prov = manifest.provenance
    assert prov.solver == "cpsat" and prov.status == result.status.value
    assert prov.objective_ms == pytest.approx(result.objective)
    assert [t.sha256 for t in prov.tables] == [table_sha256(m.table) for m in problem.models]
    assert all(t.source == "synthetic" for t in prov.tables)
    assert manifest.models[0].graph_signature == problem.models[0].table.metadata["onnx_graph"]
    feeds = {n: random_feeds(MODELS[n](), seed=4) for n in files}
    _assert_reproduces(manifest, files, feeds)
    summary = (tmp_path / "out" / "SUMMARY.md").read_text()
    assert "cpsat" in summary and "diamond#0/0" in summary


def test_export_is_byte_identical(tmp_path):
    files = save_models(tmp_path, ["unet", "late_input"])
    problem = problem_for(files, {"unet": 5, "late_input": 3})
    sched = schedule(((0, 0, D0), (1, 3, G), (4, 4, D1)), ((0, 1, G), (2, 2, D0)))
    for trt in ("10.3", "11.4"):
        a = tmp_path / f"a{trt}"
        b = tmp_path / f"b{trt}"
        export_schedule(problem, sched, files, a, trt_version=trt)
        export_schedule(problem, sched, files, b, trt_version=trt)
        fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
        fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
        assert fa == fb
        for rel in fa:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_instances_with_equal_groups_share_files_and_engines(tmp_path):
    files = save_models(tmp_path, ["diamond"])
    problem = problem_for(files, {"diamond": 4}, objective="throughput", frames_per_round=3)
    sched = schedule(((0, 1, G), (2, 3, D0)), ((0, 1, G), (2, 3, D0)),
                     ((0, 1, G), (2, 3, D1)))
    manifest = export_schedule(problem, sched, files, tmp_path / "out")
    assert len({s.file for s in manifest.segments}) == 2
    engines = {s.engine.file for s in manifest.segments}
    assert engines == {"engines/diamond.g0-1.GPU.plan", "engines/diamond.g2-3.DLA0.plan",
                       "engines/diamond.g2-3.DLA1.plan"}
    script = (tmp_path / "out" / "build_engines.sh").read_text()
    assert script.count("--saveEngine=") == 3


def test_trt11_writes_fp16_copies_that_run(tmp_path):
    files = save_models(tmp_path, ["unet"])
    problem = problem_for(files, {"unet": 5})
    manifest = export_schedule(problem, schedule(((0, 1, D0), (2, 4, G))), files,
                               tmp_path / "out", trt_version="11.4")
    feeds = random_feeds(MODELS["unet"](), seed=5)
    values = dict(feeds)
    for seg in manifest.segments:
        assert seg.engine.onnx == seg.file[:-5] + ".fp16.onnx"
        copy = onnx.load(str(manifest.path(seg.engine.onnx)))
        assert all(i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
                   for i in copy.graph.input)
        sess = ort.InferenceSession(copy.SerializeToString(), providers=["CPUExecutionProvider"])
        outs = sess.run(None, {i.name: values[i.name].astype(np.float16) for i in seg.inputs})
        values.update({o.name: v.astype(np.float32)
                       for o, v in zip(seg.outputs, outs, strict=True)})
    want = _reference(files["unet"], feeds)["out_tanh_out"]
    assert float(np.max(np.abs(values["out_tanh_out"] - want))) < 2e-2


def test_table_without_mapping_is_refused(tmp_path):
    files = save_models(tmp_path, ["diamond"])
    problem = Problem.create([load_published("googlenet_xavier")], "xavier-agx")
    sched = schedule(((0, problem.n_groups(0) - 1, G),))
    with pytest.raises(ExportError) as info:
        export_schedule(problem, sched, {"googlenet": files["diamond"]}, tmp_path / "out")
    assert "has no ONNX mapping" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_wrong_onnx_names_both_files(tmp_path):
    files = save_models(tmp_path, ["diamond", "unet"])
    problem = problem_for({"diamond": files["diamond"]}, {"diamond": 3})
    with pytest.raises(ExportError) as info:
        export_schedule(problem, schedule(((0, 2, G),)), {"diamond": files["unet"]},
                        tmp_path / "out")
    assert str(files["unet"]) in str(info.value) and "another ONNX graph" in str(info.value)


def test_onnx_names_must_match_the_models(tmp_path):
    files = save_models(tmp_path, ["diamond"])
    problem = problem_for(files, {"diamond": 3})
    with pytest.raises(ExportError, match="no ONNX file for model 'diamond'"):
        export_schedule(problem, schedule(((0, 2, G),)), {}, tmp_path / "out")
    with pytest.raises(ExportError, match="--onnx: names other, which is not a model"):
        export_schedule(problem, schedule(((0, 2, G),)),
                        {"diamond": files["diamond"], "other": files["diamond"]},
                        tmp_path / "out")
    # a typo alone is named, not passed over for the missing model (issue 24)
    with pytest.raises(ExportError, match=r"--onnx: names zzz, .*its models: diamond"):
        export_schedule(problem, schedule(((0, 2, G),)), {"zzz": files["diamond"]},
                        tmp_path / "out")


def test_output_directory_rules(tmp_path):
    files = save_models(tmp_path, ["diamond"])
    problem = problem_for(files, {"diamond": 3})
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_schedule(problem, schedule(((0, 2, G),)), files, busy)
    out = tmp_path / "out"
    export_schedule(problem, schedule(((0, 0, G), (1, 2, D0))), files, out)
    again = export_schedule(problem, schedule(((0, 2, G),)), files, out)  # replaces it
    assert sorted(p.name for p in (out / "segments").iterdir()) == ["diamond.g0-2.onnx"]
    assert load_manifest(out) == again


def test_precision_and_version_refusals_leave_nothing(tmp_path):
    files = save_models(tmp_path, ["diamond"])
    problem = problem_for(files, {"diamond": 3})
    dla = schedule(((0, 0, G), (1, 2, D0)))
    with pytest.raises(ExportError, match="no fp32"):
        export_schedule(problem, dla, files, tmp_path / "a", precision="fp32")
    with pytest.raises(ExportError, match="has no DLA support"):
        export_schedule(problem, dla, files, tmp_path / "b", trt_version="10.8")
    with pytest.raises(ExportError, match="calibration"):
        export_schedule(problem, dla, files, tmp_path / "c", precision="int8")
    assert not any((tmp_path / d).exists() for d in "abc")
    # GPU-only in fp32 on 10.8 is fine and passes no format flags
    m = export_schedule(problem, schedule(((0, 2, G),)), files, tmp_path / "d",
                        precision="fp32", trt_version="10.8")
    assert m.segments[0].precision == "fp32"
    script = (tmp_path / "d" / "build_engines.sh").read_text()
    assert "--fp16" not in script and "IOFormats" not in script


def test_manifest_json_is_schema_valid_and_names_relative_files(tmp_path):
    files = save_models(tmp_path, ["multi_output"])
    problem = problem_for(files, {"multi_output": 4})
    export_schedule(problem, schedule(((0, 1, D1), (2, 3, G))), files, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert doc["format"] == "layerswap-manifest" and doc["version"] == 1
    assert all(not s["file"].startswith("/") for s in doc["segments"])
    assert doc["device_order"] == {"GPU": ["multi_output#0/1"], "DLA0": [],
                                   "DLA1": ["multi_output#0/0"]}
    assert doc["build"] == {"trt_version": "10.3", "script": "build_engines.sh",
                            "precision": "fp16"}



def test_a_schedule_solved_with_gpu_fallback_exports_as_its_executed_pieces(tmp_path):
    """With `--gpu-fallback` a DLA segment may span layers the DLA refuses; the schedule holds
    the pieces TensorRT would execute (docs/model.md 2.1). Exported, each piece is its own
    engine: the DLA runs strict (no --allowGPUFallback, so a wrong verdict fails the build),
    the refused run on the GPU between them, and the manifest reproduces the model."""
    from dataclasses import replace

    from profiles.costtable import CostTable

    files = save_models(tmp_path, ["unet", "early_output"])
    plain = problem_for(files, {"unet": 5, "early_output": 4})
    unet = plain.models[0].table
    rows = [replace(r, dla_ms=None, dla_bw_gbps=None, dla_to_gpu_ms=None)
            if r.group == 2 else r for r in unet.rows]
    rows = [replace(r, gpu_to_dla_ms=None) if r.group == 1 else r for r in rows]
    refused = CostTable.build(rows, dict(unet.metadata), origin="<unet, group 2 refused>")
    problem = Problem.create([refused, plain.models[1].table], "orin-agx", contention="none",
                             max_transitions=0, gpu_fallback="unet")
    # one user-level DLA0 segment over groups 0-4, as TensorRT's fallback runs it
    sched = schedule(((0, 1, D0), (2, 2, G), (3, 4, D0)), ((0, 3, D1),))
    manifest = export_schedule(problem, sched, files, tmp_path / "out")
    assert [s.device for s in manifest.segments[:3]] == ["DLA0", "GPU", "DLA0"]
    script = (tmp_path / "out" / "build_engines.sh").read_text()
    builds = [line for line in script.splitlines() if line.startswith("build ")]
    assert len(builds) == 4 and not any("--allowGPUFallback" in b for b in builds)
    assert sum("--useDLACore=0" in b for b in builds) == 2
    feeds = {n: random_feeds(MODELS[n](), seed=5) for n in files}
    _assert_reproduces(manifest, files, feeds)
    # the same pieces with fallback off break max_transitions 0: no schedule at all
    with pytest.raises(ProblemError, match=r"transition|switch|may not run"):
        export_schedule(problem.with_gpu_fallback(False), sched, files, tmp_path / "out2")

"""Transition sweep: trtexec plans per TRT version, and ingestion of real-format run files
generated from a known ground-truth cost model (per-group times + noise)."""

from __future__ import annotations

import json
import random
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from profiles.costtable import CostTable
from profiles.errors import ProfileError
from profiles.sweep import SweepPlan, ingest_sweep, plan_sweep, trt_flags

LAYERS = 8


def chain(dtype: int = TensorProto.FLOAT, n: int = LAYERS) -> onnx.ModelProto:
    """conv/relu chain with named nodes: conv0, relu1, conv2, relu3, ..."""
    np_dtype = np.float16 if dtype == TensorProto.FLOAT16 else np.float32
    nodes, inits = [], []
    prev = "x"
    for i in range(n):
        out = f"t{i}" if i < n - 1 else "y"
        if i % 2 == 0:
            inits.append(numpy_helper.from_array(np.ones((4, 4, 3, 3), dtype=np_dtype), f"w{i}"))
            nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [out], name=f"conv{i}",
                                          pads=[1, 1, 1, 1]))
        else:
            nodes.append(helper.make_node("Relu", [prev], [out], name=f"relu{i}"))
        prev = out
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", dtype, [1, 4, 16, 16])],
        [helper.make_tensor_value_info("y", dtype, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what TensorRT and onnxruntime accept (onnx's default is newer)
    return model


@pytest.fixture()
def model_path(tmp_path: Path) -> Path:
    p = tmp_path / "chain.onnx"
    onnx.save(chain(), str(p))
    return p


# ---------------------------------------------------------------------- plans per version
def _build_run(plan: SweepPlan, eid: str) -> tuple[list[str], list[str]]:
    e = plan.engine(eid)
    return list(e.build_argv), list(e.runs[0].argv)


def test_trt_versions() -> None:
    assert trt_flags("8.5.2").precision_flags and not trt_flags("8.5").layer_device_types
    assert trt_flags("10.3").layer_device_types
    assert not trt_flags("11.4.1").precision_flags
    for bad in ("11.1", "11.0", "11.3", "10.8", "7.1", "eleven"):
        with pytest.raises(ProfileError):
            trt_flags(bad)


def test_plan_trt85_uses_fp16_and_marked_transitions(model_path: Path) -> None:
    plan = plan_sweep(model_path, ["conv2", "relu5"], trt_version="8.5", repeats=2)
    ids = [e.id for e in plan.engines]
    assert ids[:2] == ["ref-gpu", "ref-dla"]
    assert "prefix-dla-k0002" in ids and "marked-gpu-k0005" in ids
    assert not any(i.startswith("switch") for i in ids)
    assert any("no switch engines" in n for n in plan.notes)
    build, run = _build_run(plan, "ref-dla")
    assert build[:3] == ["trtexec", "--onnx=models/model.onnx",
                         "--saveEngine=engines/ref-dla.engine"]
    assert "--fp16" in build and "--useDLACore=0" in build and "--allowGPUFallback" in build
    assert "--skipInference" in build and "--profilingVerbosity=detailed" in build
    assert run[:3] == ["trtexec", "--loadEngine=engines/ref-dla.engine", "--useDLACore=0"]
    for flag in ("--separateProfileRun", "--dumpProfile",
                 "--exportProfile=runs/ref-dla.r0.profile.json",
                 "--exportTimes=runs/ref-dla.r0.times.json"):
        assert flag in run
    gpu_build, gpu_run = _build_run(plan, "prefix-gpu-k0002")
    assert not any(a.startswith("--useDLACore") for a in gpu_build + gpu_run)
    assert "--onnx=models/prefix_k0002.onnx" in gpu_build
    e = plan.engine("marked-dla-k0005")
    assert e.runs[1].log == "runs/marked-dla-k0005.r1.log"
    assert e.runs[1].shell.endswith("> runs/marked-dla-k0005.r1.log 2>&1")
    assert shlex.split(e.runs[1].shell)[: len(e.runs[1].argv)] == list(e.runs[1].argv)


def test_plan_trt103_has_switch_engines_with_layer_device_types(model_path: Path) -> None:
    plan = plan_sweep(model_path, ["conv2"], trt_version="10.3", dla_core=1, repeats=1)
    build, run = _build_run(plan, "switch-g2d-k0002")
    assert "--layerDeviceTypes=conv0:GPU,relu1:GPU,conv2:GPU" in build
    assert "--useDLACore=1" in build and "--fp16" in build and "--useDLACore=1" in run
    build, _ = _build_run(plan, "switch-d2g-k0002")
    spec = next(a for a in build if a.startswith("--layerDeviceTypes="))
    assert spec.split("=", 1)[1].split(",") == [f"{n}:GPU" for n in
                                                ("relu3", "conv4", "relu5", "conv6", "relu7")]


def test_plan_trt114_is_strongly_typed(tmp_path: Path, model_path: Path) -> None:
    with pytest.raises(ProfileError, match="strongly typed"):
        plan_sweep(model_path, ["conv2"], trt_version="11.4")
    p = tmp_path / "fp16.onnx"
    onnx.save(chain(TensorProto.FLOAT16), str(p))
    plan = plan_sweep(p, ["conv2"], trt_version="11.4.1")
    for e in plan.engines:
        assert not {"--fp16", "--int8"} & set(e.build_argv)
    assert any(e.kind == "switch" for e in plan.engines)
    with pytest.raises(ProfileError, match="no DLA support"):
        plan_sweep(p, ["conv2"], trt_version="11.1")


def test_plan_refuses_bad_candidates(tmp_path: Path, model_path: Path) -> None:
    with pytest.raises(ProfileError, match="no layer named"):
        plan_sweep(model_path, ["nope"])
    with pytest.raises(ProfileError, match="last layer"):
        plan_sweep(model_path, ["relu7"])
    unnamed = chain()
    unnamed.graph.node[3].name = ""
    with pytest.raises(ProfileError, match="node names"):
        plan_sweep(unnamed, ["conv2"], trt_version="10.3")
    assert plan_sweep(unnamed, ["conv2"], trt_version="10.3", switch_engines=False)


def test_plan_writes_models_manifest_and_script(tmp_path: Path, model_path: Path) -> None:
    out = tmp_path / "sweep"
    plan = plan_sweep(model_path, ["conv2", "relu5"], trt_version="10.3", repeats=2,
                      out_dir=out)
    assert SweepPlan.read(out) == plan
    script = (out / "sweep.sh").read_text()
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert '"$TRTEXEC" --onnx=models/model.onnx --saveEngine=engines/ref-gpu.engine' in script
    assert script.index("# --- repeat 0") < script.index("runs/ref-gpu.r1.log")
    prefix = onnx.load(str(out / "models/prefix_k0002.onnx"))
    onnx.checker.check_model(prefix)
    assert [o.name for o in prefix.graph.output] == ["t2"]
    assert [n.name for n in prefix.graph.node] == ["conv0", "relu1", "conv2"]
    marked = onnx.load(str(out / "models/marked_k0005.onnx"))
    assert [o.name for o in marked.graph.output] == ["y", "t5"]
    # deterministic: planning again gives byte-identical files
    again = tmp_path / "again"
    plan_sweep(model_path, ["conv2", "relu5"], trt_version="10.3", repeats=2, out_dir=again)
    for name in ("sweep_plan.json", "sweep.sh", "models/prefix_k0002.onnx"):
        assert (out / name).read_bytes() == (again / name).read_bytes()


# ---------------------------------------------------------------------- fixtures
@dataclass
class Truth:
    gpu: list[float]
    dla: list[float]
    out_gpu: list[float]
    out_dla: list[float]
    g2d: list[float]
    d2g: list[float]


def engine_totals(plan: SweepPlan, truth: Truth) -> dict[str, float]:
    """Noise-free end-to-end time of every engine under the scheme's cost model."""
    cuts = [c.position for c in plan.cuts]
    tot = {"ref-gpu": sum(truth.gpu), "ref-dla": sum(truth.dla)}
    for j, pos in enumerate(cuts):
        tag = f"k{pos:04d}"
        a_g, a_d = sum(truth.gpu[: j + 1]), sum(truth.dla[: j + 1])
        tot[f"prefix-gpu-{tag}"] = a_g + truth.out_gpu[j]
        tot[f"prefix-dla-{tag}"] = a_d + truth.out_dla[j]
        tot[f"marked-gpu-{tag}"] = tot["ref-gpu"] + truth.out_gpu[j]
        tot[f"marked-dla-{tag}"] = tot["ref-dla"] + truth.out_dla[j]
        tot[f"switch-g2d-{tag}"] = a_g + truth.g2d[j] + (tot["ref-dla"] - a_d)
        tot[f"switch-d2g-{tag}"] = a_d + truth.d2g[j] + (tot["ref-gpu"] - a_g)
    return tot


def write_log(path: Path, total: float, rng: random.Random) -> None:
    """A TRT 8.5-style trtexec run log with the performance summary and profile table."""
    mean = total * (1 + rng.uniform(0, 0.002))
    ts = "[11/29/2023-16:19:02]"
    lines = [
        "&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec --loadEngine=x.engine",
        f"{ts} [I] === Performance summary ===",
        f"{ts} [I] Throughput: {1000 / total:.6g} qps",
        f"{ts} [I] Latency: min = {total * 1.01:.6g} ms, max = {total * 1.3:.6g} ms, mean = "
        f"{total * 1.05:.6g} ms, median = {total * 1.04:.6g} ms, percentile(99%) = "
        f"{total * 1.2:.6g} ms",
        f"{ts} [I] GPU Compute Time: min = {total * 0.97:.6g} ms, max = {total * 1.2:.6g} ms, "
        f"mean = {mean:.6g} ms, median = {total:.6g} ms, percentile(90%) = {total * 1.05:.6g} "
        f"ms, percentile(95%) = {total * 1.07:.6g} ms, percentile(99%) = {total * 1.1:.6g} ms",
        f"{ts} [I] Total Host Walltime: 3.00121 s",
        f"{ts} [I] Explanations of the performance metrics are printed in the verbose logs.",
        f"{ts} [I] === Profile (4932 iterations ) ===",
        f"{ts} [I]   Layer   Time (ms)   Avg. Time (ms)   Median Time (ms)   Time %",
        f"{ts} [I]   Total   {total * 4932:.2f}   {total:.4f}   {total:.4f}   100.0",
        "&&&& PASSED TensorRT.trtexec [TensorRT v8502] # trtexec --loadEngine=x.engine",
    ]
    path.write_text("\n".join(lines) + "\n")


def write_profile(path: Path, total: float) -> None:
    """An --exportProfile file in the trtexec writer form (8.4+ keys), rows sum to total."""
    count = 4932
    parts = [("Reformatting CopyNode for Input Tensor 0 to {ForeignNode[conv0...relu7]}",
              total * 0.1), ("{ForeignNode[conv0...relu7]}", total * 0.9)]
    lines = ["[", f'  {{ "count" : {count} }}']
    for name, avg in parts:
        lines.append(f', {{ "name" : "{name}", "timeMs" : {avg * count:.6g}, "averageMs" : '
                     f'{avg:.6g}, "medianMs" : {avg:.6g}, "percentage" : '
                     f'{avg / total * 100:.6g} }}')
    lines.append("]")
    path.write_text("\n".join(lines) + "\n")


def make_sweep(tmp_path: Path, model_path: Path, truth: Truth, *, trt: str = "10.3",
               repeats: int = 4, noise: float = 0.0005, seed: int = 1,
               override: dict[str, float] | None = None) -> tuple[Path, SweepPlan]:
    out = tmp_path / f"sweep-{trt}-{seed}"
    plan = plan_sweep(model_path, ["relu1", "relu3", "relu5"], trt_version=trt,
                      repeats=repeats, out_dir=out)
    totals = engine_totals(plan, truth)
    totals.update(override or {})
    rng = random.Random(seed)
    (out / "runs").mkdir(exist_ok=True)
    for e in plan.engines:
        for r in e.runs:
            value = totals[e.id] + rng.gauss(0.0, noise)
            write_log(out / r.log, value, rng)
            write_profile(out / r.profile, value)
            (out / r.times).write_text("[\n]\n")
    return out, plan


TRUTH = Truth(gpu=[0.35, 0.15, 0.20, 0.11], dla=[0.75, 0.34, 0.45, 0.37],
              out_gpu=[0.020, 0.028, 0.010], out_dla=[0.074, 0.064, 0.067],
              g2d=[0.045, 0.052, 0.031], d2g=[0.081, 0.070, 0.066])


# ---------------------------------------------------------------------- ingestion
def test_ingest_recovers_ground_truth(tmp_path: Path, model_path: Path) -> None:
    out, _ = make_sweep(tmp_path, model_path, TRUTH)
    res = ingest_sweep(out)
    assert res.anomalies == ()
    tol = 0.004  # noise 0.5 us per run, differences of up to 6 totals, 4 repeats
    assert [g.gpu.mean for g in res.groups] == pytest.approx(TRUTH.gpu, abs=tol)
    assert [g.dla.mean for g in res.groups] == pytest.approx(TRUTH.dla, abs=tol)
    assert [c.gpu_to_dla.mean for c in res.cuts] == pytest.approx(TRUTH.g2d, abs=tol)
    assert [c.dla_to_gpu.mean for c in res.cuts] == pytest.approx(TRUTH.d2g, abs=tol)
    assert [c.out_dla.mean for c in res.cuts] == pytest.approx(TRUTH.out_dla, abs=tol)
    assert all(g.gpu.n == 4 and g.gpu.std is not None and g.gpu.std < 0.01
               for g in res.groups)
    assert [(g.first_layer, g.last_layer) for g in res.groups] == [
        ("conv0", "relu1"), ("conv2", "relu3"), ("conv4", "relu5"), ("conv6", "relu7")]
    table = res.to_cost_table(platform="orin-agx")
    assert isinstance(table, CostTable) and table.n_groups == 4
    assert table.metadata["source"].startswith("measured")
    assert str(out) in table.metadata["provenance"]
    assert "20 engines x 4 repeats = 80 runs" in table.metadata["provenance"]
    assert table.rows[0].gpu_to_dla_ms == pytest.approx(TRUTH.g2d[0], abs=tol)
    assert table.rows[-1].gpu_to_dla_ms is None
    assert float(table.rows[0].extra["gpu_ms_std"]) >= 0
    back = CostTable.from_csv_text(table.to_csv_text())
    assert back.rows == table.rows
    # the exportProfile totals give the same answer
    res2 = ingest_sweep(out, timing="profile_total")
    assert [g.dla.mean for g in res2.groups] == pytest.approx(TRUTH.dla, abs=tol)


def test_trt85_sweep_uses_one_sided_marked_transitions(tmp_path: Path,
                                                       model_path: Path) -> None:
    out, _ = make_sweep(tmp_path, model_path, TRUTH, trt="8.5")
    res = ingest_sweep(out)
    assert "marked outputs" in res.transition_method
    assert [c.gpu_to_dla.mean for c in res.cuts] == pytest.approx(TRUTH.out_gpu, abs=0.004)
    assert [c.dla_to_gpu.mean for c in res.cuts] == pytest.approx(TRUTH.out_dla, abs=0.004)
    table = res.to_cost_table(platform="orin-agx")
    assert "one-sided" in table.metadata["transition_method"]


def test_negative_difference_is_reported_not_clamped(tmp_path: Path,
                                                     model_path: Path) -> None:
    truth = Truth(**{**TRUTH.__dict__, "dla": [0.75, 0.002, 0.45, 0.37]})
    clean = engine_totals(plan_sweep(model_path, ["relu1", "relu3", "relu5"],
                                     trt_version="10.3"), truth)
    # the prefix engine up to relu3 on the DLA measured 0.05 ms too fast -> DLA(group 1) < 0
    bad = {"prefix-dla-k0003": clean["prefix-dla-k0003"] - 0.05}
    out, _ = make_sweep(tmp_path, model_path, truth, override=bad)
    res = ingest_sweep(out)
    dla_anoms = [a for a in res.anomalies if a.quantity.startswith("dla_ms of group")]
    assert dla_anoms, res.anomalies
    a = dla_anoms[0]
    assert a.quantity.startswith("dla_ms of group 1") and a.reason == "negative"
    assert "runs/prefix-dla-k0003.r0.log" in a.files
    assert res.groups[1].dla.mean < 0  # kept as measured
    # group 2 absorbs the 0.05 ms, it is not hidden either
    assert res.groups[2].dla.mean == pytest.approx(0.45 + 0.05, abs=0.004)
    with pytest.raises(ProfileError, match=r"prefix-dla-k0003\.r0\.log"):
        res.to_cost_table(platform="orin-agx")
    merged = res.to_cost_table(platform="orin-agx", merge_noisy_groups=True)
    assert merged.n_groups == 3
    assert "removed cut after position 3" in merged.metadata["merged_noisy_groups"]
    assert merged.rows[1].first_layer == "conv2" and merged.rows[1].last_layer == "relu5"
    assert merged.rows[1].dla_ms == pytest.approx(0.002 + 0.45, abs=0.004)
    assert all(r.dla_ms > 0 for r in merged.rows)


def test_missing_runs_and_bad_logs_are_errors(tmp_path: Path, model_path: Path) -> None:
    out, plan = make_sweep(tmp_path, model_path, TRUTH, repeats=1)
    (out / plan.engine("ref-dla").runs[0].log).unlink()
    with pytest.raises(ProfileError, match=r"1 run file\(s\) missing, e.g. runs/ref-dla.r0.log"):
        ingest_sweep(out)
    log = out / plan.engine("ref-dla").runs[0].log
    log.write_text("[I] The e2e network timing is not reported since it is inaccurate due to "
                   "the extra synchronizations when the profiler is enabled.\n")
    with pytest.raises(ProfileError, match="separateProfileRun"):
        ingest_sweep(out)
    with pytest.raises(ProfileError, match="sweep manifest"):
        ingest_sweep(tmp_path)
    with pytest.raises(ProfileError, match="not found"):
        ingest_sweep(tmp_path / "nowhere")
    manifest = json.loads((out / "sweep_plan.json").read_text())
    manifest["format"] = "other"
    (out / "sweep_plan.json").write_text(json.dumps(manifest))
    with pytest.raises(ProfileError, match="not a sweep manifest"):
        ingest_sweep(out)


def test_derived_models_compute_the_cut_tensor(tmp_path: Path, model_path: Path) -> None:
    import onnxruntime as ort

    out = tmp_path / "derived"
    plan_sweep(model_path, ["relu3"], trt_version="8.5", repeats=1, out_dir=out)
    x = np.random.default_rng(0).standard_normal((1, 4, 16, 16)).astype(np.float32)
    from runtime.agreement import SAME_KERNELS, agree, reference_session_options

    opts = reference_session_options(1)  # the same kernels in both graphs, on any CPU
    prefix = ort.InferenceSession(str(out / "models/prefix_k0003.onnx"), opts)
    marked = ort.InferenceSession(str(out / "models/marked_k0003.onnx"), opts)
    (cut_from_prefix,) = prefix.run(["t3"], {"x": x})
    cut_from_marked, y = marked.run(["t3", "y"], {"x": x})
    assert agree(cut_from_prefix, cut_from_marked, SAME_KERNELS)
    assert y.shape == (1, 4, 16, 16)


def test_single_repeat_has_no_std_and_int8_flags(tmp_path: Path, model_path: Path) -> None:
    out, _ = make_sweep(tmp_path, model_path, TRUTH, repeats=1)
    res = ingest_sweep(out)
    assert all(g.gpu.n == 1 and g.gpu.std is None for g in res.groups)
    assert res.to_cost_table(platform="orin-agx").rows[0].extra["gpu_ms_std"] == ""
    plan = plan_sweep(model_path, ["conv2"], precision="int8", calib="calib.cache")
    build = plan.engine("ref-dla").build_argv
    assert {"--int8", "--fp16", "--calib=calib.cache"} <= set(build)
    with pytest.raises(ProfileError, match="precision"):
        plan_sweep(model_path, ["conv2"], precision="fp32")

"""Engine build plans: the decisions (flags per TensorRT version and device, DLA core, I/O
formats, fallback) and golden build scripts for TRT 8.6, 10.x and 11.4. TensorRT itself is
never faked: `build_engine` is only checked for its clear message when it is absent."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest
from export_cases import D0, D1, G, problem_for, save_models, schedule

from export.buildplan import (
    BoundaryIO,
    SegmentBuild,
    TrtVersion,
    build_engine,
    builder_settings,
    io_format,
    plan_builds,
)
from export.errors import ExportError
from export.exporter import export_schedule

EXPECTED = Path(__file__).resolve().parents[1] / "expected"
UPDATE = os.environ.get("LAYERSWAP_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("version", ["8.6", "10.3", "11.4"])
def test_golden_build_scripts(version, tmp_path):
    files = save_models(tmp_path, ["unet", "diamond"])
    problem = problem_for(files, {"unet": 5, "diamond": 3})
    sched = schedule(((0, 1, G), (2, 3, D0), (4, 4, G)), ((0, 0, D1), (1, 2, G)))
    export_schedule(problem, sched, files, tmp_path / "out", trt_version=version)
    script = (tmp_path / "out" / "build_engines.sh").read_text()
    golden = EXPECTED / f"build_engines_trt{version}.sh"
    if UPDATE:
        golden.write_text(script)
    assert script == golden.read_text()
    assert os.access(tmp_path / "out" / "build_engines.sh", os.X_OK)
    subprocess.run(["bash", "-n", str(tmp_path / "out" / "build_engines.sh")], check=True)


def _io(name: str, *, rank: int = 4, dtype: str = "float32", crosses_dla: bool = False,
        host: bool = False) -> BoundaryIO:
    return BoundaryIO(name, (1, 8, 4, 4)[:rank] if rank <= 4 else (1,) * rank, dtype,
                      crosses_dla, host)


def _seg(device: str, ins: list[BoundaryIO], outs: list[BoundaryIO]) -> SegmentBuild:
    return SegmentBuild(f"m.g0-1.{device}", ("m#0/0",), "segments/m.g0-1.onnx", device,
                        tuple(ins), tuple(outs))


TRT10 = TrtVersion.parse("10.3")
TRT11 = TrtVersion.parse("11.4.1")


@pytest.mark.parametrize(("tensor", "device", "trt", "want"), [
    (_io("cut", crosses_dla=True), "GPU", TRT10, "fp16:chw16"),
    (_io("cut", crosses_dla=True), "DLA0", TRT10, "fp16:chw16"),
    (_io("x", host=True), "DLA1", TRT10, "fp16:chw16"),       # DLA I/O is never fp32
    (_io("x", host=True), "GPU", TRT10, "fp32:chw"),           # host tensors on the GPU
    (_io("x", host=True), "GPU", TRT11, "fp16:chw"),           # 11.x: the fp16 copy's type
    (_io("t"), "GPU", TRT10, "fp16:chw"),                      # GPU -> GPU hand-off
    (_io("flat", rank=2, crosses_dla=True), "DLA0", TRT10, "fp16:dla_linear"),
    (_io("flat", rank=2, crosses_dla=True), "GPU", TRT10, "fp16:chw"),
    (_io("idx", dtype="int32"), "GPU", TRT10, "int32:chw"),
])
def test_io_format_decisions(tensor, device, trt, want):
    assert io_format(tensor, device=device, precision="fp16", trt=trt) == want


def test_dla_segment_flags_per_version():
    seg = _seg("DLA1", [_io("x", host=True)], [_io("y", crosses_dla=True)])
    for version in ("8.5", "8.6", "10.3", "10.7"):
        (e,) = plan_builds([seg], trt_version=version).engines
        assert "--useDLACore=1" in e.argv and "--fp16" in e.argv
        assert "--allowGPUFallback" not in e.argv
        assert "--inputIOFormats=fp16:chw16" in e.argv
        assert "--outputIOFormats=fp16:chw16" in e.argv
        assert e.build_onnx == e.onnx == "segments/m.g0-1.onnx"
        assert e.engine == "engines/m.g0-1.DLA1.plan" and e.dla_core == 1
    (e,) = plan_builds([seg], trt_version="11.4").engines
    assert "--fp16" not in e.argv and "--useDLACore=1" in e.argv
    assert "--inputIOFormats=chw16" in e.argv and e.build_onnx == "segments/m.g0-1.fp16.onnx"
    (e,) = plan_builds([seg], trt_version="10.3", allow_gpu_fallback=True).engines
    assert "--allowGPUFallback" in e.argv


def test_gpu_segment_flags():
    seg = _seg("GPU", [_io("x", host=True), _io("skip", crosses_dla=True)], [_io("y", host=True)])
    (e,) = plan_builds([seg], trt_version="8.6").engines
    assert not any(a.startswith("--useDLACore") for a in e.argv)
    assert "--inputIOFormats=fp32:chw,fp16:chw16" in e.argv
    assert "--outputIOFormats=fp32:chw" in e.argv
    assert e.argv[:3] == ("trtexec", "--onnx=segments/m.g0-1.onnx",
                          "--saveEngine=engines/m.g0-1.GPU.plan")
    assert e.argv[-1] == "--skipInference"
    (e,) = plan_builds([seg], trt_version="10.3", allow_gpu_fallback=True).engines
    assert "--allowGPUFallback" not in e.argv and not e.allow_gpu_fallback


@pytest.mark.parametrize(("version", "ok"), [("8.4", False), ("8.5", True), ("10.7", True),
                                             ("10.8", False), ("11.3", False), ("11.4", True),
                                             ("11.4.0", False), ("11.4.1", True),
                                             ("10.x", True), ("banana", False)])
def test_versions_and_dla_support(version, ok):
    seg = _seg("DLA0", [_io("x", host=True)], [_io("y", host=True)])
    if ok:
        plan_builds([seg], trt_version=version)
    else:
        with pytest.raises(ExportError, match="TensorRT"):
            plan_builds([seg], trt_version=version)


def test_gpu_only_plans_work_on_versions_without_dla():
    seg = _seg("GPU", [_io("x", host=True)], [_io("y", host=True)])
    assert plan_builds([seg], trt_version="10.8").engines[0].dla_core is None


def test_builder_settings_match_the_trtexec_line():
    seg = _seg("DLA0", [_io("x", host=True)], [_io("y", crosses_dla=True)])
    (e8,) = plan_builds([seg], trt_version="8.6").engines
    s8 = builder_settings(e8, TrtVersion.parse("8.6"))
    assert s8.network_flags == ("EXPLICIT_BATCH",)
    assert s8.builder_flags == ("FP16", "DIRECT_IO")
    assert (s8.default_device, s8.dla_core) == ("DLA", 0)
    assert s8.input_formats == (("HALF", "CHW16"),) and s8.require_all_layers_on_dla
    (e10,) = plan_builds([seg], trt_version="10.3", allow_gpu_fallback=True).engines
    s10 = builder_settings(e10, TRT10)
    assert s10.network_flags == () and s10.builder_flags == ("FP16", "GPU_FALLBACK")
    assert not s10.require_all_layers_on_dla
    (e11,) = plan_builds([seg], trt_version="11.4").engines
    s11 = builder_settings(e11, TRT11)
    assert s11.builder_flags == () and s11.input_formats == (("", "CHW16"),)
    assert s11.optional_builder_flags == ("DIRECT_IO",) and s8.optional_builder_flags == ()
    gpu = _seg("GPU", [_io("x", host=True)], [_io("y", host=True)])
    (eg,) = plan_builds([gpu], trt_version="10.3").engines
    sg = builder_settings(eg, TRT10)
    assert sg.default_device == "GPU" and sg.dla_core is None
    assert sg.input_formats == (("FLOAT", "LINEAR"),)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                    reason="tensorrt is installed here")
def test_build_engine_without_tensorrt_names_the_extra(tmp_path):
    seg = _seg("GPU", [_io("x", host=True)], [_io("y", host=True)])
    (e,) = plan_builds([seg], trt_version="10.3").engines
    with pytest.raises(ExportError, match=r'pip install -e "\.\[trt\]"'):
        build_engine(e, tmp_path)

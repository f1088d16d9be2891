"""Backend decisions (which engine, which DLA core, which provider options, which stream,
precision flags), tested as pure functions: the TensorRT paths need a Jetson to run."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from runtime.api import load_plan, make_backend
from runtime.backends import ort_trt, trt
from runtime.errors import BackendUnavailableError, PlanError
from runtime.plan import SegmentPlan


def seg(device: str, precision: str = "fp16", *, engine: str | None = "engines/s.plan",
        built_for: int | None = None, sid: str = "gan#0/1") -> SegmentPlan:
    return SegmentPlan(id=sid, model="gan", instance=0, index=1, device=device,
                       precision=precision, file=Path("/x/segments/s.onnx"), inputs=(),
                       outputs=(), model_outputs=frozenset(),
                       engine_file=Path("/x") / engine if engine else None,
                       dla_core=built_for)


# ------------------------------------------------------------------ ONNX Runtime + TensorRT EP
@pytest.mark.parametrize(("device", "core"), [("GPU", None), ("DLA0", 0), ("DLA1", 1)])
def test_ort_trt_dla_core_comes_from_the_device(device, core):
    assert ort_trt.dla_core(seg(device)) == core
    opts = ort_trt.provider_options(seg(device), Path("/cache"))
    if core is None:
        assert "trt_dla_enable" not in opts and "trt_dla_core" not in opts
    else:
        assert opts["trt_dla_enable"] == "True" and opts["trt_dla_core"] == str(core)


@pytest.mark.parametrize(("precision", "fp16", "int8"), [
    ("fp16", "True", "False"), ("int8", "True", "True"), ("fp32", "False", "False")])
def test_ort_trt_precision_flags(precision, fp16, int8):
    opts = ort_trt.provider_options(seg("GPU", precision), Path("/cache"))
    assert (opts["trt_fp16_enable"], opts["trt_int8_enable"]) == (fp16, int8)


def test_ort_trt_refuses_fp32_on_a_dla():
    with pytest.raises(PlanError, match=r"'gan#0/1' is on DLA0 in fp32.*fp16"):
        ort_trt.provider_options(seg("DLA0", "fp32"), Path("/cache"))
    with pytest.raises(PlanError, match="precision 'bf8'"):
        ort_trt.precision_options(seg("GPU", "bf8"))


def test_ort_trt_engine_cache_per_segment_and_off_on_dla_core_1():
    gpu = ort_trt.provider_options(seg("GPU", sid="gan#0/0"), Path("/c"))
    dla0 = ort_trt.provider_options(seg("DLA0", sid="gan#1/2"), Path("/c"))
    dla1 = ort_trt.provider_options(seg("DLA1", sid="gan#1/3"), Path("/c"))
    assert gpu["trt_engine_cache_path"] == "/c/gan_0_0"
    assert dla0["trt_engine_cache_path"] == "/c/gan_1_2"
    assert gpu["trt_engine_cache_enable"] == dla0["trt_engine_cache_enable"] == "True"
    # cached engines would land on core 0 (onnxruntime#26680): no cache on core 1
    assert dla1["trt_engine_cache_enable"] == "False"


def test_ort_trt_provider_order_and_silent_fallback_refused():
    provs = ort_trt.providers(seg("DLA1"), Path("/c"))
    assert [p if isinstance(p, str) else p[0] for p in provs] == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    ort_trt.check_providers(seg("GPU"), ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(BackendUnavailableError, match=r"did not enable TensorRT.*"
                                                      r"CPUExecutionProvider"):
        ort_trt.check_providers(seg("GPU"), ["CPUExecutionProvider"])


def test_ort_trt_backend_without_the_provider_names_what_to_install(latency_export):
    import onnxruntime

    if "TensorrtExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the TensorRT EP")
    with pytest.raises(BackendUnavailableError, match=r"onnxruntime-gpu.*--backend ort"):
        make_backend("ort-trt", load_plan(latency_export))


# ------------------------------------------------------------------ native TensorRT
@pytest.mark.parametrize(("device", "built_for", "core"), [
    ("GPU", None, None), ("DLA0", 0, 0), ("DLA1", 1, 1),
    ("DLA1", 0, 1),  # an engine built for core 0 is deserialised on core 1
    ("DLA0", 1, 0)])
def test_trt_engine_and_core(device, built_for, core):
    choice = trt.choose_engine(seg(device, built_for=built_for))
    assert choice.engine_file == Path("/x/engines/s.plan")
    assert (choice.dla_core, choice.built_for_core, choice.device) == (core, built_for, device)


def test_trt_refusals_name_segment_and_fix():
    with pytest.raises(PlanError, match=r"names no engine file.*build plan"):
        trt.choose_engine(seg("GPU", engine=None))
    with pytest.raises(PlanError, match=r"runs on the GPU but its engine s.plan was built for "
                                        r"DLA core 1"):
        trt.choose_engine(seg("GPU", built_for=1))
    with pytest.raises(PlanError, match="DLA engines are fp16 or int8"):
        trt.choose_engine(seg("DLA1", "fp32"))


def test_trt_one_stream_per_device():
    assert trt.stream_slots(["DLA1", "GPU", "DLA0"]) == {"GPU": 0, "DLA0": 1, "DLA1": 2}
    assert trt.stream_slots(["DLA0", "DLA0", "GPU"]) == {"GPU": 0, "DLA0": 1}
    with pytest.raises(PlanError, match="DLA2"):
        trt.stream_slots(["DLA2"])


def test_trt_staging_of_bindings():
    st = trt.staging("s", "t", "float32", "DataType.FLOAT", "TensorFormat.LINEAR")
    assert (st.dtype, st.components) == (np.dtype("float32"), 0)
    st = trt.staging("s", "t", "float32", "DataType.HALF", "TensorFormat.CHW16", 1, 16)
    assert (st.dtype, st.vectorized_dim, st.components) == (np.dtype("float16"), 1, 16)
    assert trt.staging("s", "t", "int64", "INT64", "LINEAR").dtype == np.dtype("int64")
    with pytest.raises(PlanError, match=r"I/O format DLA_LINEAR.*chw16"):
        trt.staging("s", "t", "float32", "DataType.HALF", "TensorFormat.DLA_LINEAR", 3, 1)
    with pytest.raises(PlanError, match="is INT8, the manifest says float32"):
        trt.staging("s", "t", "float32", "DataType.INT8", "LINEAR")


def test_trt_chw16_packing_matches_the_documented_layout():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 20, 3, 5)).astype(np.float16)  # C=20 -> padded to 32
    packed = trt.pack_vectorized(x, 1, 16)
    assert packed.shape == (1, 2, 3, 5, 16)
    flat = packed.reshape(-1)
    H, W = 3, 5
    for c, h, w in [(0, 0, 0), (7, 2, 4), (16, 1, 3), (19, 2, 0)]:
        assert flat[((c // 16) * H * W + h * W + w) * 16 + c % 16] == x[0, c, h, w]
    assert flat[((17 // 16) * H * W) * 16 + 25 % 16] == 0  # padding channel 25 is zero
    back = trt.unpack_vectorized(flat, x.shape, 1, 16)
    assert np.array_equal(back, x)
    stage = trt.Staging(np.dtype("float16"), 1, 16)
    assert trt.packed_nbytes((1, 20, 3, 5), stage) == packed.nbytes
    assert trt.packed_nbytes((1, 20, 3, 5), trt.Staging(np.dtype("float32"))) == 1200


def test_trt_refuses_engine_formats_it_cannot_stage():
    ok = dataclasses.replace(seg("DLA0", built_for=0), engine_input_formats=("fp16:chw16",),
                             engine_output_formats=("fp16:chw16",))
    assert trt.choose_engine(ok).dla_core == 0
    bad = dataclasses.replace(ok, engine_input_formats=("fp16:dla_hwc4",))
    with pytest.raises(PlanError, match="engine input format 'fp16:dla_hwc4'"):
        trt.choose_engine(bad)


def test_trt_backend_without_tensorrt_names_the_extra(latency_export):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    with pytest.raises(BackendUnavailableError, match=r'pip install -e "\.\[trt\]"'):
        make_backend("trt", load_plan(latency_export))


def test_unknown_backend_is_named(latency_export):
    with pytest.raises(Exception, match="unknown backend 'cuda'; choose from ort, ort-trt, trt"):
        make_backend("cuda", load_plan(latency_export))


def test_ort_backend_gives_each_device_its_thread_share(latency_export):
    plan = load_plan(latency_export)
    backend = make_backend("ort", plan, threads=4)
    shares = {d: backend.describe(dataclasses.replace(plan.segments[0], device=d))
              ["intra_op_threads"] for d in plan.devices}
    assert sum(shares.values()) == 4 and all(v >= 1 for v in shares.values())

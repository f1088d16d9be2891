"""Build logs: DLA/GPU placement in the 7.x / 8.2 / 8.4+ formats, fallbacks, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiles.errors import ProfileError
from profiles.trtexec import TrtVersion, parse_build_log, read_build_log

OWN = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec"


def test_trt7_comma_lists_fallbacks_and_subgraph_limit() -> None:
    log = read_build_log(OWN / "trt7_deepstream_build.log")
    assert log.trt_version is None and log.version_hint == "7.x" and log.format == "7.x"
    assert log.dla_layers == ("{conv_1,batch_norm_1,activation_1}", "{conv_2,batch_norm_2}",
                              "{conv_3}")
    assert log.gpu_layers[0] == "conv1 + activation_1/Relu"
    assert log.gpu_layers[-1] == "conv_7" and len(log.gpu_layers) == 6
    assert log.dla_core == 1 and log.loadables_per_core == {1: 3}
    assert [(h.limit, h.layer) for h in log.subgraph_limit_hits] == [(8, "conv_6"), (8, "conv_7")]
    assert log.fallback_pairs == [
        ("output_cov/Sigmoid", "not supported on DLA"),
        ("(Unnamed Layer* 275) [Gather]", "DLA only supports FP16 and Int8"),
        ("reshape_4", "dynamic shapes are not supported on DLA"),
        ("layer84-route", "Concatenation on DLA requires at least two inputs"),
    ]
    assert log.device_of("{conv_3}") == "DLA" and log.device_of("conv_6") == "GPU"


def test_trt82_untyped_lines_python_logger_order() -> None:
    log = read_build_log(OWN / "trt8.2_nano_build.log")
    assert log.trt_version == TrtVersion(8, 2, 3) and log.format == "8.2"
    assert log.dla_layers == () and log.loadables_per_core == {}
    assert log.gpu_layers == ("Conv_0 + Sigmoid_1 + Mul_2", "Conv_49 || Conv_66",
                              "input.12 copy", "Concat_198")
    assert log.gpu_layer_types == {}


def test_trt85_typed_lines_nested_foreign_node_fallbacks_runners() -> None:
    log = read_build_log(OWN / "trt8.5.2_orin_dla_build.log")
    assert log.trt_version == TrtVersion(8, 5, 2) and log.format == "8.4+"
    assert len(log.dla_layers) == 3 and log.loadables_per_core == {0: 3}
    assert log.dla_layers[2].endswith("(Unnamed Layer* 20) [ElementWise]]}")
    assert log.gpu_layer_types["{ForeignNode[/model.23/Shape.../model.23/Concat_5]}"] == "MYELIN"
    assert log.gpu_layer_types["PWN(PWN(/model.23/Sigmoid), /model.23/Mul)"] == "POINTWISE"
    reasons = dict(log.fallback_pairs)
    assert reasons["/model.24/Constant_1_output_0"] == "unsupported on DLA (CONSTANT)"
    assert reasons["/model.23/Concat_4"] == "DLA only supports concatenation on the C dimension"
    assert reasons["/model.10/m/m.0/attn/Reshape"] == "DLA validation failed"
    assert reasons[None].startswith("This version of DLA does not support reshape")
    assert [(s.layer, s.reason) for s in log.splits] == [
        ("/model.10/m/m.0/attn/Reshape", "DLA validation failed for this layer")]
    assert log.dla_candidates == (3, 4)
    assert log.device_of("{ForeignNode[/model.23/Shape.../model.23/Concat_5]}") == "GPU"
    assert log.runners["{ForeignNode[/model.0/conv/Conv.../model.9/cv2/act/Mul]}"] == "DLA"


def test_trt10_version_code_and_no_listing() -> None:
    log = parse_build_log("&&&& RUNNING TensorRT.trtexec [TensorRT v101601] [b11] # trtexec\n")
    assert log.trt_version == TrtVersion(10, 16, 1) and log.format is None


def test_newer_subgraph_limit_and_drive_no_gpu_layer() -> None:
    text = ("[V] [TRT] ---------- Layers Running on DLA ----------\n"
            "[V] [TRT] [DlaLayer] {ForeignNode[a...b]}\n"
            "[V] [TRT] ---------- Layers Running on GPU ----------\n"
            "[V] [TRT] No layer is running on GPU\n"
            "[W] [TRT] DLA supports only 16 subgraphs per DLA core. Switching to GPU for layer x\n")
    log = parse_build_log(text)
    assert log.dla_layers == ("{ForeignNode[a...b]}",) and log.gpu_layers == ()
    assert log.subgraph_limit_hits[0].limit == 16 and log.format == "8.2+"


def test_truncated_listing_is_an_error() -> None:
    with pytest.raises(ProfileError, match="cut off"):
        parse_build_log("[I] [TRT] ---------- Layers Running on DLA ----------\n",
                        source="cut.log")

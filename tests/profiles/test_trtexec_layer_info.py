"""--exportLayerInfo reader and the profile <-> layer-info join."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiles.errors import ProfileError
from profiles.trtexec import (
    check_profile_matches,
    parse_layer_info,
    read_export_profile,
    read_layer_info,
    split_metadata,
)

HERE = Path(__file__).resolve()
OWN = HERE.parents[1] / "fixtures" / "trtexec"
SHARED = HERE.parents[2] / ".." / "shared" / "fixtures" / "trtexec"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/fixtures/trtexec absent")


@needs_shared
def test_trt84_detailed_matches_profile_and_noops_are_zero_rows() -> None:
    info = read_layer_info(SHARED / "trt8.4_a100_exportLayerInfo-detailed_resnet50-fp16.json")
    prof = read_export_profile(
        SHARED / "trt8.4_a100_exportProfile_resnet50-fp16_count1_zero-time-rows.json")
    assert info.detailed and len(info) == 36 and info.bindings == ("input.1", "191")
    assert info.names == prof.names
    check_profile_matches(prof.names, info)
    conv = info.by_name()["Conv_0 + Relu_1"]
    assert conv.layer_type == "CaskConvolution" and conv.tactic == "0xe2222883a6602489"
    assert conv.inputs[0].dimensions == (32, 3, 224, 224)
    assert conv.outputs[0].format == "Channel major FP16 format where channel % 8 == 0"
    zero = {r.name for r in prof.rows if r.time_ms == 0}
    assert zero == {layer.name for layer in info.layers if layer.is_noop}


def test_names_only_and_repeats() -> None:
    info = read_layer_info(OWN / "trt8.6_exportLayerInfo_names-only.json")
    assert not info.detailed and info.layers[0].layer_type is None
    assert [layer.key for layer in info.layers][-2:] == ["Gemm-4", "Gemm-4_2"]
    assert info.bindings == ("tensor-0", "tensor-15")


def test_trt10_metadata_split_on_both_separators() -> None:
    info = read_layer_info(OWN / "trt10_exportLayerInfo_detailed.json")
    by = info.by_name()
    assert by["node_conv2d + node_relu"].onnx_layers == ("node_conv2d", "node_relu")
    assert by["node_linear_myl5_2"].onnx_layers == ("node_linear", "node_linear_bias_add")
    assert by["node_linear_myl5_2"].layer_type == "gemm"
    assert by["__myl_CastReshCast_myl5_6"].onnx_layers == ()
    assert by["node_conv2d + node_relu"].inputs[0].dimensions == (-1, 1, 28, 28)
    assert by["node_conv2d + node_relu"].stream_id == 0
    assert by["node_max_pool2d"].inputs[0].location == "Device"


def test_split_metadata_raw_bytes() -> None:
    assert split_metadata("[ONNX Layer: a]\x1e[ONNX Layer: b]\x1fplain") == ("a", "b", "plain")


def test_bindings_may_be_absent() -> None:
    assert parse_layer_info('{"Layers": ["a", "b"]}').bindings is None


def test_mismatched_profile_names() -> None:
    info = read_layer_info(OWN / "trt10_exportLayerInfo_detailed.json")
    with pytest.raises(ProfileError) as err:
        check_profile_matches(["node_conv2d + node_relu", "node_conv2d_myl0_1"], info,
                              profile_source="p.json")
    assert "p.json" in str(err.value) and "row 1" in str(err.value)
    assert "node_conv2d_myl0_1" in str(err.value)

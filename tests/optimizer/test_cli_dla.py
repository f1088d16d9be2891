"""`layerswap dla` and `layerswap rewrite`: reports, JSON shape, rewrites written and
verified, and one-line errors (unknown ops, dynamic shapes, non-ONNX files)."""

from __future__ import annotations

import json

import onnx
import pytest
from cli_helpers import run, run_json
from onnx import TensorProto, helper

from export import zoo

TARGET = ("--platform", "orin-agx", "--trt-version", "10.3")


@pytest.fixture(scope="module")
def pix2pix_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("zoo") / "pix2pix.onnx"
    zoo.save("pix2pix", path, ngf=4)
    return path


def _save(tmp_path, name, nodes, inputs, domain=None):
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    imports = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    m = helper.make_model(graph, opset_imports=imports)
    path = tmp_path / name
    onnx.save(m, path)
    return path


def test_dla_json_has_the_contract_keys(capsys, pix2pix_file):
    code, doc = run_json(capsys, "dla", str(pix2pix_file), *TARGET)
    assert code == 0
    assert {"nodes", "islands", "loadables"} <= set(doc)
    node = doc["nodes"][0]
    assert {"name", "op", "dla", "reasons"} <= set(node)
    refused = [n for n in doc["nodes"] if not n["dla"]]
    assert {n["op"] for n in refused} == {"ConvTranspose"} and len(refused) == 8
    reason = refused[0]["reasons"][0]
    assert reason["rule"] == "deconv.padding" and reason["parameter"] == "pads"
    assert reason["value"] == "[1, 1, 1, 1]" and "[hdr 7.1-10.16]" in reason["source"]
    assert doc["loadables"]["per_instance"] == 9 and doc["loadables"]["limit_per_core"] == 16


def test_dla_human_report_shows_refusals_islands_and_loadables(capsys, pix2pix_file):
    code, out, err = run(capsys, "dla", str(pix2pix_file), *TARGET)
    assert code == 0 and err == ""
    assert "deconv.padding" in out and "7.1-10.16" in out
    assert "DLA islands" in out and "loadables per instance: 9" in out
    # the value is in the message already ("pads [1, 1, 1, 1] ..."): said once, not twice
    assert out.count("[1, 1, 1, 1]") == 1, out


def test_rewrite_writes_a_verified_model_and_reports_before_after(capsys, pix2pix_file,
                                                                  tmp_path):
    out_path = tmp_path / "p2p_dla.onnx"
    code, doc = run_json(capsys, "rewrite", str(pix2pix_file), "-o", str(out_path), *TARGET,
                         "--samples", "2")
    assert code == 0 and out_path.is_file()
    assert len(doc["applied"]) == 8 and doc["verification"]["passed"]
    assert doc["verification"]["passed"] and doc["verification"]["max_abs_diff"] <= 1e-5
    assert doc["verification"]["comparison"]["comparison"] == "same-kernels"
    assert doc["dla"]["before"]["loadables"]["per_instance"] == 9
    assert doc["dla"]["after"]["loadables"]["per_instance"] == 1
    assert doc["dla"]["after"]["gpu_fallbacks"] == []
    first = out_path.read_bytes()
    code, out, _ = run(capsys, "rewrite", str(pix2pix_file), "-o", str(out_path))
    assert code == 0 and out_path.read_bytes() == first  # deterministic file
    assert "verification" in out and "SSIM" in out and "wrote" in out


def test_rewrite_version_without_platform_is_a_usage_error(capsys, pix2pix_file, tmp_path):
    code, doc = run_json(capsys, "rewrite", str(pix2pix_file), "-o", str(tmp_path / "x.onnx"),
                         "--trt-version", "10.3")
    assert code == 2 and "--trt-version needs --platform" in doc["error"]


def test_rewrite_platform_alone_checks_with_the_modules_tensorrt(capsys, pix2pix_file, tmp_path):
    from profiles import platforms

    code, doc = run_json(capsys, "rewrite", str(pix2pix_file), "-o", str(tmp_path / "x.onnx"),
                         "--platform", "orin-nx-8")
    assert code == 0
    assert doc["dla"]["after"]["target"]["trt_version"] == \
        platforms.resolve("orin-nx-8").trt_version


def test_unknown_op_is_a_one_line_error_unless_allowed(capsys, tmp_path):
    path = _save(tmp_path, "plugin.onnx",
                 [helper.make_node("MyPlugin", ["x"], ["y"], name="p", domain="custom.plugins")],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                 domain="custom.plugins")
    code, out, err = run(capsys, "dla", str(path), *TARGET)
    assert code == 1 and out == ""
    assert err.startswith("layerswap: error: ") and err.count("\n") == 1
    assert "unknown op 'MyPlugin'" in err and "--allow-unknown-ops" in err
    code, doc = run_json(capsys, "dla", str(path), *TARGET, "--allow-unknown-ops")
    assert code == 0
    assert doc["nodes"][0]["unknown_op"] and not doc["nodes"][0]["dla"]
    assert "not in the DLA support list" in doc["nodes"][0]["reasons"][0]["message"]


def test_dynamic_shapes_are_a_one_line_error(capsys, tmp_path):
    path = _save(tmp_path, "dyn.onnx", [helper.make_node("Relu", ["x"], ["y"], name="r")],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])])
    for argv in (("dla", str(path), *TARGET),
                 ("rewrite", str(path), "-o", str(tmp_path / "o.onnx"))):
        code, out, err = run(capsys, *argv)
        assert out == ""
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
        assert "dynamic dimension 'batch'" in err and "static shapes" in err


def test_non_onnx_file_is_a_one_line_error_with_json(capsys, tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("group,gpu_ms\n0,1.0\n")
    code, out, err = run(capsys, "dla", str(path), *TARGET, "--json")
    assert code == 1 and err.count("\n") == 1 and "not an ONNX model file" in err
    assert json.loads(out) == {"error": err.removeprefix("layerswap: error: ").strip(),
                               "exit_code": 1}


def test_target_without_dla_and_bad_version(capsys, pix2pix_file):
    code, doc = run_json(capsys, "dla", str(pix2pix_file), "--platform", "orin-agx",
                         "--trt-version", "11.1")
    assert code == 0 and doc["summary"]["dla_eligible"] == 0
    assert doc["target"]["dla_available"] is False
    code, _, err = run(capsys, "dla", str(pix2pix_file), "--platform", "orin-agx",
                       "--trt-version", "ten")
    assert code == 1 and "is not a version" in err and err.count("\n") == 1


def test_rewrite_unknown_pass_is_a_command_line_error(capsys, pix2pix_file, tmp_path):
    out_path = tmp_path / "x.onnx"
    code, doc = run_json(capsys, "rewrite", str(pix2pix_file), "-o", str(out_path),
                         "--passes", "convtranspose_pad_to_crop,nope")
    assert code == 2 and "unknown pass nope" in doc["error"] and not out_path.exists()


def test_rewrite_convolution_pass_on_request_then_one_line_when_nothing_is_left(
        capsys, tmp_path):
    gen = tmp_path / "gen.onnx"
    zoo.save("pix2pix_tf", gen, ngf=4)
    conv = tmp_path / "gen_conv.onnx"
    code, doc = run_json(capsys, "rewrite", str(gen), "-o", str(conv), *TARGET,
                         "--passes", "convtranspose_pad_to_conv")
    assert code == 0 and doc["passes"] == ["convtranspose_pad_to_conv"]
    assert len(doc["applied"]) == 8 and doc["verification"]["passed"]
    assert doc["dla"]["after"]["loadables"]["per_instance"] == 1
    assert zoo.parameter_count(onnx.load(conv)) > zoo.parameter_count(onnx.load(gen))
    again = tmp_path / "again.onnx"
    code, _out, err = run(capsys, "rewrite", str(conv), "-o", str(again),
                         "--passes", "convtranspose_pad_to_conv")
    assert code == 1 and err.count("\n") == 1 and not again.exists()
    assert "'convtranspose_pad_to_conv' cannot apply" in err
    assert "no ConvTranspose with non-zero pads" in err

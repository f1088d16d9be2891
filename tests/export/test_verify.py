"""Rewrite verification: ONNX Runtime on seeded inputs, metrics from scikit-image."""

from __future__ import annotations

import json
import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.errors import ExportError
from export.verify import seeded_inputs, verify


def _conv(scale: float = 1.0, out: str = "y", op_domain: str = "") -> onnx.ModelProto:
    w = np.random.default_rng(1).standard_normal((2, 3, 3, 3)).astype(np.float32) * scale
    node = helper.make_node("Conv", ["x", "w"], [out], name="c", pads=[1, 1, 1, 1],
                            kernel_shape=[3, 3], domain=op_domain)
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                             [1, 3, 16, 16])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w")])
    imports = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(op_domain, 1)]
                                               if op_domain else [])
    m = helper.make_model(graph, opset_imports=imports)
    m.ir_version = 8
    return m


def test_identical_models_report_zero_difference():
    r = verify(_conv(), _conv(), samples=2)
    (o,) = r.outputs
    assert r.passed and o.identical and o.max_abs_diff == 0.0 and o.mse == 0.0
    assert o.psnr_db is None and o.ssim == pytest.approx(1.0)
    json.dumps(r.to_dict(), allow_nan=False)  # valid JSON: no inf/nan


def test_a_changed_function_is_measured_and_fails_the_tolerance():
    r = verify(_conv(), _conv(scale=1.01), seed=5)
    (o,) = r.outputs
    assert not r.passed and o.max_abs_diff > 1e-3
    # PSNR as scikit-image defines it, from the reported MSE and data range
    assert o.psnr_db == pytest.approx(10 * math.log10(o.data_range ** 2 / o.mse), rel=1e-9)
    assert 0.9 < o.ssim < 1.0


def test_inputs_are_seeded_and_reproducible():
    a = seeded_inputs(_conv(), seed=4)["x"]
    b = seeded_inputs(_conv(), seed=4)["x"]
    c = seeded_inputs(_conv(), seed=5)["x"]
    assert a.dtype == np.float32 and a.shape == (1, 3, 16, 16)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_changed_outputs_and_unrunnable_models_are_domain_errors():
    with pytest.raises(ExportError, match="changed the graph outputs"):
        verify(_conv(), _conv(out="z"))
    with pytest.raises(ExportError, match="ONNX Runtime cannot run the rewritten model") as e:
        verify(_conv(), _conv(op_domain="custom.plugins"))
    assert "\n" not in str(e.value)


def test_the_tolerance_grows_with_the_output_magnitude():
    """A difference of one float32 ulp on outputs near 900 (6e-5) is not a change of the
    function: verify allows tolerance + 1e-6 x max |output| (`runtime.agreement`)."""
    r = verify(_conv(scale=900.0), _conv(scale=900.0 * (1 + 2 ** -23)), seed=1)
    (o,) = r.outputs
    assert o.scale > 100 and o.allowed == pytest.approx(1e-5 + 1e-6 * o.scale)
    assert o.max_abs_diff > 1e-5 and r.passed
    assert r.to_dict()["comparison"]["comparison"] == "same-kernels"

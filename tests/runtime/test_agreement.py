"""`runtime.agreement`: the one comparison behind every "equal to the unsplit model" claim.

The numbers are the ones that broke CI on an Intel Xeon: YOLOv8n split vs whole with ONNX
Runtime's full optimisation differ by 0.045 on `output0` (values up to 898); with graph
optimisations off they run the same kernels and agree to the last bit.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from runtime.agreement import (
    OPTIMISED,
    SAME_KERNELS,
    agree,
    agreement,
    reference_session_options,
)

YOLO_SCALE = np.float32(898.0355)


def boxes(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.uniform(0, float(YOLO_SCALE), (1, 84, 2100)).astype(np.float32)
    out[0, 0, 0] = YOLO_SCALE
    return out


def test_a_few_ulps_of_a_large_output_are_the_same_function():
    ref = boxes()
    got = np.nextafter(ref, np.float32(np.inf))   # one float32 ulp up: 6e-5 at 898
    assert float(np.max(np.abs(got - ref))) > 1e-5          # a bare 1e-5 would fail it
    check = agreement("output0", ref, got, SAME_KERNELS)
    assert check.ok and check.scale == pytest.approx(898.0355, rel=1e-6)
    assert check.allowed == pytest.approx(1e-5 + 1e-6 * 898.0355, rel=1e-6)


def test_fused_kernel_rounding_passes_only_the_optimised_comparison():
    ref = boxes()
    got = ref.copy()
    got[0, 1, 7] += np.float32(0.045166015625)
    assert not agree(ref, got, SAME_KERNELS)
    assert agree(ref, got, OPTIMISED)


def test_the_tolerance_is_relative_to_each_output_not_a_global_number():
    probs = np.random.default_rng(1).uniform(0, 1, (1, 80)).astype(np.float32)
    off = probs.copy()
    off[0, 3] += np.float32(0.045 / 898 * 50)   # small on boxes, large on probabilities
    assert not agree(probs, off, OPTIMISED)


@pytest.mark.parametrize("tolerance", [SAME_KERNELS, OPTIMISED])
def test_a_wrong_tensor_fails_every_comparison(tolerance):
    ref, other = boxes(0), boxes(1)
    assert not agree(ref, other, tolerance)
    assert not agree(ref, ref[:, :, :-1], tolerance)             # shape
    assert not agree(ref, None, tolerance)                       # missing output
    nan = ref.copy()
    nan[0, 0, 5] = np.nan
    check = agreement("y", ref, nan, tolerance)
    assert not check.ok and check.max_abs_diff == float("inf")
    assert agree(np.zeros((0, 3)), np.zeros((0, 3)), tolerance)  # empty equals empty


def test_reference_sessions_run_without_graph_optimisations():
    opts = reference_session_options(2)
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert opts.intra_op_num_threads == 2


def test_the_comparison_describes_itself_for_reports():
    doc = SAME_KERNELS.to_dict()
    assert doc["comparison"] == "same-kernels" and doc["rtol"] == 1e-6 and doc["atol"] == 1e-5
    assert "graph optimisations off" in SAME_KERNELS.describe()
    assert SAME_KERNELS.with_atol(0.1).allowed(10.0) == pytest.approx(0.1 + 1e-5)

"""The seed paper's generator (`export.zoo.pix2pix_tf`, the TensorFlow Pix2Pix tutorial's
U-Net) and its three variants: Table II's parameter counts exactly, the same function
after the cropping and the convolution rewrite (ONNX Runtime), and the DLA checker's
verdict before and after."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest

from export import zoo
from export.errors import ExportError
from export.rewrite import rewrite
from export.verify import verify
from profiles.dla import check_model

TABLE_II = {"original": 54_425_859, "cropping": 54_425_859, "convolution": 64_637_268}
"""The seed paper's Table II: parameters of each generator variant."""
PASSES = {"cropping": "convtranspose_pad_to_crop", "convolution": "convtranspose_pad_to_conv"}
ORIN10 = {"platform": "orin-agx", "trt_version": "10.3"}


def _keras_count(in_ch: int, out_ch: int, ngf: int, *, conv_variant: bool = False) -> int:
    """Keras's Total params of the tutorial's Generator(), by hand from its layer list:
    kernels without bias, 4 weights per BatchNormalization channel, the last layer's bias;
    the convolution variant adds a cout x cout x 3 x 3 kernel after every ConvTranspose."""
    down = [ngf * m for m in (1, 2, 4, 8, 8, 8, 8, 8)]
    up = [ngf * m for m in (8, 8, 8, 8, 4, 2, 1)]
    total, cin = 0, in_ch
    for i, c in enumerate(down):
        total += cin * c * 16 + (4 * c if i else 0)
        cin = c
    skips = list(reversed(down[:-1]))
    for c, skip in zip(up, skips, strict=True):
        total += cin * c * 16 + 4 * c + (c * c * 9 if conv_variant else 0)
        cin = c + skip
    total += cin * out_ch * 16 + out_ch + (out_ch * out_ch * 9 if conv_variant else 0)
    return total


def test_hand_count_is_table_ii() -> None:
    assert _keras_count(3, 3, 64) == TABLE_II["original"]
    assert _keras_count(3, 3, 64, conv_variant=True) == TABLE_II["convolution"]


def test_full_size_parameter_counts_are_table_ii_for_all_three_variants() -> None:
    original = zoo.build("pix2pix_tf")   # 3 -> 3 channels, 256 x 256, ngf 64
    counts = {"original": zoo.parameter_count(original)}
    for variant, name in PASSES.items():
        counts[variant] = zoo.parameter_count(rewrite(original, name, strict=True).model)
    assert counts == TABLE_II


@pytest.fixture(scope="module")
def small() -> onnx.ModelProto:
    return zoo.build("pix2pix_tf", ngf=8, seed=2)


def test_structure_is_the_tutorials(small: onnx.ModelProto) -> None:
    assert zoo.parameter_count(small) == _keras_count(3, 3, 8)
    ops = Counter(n.op_type for n in small.graph.node)
    assert ops == {"Conv": 8, "BatchNormalization": 14, "LeakyRelu": 8, "ConvTranspose": 8,
                   "Relu": 7, "Concat": 7, "Tanh": 1}
    dims = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
            for vi in small.graph.value_info}
    assert dims["down8/lrelu"] == [1, 64, 1, 1]
    assert dims["up1/concat"] == [1, 128, 2, 2]        # 8 ngf up + 8 ngf skip
    assert dims["up7/concat"] == [1, 16, 128, 128]     # ngf up + ngf skip (down1)
    concat = next(n for n in small.graph.node if n.name == "up3/concat")
    assert list(concat.input) == ["up3/relu", "down5/lrelu"]   # Concatenate()([x, skip])
    lrelu = next(n for n in small.graph.node if n.op_type == "LeakyRelu")
    assert lrelu.attribute[0].f == pytest.approx(0.3)   # Keras's default slope
    padded = [n.name for n in small.graph.node if n.op_type == "ConvTranspose"
              and any(a.name == "pads" and list(a.ints) == [1, 1, 1, 1] for a in n.attribute)]
    assert len(padded) == 8
    onnx.checker.check_model(small, full_check=True)


@pytest.mark.parametrize("variant", ["cropping", "convolution"])
def test_variant_is_the_same_function_and_runs_on_the_dla(small: onnx.ModelProto,
                                                          variant: str) -> None:
    before = check_model(small, **ORIN10)
    refused = {v.name for v in before.gpu_fallbacks}
    assert refused == {n.name for n in small.graph.node if n.op_type == "ConvTranspose"}
    result = rewrite(small, PASSES[variant], strict=True)
    assert len(result.applied) == 8
    report = verify(small, result.model, seed=4, samples=2)
    assert report.passed and report.max_abs_diff <= 1e-5
    after = check_model(result.model, **ORIN10)
    assert after.gpu_fallbacks == () and after.loadables.per_instance == 1
    expected = _keras_count(3, 3, 8, conv_variant=variant == "convolution")
    assert zoo.parameter_count(result.model) == expected


def test_convolution_variant_is_conv3x3_identity_without_bias(small: onnx.ModelProto) -> None:
    from onnx import numpy_helper

    model = rewrite(small, "convtranspose_pad_to_conv", strict=True).model
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs = [n for n in model.graph.node if n.name.endswith("/conv3x3")]
    assert len(convs) == 8
    for node in convs:
        assert len(node.input) == 2                      # no bias
        w = weights[node.input[1]]
        c = w.shape[0]
        assert w.shape == (c, c, 3, 3)
        expected = np.zeros_like(w)
        expected[np.arange(c), np.arange(c), 1, 1] = 1.0
        assert np.array_equal(w, expected)
        (producer,) = [n for n in model.graph.node if node.input[0] in n.output]
        assert producer.op_type == "ConvTranspose"
        assert [list(a.ints) for a in producer.attribute if a.name == "pads"] == [[0, 0, 0, 0]]


def test_a_variant_that_cannot_apply_is_one_line(small: onnx.ModelProto) -> None:
    cropped = rewrite(small, "convtranspose_pad_to_crop", strict=True).model
    with pytest.raises(ExportError, match="'convtranspose_pad_to_conv' cannot apply: the "
                                          "model has no ConvTranspose with non-zero pads"):
        rewrite(cropped, "convtranspose_pad_to_conv", strict=True)
    # not strict: an empty change list, as before
    assert rewrite(cropped, "convtranspose_pad_to_conv").applied == ()


def test_default_passes_do_not_add_the_convolution() -> None:
    from export.rewrite import pass_names

    assert "convtranspose_pad_to_conv" not in pass_names()
    assert "convtranspose_pad_to_conv" in pass_names(default_only=False)

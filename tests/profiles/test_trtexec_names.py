"""Fused engine names back to source layers; row classification."""

from __future__ import annotations

import pytest

from profiles.errors import ProfileError
from profiles.trtexec import RowKind, expand_source_layers, parse_engine_name, split_fused


@pytest.mark.parametrize(("name", "kind", "sources"), [
    ("conv1/7x7_s2 + conv1/relu_7x7", RowKind.COMPUTE, ("conv1/7x7_s2", "conv1/relu_7x7")),
    ("a + b || c + d", RowKind.COMPUTE, ("a", "b", "c", "d")),
    ("PWN(PWN(PWN(Sigmoid_15), Mul_16), Add_17)", RowKind.COMPUTE,
     ("Sigmoid_15", "Mul_16", "Add_17")),
    ("Conv_8 + PWN(PWN(Sigmoid_9), Mul_10)", RowKind.COMPUTE, ("Conv_8", "Sigmoid_9", "Mul_10")),
    ("Reshape_2 + (Unnamed Layer* 7) [Shuffle]", RowKind.COMPUTE,
     ("Reshape_2", "(Unnamed Layer* 7) [Shuffle]")),
    ("{conv_1,batch_norm_1}", RowKind.SUBGRAPH, ("conv_1", "batch_norm_1")),
    ("{ForeignNode[Conv_0]}", RowKind.SUBGRAPH, ("Conv_0",)),
    ("{ForeignNode[Conv_0...Relu_7]}", RowKind.SUBGRAPH, ("Conv_0", "Relu_7")),
    ("__myl_MaxrSubExpSum_myl5_4", RowKind.MYELIN_KERNEL, ()),
    ("__mye59_0_myl0_0", RowKind.MYELIN_KERNEL, ()),
    ("0", RowKind.COMPUTE, ("0",)),
])
def test_sources(name: str, kind: RowKind, sources: tuple[str, ...]) -> None:
    parsed = parse_engine_name(name)
    assert parsed.kind is kind and parsed.source_layers == sources


@pytest.mark.parametrize(("name", "kind", "target", "direction"), [
    ("Reformatting CopyNode for Input Tensor 0 to Conv_5 + Add_6 + Relu_7", RowKind.REFORMAT,
     "Conv_5 + Add_6 + Relu_7", "input"),
    ("Reformatting CopyNode for Output Tensor 0 to reshape_after_Gemm_48", RowKind.REFORMAT,
     "reshape_after_Gemm_48", "output"),
    ("Reformatting CopyNode for Network Input images", RowKind.REFORMAT, None, "input"),
    ("prob input reformatter 0", RowKind.REFORMAT, "prob", "input"),
    ("{a,b} output reformatter 0", RowKind.REFORMAT, "{a,b}", "output"),
    ("{a,b} reformatted input 0 finish", RowKind.SYNC, "{a,b}", "input"),
    ("{a,b} output to be reformatted 0 finish", RowKind.SYNC, "{a,b}", "output"),
    ("data to nvm", RowKind.SYNC, "data", "to_dla"),
    ("(Unnamed Layer* 10) [Convolution]_output from nvm", RowKind.SYNC,
     "(Unnamed Layer* 10) [Convolution]_output", "from_dla"),
    ("data copy finish", RowKind.SYNC, "data", "to_dla"),
    ("loss3/classifier finish", RowKind.SYNC, "loss3/classifier", "from_dla"),
    ("inception_3a/1x1 copy", RowKind.COPY, "inception_3a/1x1", None),
])
def test_aux_rows(name: str, kind: RowKind, target: str | None, direction: str | None) -> None:
    parsed = parse_engine_name(name)
    assert (parsed.kind, parsed.target, parsed.direction) == (kind, target, direction)
    assert parsed.source_layers == ()


def test_nested_brackets_in_foreign_node() -> None:
    name = ("{ForeignNode[Gemm_15 + linear.bias + (Unnamed Layer* 19) [Shuffle] + "
            "(Unnamed Layer* 20) [ElementWise]]}")
    parsed = parse_engine_name(name)
    assert parsed.is_foreign_node and parsed.first == parsed.last
    assert parsed.source_layers == ("Gemm_15", "linear.bias", "(Unnamed Layer* 19) [Shuffle]",
                                    "(Unnamed Layer* 20) [ElementWise]")


def test_foreign_node_first_is_fused_and_unicode_ellipsis() -> None:
    p = parse_engine_name("{ForeignNode[18 + (Unnamed Layer* 1) [Shuffle]...If_6_OutputLayer]}")
    assert (p.first, p.last) == ("18 + (Unnamed Layer* 1) [Shuffle]", "If_6_OutputLayer")
    q = parse_engine_name("{ForeignNode[a\u2026b]}")
    assert (q.first, q.last) == ("a", "b")


def test_expand_foreign_node_with_topological_order() -> None:
    order = ["in", "Conv_0", "Relu_1", "Conv_2", "Relu_7", "out"]
    parsed = parse_engine_name("{ForeignNode[Conv_0...Relu_7]}")
    assert expand_source_layers(parsed, order) == ("Conv_0", "Relu_1", "Conv_2", "Relu_7")
    assert expand_source_layers(parse_engine_name("a + b"), order) == ("a", "b")
    with pytest.raises(ProfileError, match="not a layer"):
        expand_source_layers(parse_engine_name("{ForeignNode[Conv_0...Nope]}"), order,
                             source="net.onnx")
    with pytest.raises(ProfileError, match="comes first"):
        expand_source_layers(parse_engine_name("{ForeignNode[Relu_7...Conv_0]}"), order)


def test_profile_suffix_and_unbalanced_names() -> None:
    assert parse_engine_name("Conv_0 + Relu_1 [profile 1]").profile_index == 1
    assert split_fused("weird( + name") == ["weird(", "name"]
    with pytest.raises(ProfileError):
        parse_engine_name("  ")

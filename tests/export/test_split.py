"""The splitter: sub-models run in order with ONNX Runtime reproduce the whole model.

Every 1-, 2- and 3-segment split of each small DAG model (diamond, U-Net skips, several
outputs, an early output, a late input, a shared weight) is cut, checked and run; plus the
boundary decisions the runtime relies on (which tensors cross, who produces/consumes them).
"""

from __future__ import annotations

import itertools

import onnx
import onnxruntime as ort
import pytest
from dag_models import MODELS, random_feeds

from export.errors import ExportError
from export.split import run_split, split_onnx
from profiles.graph import LayerGraph
from runtime.agreement import SAME_KERNELS, agreement, reference_session_options


def _reference(model: onnx.ModelProto, feeds: dict) -> dict:
    sess = ort.InferenceSession(model.SerializeToString(), reference_session_options(),
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds), strict=True))


def _all_ranges(n: int, max_segments: int = 3):
    for k in range(max_segments):
        for cuts in itertools.combinations(range(1, n), k):
            bounds = [0, *cuts, n]
            yield list(itertools.pairwise(bounds))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_split_up_to_three_segments_reproduces_the_model(name):
    model = MODELS[name]()
    feeds = random_feeds(model, seed=1)
    want = _reference(model, feeds)
    n = len(LayerGraph.from_onnx(model))
    count = 0
    for ranges in _all_ranges(n):
        split = split_onnx(model, ranges)
        got = run_split(split, feeds)
        assert set(got) == set(want)
        for out, value in want.items():
            assert got[out].shape == value.shape
            check = agreement(out, value, got[out], SAME_KERNELS)
            assert check.ok, (name, ranges, check)
        count += 1
    assert count >= 10


def test_skip_connection_across_three_segments_is_output_and_input():
    model = MODELS["unet"]()
    order = LayerGraph.from_onnx(model).order
    # segment 0: enc1..enc2_act, segment 1: enc3..dec2_act, segment 2: up2..out_tanh
    s1 = order.index("enc3")
    s2 = order.index("up2")
    split = split_onnx(model, [(0, s1), (s1, s2), (s2, len(order))])
    seg0, seg1, seg2 = split.submodels
    out0 = {t.name: t for t in seg0.outputs}
    # e1 (enc1_act_out) skips segment 1 and is read by segment 2; e2 feeds 1 (enc3, cat3)
    assert out0["enc1_act_out"].consumers == (2,)
    assert out0["enc2_act_out"].consumers == (1,)
    in2 = {t.name: t for t in seg2.inputs}
    assert in2["enc1_act_out"].producer == 0 and in2["dec2_act_out"].producer == 1
    assert "enc1_act_out" not in {t.name for t in seg1.inputs}
    # sub-model boundaries are the ONNX graph's inputs/outputs, in the recorded order
    assert [i.name for i in seg2.proto.graph.input] == [t.name for t in seg2.inputs]
    assert [o.name for o in seg0.proto.graph.output] == [t.name for t in seg0.outputs]


def test_tensor_read_by_two_later_segments_is_one_output():
    model = MODELS["diamond"]()
    order = LayerGraph.from_onnx(model).order
    # stem | left_relu left_conv | right_sigmoid merge head : stem_out read by 1 and 2
    split = split_onnx(model, [(0, 1), (1, 3), (3, len(order))])
    (stem_out,) = split.submodels[0].outputs
    assert stem_out.name == "stem_out" and stem_out.consumers == (1, 2)
    assert {t.name for t in split.submodels[2].inputs} == {"stem_out", "left_conv_out"}


def test_early_model_output_and_late_model_input():
    model = MODELS["early_output"]()
    split = split_onnx(model, [(0, 2), (2, 4), (4, 6)])
    feat = next(t for t in split.submodels[0].outputs if t.name == "feat_act_out")
    assert feat.model_output and feat.consumers == (1, 2)
    late = MODELS["late_input"]()
    split = split_onnx(late, [(0, 2), (2, 5)])
    assert [t.name for t in split.submodels[0].inputs] == ["x"]
    bias = next(t for t in split.submodels[1].inputs if t.name == "bias_map")
    assert bias.producer is None


def test_shared_initializer_is_in_both_sub_models_and_others_are_not():
    model = MODELS["late_input"]()
    split = split_onnx(model, [(0, 2), (2, 3), (3, 5)])
    inits = [{i.name for i in s.proto.graph.initializer} for s in split.submodels]
    assert "shared.w" in inits[0] and "shared.w" in inits[2]
    assert inits[1] == {"middle.w", "middle.b"}


def test_sub_models_are_deterministic_bytes():
    model = MODELS["unet"]()
    a = split_onnx(model, [(0, 5), (5, 9), (9, 14)])
    b = split_onnx(MODELS["unet"](), [(0, 5), (5, 9), (9, 14)])
    assert [s.serialized() for s in a.submodels] == [s.serialized() for s in b.submodels]


@pytest.mark.parametrize("ranges", [[(0, 2), (3, 6)], [(0, 3), (3, 5)], [(0, 4), (4, 2)]])
def test_ranges_must_cover_the_order(ranges):
    with pytest.raises(ExportError, match=r"segment|layers"):
        split_onnx(MODELS["diamond"](), ranges)


def test_a_segment_of_dead_layers_is_refused():
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Sigmoid", ["x"], ["dead"], name="dead_sigmoid"),
             helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Neg", ["r"], ["y"], name="neg")]
    graph = helper.make_graph(
        nodes, "dead", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert LayerGraph.from_onnx(model).order[0] == "dead_sigmoid"
    with pytest.raises(ExportError, match="dead layers"):
        split_onnx(model, [(0, 1), (1, 3)])
    assert len(split_onnx(model, [(0, 2), (2, 3)]).submodels) == 2

"""The DLA checker against real placement evidence in our trtexec fixtures, and the zoo
reports it must show.

What is compared, per fixture (no fixture comes with its ONNX model, so no test claims a
node-for-node match it cannot make):

- ``trt7.1.3_xavier-agx_exportProfile_googlenet_gpu-then-dla.json`` (shared fixtures, AGX
  Xavier, TRT 7.1.3, BVLC GoogleNet): the TRT 7 DLA subgraph row lists its members by Caffe
  layer name, and the zoo GoogleNet uses the same names. Every member that is a zoo node
  must be DLA-eligible, and ``prob`` (SoftMax), which stayed on the GPU, must be refused.
  The checker's nearest Xavier version is 8.5; the rules these layers meet (conv, pooling,
  LRN, concat, softmax-not-on-Xavier) read the same in the 7.1 and 8.x headers.
- ``trt8.5.2_orin_dla_build.log`` (ours, in the real format, with messages seen on Orin with
  YOLO models): names are of a later YOLO head (``/model.23``), so the comparison is by op
  type and reason: the head's class Sigmoid/Mul on the GPU, a Concat refused for its axis
  ("DLA only supports concatenation on the C dimension"), reshapes refused next to
  Slice/Concat; and the DLA subgraph ends it lists that are also YOLOv8n node names
  (``/model.0/conv/Conv``, ``/model.9/cv2/act/Mul``, ``/model.22/cv3.2/cv3.2.2/Conv``) must
  be eligible.
- ``trt7_deepstream_build.log`` (ours, TRT 7 format, DetectNet): only op types and messages
  are recoverable; each fallback whose op type the name gives becomes a one-op graph the
  checker must refuse for the same reason, and the subgraph limit in the log (8) must be the
  limit `loadable_limit_for_trt` gives for TRT 7. ``output_cov/Sigmoid`` is not compared:
  the log gives no reason and no shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export import zoo
from profiles.dla import DlaError, check_model, loadable_limit_for_trt
from profiles.trtexec.build_log import read_build_log
from profiles.trtexec.names import parse_engine_name

HERE = Path(__file__).resolve().parent
OWN = HERE.parent / "fixtures" / "trtexec"
SHARED = HERE.parents[2] / ".." / "shared" / "fixtures" / "trtexec"
GOOGLENET_PROFILE = SHARED / "trt7.1.3_xavier-agx_exportProfile_googlenet_gpu-then-dla.json"
ORIN10 = {"platform": "orin-agx", "trt_version": "10.3"}


@pytest.fixture(scope="module")
def googlenet() -> onnx.ModelProto:
    return zoo.build("googlenet")


@pytest.fixture(scope="module")
def yolo640() -> onnx.ModelProto:
    return zoo.build("yolov8n")


@pytest.mark.skipif(not GOOGLENET_PROFILE.is_file(), reason="shared trtexec fixtures absent")
def test_googlenet_xavier_trt7_dla_subgraph_members_are_eligible(googlenet):
    rows = json.loads(GOOGLENET_PROFILE.read_text())[1:]
    parsed = [parse_engine_name(r["name"]) for r in rows]
    dla_members = {m for p in parsed if p.is_trt7_dla_subgraph for m in p.source_layers}
    report = check_model(googlenet, platform="xavier-agx", trt_version="8.5")
    names = {v.name for v in report.nodes}
    compared = dla_members & names
    assert len(compared) >= 100  # inception_3a ... loss3/classifier
    assert all(report.eligible(n) for n in compared)
    # 'prob' ran on the GPU although the whole net after layer 10 was marked for the DLA
    assert "prob" in {s for p in parsed if not p.is_trt7_dla_subgraph for s in p.source_layers}
    assert [r.rule for r in report.verdict("prob").reasons] == ["softmax.platform"]
    assert report.loadables.per_instance == 1  # everything but prob in one DLA subgraph


def test_googlenet_orin_is_all_dla_and_xavier_all_but_prob(googlenet):
    report = check_model(googlenet, **ORIN10)
    assert report.gpu_fallbacks == () and report.loadables.per_instance == 1
    xavier = check_model(googlenet, platform="xavier-agx", trt_version="8.5.2")
    assert [v.name for v in xavier.gpu_fallbacks] == ["prob"]
    assert xavier.loadables.per_instance == 1 and xavier.islands[0].last == "loss3/classifier"
    assert xavier.to_dict() == check_model(googlenet, platform="xavier-agx",
                                           trt_version="8.5.2").to_dict()  # deterministic


def test_yolov8n_orin_log_evidence_by_op_type_and_reason(yolo640):
    log = read_build_log(OWN / "trt8.5.2_orin_dla_build.log")
    report = check_model(yolo640, platform="orin-agx", trt_version="8.5.2", precision="int8")
    # DLA subgraph ends named in the log that are YOLOv8n nodes too
    ends = set()
    for entry in log.dla_layers:
        p = parse_engine_name(entry)
        ends |= {p.first, p.last} - {None}
    shared_ends = ends & {v.name for v in report.nodes}
    assert shared_ends == {"/model.0/conv/Conv", "/model.9/cv2/act/Mul",
                           "/model.22/cv3.2/cv3.2.2/Conv"}
    assert all(report.eligible(n) for n in shared_ends)
    # the head's class Sigmoid ran on the GPU (PWN(PWN(/model.23/Sigmoid), /model.23/Mul))
    assert any("Sigmoid" in g for g in log.gpu_layers)
    assert not report.eligible("/model.22/Sigmoid")
    # the log's reasons, and the checker's for the same op types
    reasons = " ".join(f.reason for f in log.fallbacks)
    assert "DLA only supports concatenation on the C dimension" in reasons
    concat_msgs = [r.message for v in report.gpu_fallbacks if v.op == "Concat"
                   for r in v.reasons if r.rule == "concat.axis"]
    assert concat_msgs and all("only supports concatenation on the C dimension" in m
                               for m in concat_msgs)
    assert "does not support reshape layers directly connected to Slice or Concat" in reasons
    reshape_msgs = [r.message for v in report.gpu_fallbacks if v.op == "Reshape"
                    for r in v.reasons if r.rule == "shuffle.next_to_slice_concat"]
    assert len(reshape_msgs) >= 6
    assert all("reshape layers directly connected to Slice or Concat" in m
               for m in reshape_msgs)


def test_yolov8n_on_orin_trt10_names_the_gpu_fallbacks_and_why(yolo640):
    report = check_model(yolo640, **ORIN10)
    fallbacks = {v.name: v for v in report.gpu_fallbacks}
    rules = {n: {r.rule for r in v.reasons} for n, v in fallbacks.items()}
    # DFL: 8400 anchors exceed the 8192 non-batch dimension limit
    for name in ("/model.22/dfl/Transpose", "/model.22/dfl/Softmax", "/model.22/dfl/conv/Conv"):
        assert "max_dim" in rules[name]
        assert "8400" in next(r.message for r in fallbacks[name].reasons if r.rule == "max_dim")
    assert {"shuffle.rank", "shuffle.next_to_slice_concat"} <= rules["/model.22/dfl/Reshape"]
    # box decode: 3-D tensors, not NCHW
    decode = [v for v in fallbacks.values() if v.op in ("Sub", "Add", "Div", "Mul")]
    assert len(decode) >= 5 and all("rank" in rules[v.name] for v in decode)
    assert all("slice.rank" in rules[n] for n in fallbacks if "/Slice" in n)
    assert "rank" in rules["/model.22/Sigmoid"]
    # the backbone, neck and head convolutions stay on the DLA: one loadable
    assert all(v.op != "Conv" or v.name == "/model.22/dfl/conv/Conv" for v in fallbacks.values())
    assert report.loadables.per_instance == 1
    assert all(n.startswith("/model.22/") for n in fallbacks)
    d = report.to_dict()
    assert {x["name"] for x in d["nodes"] if not x["dla"]} == set(fallbacks)
    assert all(x["reasons"] and x["reasons"][0]["source"] for x in d["nodes"] if not x["dla"])


def test_yolov8n_at_320_keeps_the_dfl_on_dla_as_a_second_island():
    report = check_model(zoo.build("yolov8n", size=320), **ORIN10)
    assert report.eligible("/model.22/dfl/Softmax") and report.loadables.per_instance == 2
    isl = report.islands[1]
    assert (isl.first, isl.last) == ("/model.22/dfl/Transpose", "/model.22/dfl/conv/Conv")


def _one(op: str, inputs: list[str], shapes: dict[str, list], inits: dict[str, np.ndarray],
         **attrs: object) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"], name="n", **attrs)], "g",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in shapes.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_deepstream_trt7_fallbacks_by_op_type():
    log = read_build_log(OWN / "trt7_deepstream_build.log")
    by_layer = dict(log.fallback_pairs)
    xavier = {"platform": "xavier-agx", "trt_version": "8.5"}
    # '(Unnamed Layer* 275) [Gather]': a Gather
    assert "(Unnamed Layer* 275) [Gather]" in by_layer
    gather = _one("Gather", ["x", "i"], {"x": [1, 4, 8, 8]}, {"i": np.array([0, 1], np.int64)},
                  axis=1)
    v = check_model(gather, **xavier).verdict("n")
    assert [r.rule for r in v.reasons] == ["support_list"]
    # 'layer84-route: Concatenation on DLA requires at least two inputs'
    assert "at least two inputs" in by_layer["layer84-route"]
    route = _one("Concat", ["x"], {"x": [1, 4, 8, 8]}, {}, axis=1)
    v = check_model(route, **xavier).verdict("n")
    assert [r.rule for r in v.reasons] == ["concat.inputs"]
    assert "requires at least two inputs" in v.reasons[0].message
    # 'reshape_4 does not support dynamic shapes': a dynamic model is refused outright
    assert "dynamic" in by_layer["reshape_4"]
    dyn = _one("Reshape", ["x", "s"], {"x": ["n", 4, 8, 8]},
               {"s": np.array([-1, 4, 64, 1], np.int64)})
    with pytest.raises(DlaError, match="dynamic dimension"):
        check_model(dyn, **xavier)
    # 'DLA supports only 8 subgraphs per DLA core' in a TRT 7 log
    assert {h.limit for h in log.subgraph_limit_hits} == {8}
    assert loadable_limit_for_trt("7.1.3") == 8

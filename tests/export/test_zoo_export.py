"""Every zoo model, at least five schedules each (1, 2 and 3 segments on GPU/DLA0/DLA1,
cuts across skip connections): the exported sub-models, run in the manifest's device order
with ONNX Runtime, reproduce the whole model's outputs (fp32; both sides with graph
optimisations off, compared under `runtime.agreement.SAME_KERNELS`: on any CPU).

The five schedules of a model are the five instances of one throughput problem (F = 5):
one export, one manifest, five different partitions of the same model. The cost tables are
built from the model's `LayerGraph` grouping with synthetic times (``source: synthetic``).
"""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pytest
from dag_models import random_feeds
from export_cases import D0, D1, G, schedule
from manifest_runner import run_manifest

from export import zoo
from export.exporter import export_schedule
from profiles.synthetic import synthetic_onnx_table
from runtime.agreement import SAME_KERNELS, agreement, reference_session_options
from solvers.model.problem import Problem

ZOO_OPTIONS = {
    "pix2pix": {"ngf": 4},                  # size 256: num_downs 8
    "pix2pix_tf": {"ngf": 4},               # the seed paper's generator, 3 -> 3 channels
    "yolov8n": {"size": 320},
    "googlenet": {"size": 96},
    "resnet50": {"size": 64, "num_classes": 10},
    "resnet50_mlperf": {},
    "ssd_mobilenet_v1": {},
    "retinanet_resnext50": {"size": 128},
    "yolo11n": {},
    "yolo11m": {},
    "yolo11l": {},
}
SAME_GRAPH_AS = {
    # same exporter graph as the key's partner but for channel widths (the yaml scales):
    # the partition and export paths are identical, so the 640-pixel CPU runs are not
    # repeated for them
    "yolo11s": "yolo11n", "yolo11x": "yolo11l",
}
EIGHT_GROUP_SCHEDULES = (
    ((0, 7, G),),
    ((0, 2, D0), (3, 7, G)),
    ((0, 3, G), (4, 7, D1)),
    ((0, 1, G), (2, 5, D0), (6, 7, G)),
    ((0, 4, D1), (5, 5, G), (6, 7, D0)),
)


def test_the_zoo_is_covered():
    assert sorted([*ZOO_OPTIONS, *SAME_GRAPH_AS]) == sorted(zoo.names())
    for name, partner in SAME_GRAPH_AS.items():
        a, b = zoo.build(name), zoo.build(partner)
        assert [(n.name, n.op_type) for n in a.graph.node] == \
            [(n.name, n.op_type) for n in b.graph.node], name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO_OPTIONS))
def test_zoo_model_five_schedules_reproduce_it(name, tmp_path):
    path = zoo.save(name, tmp_path / f"{name}.onnx", **ZOO_OPTIONS[name])
    table = synthetic_onnx_table(path, 8, seed=7, name=name, platform="orin-agx")
    problem = Problem.create([table], "orin-agx", objective="throughput",
                             frames_per_round=len(EIGHT_GROUP_SCHEDULES), contention="none")
    manifest = export_schedule(problem, schedule(*EIGHT_GROUP_SCHEDULES), {name: path},
                               tmp_path / "out")
    assert len(manifest.segments) == sum(len(s) for s in EIGHT_GROUP_SCHEDULES)
    # DAG cuts: some hand-off carries several tensors or skips a segment
    assert any(len(h.tensors) > 1 or not h.target.endswith(f"/{int(h.source[-1]) + 1}")
               for h in manifest.handoffs)
    model = onnx.load(str(path))
    feeds = random_feeds(model, seed=11)
    sess = ort.InferenceSession(str(path), reference_session_options(),
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    want = dict(zip(names, sess.run(names, feeds), strict=True))
    got = run_manifest(manifest, {name: feeds})
    assert sorted(got) == [(name, i) for i in range(len(EIGHT_GROUP_SCHEDULES))]
    for (_, instance), outs in got.items():
        for out, value in want.items():
            check = agreement(out, value, outs[out], SAME_KERNELS)
            assert check.ok, (name, instance, check)


def test_pix2pix_encoder_skips_reach_the_decoder_across_a_segment(tmp_path):
    path = zoo.save("pix2pix", tmp_path / "p.onnx", ngf=4)
    table = synthetic_onnx_table(path, 8, seed=7, name="pix2pix", platform="orin-agx")
    problem = Problem.create([table], "orin-agx", contention="none")
    manifest = export_schedule(problem, schedule(((0, 1, G), (2, 5, D0), (6, 7, G))),
                               {"pix2pix": path}, tmp_path / "out")
    skip = [h for h in manifest.handoffs if (h.source, h.target) == ("pix2pix#0/0",
                                                                       "pix2pix#0/2")]
    assert skip and skip[0].direction == "GPU->GPU"
    # each tensor of the skip is an output of segment 0 and an input of segment 2
    outs0 = {o.name for o in manifest.segment("pix2pix#0/0").outputs}
    ins2 = {i.name: i.source for i in manifest.segment("pix2pix#0/2").inputs}
    for t in skip[0].tensors:
        assert t in outs0 and ins2[t].segment == "pix2pix#0/0"

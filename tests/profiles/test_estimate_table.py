"""Estimated cost tables: grouping, DLA eligibility, transitions, metadata, data files."""

from __future__ import annotations

import hashlib
import itertools
import random
from importlib import resources

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from profiles.costtable import CostTable
from profiles.estimate import (
    EstimateError,
    estimate,
    load_params,
    load_platform,
    platform_names,
)
from profiles.estimate.table import min_max_partition
from profiles.graph import LayerGraph, onnx_graph_signature


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv(name, x, cin, cout, inits, nodes, k=3):
    w = numpy_helper.from_array(np.zeros((cout, cin, k, k), np.float32), f"{name}_w")
    inits.append(w)
    nodes.append(helper.make_node("Conv", [x, w.name], [f"{name}_o"], name=name,
                                  kernel_shape=[k, k], pads=[k // 2] * 4))
    nodes.append(helper.make_node("Relu", [f"{name}_o"], [f"{name}_r"], name=f"{name}_relu"))
    return f"{name}_r"


def chain_with_skip(n_convs=6, c=8, hw=16):
    """conv chain; a skip from conv1 to an Add after conv3 (two tensors cross inside)."""
    nodes, inits = [], []
    x = "x"
    outs = []
    for i in range(n_convs):
        x = conv(f"c{i}", x, 3 if i == 0 else c, c, inits, nodes)
        outs.append(x)
        if i == 3:
            nodes.append(helper.make_node("Add", [outs[1], x], ["skip"], name="add"))
            x = "skip"
    nodes.append(helper.make_node("Softmax", [x], ["y"], name="softmax", axis=1))
    graph = helper.make_graph(nodes, "chain", [vi("x", [1, 3, hw, hw])],
                              [vi("y", [1, c, hw, hw])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def all_ok(model, refused=()):
    order = LayerGraph.from_onnx(model).order
    return {n: (n not in refused, "refused in test" if n in refused else "") for n in order}


def test_table_is_valid_roundtrips_and_says_it_is_estimated():
    m = chain_with_skip()
    est = estimate(m, platform="orin-agx", groups=4, dla_verdicts=all_ok(m))
    t = est.table
    assert t.n_groups == 4
    assert t.source.startswith("estimated")
    assert t.platform == "orin-agx" and t.metadata["estimator_platform"] == "orin-agx-64"
    assert t.metadata["onnx_graph"] == onnx_graph_signature(m)
    params_file = resources.files("profiles.estimate").joinpath("params.toml").read_bytes()
    assert t.metadata["estimator_params_sha256"] == hashlib.sha256(params_file).hexdigest()
    assert "dla_tflops_per_core.fp16" in t.metadata["assumed_figures"]
    again = CostTable.from_csv_text(t.to_csv_text())
    assert again.to_csv_text() == t.to_csv_text()
    # deterministic: byte-identical on a second run
    assert estimate(m, platform="orin-agx", groups=4,
                    dla_verdicts=all_ok(m)).table.to_csv_text() == t.to_csv_text()


def test_groups_follow_layer_order_and_cover_every_layer():
    m = chain_with_skip()
    order = LayerGraph.from_onnx(m).order
    est = estimate(m, platform="xavier-agx", groups=3, dla_verdicts=all_ok(m))
    covered = []
    for row in est.table.rows:
        a, b = order.index(row.first_layer), order.index(row.last_layer)
        covered += order[a:b + 1]
        assert row.layers == b - a + 1
    assert tuple(covered) == order
    total = sum(la.gpu_ms for la in est.layers)
    assert sum(est.table.gpu_ms) == pytest.approx(total, rel=1e-5)


def test_no_cut_inside_a_fused_kernel_or_inside_the_skip():
    m = chain_with_skip()
    est = estimate(m, platform="xavier-agx", dla_verdicts=all_ok(m))
    graph = LayerGraph.from_onnx(m)
    for c in est.candidate_cuts:
        assert not graph.order[c + 1].endswith("_relu")  # conv|relu never split
        assert len(graph.cut_after(c, 8).tensors) <= 1
    with pytest.raises(EstimateError, match="cannot cut after 'c0'"):
        estimate(m, platform="xavier-agx", cuts=["c0"], dla_verdicts=all_ok(m))
    with pytest.raises(EstimateError, match="cannot cut after 'c2_relu'"):
        estimate(m, platform="xavier-agx", cuts=["c2_relu"], dla_verdicts=all_ok(m))


def test_multi_tensor_cuts_with_max_crossing():
    m = chain_with_skip()
    est = estimate(m, platform="xavier-agx", cuts=["c2_relu"], max_crossing=2,
                   dla_verdicts=all_ok(m))
    row = est.table.rows[0]
    assert row.extra["cut_tensors"] == "c1_r;c2_r"
    assert row.out_bytes == 2 * 8 * 16 * 16 * 2  # two fp16 tensors
    one = estimate(m, platform="xavier-agx", cuts=["c1_relu"], max_crossing=2,
                   dla_verdicts=all_ok(m)).table.rows[0]
    # more bytes cost more on the DLA side (the fitted GPU side has no byte dependence)
    assert one.extra["cut_tensors"] == "c1_r" and one.dla_to_gpu_ms < row.dla_to_gpu_ms
    assert one.gpu_to_dla_ms <= row.gpu_to_dla_ms


def test_refused_layer_removes_dla_time_of_its_group_only():
    m = chain_with_skip()
    verdicts = all_ok(m, refused={"softmax"})
    est = estimate(m, platform="orin-agx", groups=3, dla_verdicts=verdicts, align_dla=False)
    last = est.table.rows[-1]
    assert last.dla_ms is None and last.dla_bw_gbps is None
    assert est.table.rows[-2].gpu_to_dla_ms is None  # nothing to switch to
    assert est.table.rows[-2].dla_to_gpu_ms is not None
    assert all(r.dla_ms is not None for r in est.table.rows[:-1])
    aligned = estimate(m, platform="orin-agx", groups=3, dla_verdicts=verdicts)
    assert aligned.table.rows[-1].first_layer == "softmax"
    assert aligned.table.rows[-1].dla_ms is None
    assert aligned.table.rows[-2].dla_ms is not None


def test_checker_verdicts_by_default(monkeypatch):
    m = chain_with_skip()
    xavier = estimate(m, platform="xavier-agx", groups=3)
    assert "profiles.dla.check_model(platform=xavier-agx" in xavier.table.metadata["dla_checker"]
    refused = {la.name for la in xavier.layers if not la.dla_ok}
    assert "softmax" in refused  # Xavier: SoftMax not on DLA [hdr 8.4, 8.6]
    assert xavier.table.rows[-1].dla_ms is None


def test_fp32_table_is_gpu_only_and_valid():
    m = chain_with_skip()
    t = estimate(m, platform="orin-nx", precision="fp32", groups=3).table
    assert all(r.dla_ms is None and r.gpu_to_dla_ms is None and r.dla_to_gpu_ms is None
               for r in t.rows)
    fp16 = estimate(m, platform="orin-nx", precision="fp16", groups=3,
                    dla_verdicts=all_ok(m)).table
    assert sum(t.gpu_ms) > sum(fp16.gpu_ms)


def test_bad_requests_are_domain_errors():
    m = chain_with_skip()
    with pytest.raises(EstimateError, match="groups need"):
        estimate(m, platform="orin-agx", groups=50, dla_verdicts=all_ok(m))
    with pytest.raises(EstimateError, match="unknown platform"):
        estimate(m, platform="orin-nano", dla_verdicts=all_ok(m))
    with pytest.raises(EstimateError, match="precision"):
        estimate(m, platform="orin-agx", precision="bf16", dla_verdicts=all_ok(m))
    with pytest.raises(EstimateError, match="not found"):
        estimate("/nonexistent/model.onnx", platform="orin-agx")


def test_bandwidth_demand_is_bytes_over_time():
    m = chain_with_skip()
    est = estimate(m, platform="orin-agx", groups=2, dla_verdicts=all_ok(m))
    for g, row in zip(est.groups, est.table.rows, strict=True):
        chunk = est.layers[g.start:g.end]
        gpu_bytes = sum(la.gpu_bytes for la in chunk)
        assert row.gpu_bw_gbps == pytest.approx(gpu_bytes / row.gpu_ms / 1e6, rel=1e-4)
        assert 0 < row.gpu_bw_gbps <= load_platform("orin-agx").dram_gbps


# ---------------------------------------------------------------------- data files
def test_every_platform_figure_has_a_source():
    names = platform_names()
    assert {"xavier-agx", "orin-agx-64", "orin-agx-32", "orin-nx-16", "orin-nx-8"} <= set(names)
    for name in names:
        spec = load_platform(name)
        for key, fig in spec.figures.items():
            assert fig.source.strip(), (name, key)
            if "assumption" in fig.source.lower()[:12]:
                assert fig.assumption, (name, key)
    assert load_platform("orin-nx-8").dla_cores == 1
    assert load_platform("orin-agx").name == "orin-agx-64"


def test_bad_data_files_name_the_key(tmp_path):
    text = resources.files("profiles.estimate").joinpath("params.toml").read_text()
    broken = text.replace('overhead_us = { value = ', 'overhead_us = { valu = ', 1)
    path = tmp_path / "p.toml"
    path.write_text(broken)
    with pytest.raises(EstimateError, match=r"gpu\.overhead_us"):
        load_params(path)
    path.write_text(text.replace("[dla.compute_efficiency]\nconv = { value = ",
                                 "[dla.compute_efficiency]\nconv = { value = 7", 1))
    with pytest.raises(EstimateError, match="fraction"):
        load_params(path)
    plat = resources.files("profiles.estimate").joinpath("platforms.toml").read_text()
    # a figure whose source is blank is refused
    blank = plat.replace('source = "[AGX-XAVIER-DS]: 256-bit LPDDR4x, 136.5 GB/s"',
                         'source = " "', 1)
    path.write_text(blank)
    with pytest.raises(EstimateError, match="dram_gbps"):
        load_platform("xavier-agx", path)


# ---------------------------------------------------------------------- partition DP
def brute_force(costs, candidates, k, forced):
    best, best_bounds = None, None
    for combo in itertools.combinations(candidates, k - 1):
        if not set(forced) <= set(combo):
            continue
        edges = [0, *(c + 1 for c in combo), len(costs)]
        worst = max(sum(costs[a:b]) for a, b in itertools.pairwise(edges))
        if best is None or worst < best - 1e-12:
            best, best_bounds = worst, list(combo)
    return best, best_bounds


def test_min_max_partition_matches_brute_force_with_forced_cuts():
    rng = random.Random(7)
    for _ in range(60):
        n = rng.randint(2, 9)
        costs = [rng.choice([0.0, 0.5, 1.0, 2.0, 3.5]) for _ in range(n)]
        candidates = sorted(rng.sample(range(n - 1), rng.randint(1, n - 1)))
        k = rng.randint(1, len(candidates) + 1)
        forced = sorted(rng.sample(candidates, rng.randint(0, min(k - 1, len(candidates)))))
        got = min_max_partition(costs, candidates, k, forced)
        assert len(got) == k - 1 and set(forced) <= set(got) and set(got) <= set(candidates)
        edges = [0, *(c + 1 for c in got), n]
        worst = max(sum(costs[a:b]) for a, b in itertools.pairwise(edges))
        expected, _ = brute_force(costs, candidates, k, forced)
        assert worst == pytest.approx(expected)


def test_conservative_unknown_op_is_labelled_in_the_table():
    from tests.profiles.test_estimate_work import custom_op_model

    m = custom_op_model()
    verdicts = {"fancy": (False, "plugin"), "relu": (True, "")}
    with pytest.raises(EstimateError, match="FancyOp"):
        estimate(m, platform="orin-agx", groups=1, dla_verdicts=verdicts)
    t = estimate(m, platform="orin-agx", groups=1, dla_verdicts=verdicts,
                 unknown="conservative").table
    assert "CONSERVATIVE" in t.metadata["conservative_layers"]
    assert "fancy" in t.metadata["conservative_layers"]
    assert t.rows[0].dla_ms is None and t.rows[0].gpu_ms > 0

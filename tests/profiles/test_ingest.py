"""trtexec artifacts -> CostTable: attribution rules, grouping, zero-time merge, DLA info."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from profiles.costtable import CostTable
from profiles.errors import ProfileError
from profiles.ingest import DlaCosts, attribute_rows, ingest_trtexec, read_profile
from profiles.trtexec import read_build_log, read_export_profile

HERE = Path(__file__).resolve()
OWN = HERE.parents[1] / "fixtures" / "trtexec"
SHARED = HERE.parents[2] / ".." / "shared" / "fixtures" / "trtexec"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/fixtures/trtexec absent")


@needs_shared
def test_trt84_resnet_table_keeps_every_ms_and_flags_noise() -> None:
    path = SHARED / "trt8.4_a100_exportProfile_resnet50-fp16_count1_zero-time-rows.json"
    info = SHARED / "trt8.4_a100_exportLayerInfo-detailed_resnet50-fp16.json"
    res = ingest_trtexec(path, platform="a100", model="resnet50", precision="fp16",
                         layer_info=info)
    t = res.table
    prof = read_export_profile(path)
    assert t.n_groups == 24  # one per compute row
    assert math.fsum(t.gpu_ms) == pytest.approx(prof.total_average_ms, rel=1e-12)
    assert t.rows[0].gpu_ms == pytest.approx(0.080896 + 0.111616)  # input reformat -> Conv_0
    assert (t.rows[0].first_layer, t.rows[0].last_layer) == ("Conv_0", "Relu_1")
    # reshape_after_Gemm_48 is 0 ms itself but owns its 0.007168 ms output reformat
    assert t.rows[-1].extra["engine_first"] == "reshape_after_Gemm_48"
    assert t.rows[-1].gpu_ms == pytest.approx(0.007168)
    assert all(r.dla_ms is None for r in t.rows)
    meta = t.metadata
    assert meta["source"].startswith("measured") and meta["precision"] == "fp16"
    assert "count=1" in meta["noisy"] and "count=1, 36 rows" in meta["provenance"]
    assert meta["dla"].startswith("not measured") and meta["statistic"] == "averageMs"
    assert "11 zero-time rows kept at 0 ms" in meta["notes"]
    again = CostTable.from_csv_text(t.to_csv_text())
    assert again.gpu_ms == t.gpu_ms


@needs_shared
def test_trt7_googlenet_gpu_only_attribution() -> None:
    res = ingest_trtexec(SHARED / "trt7.1.3_xavier-agx_exportProfile_googlenet_gpu-only.json",
                         platform="xavier-agx", model="googlenet")
    t = res.table
    assert t.n_groups == 57 and math.fsum(t.gpu_ms) == pytest.approx(1.94, abs=1e-4)
    assert t.rows[0].gpu_ms == pytest.approx(0.0219454 + 0.0833413)
    rows = res.to_json()["rows"]
    copy = next(r for r in rows if r["name"] == "inception_3a/1x1 copy")
    assert copy["rule"] == "neighbour"
    assert copy["attributed_to"] == "inception_3a/5x5 + inception_3a/relu_5x5"
    out = next(r for r in rows if r["name"] == "prob output reformatter 0")
    assert out["attributed_to"] == "prob" and out["rule"] == "named target"
    assert t.metadata["trt_version"] == "unknown (7.x-8.2 key set)"
    assert "noisy" not in t.metadata


@needs_shared
def test_trt7_dla_profile_is_refused_but_attributed_to_the_dla_node() -> None:
    path = SHARED / "trt7.1.3_xavier-agx_exportProfile_googlenet_gpu-then-dla.json"
    with pytest.raises(ProfileError, match="ran on the DLA"):
        ingest_trtexec(path, platform="xavier-agx")
    att = attribute_rows(read_export_profile(path))
    dla = [c for c in att.compute_rows if c.device == "DLA"]
    assert len(dla) == 1
    # its own input reformatter (named target), and by rule 5 'prob input reformatter 0'
    # (2.42 ms, where the DLA time lands on Xavier) and the finish rows
    assert dla[0].total_ms == pytest.approx(
        0.0271658 + 0.00998803 + 0.00353825 + 2.42151 + 0.00321742)
    prob = att.compute_rows[-1]
    assert prob.name == "prob" and prob.total_ms == pytest.approx(0.00876588)


@needs_shared
def test_trt10_dump_table_reformat_to_expanded_foreign_node() -> None:
    res = ingest_trtexec(SHARED / "trt10.16_h100_dumpProfile_log.txt", platform="h100")
    t = res.table
    assert t.metadata["trt_version"] == "10.16.1" and t.n_groups == 14
    assert math.fsum(t.gpu_ms) == pytest.approx(0.0833, abs=2e-4)
    reformat = next(r for r in res.to_json()["rows"] if r["kind"] == "reformat")
    assert reformat["attributed_to"] == "__mye59_0_myl3_0" and reformat["rule"] == "neighbour"


def test_nvm_sync_rows_go_to_foreign_dla_node() -> None:
    att = attribute_rows(read_export_profile(OWN / "trt8.2_exportProfile_nvm_foreign.json"))
    node = att.compute_rows[0]
    assert node.device == "DLA" and node.name == "{ForeignNode[Conv_0...Relu_7]}"
    assert node.total_ms == pytest.approx(0.036 + 0.01 + 0.017 + 2.58 + 0.005)
    assert att.rule[0] == "before DLA node" and att.rule[3] == "after DLA node"


def test_foreign_node_without_sync_rows_is_not_dla() -> None:
    res = ingest_trtexec(OWN / "trt8.6_dumpProfile.log", platform="orin-agx")
    assert res.table.n_groups == 5  # 7 rows: network-input reformat and concat copy attributed
    assert res.table.rows[0].gpu_ms == pytest.approx(0.0302 + 0.2348)  # network input copy


def test_build_log_marks_dla_node() -> None:
    prof = read_profile(OWN / "trt8.6_dumpProfile.log")
    log = read_build_log(OWN / "trt8.5.2_orin_dla_build.log")
    node = "{ForeignNode[/model.22/Constant_output_0.../model.22/Concat_5]}"
    att = attribute_rows(prof, dla_nodes=[node])
    assert [c.device for c in att.compute_rows].count("DLA") == 1
    assert all(c.device != "DLA" for c in attribute_rows(prof, build_log=log).compute_rows)


def test_zero_time_group_is_merged_and_noted() -> None:
    res = ingest_trtexec(OWN / "trt8.5_exportProfile_zero_group.json", platform="orin-agx",
                         statistic="median")
    t = res.table
    # Conv_0 | (reshape_after_Conv_0 merged into Conv_0) | Conv_2 | Conv_3 (two kernels)
    assert t.gpu_ms == (0.119, 0.088, 0.061 + 0.031)
    assert t.rows[0].extra["engine_last"] == "reshape_after_Conv_0"
    assert "1 zero-time group(s) merged" in t.metadata["notes"]
    assert "reshape_after_Conv_0" in t.metadata["notes"]
    assert t.metadata["statistic"] == "medianMs"


def _export_profile(path: Path, rows: list[tuple[str, float]]) -> Path:
    body = ",\n".join(
        f'{{ "name" : "{n}", "timeMs" : {t * 100}, "averageMs" : {t}, "medianMs" : {t}, '
        f'"percentage" : 10 }}' for n, t in rows)
    path.write_text(f'[\n  {{ "count" : 100 }}\n, {body}\n]\n')
    return path


def test_zero_time_first_group_joins_the_next_one(tmp_path: Path) -> None:
    # found by the reader fuzzer: a 0 ms *first* group was prepended to the group after the
    # next one (the pop shifted the index), or crashed when only two groups were left
    rows = [("Reshape_0", 0.0), ("Conv_1", 0.1), ("Conv_2", 0.2), ("Conv_3", 0.3)]
    t = ingest_trtexec(_export_profile(tmp_path / "four.json", rows), platform="orin-agx").table
    assert t.gpu_ms == (0.1, 0.2, 0.3)
    assert [r.first_layer for r in t.rows] == ["Reshape_0", "Conv_2", "Conv_3"]
    two = ingest_trtexec(_export_profile(tmp_path / "two.json", rows[:2]), platform="orin-agx")
    assert two.table.gpu_ms == (0.1,)


def test_all_zero_profile_refused() -> None:
    with pytest.raises(ProfileError, match="every row of the profile is 0 ms"):
        ingest_trtexec(OWN / "trt8.5_exportProfile_all_zero_nan.json", platform="x")


def test_group_starts_and_dla_costs() -> None:
    path = OWN / "trt8.5_exportProfile_unescaped_quote.json"
    res = ingest_trtexec(path, platform="orin-agx", group_starts=["Conv_3 + Relu_4", 6])
    t = res.table
    assert t.n_groups == 3
    total = read_export_profile(path).total_average_ms
    assert math.fsum(t.gpu_ms) == pytest.approx(total)
    dla = DlaCosts({0: 0.5, 1: 0.9}, gpu_to_dla_ms={0: 0.02}, dla_to_gpu_ms={0: 0.03, 1: 0.04},
                   source="sweep.csv", first_rows=["Conv_0", "Conv_3", "Gemm_48"])
    t2 = ingest_trtexec(path, platform="orin-agx", group_starts=["Conv_3 + Relu_4", 6],
                        dla=dla).table
    assert t2.dla_ms == (0.5, 0.9, None) and t2.rows[0].gpu_to_dla_ms == 0.02
    assert t2.metadata["dla"] == "from sweep.csv"
    bad = DlaCosts({0: 0.5}, source="other.csv", first_rows=["Conv_0", "Conv_5", "x"])
    with pytest.raises(ProfileError, match="do not match"):
        ingest_trtexec(path, platform="p", group_starts=["Conv_3 + Relu_4", 6], dla=bad)
    with pytest.raises(ProfileError, match="increase strictly"):
        ingest_trtexec(path, platform="p", group_starts=[3, 2])
    with pytest.raises(ProfileError, match="not a compute row"):
        ingest_trtexec(path, platform="p", group_starts=["nope"])


def test_missing_transition_in_dla_costs_is_caught_by_costtable() -> None:
    path = OWN / "trt8.5_exportProfile_unescaped_quote.json"
    with pytest.raises(ProfileError, match="gpu_to_dla_ms is missing"):
        ingest_trtexec(path, platform="p", dla=DlaCosts({1: 0.3}))


def test_layer_info_join_and_myelin_sources() -> None:
    res = ingest_trtexec(OWN / "trt10_exportProfile_matching_layerinfo.json", platform="p",
                         layer_info=OWN / "trt10_exportLayerInfo_detailed.json")
    t = res.table
    assert t.rows[2].first_layer == "node_linear" and t.rows[2].last_layer == "node_linear_bias_add"
    assert t.rows[3].first_layer == "__myl_CastReshCast_myl5_6"  # no ONNX layer: engine name
    with pytest.raises(ProfileError, match="different engines"):
        ingest_trtexec(OWN / "trt8.5_exportProfile_zero_group.json", platform="p",
                       layer_info=OWN / "trt10_exportLayerInfo_detailed.json")


def test_topological_order_expands_foreign_nodes() -> None:
    res = ingest_trtexec(OWN / "trt8.6_dumpProfile.log", platform="p",
                         topo_order=["/model.22/Constant_output_0", "/model.22/Mul",
                                     "/model.22/Concat_5"])
    row = next(r for r in res.table.rows if r.extra["engine_first"].startswith("{ForeignNode"))
    assert row.first_layer == "/model.22/Constant_output_0"
    assert row.last_layer == "/model.22/Concat_5"
    assert row.layers == 3  # the foreign node expanded over the given order

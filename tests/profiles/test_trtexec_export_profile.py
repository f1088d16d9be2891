"""--exportProfile reader: real files (shared fixtures) and the project's own edge cases."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from profiles.errors import ProfileError
from profiles.trtexec import (
    RowKind,
    format_export_profile,
    parse_export_profile,
    read_export_profile,
)

HERE = Path(__file__).resolve()
OWN = HERE.parents[1] / "fixtures" / "trtexec"
SHARED = HERE.parents[2] / ".." / "shared" / "fixtures" / "trtexec"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/fixtures/trtexec absent")


@needs_shared
def test_trt84_resnet_count1_zero_rows() -> None:
    p = read_export_profile(
        SHARED / "trt8.4_a100_exportProfile_resnet50-fp16_count1_zero-time-rows.json")
    assert p.count == 1 and p.noisy
    assert p.version_keys == "8.4+" and p.has_median
    assert len(p) == 36
    assert sum(1 for r in p.rows if r.time_ms == 0) == 11
    first = p.rows[0]
    assert first.name == "Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1"
    assert first.kind is RowKind.REFORMAT
    assert first.average_ms == pytest.approx(0.080896)
    assert first.median_ms == pytest.approx(0.080896)
    assert first.percentage == pytest.approx(7.95569)
    assert p.rows[1].name == "Conv_0 + Relu_1" and p.rows[1].kind is RowKind.COMPUTE
    assert p.rows[-1].name == "Reformatting CopyNode for Output Tensor 0 to reshape_after_Gemm_48"
    assert p.total_average_ms == pytest.approx(1.016832, rel=1e-5)
    assert math.fsum(r.percentage or 0 for r in p.rows) == pytest.approx(100, abs=1e-3)


@needs_shared
def test_trt7_googlenet_gpu_only() -> None:
    p = read_export_profile(SHARED / "trt7.1.3_xavier-agx_exportProfile_googlenet_gpu-only.json")
    assert p.count == 12483 and not p.noisy
    assert p.version_keys == "7.x-8.2" and not p.has_median
    assert len(p) == 85
    assert all(r.median_ms is None for r in p.rows)
    kinds = [r.kind for r in p.rows]
    assert kinds.count(RowKind.COMPUTE) == 57
    assert kinds.count(RowKind.REFORMAT) == 19
    assert kinds.count(RowKind.COPY) == 9
    assert p.rows[0].name == "conv1/7x7_s2 + conv1/relu_7x7 input reformatter 0"
    assert p.rows[1].average_ms == pytest.approx(0.0833413)
    assert p.rows[-1].name == "prob output reformatter 0"
    assert p.total_average_ms == pytest.approx(1.94, abs=1e-3)
    # averageMs = timeMs / count in TRT <= 8.2
    for r in p.rows:
        assert r.average_ms == pytest.approx(r.time_ms / p.count, rel=1e-3, abs=1e-7)


@needs_shared
def test_trt7_googlenet_gpu_then_dla() -> None:
    p = read_export_profile(
        SHARED / "trt7.1.3_xavier-agx_exportProfile_googlenet_gpu-then-dla.json")
    assert p.count == 11595 and len(p) == 17
    dla = [r for r in p.rows if r.kind is RowKind.SUBGRAPH]
    assert len(dla) == 1 and dla[0].parsed.is_trt7_dla_subgraph
    assert dla[0].average_ms == pytest.approx(0.00998803)
    assert dla[0].parsed.source_layers[0] == "inception_3a/1x1"
    assert dla[0].parsed.source_layers[-1] == "loss3/classifier"
    big = max(p.rows, key=lambda r: r.average_ms)
    assert big.name == "prob input reformatter 0" and big.percentage == pytest.approx(83.0167)


def test_unescaped_quote_and_backslash_kept_verbatim() -> None:
    p = read_export_profile(OWN / "trt8.5_exportProfile_unescaped_quote.json")
    assert p.parse_mode == "lines"
    assert p.rows[2].name == 'pool "max" 3x3\\s2'
    assert p.count == 2460 and len(p) == 10
    assert p.rows[3].time_ms == 0 and p.rows[3].percentage == 0


def test_nan_percentage_of_all_zero_profile_is_none() -> None:
    p = read_export_profile(OWN / "trt8.5_exportProfile_all_zero_nan.json")
    assert [r.percentage for r in p.rows] == [None, None]
    assert p.rows[1].name == '"quoted" layer'
    assert p.rows[0].parsed.target == '"quoted" layer'
    assert p.total_average_ms == 0


def test_json_fallback_decodes_escapes() -> None:
    text = ('[{"count": 10},\n {"name": "a\\\\b", "timeMs": 1.0, "averageMs": 0.1,'
            ' "percentage": 100.0}]')
    p = parse_export_profile(text, source="x.json")
    assert p.parse_mode == "json" and p.rows[0].name == "a\\b"


def test_repeated_names_get_trex_keys() -> None:
    p = read_export_profile(OWN / "trt8.5_exportProfile_zero_group.json")
    assert [r.key for r in p.rows][-2:] == ["Conv_3", "Conv_3_2"]


def test_round_trip_writer_form() -> None:
    p = read_export_profile(OWN / "trt8.5_exportProfile_unescaped_quote.json")
    again = parse_export_profile(format_export_profile(p.rows, p.count), source="again")
    assert [(r.name, r.time_ms, r.average_ms, r.median_ms) for r in again.rows] == [
        (r.name, r.time_ms, r.average_ms, r.median_ms) for r in p.rows]


def test_median_statistic_needs_84_keys() -> None:
    p = read_export_profile(OWN / "trt8.2_exportProfile_nvm_foreign.json")
    with pytest.raises(ProfileError, match="medianMs"):
        p.rows[0].cost_ms("median")

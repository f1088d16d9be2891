"""--dumpProfile tables (both layouts) and performance summaries (TRT 7 blocks, 8.x lines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiles.errors import ProfileError
from profiles.trtexec import (
    RowKind,
    TrtVersion,
    parse_dump_profile,
    parse_performance_summary,
    read_dump_profile,
    read_performance_summary,
)

HERE = Path(__file__).resolve()
OWN = HERE.parents[1] / "fixtures" / "trtexec"
SHARED = HERE.parents[2] / ".." / "shared" / "fixtures" / "trtexec"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/fixtures/trtexec absent")


@needs_shared
def test_trt10_h100_table_86_layout() -> None:
    path = SHARED / "trt10.16_h100_dumpProfile_log.txt"
    d = read_dump_profile(path)
    assert d.layout == "8.6+" and d.iterations == 18362
    assert d.trt_version == TrtVersion(10, 16, 1)
    assert len(d) == 15
    assert d.rows[0].name == "__mye59_0_myl0_0" and d.rows[0].kind is RowKind.MYELIN_KERNEL
    assert (d.rows[0].time_ms, d.rows[0].average_ms, d.rows[0].median_ms) == (31.4, 0.0017, 0.0018)
    assert d.rows[3].name == ("Reformatting CopyNode for Input Tensor 0 to "
                              "{ForeignNode[node_conv2d_1...node_relu_1]}")
    assert d.rows[3].kind is RowKind.REFORMAT
    assert d.total.time_ms == 1529.13 and d.total.average_ms == 0.0833
    assert d.rows[-1].name == "__myl_Cast_myl5_7"
    with pytest.raises(ProfileError, match="separateProfileRun"):
        read_performance_summary(path)


def test_trt7_table_and_block_summary() -> None:
    path = OWN / "trt7.1_xavier_dumpProfile_summary.log"
    d = read_dump_profile(path)
    assert d.layout == "7.x-8.2" and d.iterations == 1514 and not d.has_median
    assert d.trt_version is None
    assert [r.name for r in d.rows][:2] == [
        "data to nvm", "{conv1/7x7_s2,conv1/relu_7x7,pool1/3x3_s2,loss3/classifier}"]
    assert d.rows[3].average_ms == 3.33 and d.rows[3].percentage == 92.1
    assert d.total.time_ms == 5477.95
    s = read_performance_summary(path)
    assert s.format == "7.x"
    assert s.gpu_compute.mean_ms == 3.68068 and s.gpu_compute.median_ms == 3.66748
    assert s.gpu_compute.percentiles == {99.0: 3.87695}
    assert s.host_latency is not None and s.host_latency.mean_ms == 3.74587
    assert s.host_latency_e2e is not None and s.host_latency_e2e.mean_ms == 3.75601
    assert s.enqueue is not None and s.enqueue.mean_ms is None and s.enqueue.median_ms == 0.90161
    assert s.throughput_qps == 503.99 and s.total_gpu_compute_s == 3.68068


def test_trt85_median_layout_and_line_summary_with_verbose_explanations() -> None:
    path = OWN / "trt8.5.2_orin_dumpProfile_summary.log"
    d = read_dump_profile(path)
    assert d.layout == "8.4-8.5" and d.iterations == 2460
    assert d.trt_version == TrtVersion(8, 5, 2)
    assert d.rows[0].name == "Reformatting CopyNode for Input Tensor 0 to Conv_0 + Relu_1"
    assert (d.rows[1].average_ms, d.rows[1].median_ms) == (0.246, 0.2451)
    assert d.total.median_ms == 1.2561
    s = read_performance_summary(path)
    assert s.format == "8.0+" and s.trt_version == TrtVersion(8, 5, 2)
    assert s.gpu_compute.mean_ms == 1.2593 and s.gpu_compute.min_ms == 1.22681
    assert s.gpu_compute.percentiles == {90.0: 1.27148, 95.0: 1.28223, 99.0: 1.36914}
    assert s.throughput_qps == 812.433 and s.gpu_compute_cov_percent == 2.91
    assert s.h2d is not None and s.d2h is not None and s.total_host_walltime_s == 3.00332


def test_verbose_explanation_line_alone_is_not_a_metric() -> None:
    text = ("[01/01/2024-00:00:00] [I] === Performance summary ===\n"
            "[01/01/2024-00:00:00] [I] GPU Compute Time: the GPU latency to execute the kernels.\n")
    with pytest.raises(ProfileError, match="no GPU compute time"):
        parse_performance_summary(text, source="v.log")


def test_unprefixed_explanation_is_ignored_and_metric_read() -> None:
    text = ("GPU Compute Time: the GPU latency to execute the kernels for a query.\n"
            "GPU Compute Time: min = 1 ms, max = 3 ms, mean = 2 ms, median = 2 ms\n")
    assert parse_performance_summary(text).gpu_compute.mean_ms == 2


def test_trt86_layout_names_with_spaces_and_interleaved_warning() -> None:
    d = read_dump_profile(OWN / "trt8.6_dumpProfile.log")
    assert d.layout == "8.6+" and len(d) == 7 and d.trt_version == TrtVersion(8, 6, 1)
    assert d.rows[1].name == "/model.0/conv/Conv + PWN(PWN(/model.0/act/Sigmoid), /model.0/act/Mul)"
    assert d.rows[3].name == "/model.2/cv1/conv/Conv || /model.2/cv2/conv/Conv"
    assert d.rows[4].kind is RowKind.COPY
    assert d.rows[6].name == "(Unnamed Layer* 7) [Shuffle] + /model.22/dfl/Reshape"


def test_table_given_as_text_without_prefixes() -> None:
    text = ("=== Profile (10 iterations ) ===\n"
            "   Layer   Time (ms)   Avg. Time (ms)   Time %\n"
            "  conv 1        1.00           0.1000     50.0\n"
            "  conv 2        1.00           0.1000     50.0\n"
            "   Total        2.00           0.2000    100.0\n")
    d = parse_dump_profile(text, source="t.log")
    assert [r.name for r in d.rows] == ["conv 1", "conv 2"] and d.total_average_ms == 0.2

"""CostTable: the cost-table CSV contract, validation, lossless round trip."""

from __future__ import annotations

import contextlib
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles import CostTable, GroupCost, ProfileError, load_published
from profiles.costtable import published_names
from profiles.synthetic import synthetic_table

HEADER = "group,gpu_ms,dla_ms,gpu_to_dla_ms,dla_to_gpu_ms\n"
META = "# model: m\n# platform: xavier-agx\n# source: measured (test)\n"


def table_text(body: str, meta: str = META, header: str = HEADER) -> str:
    return meta + header + body


def test_published_googlenet_matches_domain_figures():
    t = load_published("googlenet_xavier")
    assert t.model == "googlenet" and t.platform == "xavier-agx" and t.source == "published"
    assert t.n_groups == 10
    assert t.gpu_ms == (0.35, 0.15, 0.20, 0.11, 0.12, 0.13, 0.15, 0.19, 0.12, 0.20)
    assert t.dla_ms == (0.75, 0.34, 0.45, 0.37, 0.31, 0.33, 0.31, 0.35, 0.27, 0.36)
    assert [r.first_layer for r in t.rows] == ["0", "10", "25", "39", "52", "66", "81", "94",
                                               "110", "124"]
    assert t.rows[0].gpu_to_dla_ms == 0.0199 and t.rows[0].dla_to_gpu_ms == 0.0735
    assert t.rows[8].gpu_to_dla_ms == 0.0428 and t.rows[8].dla_to_gpu_ms == 0.0505
    assert t.rows[-1].gpu_to_dla_ms is None
    assert sum(r.layers for r in t.rows) == 141


def test_published_alexnet_says_its_transitions_are_placeholders():
    t = load_published("alexnet_xavier")
    assert t.gpu_ms == (0.15, 0.06, 0.22, 0.08, 0.16, 0.70, 0.32, 0.10)
    assert t.dla_ms == (0.41, 0.20, 0.45, 0.22, 0.41, 1.91, 0.68, 0.13)
    assert "gpu_to_dla_ms" in t.metadata["placeholder_columns"]
    assert "PLACEHOLDER" in t.metadata["notes"]
    assert set(published_names()) >= {"alexnet_xavier", "googlenet_xavier"}


def test_unknown_published_name_lists_choices():
    with pytest.raises(ProfileError, match="googlenet_xavier"):
        load_published("resnet")


def test_readable_by_pandas_with_comment_lines(tmp_path):
    path = load_published("googlenet_xavier").to_csv(tmp_path / "g.csv")
    frame = pd.read_csv(path, comment="#")
    assert list(frame.columns[:5]) == ["group", "gpu_ms", "dla_ms", "gpu_to_dla_ms",
                                       "dla_to_gpu_ms"]
    assert frame["gpu_ms"].sum() == pytest.approx(1.72)


def test_round_trip_is_lossless_through_file_and_frame(tmp_path):
    original = load_published("googlenet_xavier")
    path = original.to_csv(tmp_path / "t.csv")
    again = CostTable.from_csv(path)
    assert again.rows == original.rows and dict(again.metadata) == dict(original.metadata)
    assert again.to_csv_text() == original.to_csv_text()
    framed = CostTable.from_frame(original.to_frame(), original.metadata)
    assert framed.to_csv_text() == original.to_csv_text()


def test_ineligible_group_and_irrelevant_transition_may_be_empty():
    text = table_text("0,0.1,0.3,,0.05\n1,0.2,,0.02,\n2,0.1,0.2,,\n")
    t = CostTable.from_csv_text(text)
    assert t.rows[1].dla_eligible is False
    assert t.rows[0].gpu_to_dla_ms is None and t.rows[1].gpu_to_dla_ms == 0.02


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("0,0.1,0.3,0.01,0.05\n1,,0.2,,\n", "row 1 (group 1): gpu_ms is missing"),
        ("0,0.1,0.3,0.01,0.05\n1,-0.2,0.2,,\n", "gpu_ms must be > 0"),
        ("0,0.1,0.3,0.01,0.05\n1,0,0.2,,\n", "gpu_ms must be > 0"),
        ("0,0.1,nan,0.01,0.05\n1,0.2,0.2,,\n", "dla_ms is nan"),
        ("0,0.1,0.3,inf,0.05\n1,0.2,0.2,,\n", "gpu_to_dla_ms is inf"),
        ("0,0.1,0.3,-0.01,0.05\n1,0.2,0.2,,\n", "gpu_to_dla_ms must be >= 0"),
        ("0,0.1,0.3,,0.05\n1,0.2,0.2,,\n", "gpu_to_dla_ms is missing"),
        ("0,0.1,0.3,0.01,\n1,0.2,0.2,,\n", "dla_to_gpu_ms is missing"),
        ("0,0.1,0.3,0.01,0.05\n1,0.2,0.2,0.01,\n", "must be empty on the last row"),
        ("0,0.1,0.3,0.01,0.05\n2,0.2,0.2,,\n", "group ids must be 0, 1, 2"),
        ("0,0.1,abc,0.01,0.05\n1,0.2,0.2,,\n", "dla_ms is not a number"),
        ("0,0.1,0.3,0.01,0.05,9\n1,0.2,0.2,,\n", "more fields than the header"),
        ("", "no rows"),
    ],
)
def test_bad_rows_give_one_clear_error_naming_file_and_entry(body, fragment):
    with pytest.raises(ProfileError) as info:
        CostTable.from_csv_text(table_text(body), origin="costs/m.csv")
    message = str(info.value)
    assert message.startswith("costs/m.csv")
    assert fragment in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (HEADER + "0,0.1,0.2,,\n", "metadata key 'model' is missing"),
        ("# model: m\n# platform: p\n# source: guessed\n" + HEADER + "0,0.1,0.2,,\n",
         "must start with one of measured"),
        (META + "group,gpu_ms\n0,0.1\n", "missing required column(s) dla_ms"),
        (META + "group,gpu_ms,gpu_ms,dla_ms,gpu_to_dla_ms,dla_to_gpu_ms\n0,1,1,1,,\n",
         "duplicate column(s) gpu_ms"),
        ("# model: m\n# model: n\n", "appears twice"),
        ("", "no CSV header"),
        ("a\x00b", "NUL bytes"),
    ],
)
def test_bad_files_are_refused(text, fragment):
    with pytest.raises(ProfileError) as info:
        CostTable.from_csv_text(text, origin="x.csv")
    assert fragment in str(info.value)


def test_binary_file_is_refused_with_file_name(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(ProfileError, match=r"junk\.csv"):
        CostTable.from_csv(path)
    with pytest.raises(ProfileError, match="cannot read"):
        CostTable.from_csv(tmp_path / "missing.csv")


def test_merge_groups_adds_times_and_keeps_boundary_transitions():
    t = load_published("googlenet_xavier")
    merged = t.merge_groups([0, 3, 7])
    assert merged.n_groups == 3
    assert merged.rows[0].gpu_ms == pytest.approx(0.35 + 0.15 + 0.20)
    assert merged.rows[0].gpu_to_dla_ms == t.rows[2].gpu_to_dla_ms
    assert merged.rows[1].dla_to_gpu_ms == t.rows[6].dla_to_gpu_ms
    assert merged.rows[2].gpu_to_dla_ms is None
    assert sum(r.layers for r in merged.rows) == 141
    with pytest.raises(ProfileError, match="must begin at 0"):
        t.merge_groups([1, 4])


def test_merge_keeps_ineligibility():
    t = CostTable.from_csv_text(table_text("0,0.1,0.3,,0.05\n1,0.2,,0.02,\n2,0.1,0.2,,\n"))
    merged = t.merge_groups([0, 2])
    assert merged.rows[0].dla_ms is None and merged.rows[1].dla_ms == 0.2
    assert merged.rows[0].gpu_to_dla_ms == t.rows[1].gpu_to_dla_ms


times = st.floats(min_value=1e-6, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(times, st.one_of(st.none(), times), times, times), min_size=1,
                max_size=12))
def test_any_valid_table_round_trips_exactly(rows):
    groups = []
    for i, (gpu, dla, g2d, d2g) in enumerate(rows):
        last = i == len(rows) - 1
        nxt_dla = None if last else rows[i + 1][1]
        groups.append(GroupCost(i, gpu, dla, None if last or nxt_dla is None else g2d,
                                None if last or dla is None else d2g))
    table = CostTable.build(groups, {"model": "h", "platform": "orin-agx", "source": "synthetic"})
    again = CostTable.from_csv_text(table.to_csv_text())
    assert again.rows == table.rows
    for a, b in zip(again.rows, table.rows, strict=True):
        assert math.copysign(1, a.gpu_ms) == math.copysign(1, b.gpu_ms)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_is_a_table_or_a_profile_error(text):
    with contextlib.suppress(ProfileError):
        CostTable.from_csv_text(text)


def test_synthetic_tables_are_deterministic_and_labelled():
    a, b = synthetic_table(20, seed=3), synthetic_table(20, seed=3)
    assert a.to_csv_text() == b.to_csv_text()
    assert a.source == "synthetic"
    assert synthetic_table(20, seed=4).to_csv_text() != a.to_csv_text()

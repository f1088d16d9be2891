"""The supported range of a cost table (issue 11): values a solver cannot represent are
refused at load time with the file, row, column and limit in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiles.costtable import (
    MAX_BANDWIDTH_GBPS,
    MAX_GROUPS,
    MAX_TIME_MS,
    CostTable,
    GroupCost,
)
from profiles.errors import ProfileError

HEADER = "# model: m\n# platform: xavier-agx\n# source: synthetic\n"
COLUMNS = "group,gpu_ms,dla_ms,gpu_to_dla_ms,dla_to_gpu_ms,gpu_bw_gbps\n"


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(HEADER + COLUMNS + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(("row1", "column", "limit"), [
    ("1,1e300,2,,,", "gpu_ms", "100000 ms"),
    ("1,1,1e12,,,", "dla_ms", "100000 ms"),
    ("1,1,2,,,1e20", "gpu_bw_gbps", "10000 GB/s"),
])
def test_huge_values_are_refused_naming_file_row_column_and_limit(
        tmp_path: Path, row1: str, column: str, limit: str) -> None:
    path = write(tmp_path, ["0,1,2,0.1,0.1,", row1])
    with pytest.raises(ProfileError) as info:
        CostTable.from_csv(path)
    text = str(info.value)
    assert str(path) in text and "row 1 (group 1)" in text
    assert column in text and limit in text


def test_huge_transition_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ["0,1,2,1e9,0.1,", "1,1,2,,,"])
    with pytest.raises(ProfileError, match=r"row 0 \(group 0\).*gpu_to_dla_ms.*100000 ms"):
        CostTable.from_csv(path)


def test_time_below_one_nanosecond_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ["0,1e-9,2,0.1,0.1,", "1,1,2,,,"])
    with pytest.raises(ProfileError, match=r"gpu_ms is 1e-09 ms, below the 1 ns resolution"):
        CostTable.from_csv(path)


def test_supported_range_loads_exactly(tmp_path: Path) -> None:
    # 1 us and 10 s groups, a free transition, the limits themselves
    path = write(tmp_path, ["0,0.001,10000,0,0.001,", f"1,{MAX_TIME_MS},{MAX_TIME_MS},,,"
                            f"{MAX_BANDWIDTH_GBPS}"])
    table = CostTable.from_csv(path)
    assert table.gpu_ms == (0.001, MAX_TIME_MS)


def test_too_many_groups_is_refused() -> None:
    rows = [GroupCost(g, 1.0, None, None, None) for g in range(MAX_GROUPS + 1)]
    with pytest.raises(ProfileError, match=f"{MAX_GROUPS + 1} groups, more than the supported"):
        CostTable.build(rows, {"model": "m", "platform": "p", "source": "synthetic"})

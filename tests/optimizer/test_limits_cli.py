"""`layerswap check` and `solve` refuse values beyond the supported range (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run, run_json

TABLE = ("# model: m\n# platform: xavier-agx\n# source: synthetic\n"
         "group,gpu_ms,dla_ms,gpu_to_dla_ms,dla_to_gpu_ms\n0,1,2,0.1,0.1\n1,1e300,2,,\n")


@pytest.mark.parametrize("command", ["check", "solve"])
def test_huge_value_is_a_one_line_error(tmp_path: Path, capsys, command: str) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(TABLE)
    code, _out, err = run(capsys, command, str(path))
    assert code == 1
    assert "Traceback" not in err
    assert "row 1 (group 1)" in err and "gpu_ms" in err and "supported limit" in err
    code, obj = run_json(capsys, command, str(path))
    assert code == 1 and "supported limit" in obj["error"]

"""`runtime.fileio`: the one writer. Targets are checked before any work, OSErrors become a
`WriteError` naming the path and the reason, folders are filled through a staged sibling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runtime.fileio import (
    WriteError,
    atomic_write_bytes,
    atomic_write_text,
    check_file_target,
    check_folder_target,
    staged_folder,
)


def read_only_place(tmp_path: Path) -> Path:
    """A folder this process cannot write into: chmod 555 for a normal user; root ignores
    permissions, so for root a kernel folder that refuses new files (/sys)."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    for candidate in (Path("/sys"), Path("/proc")):
        try:
            atomic_write_bytes(candidate / "layerswap-probe", b"")
        except WriteError:
            return candidate
        (candidate / "layerswap-probe").unlink()
    pytest.skip("no read-only place for root here")


def test_a_folder_where_a_file_is_expected_is_refused_before_writing(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(WriteError, match=r"d: cannot write: is a folder; --output must be a "
                                         "file path"):
        check_file_target(tmp_path / "d", "--output")
    with pytest.raises(WriteError, match="is a folder"):
        atomic_write_text(tmp_path / "d", "x")
    assert list((tmp_path / "d").iterdir()) == []


def test_a_file_where_a_folder_is_expected_is_refused(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(WriteError, match="is a file; --save-outputs must be a folder"):
        check_folder_target(tmp_path / "f", "--save-outputs")
    with pytest.raises(WriteError, match=r"f is a file, not a folder"):
        check_file_target(tmp_path / "f" / "sub" / "x.json")
    with pytest.raises(WriteError, match="cannot write"):
        atomic_write_text(tmp_path / "f" / "x.json", "x")
    assert (tmp_path / "f").read_text() == "mine"


def test_a_read_only_place_is_refused_with_the_os_reason(tmp_path):
    ro = read_only_place(tmp_path)
    for check in (check_file_target, check_folder_target):
        with pytest.raises(WriteError, match=r"is not writable \((Permission denied|"
                                             r"Read-only file system|No such file)"):
            check(ro / "new" / "t.csv")
    with pytest.raises(WriteError) as info:
        atomic_write_bytes(ro / "t.csv", b"x")
    assert info.value.path == str(ro / "t.csv") and info.value.reason


def test_atomic_write_leaves_no_temp_file(tmp_path):
    path = atomic_write_text(tmp_path / "a" / "b.txt", "hello")
    assert path.read_text() == "hello"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.txt"]


def test_a_staged_folder_appears_complete_or_not_at_all(tmp_path):
    target = tmp_path / "out"
    with staged_folder(target) as stage:
        (stage.path / "a.txt").write_text("1")
        assert not target.exists()          # nothing visible while it is being filled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (target / "a.txt").read_text() == "1"


def test_a_failed_stage_removes_its_files_and_says_so(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(ValueError) as info, staged_folder(target, "the export") as stage:
        (stage.path / "big.onnx").write_bytes(b"0" * 1000)
        raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []   # no target, no partial sibling
    assert info.value.__notes__ == [f"nothing written to {target} (the unfinished files of "
                                    "the export were removed)"]
    assert stage.left == info.value.__notes__[0]


def test_an_error_inside_the_stage_names_the_target_not_the_stage(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(ValueError) as info, staged_folder(target) as stage:
        raise ValueError(f"{stage.path / 'models' / 'm.onnx'}: too many groups")
    assert str(info.value) == f"{target / 'models' / 'm.onnx'}: too many groups"


def test_an_interrupted_stage_keeps_the_previous_folder(tmp_path):
    target = tmp_path / "out"
    (target / "models").mkdir(parents=True)
    (target / "models" / "old.onnx").write_text("old")
    (target / "notes.txt").write_text("the user's")
    with pytest.raises(KeyboardInterrupt), staged_folder(target) as stage:
        (stage.path / "models").mkdir()
        (stage.path / "models" / "new.onnx").write_text("new")
        raise KeyboardInterrupt
    assert (target / "models" / "old.onnx").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_finished_stage_replaces_its_entries_and_keeps_the_others(tmp_path):
    target = tmp_path / "out"
    (target / "models").mkdir(parents=True)
    (target / "models" / "old.onnx").write_text("old")
    (target / "report.md").write_text("old report")
    (target / "notes.txt").write_text("the user's")
    with staged_folder(target) as stage:
        (stage.path / "models").mkdir()
        (stage.path / "models" / "new.onnx").write_text("new")
        (stage.path / "report.md").write_text("new report")
    assert sorted(p.name for p in (target / "models").iterdir()) == ["new.onnx"]
    assert (target / "report.md").read_text() == "new report"
    assert (target / "notes.txt").read_text() == "the user's"
    assert sorted(p.name for p in target.iterdir()) == ["models", "notes.txt", "report.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

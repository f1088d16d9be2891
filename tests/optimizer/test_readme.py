"""The README stays true: every `layerswap ...` line of its shell blocks runs as written
(from a folder that sees the repository's examples/ and tests/fixtures/), its Python block
runs, and no repository file cites documents a clone does not have (../shared)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from optimizer.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def readme_commands() -> list[list[str]]:
    """Each `layerswap` command line of the README's ``sh`` blocks, as argv (comments
    dropped, backslash continuations joined)."""
    out = []
    for block in _blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv and argv[0] == "layerswap":
                out.append(argv[1:])
    return out


@pytest.fixture
def repo_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder where the README's relative paths resolve (outputs land here)."""
    for name in ("examples", "tests"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_has_commands_and_they_name_shipped_files() -> None:
    commands = readme_commands()
    assert len(commands) >= 12
    shipped = [a for argv in commands for a in argv if a.startswith(("examples/", "tests/"))]
    assert shipped, "the README should use the shipped sample inputs"
    for arg in shipped:
        assert (ROOT / arg.split("=")[-1]).exists(), arg


@pytest.mark.slow
def test_every_readme_command_runs_as_written(repo_view: Path, capsys) -> None:
    for argv in readme_commands():
        try:
            code = main(argv)
        except SystemExit as exc:  # --help
            code = exc.code
        _, err = capsys.readouterr()
        assert code == 0, f"layerswap {shlex.join(argv)} -> exit {code}: {err.strip()}"
        assert "Traceback" not in err


def test_the_readme_python_block_runs(repo_view: Path) -> None:
    (block,) = _blocks("python")
    exec(compile(block, str(README), "exec"), {})  # our own README
    assert (repo_view / "gantt.png").exists()


def test_no_repository_file_cites_the_shared_folder() -> None:
    """design.md: `../shared` is not in a clone, so nothing shipped may point there."""
    offenders = []
    for folder in ("optimizer", "profiles", "solvers", "export", "runtime", "docs",
                   "notebooks", "examples", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".md", ".csv", ".ipynb", ".json"}:
                text = path.read_text(encoding="utf-8", errors="replace")
                if "shared/docs" in text or "../shared" in text:
                    offenders.append(str(path.relative_to(ROOT)))
    text = README.read_text(encoding="utf-8")
    if "shared/" in text:
        offenders.append("README.md")
    assert not offenders

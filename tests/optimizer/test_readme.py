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


def readme_lines() -> list[list[str]]:
    """Each `layerswap ...` and `python -c ...` line of the README's ``sh`` blocks, in
    order, as argv (comments dropped, backslash continuations joined)."""
    out = []
    for block in _blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv[:1] == ["layerswap"] or argv[:2] == ["python", "-c"]:
                out.append(argv)
    return out


def readme_commands() -> list[list[str]]:
    """The arguments of each `layerswap` command line of the README."""
    return [argv[1:] for argv in readme_lines() if argv[0] == "layerswap"]


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
    for line in readme_lines():
        if line[0] == "python":  # `python -c CODE`: a set-up step (e.g. writing zoo models)
            exec(compile(line[2], "README.md", "exec"), {})
            continue
        argv = line[1:]
        try:
            code = main(argv)
        except SystemExit as exc:  # --help
            code = exc.code
        _, err = capsys.readouterr()
        assert code == 0, f"layerswap {shlex.join(argv)} -> exit {code}: {err.strip()}"
        assert "Traceback" not in err
    # run from a checkout, the walk-through leaves nothing `git status` would show
    written = sorted(p.name for p in repo_view.iterdir() if p.name not in ("examples", "tests"))
    assert written
    assert _not_ignored(written) == []


def _not_ignored(names: list[str]) -> list[str]:
    """The names (at the checkout's top level) that the repository's .gitignore does not
    ignore (``git check-ignore --no-index``: the rules, whatever is tracked)."""
    import subprocess

    paths = [n + "/" if (Path.cwd() / n).is_dir() else n for n in names]
    done = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "--stdin"],
                          input="\n".join(paths) + "\n", capture_output=True, text=True,
                          check=False)
    if done.returncode not in (0, 1):  # 128: not a git checkout (e.g. an sdist)
        pytest.skip(f"git check-ignore unavailable: {done.stderr.strip()}")
    ignored = {line.rstrip("/") for line in done.stdout.splitlines()}
    return [n for n in names if n not in ignored]


@pytest.mark.slow
def test_the_readme_python_blocks_run(repo_view: Path) -> None:
    blocks = _blocks("python")
    assert blocks
    for block in blocks:
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


def test_help_examples_name_files_that_ship(capsys) -> None:
    """The --help examples that name sample inputs name ones that exist."""
    import argparse

    from optimizer.cli import build_parser

    def helps(parser: argparse.ArgumentParser) -> list[str]:
        out = [parser.format_help()]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    out += helps(sub)
        return out

    named = {m for text in helps(build_parser())
             for m in re.findall(r"\bexamples/[\w.]+", text)}
    assert named
    for path in named:
        assert (ROOT / path).is_file(), path


def test_the_folders_the_readme_describes_are_the_ones_its_commands_write() -> None:
    """Before: "`out/` holds segments/*.onnx ..." under commands that write chain_out/."""
    text = README.read_text(encoding="utf-8")
    described = re.findall(r"^`([\w.-]+/)` holds", text, flags=re.M)  # what a command wrote
    assert described
    written = {a for argv in readme_commands() for a in argv}
    for folder in described:
        assert folder in written, f"README describes {folder} but no command writes it"

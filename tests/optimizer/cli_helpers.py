"""Drive the CLI in-process and capture what it prints (shared by the CLI test modules)."""

from __future__ import annotations

import json

from optimizer.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``layerswap ARGV``."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    """Exit code and the single JSON object printed by ``layerswap ARGV --json``."""
    code, out, err = run(capsys, *argv, "--json")
    assert "Traceback" not in err
    return code, json.loads(out)

"""CI regression: recorded results of every stored profile pair must not change silently.

When a change alters them on purpose, run `layerswap regress --update` and commit the
files in tests/expected/ (the diff shows what changed)."""

from __future__ import annotations

import json
import shutil

import pytest

from optimizer.cli import main
from optimizer.cli.common import EXIT_REGRESSION
from optimizer.regression import cases, check_expectations, default_directory


def test_every_stored_pair_has_a_record_for_both_objectives():
    ids = {c["id"] for c in cases()}
    assert "alexnet_xavier+googlenet_xavier-latency" in ids
    assert "alexnet_xavier+googlenet_xavier-throughput" in ids
    for case in cases():
        assert (default_directory() / f"{case['id']}.json").exists(), case["id"]


@pytest.mark.slow
def test_stored_profiles_still_give_the_recorded_schedules():
    failures = check_expectations()
    assert failures == [], "\n".join(failures)


@pytest.mark.slow
def test_a_changed_record_is_reported_and_fails_the_command(tmp_path, capsys):
    folder = tmp_path / "expected"
    shutil.copytree(default_directory(), folder)
    victim = folder / f"{cases()[0]['id']}.json"
    record = json.loads(victim.read_text())
    record["objective_ms"] = record["objective_ms"] * 1.01
    victim.write_text(json.dumps(record))
    failures = check_expectations(folder)
    assert len(failures) == 1 and "objective" in failures[0]
    assert main(["regress", "--directory", str(folder)]) == EXIT_REGRESSION
    assert "changed" in capsys.readouterr().out
    assert main(["regress", "--directory", str(folder), "--update"]) == 0
    assert check_expectations(folder) == []

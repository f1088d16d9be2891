"""Sweep specs: the points a spec expands to, and one line naming the entry for every spec
that cannot run (unknown axis, unknown model, empty cross product, a table made for
another platform)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optimizer.sweep import SpecError, expand, load_spec
from tests.optimizer.cli_helpers import run
from tests.optimizer.sweep_helpers import models_block, write_spec, write_tables

FIXTURE_ONNX = Path(__file__).resolve().parents[1] / "fixtures" / "sweep_chain" / "chain.onnx"


def _bad(tmp_path: Path, capsys, text: str) -> str:
    """The one error line `layerswap sweep` prints for this spec (exit 1, nothing run)."""
    spec = write_spec(tmp_path, text)
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "r.db"))
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("layerswap: error: "), err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "r.db").exists()
    return lines[0]


@pytest.fixture
def two(tmp_path: Path) -> str:
    return models_block(write_tables(tmp_path, 2))


def test_an_unknown_axis_is_named(tmp_path, capsys, two):
    line = _bad(tmp_path, capsys, two + "[axes]\nplatform = [\"xavier-agx\"]\n")
    assert "axes.platform" in line and "unknown axis 'platform'" in line
    assert "platforms" in line  # the known axes are listed


def test_a_power_mode_axis_says_the_estimator_has_none(tmp_path, capsys, two):
    line = _bad(tmp_path, capsys, two + "[axes]\npower_modes = [\"MAXN\"]\n")
    assert "axes.power_modes" in line and "MAXN only" in line and "orin-nx-8" in line


def test_an_unknown_model_in_a_set_is_named(tmp_path, capsys, two):
    line = _bad(tmp_path, capsys, two + "[groups]\nsets = [[\"t0\", \"nosuch\"]]\n")
    assert "groups.sets[0]" in line and "'nosuch'" in line


def test_an_unknown_model_source_is_named(tmp_path, capsys):
    line = _bad(tmp_path, capsys, "[models]\na = \"nosuch_table\"\nb = \"zoo:nosuch\"\n")
    assert "models.a" in line and "not a stored table" in line


def test_an_empty_axis_is_an_empty_cross_product(tmp_path, capsys, two):
    line = _bad(tmp_path, capsys, two + "[axes]\nobjectives = []\n")
    assert "axes.objectives" in line and "cross product has no point" in line


def test_every_combination_skipped_is_an_empty_cross_product(tmp_path, capsys):
    names = write_tables(tmp_path, 2, bandwidth=False)
    line = _bad(tmp_path, capsys, models_block(names) + "[axes]\ncontention = [\"on\"]\n")
    assert "cross product is empty" in line and "no bandwidth columns" in line


def test_a_platform_a_table_was_not_made_for_is_named(tmp_path, capsys, two):
    line = _bad(tmp_path, capsys, two + "[axes]\nplatforms = [\"xavier-agx\", \"orin-agx\"]\n")
    assert "models.t0" in line and "made for xavier-agx, not orin-agx" in line
    assert "t0 = { xavier-agx" in line  # the fix: list it for its platform only


def test_a_stored_table_at_another_precision_is_named(tmp_path, capsys):
    line = _bad(tmp_path, capsys, "[models]\ng = \"googlenet_xavier\"\na = \"alexnet_xavier\"\n"
                "[axes]\nprecision = [\"int8\"]\n")
    assert "models.g" in line and "fp16, not int8" in line


def test_unknown_values_and_settings_are_named(tmp_path, capsys, two):
    assert "axes.solvers" in _bad(tmp_path, capsys, two + "[axes]\nsolvers = [\"gurobi\"]\n")
    assert "axes.platforms" in _bad(tmp_path, capsys, two + "[axes]\nplatforms = [\"tx2\"]\n")
    assert "settings.threads" in _bad(tmp_path, capsys, two + "[settings]\nthreads = 0\n")
    assert "settings.colour" in _bad(tmp_path, capsys, two + "[settings]\ncolour = 1\n")
    assert "top level" not in _bad(tmp_path, capsys, two + "colour = 1\n")
    assert "TOML" in _bad(tmp_path, capsys, two + "[axes\n")


def test_the_cross_product_is_every_set_times_every_axis(tmp_path):
    names = write_tables(tmp_path, 4)
    spec = write_spec(tmp_path, models_block(names) + """
[groups]
size = [2, 3]
sets = [["t1", "t0"], ["t0", "t1", "t2", "t3"]]
[axes]
objectives = ["latency", "throughput"]
max_transitions = [1, 2, 3]
contention = ["off", "on"]
""")
    plan = expand(load_spec(spec))
    sets = {p.models for p in plan.points}
    assert len(sets) == 6 + 4 + 1  # pairs, triples, the 4-set; [t1, t0] is the pair t0+t1
    assert len(plan.points) == 11 * 2 * 3 * 2 and not plan.skipped
    assert len({p.point_id for p in plan.points}) == len(plan.points)
    # the same point in another spec (other name, other axes) has the same key
    again = write_spec(tmp_path, 'name = "other"\n' + models_block(names[:2]) +
                       "[axes]\nmax_transitions = [3]\ncontention = [\"on\"]\n", "b.toml")
    (other,) = expand(load_spec(again)).points
    mine = [p for p in plan.points if p.models == ("t0", "t1") and p.max_transitions == 3
            and p.contention == "on" and p.objective == "latency"]
    assert [p.point_id for p in mine] == [other.point_id]


def test_per_platform_sources_estimates_and_skips(tmp_path):
    """Stored tables only on their platform, ONNX and zoo models estimated per platform and
    precision, the rewritten variant only where a rewrite changes a model, contention only
    with bandwidth columns: each skip counted with its reason."""
    spec = write_spec(tmp_path, f"""
[models]
alexnet = {{ xavier-agx = "alexnet_xavier" }}
chain = "{FIXTURE_ONNX}"
resnet = "zoo:resnet50"
[axes]
platforms = ["xavier-agx", "orin-nx-8"]
variants = ["original", "rewritten"]
contention = ["off", "on"]
""")
    plan = expand(load_spec(spec))
    by = {(p.models, p.platform, p.variant, p.contention) for p in plan.points}
    assert (("alexnet", "chain"), "xavier-agx", "original", "off") in by
    assert not any(p.platform == "orin-nx-8" and "alexnet" in p.models for p in plan.points)
    assert all(p.family == "orin-nx" for p in plan.points if p.platform == "orin-nx-8")
    # the resnet50 rewrite (global pool -> pool) applies; the chain's does not
    assert (("chain", "resnet"), "orin-nx-8", "rewritten", "on") in by
    assert (("alexnet", "resnet"), "xavier-agx", "rewritten", "off") in by
    assert not any(p.variant == "rewritten" and p.models == ("alexnet", "chain")
                   for p in plan.points)
    assert not any(p.contention == "on" and "alexnet" in p.models for p in plan.points)
    reasons = " | ".join(plan.skipped)
    assert "model alexnet has no source for orin-nx-8" in reasons
    assert "no exact rewrite changes any model" in reasons
    assert "alexnet has no bandwidth columns" in reasons
    total = 3 * 2 * 2 * 2  # sets x platforms x variants x contention
    assert len(plan.points) + sum(plan.skipped.values()) == total
    # estimated tables differ per platform: different digests, different point keys
    chain = {p.platform: p.digests[0] for p in plan.points if p.models == ("chain", "resnet")}
    assert chain["xavier-agx"] != chain["orin-nx-8"]


def test_dry_run_counts_without_running(tmp_path, capsys, two):
    spec = write_spec(tmp_path, two + "[axes]\nmax_transitions = [1, 2]\n")
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "r.db"),
                         "--dry-run", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["points"] == 2 and doc["model_sets"] == 1 and doc["skipped"] == {}
    assert not (tmp_path / "r.db").exists()


def test_spec_error_is_a_layerswap_error(tmp_path):
    with pytest.raises(SpecError, match="models"):
        load_spec(write_spec(tmp_path, "name = \"x\"\n"))

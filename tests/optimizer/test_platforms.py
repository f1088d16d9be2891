"""One meaning per platform name (issue 22 item 5): every command accepts the same names,
takes the same TensorRT for them, and never schedules work on a DLA core the table's
module lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run, run_json

from profiles import platforms
from profiles.costtable import CostTable
from solvers.model.problem import PLATFORMS, Device, Problem

CHAIN = Path(__file__).resolve().parents[1] / "fixtures" / "sweep_chain" / "chain.onnx"
DETECTOR = Path(__file__).resolve().parents[2] / "examples" / "detector.csv"


def test_every_registry_name_is_a_solver_platform_with_its_modules_dla_cores():
    assert set(platforms.names()) == set(PLATFORMS)
    for name in platforms.names():
        info = platforms.resolve(name)
        dlas = [d for d in PLATFORMS[name].devices if d.kind == "dla"]
        assert len(dlas) == info.dla_cores, name
    assert PLATFORMS["orin-nx-8"].devices == (Device.GPU, Device.DLA0)


def test_aliases_mean_their_module():
    assert platforms.resolve("orin-agx").name == "orin-agx-64"
    assert platforms.resolve(" Orin-NX ").name == "orin-nx-16"
    assert platforms.disagreement("orin-agx", "orin-agx-64") is None
    why = platforms.disagreement("orin-nx-8", "orin-nx")
    assert why is not None and "1 vs 2 DLA cores" in why
    with pytest.raises(platforms.UnknownPlatform, match="orin-nx-8"):
        platforms.resolve("orin-nano")


@pytest.fixture(scope="module")
def nx8_table(tmp_path_factory) -> Path:
    from cli_helpers import main

    out = tmp_path_factory.mktemp("nx8") / "chain_nx8.csv"
    assert main(["estimate", str(CHAIN), "--platform", "orin-nx-8", "--groups", "4",
                 "-o", str(out)]) == 0
    return out


def test_estimate_writes_the_module_name_and_its_tensorrt(nx8_table):
    table = CostTable.from_csv(nx8_table)
    assert table.platform == "orin-nx-8"
    assert table.metadata["trt_version"] == platforms.resolve("orin-nx-8").trt_version


@pytest.mark.parametrize("platform", ["orin-agx", "orin-nx", "xavier-agx"])
def test_solve_never_uses_a_dla_core_the_tables_module_lacks(nx8_table, platform):
    tables = [CostTable.from_csv(nx8_table), CostTable.from_csv(DETECTOR)]
    problem = Problem.create(tables, platform, contention="none")
    assert Device.DLA1 not in problem.devices
    assert any("orin-nx-8" in w and "DLA0 only" in w for w in problem.warnings)


def test_solve_cli_on_a_one_core_table_warns_and_keeps_off_dla1(capsys, nx8_table):
    code, doc = run_json(capsys, "solve", str(nx8_table), str(DETECTOR), "--platform",
                         "orin-agx", "--time-limit", "10", "--contention", "none")
    assert code == 0
    devices = {s["device"] for m in doc["models"] for s in m["segments"]}
    assert "DLA1" not in devices
    assert any("orin-nx-8" in w for w in doc["warnings"])


def test_a_table_and_a_command_that_disagree_get_a_warning():
    problem = Problem.create([CostTable.from_csv(DETECTOR)], "xavier-agx", contention="none")
    assert any("table made for orin-agx-64, command runs for xavier-agx" in w
               for w in problem.warnings)
    same = Problem.create([CostTable.from_csv(DETECTOR)], "orin-agx-64", contention="none")
    assert not any("table made for" in w for w in same.warnings)


def test_dla_and_estimate_take_the_same_tensorrt_for_a_platform(capsys):
    code, doc = run_json(capsys, "dla", str(CHAIN), "--platform", "orin-nx-8")
    assert code == 0
    assert doc["target"]["trt_version"] == platforms.resolve("orin-nx-8").trt_version
    code, doc = run_json(capsys, "dla", str(CHAIN), "--platform", "xavier-agx")
    assert doc["target"]["trt_version"] == "8.5.2"


def test_platforms_command_lists_every_name(capsys):
    code, doc = run_json(capsys, "platforms")
    assert code == 0
    names = {p["name"]: p for p in doc["platforms"]}
    assert set(names) == set(platforms.names())
    assert names["orin-nx-8"]["dla_cores"] == 1 and names["orin-nx-8"]["module"] == "orin-nx-8"
    assert names["xavier-agx"]["jetpack"] == "5.1.1"
    code, out, _err = run(capsys, "solve", "--platform", "orin-nano", "--json")
    assert code == 2 and "orin-nx-8" in out

"""Output paths that cannot be written (issue 24): every command checks them before it
starts and says so in one line naming the path and the reason, exit 1, with the JSON error
object under --json; nothing is left half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_helpers import run

ROOT = Path(__file__).resolve().parents[2]
CORUN = str(ROOT / "examples" / "corun.csv")
PROFILE = str(ROOT / "tests" / "fixtures" / "trtexec" / "trt8.5.2_orin_dumpProfile_summary.log")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, str]:
    """A small ONNX model, its estimated table, a schedule and its export."""
    from export import zoo
    from optimizer.cli import main

    d = tmp_path_factory.mktemp("inputs")
    onnx = zoo.save("resnet50", d / "r.onnx", size=64, num_classes=10)
    table, schedule, export = d / "r.csv", d / "s.json", d / "exp"
    assert main(["estimate", str(onnx), "--groups", "4", "--name", "r", "-o", str(table)]) == 0
    assert main(["solve", str(table), "-o", str(schedule), "--json"]) == 0
    assert main(["export", str(schedule), "--onnx", f"r={onnx}", "-o", str(export),
                 "--json"]) == 0
    return {"onnx": str(onnx), "table": str(table), "schedule": str(schedule),
            "manifest": str(export / "manifest.json")}


def read_only_place() -> Path:
    from runtime.fileio import WriteError, check_file_target

    if os.geteuid() != 0:
        ro = Path("ro")
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    try:  # root ignores permissions: a kernel folder that takes no new files
        check_file_target("/sys/layerswap/x")
    except WriteError:
        return Path("/sys")
    pytest.skip("no read-only place for root here")


# command line with {bad} where the output path goes; what kind of path is expected
COMMANDS = {
    "solve -o": (["solve", "{table}", "-o", "{bad}", "--export", "never",
                  "--onnx", "r={onnx}"], "file"),
    "estimate -o": (["estimate", "{onnx}", "--groups", "4", "-o", "{bad}"], "file"),
    "rewrite -o": (["rewrite", "{onnx}", "-o", "{bad}"], "file"),
    "calibrate -o": (["calibrate", CORUN, "-o", "{bad}"], "file"),
    "ingest -o": (["ingest", PROFILE, "--platform", "orin-agx", "-o", "{bad}"], "file"),
    "export -o": (["export", "{schedule}", "--onnx", "r={onnx}", "-o", "{bad}"], "folder"),
    "example medical -o": (["example", "medical", "-o", "{bad}"], "folder"),
    "run --trace": (["run", "{manifest}", "--frames", "2", "--trace", "{bad}",
                     "--save-outputs", "never"], "file"),
    "run --save-outputs": (["run", "{manifest}", "--frames", "2", "--save-outputs", "{bad}",
                            "--trace", "never.json"], "folder"),
    "solve --export": (["solve", "{table}", "-o", "never.json", "--export", "{bad}",
                        "--onnx", "r={onnx}"], "folder"),
    "plot gantt -o": (["plot", "gantt", "{schedule}", "-o", "{bad}"], "figure"),
    "profile plan -o": (["profile", "plan", "{onnx}", "--trt-version", "8.6",
                               "-o", "{bad}"], "folder"),
}


def argv_for(name: str, made: dict[str, str], bad: str) -> list[str]:
    return [a.format(bad=bad, **made) for a in COMMANDS[name][0]]


def assert_one_line(code: int, out: str, err: str, path: str, reason: str,
                    json_flag: bool) -> None:
    assert code == 1, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"layerswap: error: {path}: cannot write"), err
    assert reason in lines[0], err
    if json_flag:
        doc = json.loads(out)
        assert doc == {"error": lines[0].removeprefix("layerswap: error: "), "exit_code": 1}
    else:
        assert out == ""
    assert not Path("never").exists() and not Path("never.json").exists()  # nothing ran


@pytest.mark.parametrize("json_flag", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_wrong_kind_of_path_is_one_line_before_any_work(capsys, made, name, json_flag):
    kind = COMMANDS[name][1]
    if kind == "folder":
        Path("a_file").write_text("mine")
        bad, reason = "a_file", "is a file"
    else:
        Path("a_dir.png" if kind == "figure" else "a_dir").mkdir()
        bad, reason = "a_dir", "is a folder"
    argv = argv_for(name, made, bad) + (["--json"] if json_flag else [])
    code, out, err = run(capsys, *argv)
    path = "a_dir.png" if kind == "figure" else bad
    assert_one_line(code, out, err, path, reason, json_flag)
    if kind == "folder":
        assert Path("a_file").read_text() == "mine"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_path_under_a_file_is_one_line(capsys, made, name):
    Path("a_file").write_text("mine")
    code, out, err = run(capsys, *argv_for(name, made, "a_file/sub/out.x"), "--json")
    path = "a_file/sub/out.x.png" if COMMANDS[name][1] == "figure" else "a_file/sub/out.x"
    assert_one_line(code, out, err, path, "a_file is a file, not a folder", True)


@pytest.mark.parametrize("name", ["estimate -o", "export -o", "run --trace", "solve -o"])
def test_a_read_only_place_is_one_line(capsys, made, name):
    ro = read_only_place()
    code, out, err = run(capsys, *argv_for(name, made, str(ro / "sub" / "out.x")), "--json")
    assert_one_line(code, out, err, str(ro / "sub" / "out.x"), "is not writable", True)


def test_a_failed_example_leaves_no_models_behind(capsys):
    code, out, err = run(capsys, "example", "medical", "-o", "med", "--groups", "1000",
                         "--ngf", "8", "--yolo-size", "320", "--json")
    assert code == 1 and "Traceback" not in err
    assert json.loads(out)["exit_code"] == 1
    assert err.strip().splitlines()[-1] == ("layerswap: nothing written to med (the unfinished "
                                            "files of the medical example were removed)")
    assert sorted(os.listdir(".")) == []

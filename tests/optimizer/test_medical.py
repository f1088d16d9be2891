"""The medical example end to end (`layerswap example medical`, `optimizer.medical`).

One run of the command (small generator: ngf 8, YOLOv8n at 320, see `CI_ARGS`) feeds
every test here; each test re-derives what it checks from the files the run wrote
(schedules, manifests, saved runtime outputs, the DLA report) instead of trusting the
report's own verdicts:

- every schedule is valid and the simulator accepts it, with the objective reported;
- the runtime's saved outputs equal the unsplit models run whole by ONNX Runtime on the
  same phantom frames (fp32, both with graph optimisations off, within
  `runtime.agreement.SAME_KERNELS`), and the report says which comparison it made;
- throughput with the rewritten generator: wherever the report says "balanced", the
  exported manifest's predicted GPU and DLA loads are within 10 % of each other;
- the original generator's padded ConvTranspose layers show up as GPU fallback and extra
  loadables in the report, the rewritten generator's do not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimizer.medical import (
    BALANCE_TOLERANCE,
    MedicalError,
    MedicalOptions,
    ct_phantom,
    gan_inputs,
    yolo_inputs,
)
from runtime.agreement import SAME_KERNELS, agreement, reference_session_options

CI_NGF = 8
CI_YOLO = 320
CI_ARGS = ["--ngf", str(CI_NGF), "--yolo-size", str(CI_YOLO), "--groups", "12",
           "--time-limit", "20", "--frames", "4"]
"""What CI runs: the real graphs (num_downs 8, 256 x 256; YOLOv8n op for op) with a narrow
generator (ngf 8 instead of 64) and YOLO at 320 so the whole example takes well under a
minute on two cores. `layerswap example medical` with no options runs ngf 64 and 640."""


@pytest.fixture(scope="module")
def medical(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import contextlib
    import io

    from optimizer.cli import main

    out = tmp_path_factory.mktemp("medical")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["example", "medical", "-o", str(out), "--json", "--progress", *CI_ARGS])
    answer = json.loads(stdout.getvalue())
    report = json.loads((out / "report.json").read_text())
    return {"out": out, "code": code, "answer": answer, "stderr": stderr.getvalue(),
            "report": report}


def _solves(medical: dict[str, Any]) -> list[dict[str, Any]]:
    return medical["report"]["solves"]


def test_command_succeeds_with_one_json_object_and_step_lines(medical: dict[str, Any]) -> None:
    assert medical["code"] == 0, medical["stderr"]
    answer = medical["answer"]
    assert answer["estimated"] is True
    assert len(answer["solves"]) == 8   # 2 generators x 2 scenarios x 2 objectives
    assert all(s["run_ok"] for s in answer["solves"])
    lines = medical["stderr"].splitlines()
    for step in range(1, 9):
        assert any(f"[{step}/8]" in line for line in lines), medical["stderr"]


def test_every_schedule_is_valid_and_the_simulator_agrees(medical: dict[str, Any]) -> None:
    from solvers.judges.simulator import simulate
    from solvers.model.schedule import load_schedule_file

    seen = set()
    for s in _solves(medical):
        problem, schedule = load_schedule_file(str(medical["out"] / s["schedule_file"]))
        schedule.validate(problem)
        timeline = simulate(problem, schedule)
        assert not timeline.violations, s["name"]
        assert timeline.objective_ms == pytest.approx(s["objective_ms"], rel=1e-6), s["name"]
        assert s["status"] in ("optimal", "feasible")
        seen.add((s["variant"], s["scenario"], s["objective"]))
    assert len(seen) == 8


def _run_whole(path: Path, frames: np.ndarray) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), reference_session_options(2),
                                providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in sess.get_inputs()]
    outs = [o.name for o in sess.get_outputs()]
    per = [sess.run(outs, {name: f}) for f in frames]
    return {n: np.stack([p[i] for p in per]) for i, n in enumerate(outs)}


def test_runtime_outputs_equal_the_unsplit_models(medical: dict[str, Any]) -> None:
    out = medical["out"]
    opts = medical["report"]["options"]
    phantom = ct_phantom(256, frames=opts["frames"], seed=opts["seed"], noise=opts["noise"])
    frames = {"gan": gan_inputs(phantom), "yolo": yolo_inputs(phantom, CI_YOLO)}
    models = medical["report"]["models"]
    whole = {key: _run_whole(out / models[key]["file"], frames["yolo" if key == "yolo"
                                                              else "gan"])
             for key in ("gan_original", "gan_rewritten", "yolo")}
    checked = 0
    for s in _solves(medical):
        manifest = json.loads((out / s["manifest"]).read_text())
        saved = out / Path(s["manifest"]).parent / "outputs"
        for model in manifest["models"]:
            key = "yolo" if model["name"] == "yolo" else f"gan_{s['variant']}"
            with np.load(saved / f"{model['name']}.npz") as got:
                for spec in model["outputs"]:
                    ref = whole[key][spec["name"]]
                    value = got[spec["name"]]
                    assert value.shape == ref.shape, (s["name"], spec["name"])
                    check = agreement(spec["name"], ref, value, SAME_KERNELS)
                    assert check.ok, (s["name"], check)
                    checked += 1
    assert checked >= 12
    # the report says which comparison "equal to the unsplit model" means
    assert medical["report"]["run"]["comparison"] == SAME_KERNELS.to_dict()
    text = (out / "report.md").read_text()
    assert "graph optimisations off" in text and f"{SAME_KERNELS.rtol:g} x max" in text


def test_balanced_throughput_claims_hold_in_the_exported_manifests(
        medical: dict[str, Any]) -> None:
    checked = 0
    for s in _solves(medical):
        if s["objective"] != "throughput" or s["variant"] != "rewritten":
            continue
        manifest = json.loads((medical["out"] / s["manifest"]).read_text())
        busy = manifest["predicted"]["device_busy_ms"]
        gpu = busy.get("GPU", 0.0)
        dla = max(busy.get("DLA0", 0.0), busy.get("DLA1", 0.0))
        checked += 1
        if s["balance"]["balanced"]:   # the implication: a claim must hold, none is forced
            assert abs(gpu - dla) <= BALANCE_TOLERANCE * max(gpu, dla), (s["name"], busy)
        else:
            assert abs(gpu - dla) > BALANCE_TOLERANCE * max(gpu, dla), (s["name"], busy)
    assert checked == 2


def test_padded_deconvolutions_fall_back_in_the_original_only(medical: dict[str, Any]) -> None:
    dla = medical["report"]["dla"]
    original, rewritten = dla["gan_original"], dla["gan_rewritten"]
    deconv = [r for r in original["refused"] if r["op"] == "ConvTranspose"]
    assert len(deconv) == 8      # every up-sampling ConvTranspose of the U-Net (num_downs 8)
    assert not [r for r in rewritten["refused"] if r["op"] == "ConvTranspose"]
    assert _loadables(original) > _loadables(rewritten) == 1   # fallbacks split the DLA part
    tables = medical["report"]["tables"]
    assert tables["gan_original"]["dla_eligible_groups"] < tables["gan_original"]["groups"]
    assert tables["gan_rewritten"]["dla_eligible_groups"] == tables["gan_rewritten"]["groups"]
    text = (medical["out"] / "report.md").read_text()
    assert "ConvTranspose" in text
    for heading in ("Transition layers per model", "Per-device capacity and balance",
                    "Gain over the baselines", "Loadables per DLA core", "Gantt charts"):
        assert heading in text
    assert "ESTIMATES" in text


def _loadables(entry: dict[str, Any]) -> int:
    """Predicted DLA loadables of one model instance, from the checker's report."""
    value = entry["loadables"]
    if isinstance(value, dict):
        for key in ("per_instance", "count", "total", "loadables"):
            if isinstance(value.get(key), int):
                return value[key]
    assert isinstance(value, int), value
    return value


def test_report_files_and_markdown_follow_the_json(medical: dict[str, Any]) -> None:
    from optimizer.medical_report import render_markdown

    out = medical["out"]
    report = medical["report"]
    assert (out / "report.md").read_text() == render_markdown(report)
    # every estimated time and FPS comes with the estimator's expected error (issue 22)
    band = report["error_band"]
    assert band["estimated_tables"] and "Expected error of these estimates" in \
        (out / "report.md").read_text()
    for s in _solves(medical):
        if band["measured"]:
            lo, hi = s["error_band"]["objective_range_ms"]
            assert lo < s["objective_ms"] < hi
            if s["throughput_fps"]:
                lo, hi = s["error_band"]["throughput_fps_range"]
                assert lo < s["throughput_fps"] < hi
        else:
            assert s["error_band"]["measured"] is False
    for s in _solves(medical):
        assert (out / s["gantt"]).stat().st_size > 0
        assert (out / s["manifest"]).is_file()


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(MedicalError, match="yolo_size"):
        MedicalOptions(yolo_size=100).validate()
    with pytest.raises(MedicalError, match="frames"):
        MedicalOptions(frames=1).validate()


def test_cli_bad_option_exits_1_with_json_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from optimizer.cli import main

    code = main(["example", "medical", "-o", str(tmp_path), "--yolo-size", "100", "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["exit_code"] == 1
    assert captured.err.startswith("layerswap: error:") and "yolo_size" in captured.err
    assert len(captured.err.strip().splitlines()) == 1


@pytest.mark.parametrize("option", [["--ngf", "-1"], ["--frames", "0"], ["--time-limit", "0"]])
def test_cli_out_of_range_option_is_a_command_line_error(option: list[str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    from optimizer.cli import main

    code = main(["example", "medical", "-o", str(tmp_path), *option, "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert json.loads(captured.out) == {
        "error": captured.err.strip().splitlines()[-1].split(": error: ", 1)[1],
        "exit_code": 2}
    assert option[0] in captured.err and "Traceback" not in captured.err


def test_phantom_is_a_seeded_head_not_noise() -> None:
    a = ct_phantom(256, frames=2, seed=3)
    b = ct_phantom(256, frames=2, seed=3)
    assert a.shape == (2, 256, 256) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])
    clean = ct_phantom(256, frames=1, noise=0.0)[0]
    row = clean[128]            # through the middle: air, skull (bright), brain, skull, air
    assert row[0] == 0.0 and row[-1] == 0.0
    assert row.max() > 0.9 and 0.1 < row[64] < 0.5
    assert np.count_nonzero(row > 0.9) < 20   # the skull is a thin ring, not a filled disc


def test_medical_modules_import_no_circle() -> None:
    """No optimizer.medical* module imports one that imports it back, at module level or
    inside a function (design.md: no import circles)."""
    import ast
    import importlib.util

    import networkx as nx

    names = ["optimizer.medical", "optimizer.medical_setup", "optimizer.medical_steps",
             "optimizer.medical_report", "optimizer.medical_paper"]
    graph = nx.DiGraph()
    for name in names:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        tree = ast.parse(Path(spec.origin).read_text())
        graph.add_node(name)
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph.add_edges_from((name, t) for t in targets if t in names and t != name)
    assert nx.is_directed_acyclic_graph(graph), list(nx.simple_cycles(graph))

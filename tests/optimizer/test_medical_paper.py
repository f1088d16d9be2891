"""`layerswap example medical --paper`: the seed paper's setup and tables, at CI sizes.

One run (the paper's generator at ngf 8, YOLOv8n at 320) feeds every test; each re-derives
what it checks from the files the run wrote (schedule files, models, Gantt SVGs):

- the paper setup holds in every saved schedule: one DLA core, at most one switch per
  instance, the two GANs starting on the DLA and on the GPU; the default setup beside it;
- the three generator variants, with the parameters Table II's formula gives at ngf 8, and
  the rewritten ones equal to the original on the phantom (runtime check);
- the paper-form rows: per-instance FPS from the simulated round period, the paper's
  measured numbers with the ratio, switch layers by ONNX name and index matching the
  schedule's cuts, Gantt boxes labelled with the same names;
- the report says plainly that GPU fallback is not modelled yet (while it is not).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from optimizer import medical_paper

CI_ARGS = ["--paper", "--ngf", "8", "--yolo-size", "320", "--groups", "12",
           "--time-limit", "20", "--frames", "2"]


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import contextlib
    import io

    from optimizer.cli import main

    out = tmp_path_factory.mktemp("medical_paper")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["example", "medical", "-o", str(out), "--json", *CI_ARGS])
    return {"out": out, "code": code, "answer": json.loads(stdout.getvalue()),
            "stderr": stderr.getvalue(),
            "report": json.loads((out / "report.json").read_text())}


def _solves(run: dict[str, Any], setup: str | None = None) -> list[dict[str, Any]]:
    return [s for s in run["report"]["solves"] if setup is None or s["setup"] == setup]


def test_runs_every_variant_in_both_setups(paper_run: dict[str, Any]) -> None:
    assert paper_run["code"] == 0, paper_run["stderr"]
    assert paper_run["answer"]["paper"]["rows"]
    seen = {(s["setup"], s["scenario"], s["variant"]) for s in _solves(paper_run)}
    assert seen == {(u, sc, v) for u in ("paper", "default") for sc in ("gan2", "gan_yolo")
                    for v in ("original", "cropping", "convolution")}
    assert all(s["objective"] == "throughput" for s in _solves(paper_run))
    assert all(s["run_ok"] for s in paper_run["answer"]["solves"])


def test_paper_setup_holds_in_every_saved_schedule(paper_run: dict[str, Any]) -> None:
    from solvers.judges.simulator import simulate
    from solvers.model.problem import Device
    from solvers.model.schedule import load_schedule_file

    for s in _solves(paper_run, "paper"):
        problem, schedule = load_schedule_file(str(paper_run["out"] / s["schedule_file"]))
        schedule.validate(problem)
        assert simulate(problem, schedule).objective_ms == pytest.approx(s["objective_ms"])
        assert problem.max_transitions == 1
        names = [j.name for j in problem.jobs]
        for job, segments in zip(names, schedule.segments, strict=True):
            assert len(segments) <= 2, (s["name"], job)             # one switch at most
            assert all(g.device is not Device.DLA1 for g in segments)  # one DLA core
            if job == "gan_dla":
                assert segments[0].device is Device.DLA0
            if job == "gan_gpu":
                assert segments[0].device is Device.GPU
        assert set(names) == ({"gan_dla", "gan_gpu"} if s["scenario"] == "gan2"
                              else {"gan", "yolo"})
    for s in _solves(paper_run, "default"):
        problem, _ = load_schedule_file(str(paper_run["out"] / s["schedule_file"]))
        assert problem.max_transitions == 2 and not problem.pins


def test_variants_have_table_ii_structure_at_ngf_8(paper_run: dict[str, Any]) -> None:
    import onnx

    from export import zoo

    models = paper_run["report"]["models"]
    counts = {}
    for v in ("original", "cropping", "convolution"):
        model = onnx.load(paper_run["out"] / models[f"gan_{v}"]["file"])
        counts[v] = zoo.parameter_count(model)
        assert models[f"gan_{v}"]["parameters"] == counts[v]
    assert counts["original"] == zoo.parameter_count(zoo.build("pix2pix_tf", ngf=8))
    assert counts["cropping"] == counts["original"]
    # one cout x cout x 3 x 3 kernel per ConvTranspose (cout: 64 x4, 32, 16, 8, 3)
    assert counts["convolution"] - counts["original"] == 9 * (4 * 64 ** 2 + 32 ** 2 + 16 ** 2
                                                              + 8 ** 2 + 3 ** 2)
    rewrite = paper_run["report"]["rewrite"]
    assert set(rewrite) == {"cropping", "convolution"}
    for v, entry in rewrite.items():
        assert entry["passes"] == medical_paper.VARIANT_PASSES[v]
        assert entry["verify"]["passed"] and entry["on_phantom"]["max_abs_diff"] <= 1e-5


def test_paper_rows_follow_the_schedules(paper_run: dict[str, Any]) -> None:
    rows = paper_run["report"]["paper"]["rows"]
    by_name = {s["name"]: s for s in _solves(paper_run)}
    assert len(rows) == 12
    for row in rows:
        s = by_name[row["name"]]
        fps = 1000.0 / s["round_period_ms"]       # one frame of every instance per round
        starts = {j["job"]: j["segments"][0]["device"] for j in s["jobs"]}
        assert row["gpu_fps"] == (pytest.approx(fps) if "GPU" in starts.values() else None)
        assert row["dla_fps"] == (pytest.approx(fps) if set(starts.values()) - {"GPU"}
                                  else None)
        assert row["total_fps"] == pytest.approx(fps * len(starts))
        cuts = [(j["job"], c["after_layer"], c["after_layer_index"]) for j in s["jobs"]
                for c in j["cuts"]]
        listed = [(x["job"], x["layer"], x["index"])
                  for d in ("DLA->GPU", "GPU->DLA", "DLA->DLA") for x in row["switches"][d]]
        assert sorted(listed) == sorted(cuts)
        measured = medical_paper.PAPER_MEASURED[(row["scenario"], row["variant"])]
        assert row["paper"]["gpu_fps"] == measured.gpu_fps
        assert row["paper"]["dla_fps"] == measured.dla_fps


def test_switch_layers_carry_onnx_names_and_indices(paper_run: dict[str, Any]) -> None:
    from profiles.graph import LayerGraph

    out = paper_run["out"]
    models = paper_run["report"]["models"]
    for s in _solves(paper_run):
        for job in s["jobs"]:
            key = "yolo" if job["model"] == "yolo" else f"gan_{s['variant']}"
            order = LayerGraph.from_onnx(out / models[key]["file"]).order
            for cut in job["cuts"]:
                assert order[cut["after_layer_index"]] == cut["after_layer"]
                svg = (out / s["gantt"]).with_suffix(".svg").read_text()
                assert f"{cut['after_layer_index']} {cut['after_layer']}" in svg, s["name"]


def test_report_states_fallback_and_the_papers_numbers(paper_run: dict[str, Any]) -> None:
    from optimizer.medical_report import render_markdown

    out = paper_run["out"]
    report = paper_run["report"]
    text = (out / "report.md").read_text()
    assert text == render_markdown(report)
    assert "GPU fallback as TensorRT runs it" in text
    originals = [s for s in report["solves"]
                 if s["setup"] == "paper" and s["variant"] == "original"]
    assert originals
    for s in originals:   # TensorRT's own build with fallback, and the optimum without it
        names = {r["name"] for r in s["compare"]}
        assert medical_paper.TRT_BASELINE in names, names
        assert any("fallback forbidden" in n for n in names), names
    assert "measured on a Jetson with DeepStream" in text and "ESTIMATES" in text
    assert "172.6" in text and "86.9" in text         # the paper's two GANs, original
    assert "Direction (paper setup)" in text
    assert "GPU capacity FPS" in text                 # per-device capacities keep that name
    gains = report["paper"]["gains"]
    assert {(g["setup"], g["scenario"], g["variant"]) for g in gains} == {
        (u, sc, v) for u in ("paper", "default") for sc in ("gan2", "gan_yolo")
        for v in ("cropping", "convolution")}
    for g in gains:
        assert g["same_direction"] == ((g["total_fps_gain_pct"] > 0)
                                       == (g["paper_total_fps_gain_pct"] > 0))


def test_paper_setup_allows_fallback_for_the_original_generator_only() -> None:
    from optimizer import api
    from solvers.model.problem import ModelSpec

    table = api.load_table(api.stored_tables()[0])
    specs = [ModelSpec(table, "gan"), ModelSpec(table, "other")]
    out = medical_paper.fallback_options(specs, ["gan"])
    assert [s.gpu_fallback for s in out] == [True, False]
    assert medical_paper.fallback_models("original", "paper", ["a", "b"]) == ["a", "b"]
    assert medical_paper.fallback_models("cropping", "paper", ["a"]) == []
    assert medical_paper.fallback_models("original", "default", ["a"]) == []


def test_paper_option_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from optimizer.cli import main

    with pytest.raises(SystemExit):
        main(["example", "medical", "--help"])
    assert "--paper" in capsys.readouterr().out

"""The seed scenario end to end: a CT->MRI Pix2Pix generator and a YOLOv8n stroke detector
sharing the GPU and both DLA cores of a Jetson AGX Orin (domain.md section 4).

`run_medical` chains the library's pieces, holding no algorithm of its own:

1. build the zoo's Pix2Pix U-Net generator (1 -> 1 channels, 256 x 256) and YOLOv8n
   (`export.zoo`);
2. DLA capability report of each for the platform, TensorRT version and precision
   (`profiles.dla.check_model`): the generator's padded ConvTranspose layers are refused,
   so TensorRT would fall back to the GPU and split the DLA part into several loadables;
3. rewrite the generator for the DLA (`export.rewrite`: padded ConvTranspose -> unpadded
   ConvTranspose + crop, the same function) and verify it against the original with ONNX
   Runtime (`export.verify`: max abs diff, MSE, PSNR, SSIM);
4. estimate a cost table per model for the platform (`profiles.estimate`; no Jetson here,
   so every time is an *estimate* and says so);
5. solve two scenarios, two GAN instances and GAN + YOLO, each for latency and for
   throughput, with the original and with the rewritten generator (`optimizer.api.compare`:
   the baselines and the exact solver on the same problem);
6. export every schedule (`export.exporter.export_schedule`: sub-models, build plan,
   manifest);
7. run every manifest with the runtime on a synthetic CT-like head phantom and compare the
   outputs with the unsplit models run whole by ONNX Runtime;
8. write DIR/report.md, DIR/report.json and the Gantt charts (`optimizer.medical_report`).

Scenario semantics. Latency: one concurrent inference of the models (two GAN slices at
once, or one GAN + one YOLO frame). Throughput: the streaming objective of the seed paper
(keep every engine equally loaded); the two-GAN scenario is one GAN model with two frames
per round, i.e. two instances that may be partitioned differently (the paper's swapped
instances), and GAN + YOLO is one frame of each per round.

``MedicalOptions(paper=True)`` (`layerswap example medical --paper`) runs the seed paper's
setup instead (`optimizer.medical_paper`): its generator (the TensorFlow tutorial's U-Net,
3 -> 3 channels) as original, cropping and convolution variants, throughput only, each in
the paper's setup (one DLA core, one switch, the two GANs pinned to start on the DLA and
on the GPU, GPU fallback for the original once the model has it) and in the default
setup, and the report adds the paper's tables with its measured numbers beside ours.

Only the options and file layout live here; each step's numbers come from the library.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from optimizer import medical_report, medical_steps
from optimizer.medical_setup import (
    BALANCE_TOLERANCE,
    OBJECTIVES,
    SCENARIOS,
    VARIANTS,
    MedicalError,
    MedicalOptions,
    Progress,
    ct_phantom,
    gan_inputs,
    yolo_inputs,
)
from profiles.fileio import atomic_write_text, staged_folder


@dataclass
class MedicalRun:
    """Everything the example produced: the report document plus where files went.

    ``report`` is the JSON-able document written to DIR/report.json (deterministic for
    the same options when every solve is proven optimal); ``timings`` the wall-clock
    seconds per step (written to DIR/timings.json, kept out of the report so that the
    report stays byte-identical from run to run).
    """

    out_dir: Path
    report: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every schedule valid and every runtime output equal to the unsplit model."""
        return bool(self.report.get("checks", {}).get("all_ok"))


# --------------------------------------------------------------------------- the run
def run_medical(out_dir: str | Path, options: MedicalOptions | None = None, *,
                progress: Progress | None = None) -> MedicalRun:
    """Run the whole example into ``out_dir`` and return what it found (see module doc).

    The folder is filled through a temporary sibling and moved into place when complete
    (`runtime.fileio.staged_folder`): a failed or interrupted run leaves nothing behind (the
    exception carries a note saying so), and a previous run's files are replaced only by a
    finished one."""
    opts = options or MedicalOptions()
    if opts.trt_version is None:
        from profiles.platforms import default_trt_version

        opts = replace(opts, trt_version=default_trt_version(opts.platform))
    opts.validate()
    say = progress or (lambda _line: None)
    with staged_folder(out_dir, "the medical example") as stage:
        report, timings = _run_steps(stage.path, opts, say)
    return MedicalRun(Path(out_dir), report, timings)


def _run_steps(out: Path, opts: MedicalOptions, say: Progress
               ) -> tuple[dict[str, Any], dict[str, float]]:

    timings: dict[str, float] = {}
    steps = medical_steps.Steps(opts, out, say)

    def step(name: str, label: str, func: Callable[[], Any]) -> Any:
        say(f"[{len(timings) + 1}/8] {label}")
        t0 = time.perf_counter()
        value = func()
        timings[name] = round(time.perf_counter() - t0, 3)
        say(f"      {label}: done in {timings[name]:.1f} s")
        return value

    generator = ("the paper's Pix2Pix generator (TensorFlow tutorial U-Net)" if opts.paper
                 else "Pix2Pix generator")
    models = step("build", f"building the zoo models ({generator}, YOLOv8n)",
                  steps.build_models)
    dla = step("dla", f"DLA report ({opts.platform}, TensorRT {opts.trt_version}, "
               f"{opts.precision})", steps.dla_reports)
    rewrite = step("rewrite", f"rewriting the generator for the DLA "
                   f"({', '.join(steps.variants[1:])}) and verifying it",
                   steps.rewrite_generator)
    tables = step("estimate", f"estimating cost tables for {opts.platform}",
                  steps.estimate_tables)
    what = (f"2 scenarios x 2 setups (paper, default) x {len(steps.variants)} generators, "
            "throughput" if opts.paper else
            f"2 scenarios x 2 objectives x {len(steps.variants)} generators")
    solved = step("solve", f"solving {what}", steps.solve_all)
    exported = step("export", "exporting every schedule (sub-models, build plan, manifest)",
                    steps.export_all)
    runs = step("run", f"running every manifest on {opts.frames} phantom frames",
                steps.run_all)
    report = step("report", "writing report.md, report.json and the Gantt charts",
                  lambda: medical_report.write(out, opts, models=models, dla=dla,
                                               rewrite=rewrite, tables=tables,
                                               solved=solved, exported=exported,
                                               runs=runs))
    timings["total"] = round(sum(timings.values()), 3)
    for s in solved:   # per solve (kept out of the report, which stays byte-identical)
        timings[f"solve:{s.name}"] = round(s.result.solve_seconds, 3)
    atomic_write_text(out / "timings.json", json.dumps(timings, indent=2) + "\n")
    return report, timings


__all__ = [
    "BALANCE_TOLERANCE",
    "OBJECTIVES",
    "SCENARIOS",
    "VARIANTS",
    "MedicalError",
    "MedicalOptions",
    "MedicalRun",
    "ct_phantom",
    "gan_inputs",
    "run_medical",
    "yolo_inputs",
]

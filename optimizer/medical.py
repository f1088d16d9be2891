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

Only the options and file layout live here; each step's numbers come from the library.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from profiles.errors import LayerswapError
from profiles.fileio import atomic_write_text, staged_folder

Progress = Callable[[str], None]

VARIANTS = ("original", "rewritten")
"""The generator as built (padded ConvTranspose) and as rewritten for the DLA."""
SCENARIOS = ("gan2", "gan_yolo")
"""Two GAN instances; one GAN and one YOLO."""
OBJECTIVES = ("latency", "throughput")
BALANCE_TOLERANCE = 0.10
"""GPU and DLA loads count as balanced when they differ by at most this share of the
larger one (the issue's 10 %)."""


class MedicalError(LayerswapError):
    """The medical example cannot run with these options (names the option and the fix)."""


@dataclass(frozen=True)
class MedicalOptions:
    """What the example builds and how hard it solves. Defaults are the real models.

    ``ngf`` is the generator's base width: 64 is the seed paper's model (~54 M parameters);
    a small width (the test suite uses 8) keeps the same graph, cuts and tensor names with
    far less arithmetic, so a CI run takes seconds. ``yolo_size`` is YOLOv8n's input side
    (a multiple of 32). Cost tables are estimated for the models actually built, grouped
    on cuts crossed by at most ``max_crossing`` tensors: the U-Net's skip connections mean
    every cut between its encoder and decoder hands over several tensors at once.
    """

    ngf: int = 64
    yolo_size: int = 640
    platform: str = "orin-agx"
    trt_version: str = "10.3"
    precision: str = "fp16"
    gan_groups: int = 16
    yolo_groups: int = 16
    max_crossing: int = 8
    max_transitions: int = 2
    solver: str = "cpsat"
    time_limit: float = 30.0
    workers: int = 2
    frames: int = 4
    seed: int = 0
    contention: str = "none"
    noise: float = 0.02

    def validate(self) -> None:
        checks: list[tuple[bool, str]] = [
            (self.ngf >= 1, f"ngf must be >= 1 (64 is the real model), got {self.ngf}"),
            (self.yolo_size >= 32 and self.yolo_size % 32 == 0,
             f"yolo_size must be a positive multiple of 32, got {self.yolo_size}"),
            (self.gan_groups >= 1 and self.yolo_groups >= 1,
             "gan_groups and yolo_groups must be >= 1"),
            (self.max_transitions >= 0, "max_transitions must be >= 0"),
            (self.max_crossing >= 1, "max_crossing must be >= 1"),
            (self.time_limit > 0, f"time_limit must be > 0 s, got {self.time_limit}"),
            (self.workers >= 1, "workers must be >= 1"),
            (self.frames >= 2, f"frames must be >= 2 (both GAN instances of a round run), "
                               f"got {self.frames}"),
            (self.contention in ("none", "auto", "preset"),
             f"contention must be none, auto or preset, got {self.contention!r}"),
            (0.0 <= self.noise < 1.0, f"noise must be in [0, 1), got {self.noise}"),
        ]
        for ok, message in checks:
            if not ok:
                raise MedicalError(f"medical example: {message}")


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


# --------------------------------------------------------------------------- phantom
def ct_phantom(size: int = 256, *, frames: int = 1, seed: int = 0,
               noise: float = 0.02) -> np.ndarray:
    """A seeded CT-like head slice stack: the Shepp-Logan phantom resized to ``size``.

    Shape ``(frames, size, size)``, float32 in [0, 1]. Frame f adds Gaussian noise of
    standard deviation ``noise`` from ``numpy.random.default_rng((seed, f))`` (then clips),
    so every frame differs slightly and the same seed gives the same stack.
    """
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    base = resize(shepp_logan_phantom(), (size, size), order=1, anti_aliasing=True,
                  preserve_range=True).astype(np.float64)
    out = np.empty((frames, size, size), dtype=np.float32)
    for f in range(frames):
        rng = np.random.default_rng((seed, f))
        out[f] = np.clip(base + rng.normal(0.0, noise, base.shape), 0.0, 1.0)
    return out


def gan_inputs(phantom: np.ndarray) -> np.ndarray:
    """Generator input frames ``(F, 1, 1, H, W)``: the slices scaled to [-1, 1] (Pix2Pix's
    normalisation)."""
    return (phantom * 2.0 - 1.0).astype(np.float32)[:, None, None, :, :]


def yolo_inputs(phantom: np.ndarray, size: int) -> np.ndarray:
    """Detector input frames ``(F, 1, 3, size, size)``: each slice resized to ``size``,
    in [0, 1], repeated on the three colour channels (YOLO's RGB input)."""
    from skimage.transform import resize

    out = np.empty((phantom.shape[0], 1, 3, size, size), dtype=np.float32)
    for f, frame in enumerate(phantom):
        img = resize(frame, (size, size), order=1, anti_aliasing=False, preserve_range=True)
        out[f, 0] = np.broadcast_to(img.astype(np.float32), (3, size, size))
    return out


# --------------------------------------------------------------------------- the run
def run_medical(out_dir: str | Path, options: MedicalOptions | None = None, *,
                progress: Progress | None = None) -> MedicalRun:
    """Run the whole example into ``out_dir`` and return what it found (see module doc).

    The folder is filled through a temporary sibling and moved into place when complete
    (`runtime.fileio.staged_folder`): a failed or interrupted run leaves nothing behind (the
    exception carries a note saying so), and a previous run's files are replaced only by a
    finished one."""
    opts = options or MedicalOptions()
    opts.validate()
    say = progress or (lambda _line: None)
    with staged_folder(out_dir, "the medical example") as stage:
        report, timings = _run_steps(stage.path, opts, say)
    return MedicalRun(Path(out_dir), report, timings)


def _run_steps(out: Path, opts: MedicalOptions, say: Progress
               ) -> tuple[dict[str, Any], dict[str, float]]:
    from optimizer import medical_report, medical_steps

    timings: dict[str, float] = {}
    steps = medical_steps.Steps(opts, out, say)

    def step(name: str, label: str, func: Callable[[], Any]) -> Any:
        say(f"[{len(timings) + 1}/8] {label}")
        t0 = time.perf_counter()
        value = func()
        timings[name] = round(time.perf_counter() - t0, 3)
        say(f"      {label}: done in {timings[name]:.1f} s")
        return value

    models = step("build", "building the zoo models (Pix2Pix generator, YOLOv8n)",
                  steps.build_models)
    dla = step("dla", f"DLA report ({opts.platform}, TensorRT {opts.trt_version}, "
               f"{opts.precision})", steps.dla_reports)
    rewrite = step("rewrite", "rewriting the generator for the DLA and verifying it",
                   steps.rewrite_generator)
    tables = step("estimate", f"estimating cost tables for {opts.platform}",
                  steps.estimate_tables)
    solved = step("solve", "solving 2 scenarios x 2 objectives x 2 generators",
                  steps.solve_all)
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


def options_dict(opts: MedicalOptions) -> dict[str, Any]:
    """The options as a plain dict (for the report)."""
    return asdict(opts)


def key_name(variant: str, scenario: str, objective: str) -> str:
    """File-safe name of one solve, e.g. ``rewritten-gan_yolo-throughput``."""
    return f"{variant}-{scenario}-{objective}"


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

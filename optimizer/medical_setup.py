"""What the medical example (`optimizer.medical`) shares between its steps and its report:
options, scenario names, the CT-like phantom and the model inputs made from it.

Imported by `optimizer.medical`, `optimizer.medical_steps`, `optimizer.medical_paper` and
`optimizer.medical_report`, and importing none of them (no import circle).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from profiles.errors import LayerswapError

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

    ``paper``: the seed paper's setup (`optimizer.medical_paper`): its generator (the
    TensorFlow tutorial's U-Net, 3 -> 3 channels) in its three variants, throughput only,
    each solved in the paper's setup (one DLA core, one switch, pinned GAN instances, GPU
    fallback for the original once modelled) and in the default setup, side by side.
    """

    ngf: int = 64
    yolo_size: int = 640
    platform: str = "orin-agx"
    trt_version: str | None = None  # None: the platform's JetPack (profiles.platforms)
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
    paper: bool = False

    @property
    def generator(self) -> str:
        """The zoo generator: the paper's TensorFlow U-Net, or the PyTorch ``unet_256``."""
        return "pix2pix_tf" if self.paper else "pix2pix"

    @property
    def gan_channels(self) -> int:
        """Input and output channels of the generator (RGB for the paper's, grey otherwise)."""
        return 3 if self.paper else 1

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


def gan_inputs(phantom: np.ndarray, channels: int = 1) -> np.ndarray:
    """Generator input frames ``(F, 1, channels, H, W)``: the slices scaled to [-1, 1]
    (Pix2Pix's normalisation), repeated on ``channels`` channels."""
    grey = (phantom * 2.0 - 1.0).astype(np.float32)[:, None, None, :, :]
    return np.ascontiguousarray(np.repeat(grey, channels, axis=2))


def yolo_inputs(phantom: np.ndarray, size: int) -> np.ndarray:
    """Detector input frames ``(F, 1, 3, size, size)``: each slice resized to ``size``,
    in [0, 1], repeated on the three colour channels (YOLO's RGB input)."""
    from skimage.transform import resize

    out = np.empty((phantom.shape[0], 1, 3, size, size), dtype=np.float32)
    for f, frame in enumerate(phantom):
        img = resize(frame, (size, size), order=1, anti_aliasing=False, preserve_range=True)
        out[f, 0] = np.broadcast_to(img.astype(np.float32), (3, size, size))
    return out


def options_dict(opts: MedicalOptions) -> dict[str, Any]:
    """The options as a plain dict (for the report)."""
    return asdict(opts)


def finite(x: Any) -> bool:
    """A real, finite number (not a bool, None, NaN or inf)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_num(x: Any, digits: int = 3) -> str:
    """A number for the report's tables; "–" where there is none."""
    return "–" if not finite(x) else f"{x:.{digits}f}"


def fmt_share(x: Any) -> str:
    """A fraction as a percentage (0.25 -> 25.0%); "–" where there is none."""
    return "–" if not finite(x) else f"{x:.1%}"


def key_name(variant: str, scenario: str, objective: str, setup: str = "default") -> str:
    """File-safe name of one solve, e.g. ``rewritten-gan_yolo-throughput``; solves of the
    ``--paper`` run lead with their setup (``paper-cropping-gan2-throughput``)."""
    name = f"{variant}-{scenario}-{objective}"
    return name if setup == "default" else f"{setup}-{name}"


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference (inf when the shapes differ)."""
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0



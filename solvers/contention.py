"""Memory contention: a bounded, continuous, PCCS-like loss-rate model.

How it works (the definition every solver and the simulator share, see docs/model.md):

- A segment *i* running on a device of kind ``gpu`` or ``dla`` loses progress while a
  segment *j* of another job runs at the same time on another device. The *loss rate*
  ``k(i, j) = strength * f_kind(i)(bw(j))`` is a piecewise-linear, continuous,
  non-decreasing function of the co-runner's memory bandwidth demand ``bw(j)`` (GB/s),
  clamped to ``[0, k_max]``.
- While a set J of co-runners overlaps it, segment i progresses at rate
  ``1 - sum_{j in J} k(i, j)``. Hence its extra time is *exactly*
  ``sum_j k(i, j) * overlap(i, j)``: linear in the overlaps, whatever overlaps at once.
- ``k_max * (devices - 1) < 1`` keeps every rate positive (bounded slowdown).

PCCS (MICRO'21) writes slowdown as ``S = 100 / (100 - r)``; with one co-runner our model
gives ``S = 1 / (1 - k)``, so ``k = r / 100``: the PCCS curve *is* a loss-rate curve.
HaX-CoNN's published Xavier constants are discontinuous and have poles; the presets here
are continuous piecewise-linear shapes through the same regimes, capped at ``k_max``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

from solvers.errors import ProblemError

DEFAULT_K_MAX = 0.45


@dataclass(frozen=True)
class PiecewiseLinear:
    """A continuous piecewise-linear function through ``points`` (x ascending).

    Constant beyond the last point and before the first one.
    """

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if not self.points:
            raise ProblemError("a piecewise-linear curve needs at least one point")
        xs = [x for x, _ in self.points]
        if any(b <= a for a, b in pairwise(xs)):
            raise ProblemError(f"curve breakpoints must increase strictly: {xs}")
        for x, y in self.points:
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ProblemError(f"curve point ({x}, {y}) is not finite")

    def __call__(self, x: float) -> float:
        pts = self.points
        if x <= pts[0][0]:
            return pts[0][1]
        if x >= pts[-1][0]:
            return pts[-1][1]
        i = bisect.bisect_right([p[0] for p in pts], x)
        (x0, y0), (x1, y1) = pts[i - 1], pts[i]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    @property
    def is_non_decreasing(self) -> bool:
        ys = [y for _, y in self.points]
        return all(b >= a for a, b in pairwise(ys))


@dataclass(frozen=True)
class ContentionModel:
    """Loss rate of a victim on ``gpu``/``dla`` as a function of a co-runner's bandwidth."""

    name: str
    gpu: PiecewiseLinear
    dla: PiecewiseLinear
    k_max: float = DEFAULT_K_MAX
    strength: float = 1.0
    provenance: str = ""
    placeholders: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not (0 <= self.k_max < 1):
            raise ProblemError(f"contention k_max must be in [0, 1), got {self.k_max}")
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise ProblemError(f"contention strength must be a finite number >= 0, "
                               f"got {self.strength}")
        for kind, curve in (("gpu", self.gpu), ("dla", self.dla)):
            if not curve.is_non_decreasing or curve.points[0][1] < 0:
                raise ProblemError(f"contention curve for {kind} must be >= 0 and "
                                   "non-decreasing in co-runner bandwidth")

    @property
    def enabled(self) -> bool:
        return self.strength > 0 and self.k_max > 0 and (
            any(y > 0 for _, y in self.gpu.points) or any(y > 0 for _, y in self.dla.points))

    def loss_rate(self, victim_kind: str, aggressor_bw_gbps: float) -> float:
        """k for a victim on ``victim_kind`` ('gpu'|'dla') beside a co-runner of this bw."""
        curve = self.gpu if victim_kind == "gpu" else self.dla
        return min(self.k_max, max(0.0, self.strength * curve(aggressor_bw_gbps)))

    def scaled(self, strength: float) -> ContentionModel:
        return replace(self, strength=strength)

    def check_devices(self, n_devices: int) -> None:
        if n_devices > 1 and self.enabled and self.k_max * (n_devices - 1) >= 1:
            raise ProblemError(
                f"contention k_max={self.k_max} with {n_devices} devices lets a segment stall "
                f"(k_max * {n_devices - 1} >= 1); use k_max < {1 / (n_devices - 1):.3f}")

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "k_max": self.k_max, "strength": self.strength,
            "gpu": [list(p) for p in self.gpu.points], "dla": [list(p) for p in self.dla.points],
            "provenance": self.provenance, "placeholders": list(self.placeholders),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContentionModel:
        try:
            return cls(
                name=str(data["name"]),
                gpu=PiecewiseLinear(tuple((float(x), float(y)) for x, y in data["gpu"])),
                dla=PiecewiseLinear(tuple((float(x), float(y)) for x, y in data["dla"])),
                k_max=float(data.get("k_max", DEFAULT_K_MAX)),
                strength=float(data.get("strength", 1.0)),
                provenance=str(data.get("provenance", "")),
                placeholders=tuple(data.get("placeholders", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProblemError(f"invalid contention model description: {exc}") from exc


def no_contention() -> ContentionModel:
    zero = PiecewiseLinear(((0.0, 0.0),))
    return ContentionModel(name="none", gpu=zero, dla=zero, k_max=0.0, strength=0.0,
                           provenance="contention disabled")


def _curve(points: Sequence[tuple[float, float]]) -> PiecewiseLinear:
    return PiecewiseLinear(tuple((float(x), float(y)) for x, y in points))


def xavier_preset() -> ContentionModel:
    """Xavier AGX: continuous version of HaX-CoNN's published PCCS constants.

    Published (r in percent, x = external memory throughput in GB/s): GPU
    ``r = x*4.9/127.5`` (x < 38.1), ``r = x`` (x < 96.2), ``r = (x-41.9)*1.11``; DLA ``r = x``
    (x < 27.9), ``r = (x+49)*0.35``. Loss rate k = r/100. The curves below follow the
    published values at the regime ends but join them continuously (the published curve
    jumps from 1.5 % to 38 % at 38.1 GB/s) and cap at ``k_max`` (the published curve has a
    pole at r = 100). The joins and the cap are placeholders until calibrated.
    """
    gpu = _curve([(0, 0.0), (38.1, 38.1 * 4.9 / 127.5 / 100), (96.2, 0.45), (137, 0.45)])
    dla = _curve([(0, 0.0), (27.9, 0.279), (45.0, (45 + 49) * 0.35 / 100), (137, 0.45)])
    return ContentionModel(
        name="xavier-agx", gpu=gpu, dla=dla,
        provenance="HaX-CoNN PPoPP'24 artifact PCCS constants for Xavier AGX, made continuous "
                   "and capped (shared/docs/domain.md section 3)",
        placeholders=("join between GPU regimes 38.1-96.2 GB/s", "cap k_max=0.45"),
    )


def orin_preset(name: str = "orin-agx") -> ContentionModel:
    """Orin: PLACEHOLDER shape (Xavier's curve stretched to Orin's 204.8 GB/s DRAM).

    No published Orin PCCS constants exist; calibrate with `calibrate` from co-run data.
    """
    scale = 204.8 / 136.5
    xav = xavier_preset()
    gpu = _curve([(x * scale, y) for x, y in xav.gpu.points])
    dla = _curve([(x * scale, y) for x, y in xav.dla.points])
    return ContentionModel(
        name=name, gpu=gpu, dla=dla,
        provenance="placeholder: Xavier preset with bandwidth axis scaled by DRAM peak "
                   "204.8/136.5 GB/s",
        placeholders=("all Orin constants",),
    )

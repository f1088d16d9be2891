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
from solvers.model.jsonfields import as_list, as_number, as_object, as_str, need, show

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
    def from_dict(cls, data: Any, where: str = "contention") -> ContentionModel:
        """Read `to_dict`'s output; a bad field is a ProblemError naming its path."""
        def curve(kind: str) -> PiecewiseLinear:
            points = []
            for i, point in enumerate(as_list(need(data, kind, where), f"{where}.{kind}")):
                pair = as_list(point, f"{where}.{kind}[{i}]")
                if len(pair) != 2:
                    raise ProblemError(f"{where}.{kind}[{i}]: expected [GB/s, loss rate], "
                                       f"got {show(point)}")
                points.append((as_number(pair[0], f"{where}.{kind}[{i}][0]"),
                               as_number(pair[1], f"{where}.{kind}[{i}][1]")))
            return PiecewiseLinear(tuple(points))

        placeholders = as_list(as_object(data, where).get("placeholders", []),
                               f"{where}.placeholders")
        return cls(
            name=as_str(need(data, "name", where), f"{where}.name"),
            gpu=curve("gpu"), dla=curve("dla"),
            k_max=as_number(data.get("k_max", DEFAULT_K_MAX), f"{where}.k_max"),
            strength=as_number(data.get("strength", 1.0), f"{where}.strength"),
            provenance=str(data.get("provenance", "")),
            placeholders=tuple(str(x) for x in placeholders),
        )


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
                   "and capped (profiles/data/SOURCES.md)",
        placeholders=("join between GPU regimes 38.1-96.2 GB/s", "cap k_max=0.45"),
    )


XAVIER_DRAM_GBPS = 136.5
ORIN_DRAM_GBPS = {"orin-agx": 204.8, "orin-nx": 102.4}
"""Peak DRAM bandwidth (GB/s) of each Orin module: AGX Orin 64GB 256-bit LPDDR5 at
204.8 GB/s, Orin NX 16GB 128-bit LPDDR5 at 102.4 GB/s (NVIDIA Jetson Orin module data
sheets; the platform descriptions in `solvers.model.problem` say the same)."""


FITTED_PRESETS = {"orin-agx": "contention/orin-agx.json"}
"""Presets fitted to published co-run data: files of profiles/data (the `calibrate -o`
format), written by benchmarks/contention_orin.py with their held-out errors."""


def orin_preset(name: str = "orin-agx") -> ContentionModel:
    """Orin presets.

    ``orin-agx``: fitted to the published co-run latencies of NVIDIA/TensorRT#2745
    (``profiles/data/contention/orin-agx.json``; constant loss rate per victim kind, the
    issue gives no bandwidths; held-out errors in benchmarks/results/contention_orin.md).
    ``orin-nx``: PLACEHOLDER shape, no published co-run data: Xavier's curve with its
    bandwidth axis stretched to the module's DRAM peak (102.4 GB/s). Either way
    `calibrate` replaces it with the user's own co-run measurements.
    """
    if name not in ORIN_DRAM_GBPS:
        raise ProblemError(f"no Orin contention preset for {name!r}; presets exist for "
                           f"{', '.join(ORIN_DRAM_GBPS)}")
    if name in FITTED_PRESETS:
        return _fitted_preset(FITTED_PRESETS[name])
    return stretched_xavier(name, ORIN_DRAM_GBPS[name])


def stretched_xavier(name: str, peak_gbps: float) -> ContentionModel:
    """Xavier's curve with its bandwidth axis stretched to a DRAM peak of ``peak_gbps``: the
    placeholder shape for a module without published co-run data (and, at 204.8 GB/s, the
    former AGX Orin placeholder, whose bandwidth-dependent curve the drifting-schedule
    regression cases keep)."""
    scale = peak_gbps / XAVIER_DRAM_GBPS
    xav = xavier_preset()
    gpu = _curve([(x * scale, y) for x, y in xav.gpu.points])
    dla = _curve([(x * scale, y) for x, y in xav.dla.points])
    return ContentionModel(
        name=name, gpu=gpu, dla=dla,
        provenance=f"placeholder: Xavier preset with bandwidth axis scaled by DRAM peak "
                   f"{peak_gbps:g}/{XAVIER_DRAM_GBPS:g} GB/s",
        placeholders=("all Orin constants",),
    )


def _fitted_preset(resource: str) -> ContentionModel:
    import json
    from importlib import resources

    where = f"profiles/data/{resource}"
    try:
        doc = json.loads(resources.files("profiles.data").joinpath(resource)
                         .read_text(encoding="utf-8"))
        return ContentionModel.from_dict(doc["model"], where)
    except (OSError, KeyError, ValueError) as exc:  # pragma: no cover - a broken install
        raise ProblemError(f"{where}: the fitted contention preset cannot be read ({exc}); "
                           "regenerate it with benchmarks/contention_orin.py --write") from exc


# ---------------------------------------------------------------------- calibration
@dataclass(frozen=True)
class CoRunSample:
    """One co-run measurement: a segment alone, then fully overlapped by a co-runner."""

    standalone_ms: float
    corun_ms: float
    corunner_bw_gbps: float


@dataclass(frozen=True)
class CalibrationResult:
    """A fitted loss-rate curve for one victim kind and how well it fits."""

    kind: str
    curve: PiecewiseLinear
    model: ContentionModel
    n: int
    rmse: float               # of the loss rate k (dimensionless)
    max_abs_error: float      # of k
    rmse_ms: float            # of the predicted co-run time
    residuals: tuple[float, ...]


NOISE_TOLERANCE = 0.02
"""A co-run time may fall this fraction below the standalone time (timing noise)."""


def _sample_values(sample: object, index: int) -> tuple[float, float, float]:
    if isinstance(sample, CoRunSample):
        vals = (sample.standalone_ms, sample.corun_ms, sample.corunner_bw_gbps)
    elif isinstance(sample, Mapping):
        try:
            vals = (sample["standalone_ms"], sample["corun_ms"], sample["corunner_bw_gbps"])
        except KeyError as exc:
            raise ProblemError(f"co-run sample {index}: missing key {exc}; give "
                               "standalone_ms, corun_ms, corunner_bw_gbps") from exc
    else:
        try:
            a, b, c = sample  # type: ignore[misc]
        except (TypeError, ValueError) as exc:
            raise ProblemError(f"co-run sample {index}: expected (standalone_ms, corun_ms, "
                               f"corunner_bw_gbps), got {sample!r}") from exc
        vals = (a, b, c)
    try:
        s, c_, bw = (float(v) for v in vals)
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"co-run sample {index}: non-numeric value in {vals!r}") from exc
    for name, v in (("standalone_ms", s), ("corun_ms", c_), ("corunner_bw_gbps", bw)):
        if not math.isfinite(v):
            raise ProblemError(f"co-run sample {index}: {name} is {v}; remeasure or drop it")
        if v < 0 or (v == 0 and name != "corunner_bw_gbps"):
            raise ProblemError(f"co-run sample {index}: {name} must be > 0 "
                               f"(bandwidth >= 0), got {v}")
    if c_ < s * (1 - NOISE_TOLERANCE):
        raise ProblemError(
            f"co-run sample {index}: co-run time {c_} ms is below the standalone time {s} ms "
            f"by more than {NOISE_TOLERANCE:.0%}: contention cannot speed a segment up; "
            "check that the two measurements belong together")
    return s, c_, bw


def _nnls(a: Any, b: Any, max_iter: int = 500) -> Any:
    """Lawson-Hanson non-negative least squares: argmin ||a x - b|| with x >= 0."""
    import numpy as np

    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = a.T @ (b - a @ x)
    tol = 10 * np.finfo(float).eps * np.linalg.norm(a, 1) * max(m, n)
    for _ in range(max_iter):
        if passive.all() or (w[~passive] <= tol).all():
            break
        j = int(np.argmax(np.where(passive, -np.inf, w)))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > tol).all():
                x = z
                break
            mask = passive & (z <= tol)
            alpha = np.min(x[mask] / (x[mask] - z[mask]))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
        w = a.T @ (b - a @ x)
    return x


def calibrate(samples: Sequence[object], *, kind: str,
              breakpoints: Sequence[float] | None = None,
              base: ContentionModel | None = None, k_max: float = DEFAULT_K_MAX,
              name: str = "calibrated") -> CalibrationResult:
    """Fit the loss-rate curve of victims on ``kind`` ('gpu'|'dla') from co-run data.

    Each sample is (standalone_ms, corun_ms, corunner_bw_gbps) of a segment fully
    overlapped by one co-runner; its observed loss rate is ``k = 1 - standalone/corun``
    (from ``corun = standalone / (1 - k)``). The curve is
    ``f(x) = c0 + sum_i c_i * clamp(x - b_{i-1}, 0, b_i - b_{i-1})`` with every
    ``c >= 0``: continuous, non-decreasing and >= 0 by construction; a non-negative least
    squares fit (numpy only) on k finds the c. Breakpoints default to 0, the quartiles and
    the maximum of the observed bandwidths. The returned model copies ``base`` (default:
    zero curves) for the other kind and caps k at ``k_max``.
    """
    import numpy as np

    if kind not in ("gpu", "dla"):
        raise ProblemError(f"calibrate kind must be 'gpu' or 'dla', not {kind!r}")
    values = [_sample_values(s, i) for i, s in enumerate(samples)]
    if len(values) < 2:
        raise ProblemError(f"calibration needs at least 2 co-run samples, got {len(values)}")
    stand = np.array([v[0] for v in values])
    corun = np.array([v[1] for v in values])
    bw = np.array([v[2] for v in values])
    k_obs = 1.0 - stand / corun
    if breakpoints is None:
        qs = np.quantile(bw, [0.25, 0.5, 0.75])
        knots = sorted({0.0, *(round(float(q), 6) for q in qs), float(bw.max())})
    else:
        knots = sorted(float(b) for b in breakpoints)
        if not knots or knots[0] < 0 or any(b <= a for a, b in pairwise(knots)):
            raise ProblemError(f"breakpoints must be >= 0 and strictly increasing: {knots}")
    if knots[0] > 0:
        knots = [0.0, *knots]
    cols = [np.ones_like(bw)]
    for lo, hi in pairwise(knots):
        cols.append(np.clip(bw - lo, 0.0, hi - lo))
    design = np.stack(cols, axis=1)
    coef = _nnls(design, k_obs)
    ys = [float(coef[0])]
    for i in range(1, len(knots)):
        ys.append(ys[-1] + float(coef[i]) * (knots[i] - knots[i - 1]))
    curve = PiecewiseLinear(tuple((float(x), float(y)) for x, y in zip(knots, ys,
                                                                        strict=True)))
    pred_k = np.minimum(np.array([curve(float(x)) for x in bw]), k_max)
    resid = pred_k - k_obs
    pred_ms = stand / (1.0 - pred_k)
    zero = PiecewiseLinear(((0.0, 0.0),))
    other = base if base is not None else ContentionModel("zero", zero, zero)
    model = ContentionModel(
        name=name, gpu=curve if kind == "gpu" else other.gpu,
        dla=curve if kind == "dla" else other.dla, k_max=k_max,
        provenance=f"calibrated ({kind} victims) from {len(values)} co-run samples; "
                   f"rmse of k {float(np.sqrt(np.mean(resid ** 2))):.4g}",
        placeholders=_placeholders_after_fit(kind, base))
    return CalibrationResult(
        kind=kind, curve=curve, model=model, n=len(values),
        rmse=float(np.sqrt(np.mean(resid ** 2))), max_abs_error=float(np.max(np.abs(resid))),
        rmse_ms=float(np.sqrt(np.mean((pred_ms - corun) ** 2))),
        residuals=tuple(float(r) for r in resid))


def _placeholders_after_fit(kind: str, base: ContentionModel | None) -> tuple[str, ...]:
    """What is still a placeholder once the ``kind`` curve is fitted: the other kind's
    curve, when it is zero or comes from a placeholder preset (per-kind notes of an earlier
    fit are dropped for the kind just fitted)."""
    other = "dla" if kind == "gpu" else "gpu"
    if base is None:
        return (f"{other} curve not calibrated (zero)",)
    per_kind = ("gpu curve", "dla curve")
    kept = tuple(p for p in base.placeholders
                 if p.startswith(per_kind) and not p.startswith(f"{kind} curve"))
    generic = [p for p in base.placeholders if not p.startswith(per_kind)]
    if generic:
        kept += (f"{other} curve from the {base.name} preset ({'; '.join(generic)})",)
    return kept


# ---------------------------------------------------------------------- files
CONTENTION_FORMAT = "layerswap.contention/1"


def save_contention_model(path: str, model: ContentionModel,
                          fit: Mapping[str, Any] | None = None) -> None:
    """Write ``model`` (and an optional fit report) as JSON, atomically."""
    import json

    from profiles.fileio import atomic_write_text

    doc = {"format": CONTENTION_FORMAT, "model": model.to_dict(), "fit": dict(fit or {})}
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")


def load_contention_model(path: str) -> ContentionModel:
    """Read a file written by `save_contention_model` (`layerswap calibrate -o`)."""
    import json
    from pathlib import Path

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProblemError(f"{path}: cannot read the contention model ({exc.strerror})") \
            from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProblemError(f"{path}: not JSON ({exc}); write one with `layerswap calibrate "
                           "-o FILE`") from exc
    if not isinstance(doc, dict) or doc.get("format") != CONTENTION_FORMAT:
        raise ProblemError(f"{path}: not a layerswap contention model (expected format "
                           f"{CONTENTION_FORMAT!r}); write one with `layerswap calibrate -o`")
    try:
        return ContentionModel.from_dict(doc["model"])
    except (KeyError, ProblemError) as exc:
        raise ProblemError(f"{path}: {exc}") from exc

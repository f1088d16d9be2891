"""Verify a rewrite: run the original and the rewritten model with ONNX Runtime on the same
seeded inputs and compare every output.

Per output: max absolute difference, MSE, PSNR and SSIM (scikit-image
``peak_signal_noise_ratio`` / ``structural_similarity``, with the reference output's value
range as ``data_range``). SSIM is computed over the 2-D planes of the last two axes (the
mean over the leading axes) with the largest odd window <= 7 that fits; an output whose
planes are smaller than 3x3 (a class vector) has no SSIM (None, with the reason). Inputs are
drawn from ``numpy.random.default_rng(seed)`` (standard normal), so a run is reproducible.
Both sessions run on the CPU with ONNX Runtime's graph optimisations off: the comparison is
of the graphs as written, and does not depend on the CPU. An output passes under
`runtime.agreement.SAME_KERNELS` with ``tolerance`` as its absolute floor:
``max abs diff <= tolerance + 1e-6 * max|original output|``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from export.errors import ExportError
from runtime.agreement import SAME_KERNELS, Tolerance, agreement, reference_session_options

DEFAULT_TOLERANCE = SAME_KERNELS.atol


@dataclass(frozen=True)
class OutputMetrics:
    """Original-vs-rewritten metrics of one output over all samples."""

    name: str
    shape: tuple[int, ...]
    max_abs_diff: float
    mse: float
    psnr_db: float | None   # None when identical (infinite) or the reference is constant
    ssim: float | None
    data_range: float
    scale: float = 0.0      # max |original output|
    allowed: float = 0.0    # the max abs diff this output may have
    note: str = ""

    @property
    def identical(self) -> bool:
        return self.max_abs_diff == 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "max_abs_diff": self.max_abs_diff,
                "mse": self.mse, "psnr_db": self.psnr_db, "ssim": self.ssim,
                "data_range": self.data_range, "scale": self.scale, "allowed": self.allowed,
                "identical": self.identical, "note": self.note}


@dataclass(frozen=True)
class VerifyReport:
    """Metrics per output; ``passed`` when every max abs diff is within its ``allowed``
    (``tolerance`` + 1e-6 x the output's magnitude: `runtime.agreement.SAME_KERNELS`)."""

    seed: int
    samples: int
    tolerance: float
    outputs: tuple[OutputMetrics, ...]

    @property
    def max_abs_diff(self) -> float:
        return max((o.max_abs_diff for o in self.outputs), default=0.0)

    @property
    def passed(self) -> bool:
        return all(o.max_abs_diff <= o.allowed for o in self.outputs)

    @property
    def comparison(self) -> Tolerance:
        return SAME_KERNELS.with_atol(self.tolerance)

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "samples": self.samples, "tolerance": self.tolerance,
                "comparison": self.comparison.to_dict(), "passed": self.passed,
                "max_abs_diff": self.max_abs_diff,
                "outputs": [o.to_dict() for o in self.outputs]}


_NP_TYPES = {1: np.float32, 10: np.float16, 11: np.float64}


def seeded_inputs(model: Any, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal inputs for every graph input (static float shapes only)."""
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds: dict[str, np.ndarray] = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in tt.shape.dim]
        if any(d <= 0 for d in dims):
            raise ExportError(f"graph input {vi.name!r} has a dynamic shape; verification needs "
                              "static shapes")
        dtype = _NP_TYPES.get(tt.elem_type)
        if dtype is None:
            raise ExportError(f"graph input {vi.name!r} is not a float tensor (ONNX type "
                              f"{tt.elem_type}); seeded verification draws float inputs only")
        feeds[vi.name] = rng.standard_normal(dims).astype(dtype)
    return feeds


def _session(model: Any, label: str) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(model.SerializeToString(), reference_session_options(),
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types for unsupported models
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise ExportError(f"ONNX Runtime cannot run the {label} model ({type(exc).__name__}: "
                          f"{first}); unknown or custom ops cannot be verified") from None


def _ssim(ref: np.ndarray, test: np.ndarray, data_range: float) -> tuple[float | None, str]:
    from skimage.metrics import structural_similarity

    if ref.ndim < 2:
        return None, "no 2-D planes: SSIM undefined"
    h, w = ref.shape[-2:]
    win = min(7, h, w)
    win -= 1 - win % 2  # largest odd <= min(7, h, w)
    if win < 3:
        return None, f"planes {h}x{w} smaller than 3x3: SSIM undefined"
    planes_r = ref.reshape(-1, h, w)
    planes_t = test.reshape(-1, h, w)
    vals = [structural_similarity(r, t, data_range=data_range, win_size=win)
            for r, t in zip(planes_r, planes_t, strict=True)]
    return float(np.mean(vals)), ""


def _metrics(name: str, refs: list[np.ndarray], tests: list[np.ndarray],
             tolerance: Tolerance) -> OutputMetrics:
    from skimage.metrics import peak_signal_noise_ratio

    ref = np.stack(refs).astype(np.float64)
    test = np.stack(tests).astype(np.float64)
    if ref.shape != test.shape:
        raise ExportError(f"output {name!r}: shape {list(test.shape[1:])} after the rewrite, "
                          f"{list(ref.shape[1:])} before")
    diff = np.abs(ref - test)
    agreed = agreement(name, ref, test, tolerance)
    max_abs = agreed.max_abs_diff
    mse = float(np.mean(diff ** 2)) if diff.size else 0.0
    data_range = float(ref.max() - ref.min()) if ref.size else 0.0
    note = ""
    if data_range == 0.0:
        psnr = None
        note = "constant reference output: PSNR/SSIM undefined"
        ssim = None
    else:
        if mse == 0.0:
            psnr = None
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                psnr = float(peak_signal_noise_ratio(ref, test, data_range=data_range))
            psnr = psnr if math.isfinite(psnr) else None
        ssim, note = _ssim(ref, test, data_range)
    return OutputMetrics(name=name, shape=tuple(int(d) for d in ref.shape[1:]),
                         max_abs_diff=max_abs, mse=mse, psnr_db=psnr, ssim=ssim,
                         data_range=data_range, scale=agreed.scale, allowed=agreed.allowed,
                         note=note)


def verify(original: Any, rewritten: Any, *, seed: int = 0, samples: int = 1,
           tolerance: float = DEFAULT_TOLERANCE) -> VerifyReport:
    """Compare ``original`` and ``rewritten`` (``ModelProto`` s) on ``samples`` seeded inputs."""
    if samples < 1:
        raise ExportError(f"samples={samples}: verify needs at least one sample")
    a = _session(original, "original")
    b = _session(rewritten, "rewritten")
    names = [o.name for o in a.get_outputs()]
    if sorted(names) != sorted(o.name for o in b.get_outputs()):
        raise ExportError(f"the rewrite changed the graph outputs ({names} -> "
                          f"{[o.name for o in b.get_outputs()]})")
    refs: dict[str, list[np.ndarray]] = {n: [] for n in names}
    tests: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for i in range(samples):
        feeds = seeded_inputs(original, seed + i)
        for n, v in zip(names, a.run(names, feeds), strict=True):
            refs[n].append(np.asarray(v))
        for n, v in zip(names, b.run(names, feeds), strict=True):
            tests[n].append(np.asarray(v))
    outputs = tuple(_metrics(n, refs[n], tests[n], SAME_KERNELS.with_atol(tolerance))
                    for n in names)
    return VerifyReport(seed=seed, samples=samples, tolerance=tolerance, outputs=outputs)


__all__ = ["DEFAULT_TOLERANCE", "OutputMetrics", "VerifyReport", "seeded_inputs", "verify"]

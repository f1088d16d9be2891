"""When two runs of a model count as giving the same outputs: the one comparison every
exactness check of layerswap makes (split against unsplit, rewritten against original,
runtime against the whole model).

Splitting a model does not change its function, but ONNX Runtime's graph optimisations fuse
nodes and change tensor layouts per graph (NCHWc blocks, Conv+activation fusions), and the
vector kernels it then picks depend on the CPU. YOLOv8n (320x320) split in two differs from
the whole model by 0.045 on `output0` (values up to 898) with full optimisation, on an AMD
EPYC as on an Intel Xeon; with graph optimisations off the difference is exactly 0: both sides
run the same kernels on the same shapes. So there are two named comparisons:

- `SAME_KERNELS`: both sides ran with graph optimisations off (`reference_session_options`).
  Allowed per output: ``max|got - ref| <= 1e-5 + 1e-6 * max|ref|`` (an absolute floor, plus
  a few float32 ulps of the output's own magnitude: one ulp at 898 is 6e-5). The claim
  "equal to the unsplit model" is made with this one.
- `OPTIMISED`: one side ran with the runtime's default full graph optimisation (what
  ``layerswap run`` measures). Fused kernels re-associate sums; allowed
  ``1e-5 + 1e-3 * max|ref|`` (20x the 5e-5 relative difference seen on YOLOv8n). A wrong
  tensor, a skipped segment or a swapped hand-off is off by the order of the output itself.

The scale is the largest magnitude of the reference output, so an output of box
coordinates (hundreds) and one of probabilities (below 1) are held to the same relative
precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tolerance:
    """``max|got - ref| <= atol + rtol * max|ref|`` per output; ``name`` says which kernels
    the two sides ran."""

    name: str
    atol: float
    rtol: float
    kernels: str

    def allowed(self, scale: float) -> float:
        return self.atol + self.rtol * scale

    def with_atol(self, atol: float) -> Tolerance:
        return Tolerance(self.name, float(atol), self.rtol, self.kernels)

    def describe(self) -> str:
        """One sentence for reports: which kernels, which bound."""
        return (f"{self.kernels}; pass when max |difference| <= {self.atol:g} + {self.rtol:g} "
                "x max |unsplit output| per output")

    def to_dict(self) -> dict[str, Any]:
        return {"comparison": self.name, "atol": self.atol, "rtol": self.rtol,
                "relative_to": "max |reference output|", "kernels": self.kernels}


SAME_KERNELS = Tolerance(
    "same-kernels", atol=1e-5, rtol=1e-6,
    kernels="both sides run by ONNX Runtime on the CPU with graph optimisations off (the same "
            "kernels on the same shapes)")
OPTIMISED = Tolerance(
    "optimised", atol=1e-5, rtol=1e-3,
    kernels="one side run with ONNX Runtime's full graph optimisation (fused kernels, "
            "CPU-dependent rounding)")


@dataclass(frozen=True)
class Agreement:
    """One output compared: its largest difference, its scale and what was allowed."""

    name: str
    max_abs_diff: float
    scale: float
    allowed: float
    comparison: str

    @property
    def ok(self) -> bool:
        return bool(self.max_abs_diff <= self.allowed)  # NaN or inf is never ok

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "max_abs_diff": self.max_abs_diff, "scale": self.scale,
                "allowed": self.allowed, "comparison": self.comparison, "ok": self.ok}


def agreement(name: str, reference: Any, got: Any,
              tolerance: Tolerance = SAME_KERNELS) -> Agreement:
    """Compare one output (arrays of any shape; a shape mismatch or a NaN is a failure)."""
    import numpy as np  # lazily: the CLI imports this module for its help text

    ref = np.asarray(reference, dtype=np.float64)
    val = np.asarray(got, dtype=np.float64)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    if ref.shape != val.shape:
        diff = float("inf")
    elif ref.size == 0:
        diff = 0.0
    else:
        diff = float(np.max(np.abs(ref - val)))
        if not np.isfinite(diff):
            diff = float("inf")
    scale = scale if np.isfinite(scale) else float("inf")
    return Agreement(name, diff, scale, tolerance.allowed(scale) if np.isfinite(scale)
                     else tolerance.atol, tolerance.name)


def agree(reference: Any, got: Any, tolerance: Tolerance = SAME_KERNELS) -> bool:
    """`agreement(...).ok` for one pair of arrays."""
    return agreement("", reference, got, tolerance).ok


def reference_session_options(threads: int = 1) -> Any:
    """ONNX Runtime session options for a reference run: graph optimisations off (so a whole
    model and its split run the same kernels), ``threads`` intra-op threads."""
    from runtime.backends.ort import session_options

    return session_options(threads, optimize=False)


__all__ = ["OPTIMISED", "SAME_KERNELS", "Agreement", "Tolerance", "agree", "agreement",
           "reference_session_options"]

"""Analytic cost tables from an ONNX model, for when no Jetson is at hand.

`estimate(model, platform=..., precision=...)` returns an `Estimate` whose ``table`` is a
`profiles.costtable.CostTable` with ``source: estimated ...`` and the ONNX mapping the
export needs (``first_layer``/``last_layer``, ``cut_tensors``, ``# onnx_graph:``). The
numbers come from a roofline over per-node work (`work`), per-module published specs
(``platforms.toml``) and fitted efficiency parameters (``params.toml``); how well they
match published measurements is in ``benchmarks/results/estimator.md``.
"""

from profiles.estimate.bands import ErrorBand, band_metadata, error_band
from profiles.estimate.specs import (
    EstimatorParams,
    PlatformSpec,
    load_params,
    load_platform,
    platform_names,
)
from profiles.estimate.table import Estimate, estimate, transition_ms
from profiles.estimate.work import EstimateError, NodeWork, model_work

__all__ = [
    "ErrorBand",
    "Estimate",
    "EstimateError",
    "EstimatorParams",
    "NodeWork",
    "PlatformSpec",
    "band_metadata",
    "error_band",
    "estimate",
    "load_params",
    "load_platform",
    "model_work",
    "platform_names",
    "transition_ms",
]

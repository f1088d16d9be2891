"""DLA capability checker: which ONNX nodes may run on a Jetson DLA, and why not.

``check_model(model, platform=..., trt_version=..., precision="fp16") -> DlaReport``:
per node a `NodeVerdict` (``dla`` and the `Refusal` s that say why not: rule, parameter,
value, message, source tag of docs/dla_rules.md), the predicted DLA islands (one loadable
each with GPU fallback) and the loadables per instance against the per-core limit of the
TensorRT version. Platforms: ``xavier-agx`` (DLA 1.0), ``orin-agx`` / ``orin-nx`` (DLA 2.0).
"""

from profiles.dla.refusal import Refusal
from profiles.dla.report import DlaReport, Island, Loadables, NodeVerdict, check_model
from profiles.dla.rules import FAMILIES, family_of
from profiles.dla.target import (
    PLATFORMS,
    PRECISIONS,
    DlaError,
    Target,
    loadable_limit_for_trt,
    make_target,
)

__all__ = [
    "FAMILIES",
    "PLATFORMS",
    "PRECISIONS",
    "DlaError",
    "DlaReport",
    "Island",
    "Loadables",
    "NodeVerdict",
    "Refusal",
    "Target",
    "check_model",
    "family_of",
    "loadable_limit_for_trt",
    "make_target",
]

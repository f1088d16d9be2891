"""Errors of the scheduling layer."""

from __future__ import annotations

from profiles.errors import LayerswapError


class ProblemError(LayerswapError):
    """A `Problem` (or a schedule for it) is malformed: says what is wrong and how to fix it."""


class UnsupportedFeatureError(LayerswapError):
    """A backend cannot express a feature of this problem; it refuses instead of answering
    a different problem. The message names the feature and the backends that support it."""

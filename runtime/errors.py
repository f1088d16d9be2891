"""Errors the runtime raises.

The runtime ships to a Jetson on its own, so it imports nothing else of ours at module level;
when `profiles` is importable (the full layerswap install) its errors derive from
`profiles.errors.LayerswapError`, so the CLI prints them as one line like every other user
error; alone on a device they derive from a local stand-in with the same name.
"""

from __future__ import annotations

try:  # the full install: one base class for every user-facing error
    from profiles.errors import LayerswapError
except ImportError:  # pragma: no cover - runtime shipped alone

    class LayerswapError(Exception):  # type: ignore[no-redef]
        """Stand-in base class when the runtime runs without the rest of layerswap."""


class RuntimeExecutionError(LayerswapError):
    """A run stopped: a segment raised, a sub-model would not load, a hand-off had the wrong
    shape, the user interrupted, or nothing progressed for too long.

    ``segment`` and ``frame`` name where it happened (None when not tied to one, e.g. a load
    failure has no frame); both are in the message too, so one line tells the user where.
    ``completed_frames`` maps each model to the number of frames whose outputs were complete
    (and, with an output writer, saved) before the stop.
    """

    def __init__(self, message: str, *, segment: str | None = None, frame: int | None = None,
                 model: str | None = None, completed_frames: dict[str, int] | None = None):
        self.segment = segment
        self.frame = frame
        self.model = model
        self.completed_frames = dict(completed_frames or {})
        super().__init__(message)


class BackendUnavailableError(LayerswapError):
    """The requested backend needs a package (or a device) this machine does not have."""


class PlanError(LayerswapError):
    """The manifest cannot be turned into an execution plan (names the field and the fix)."""

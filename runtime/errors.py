"""Errors of the runtime package.

``runtime/`` must not import ``profiles`` (it ships to a Jetson alone), so its errors have
their own base, `LayerswapRuntimeError`. The CLI catches it next to
``profiles.errors.LayerswapError`` and prints it as one line, exit 1.
"""

from __future__ import annotations


class LayerswapRuntimeError(Exception):
    """Base class of every user-facing error raised by ``runtime/``."""


class ManifestError(LayerswapRuntimeError):
    """A manifest is unreadable, fails its JSON Schema, or is inconsistent.

    ``source`` is the manifest file and ``field`` the path of the offending value in
    dotted/indexed form (``segments[3].inputs[0].from.segment``); both lead the message:
    ``manifest.json: segments[3].inputs[0].from.segment: 'gan#0/7' is not a segment``.
    """

    def __init__(self, message: str, *, source: str | None = None,
                 field: str | None = None) -> None:
        self.source = source
        self.field = field
        self.detail = message
        where = ": ".join(part for part in (source, field) if part)
        super().__init__(f"{where}: {message}" if where else message)


class RuntimeExecutionError(LayerswapRuntimeError):
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


class RunInterrupted(RuntimeExecutionError):
    """The user pressed Ctrl-C (SIGINT) during a run; the CLI exits 130 for it."""


class BackendUnavailableError(LayerswapRuntimeError):
    """The requested backend needs a package (or a device) this machine does not have."""


class PlanError(LayerswapRuntimeError):
    """The manifest cannot be turned into an execution plan (names the field and the fix)."""

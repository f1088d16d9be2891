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

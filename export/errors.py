"""Domain errors of the export package (zoo, rewrites, splitter, build plans, exporter)."""

from __future__ import annotations

from profiles.errors import LayerswapError


class ExportError(LayerswapError):
    """A model, option, schedule or file the export cannot use; the message says why and how
    to fix it.

    ``source`` (the file or object) and ``entry`` (the model, segment or option at fault) are
    optional; when given they lead ``str(error)`` so one line says where to look.
    """

    def __init__(self, message: str, *, source: str | None = None, entry: str | None = None):
        self.source = source
        self.entry = entry
        self.detail = message
        where = ", ".join(part for part in (source, entry) if part)
        super().__init__(f"{where}: {message}" if where else message)

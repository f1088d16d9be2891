"""Domain errors of the export package (zoo, rewrites, splitter, exporter)."""

from __future__ import annotations

from profiles.errors import LayerswapError


class ExportError(LayerswapError):
    """A model, option, schedule or file the export cannot use; the message says why and how
    to fix it."""

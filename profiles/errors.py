"""Domain errors shared by every layer of layerswap.

Every error a user can cause carries a message that names the file (or object), the entry
(line, row, key) and what would fix it. The CLI prints these as one line and exits 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class LayerswapError(Exception):
    """Base class of every user-facing layerswap error."""


class ProfileError(LayerswapError):
    """A profile, cost table or model file cannot be read or fails validation.

    ``source`` is the file (or object) and ``entry`` the row, key or layer at fault; both
    appear in ``str(error)`` so one line tells the user where to look.
    """

    def __init__(self, message: str, *, source: str | None = None, entry: str | None = None):
        self.source = source
        self.entry = entry
        self.detail = message
        where = ", ".join(part for part in (source, entry) if part)
        super().__init__(f"{where}: {message}" if where else message)

"""The SHA-256 digest of a sub-model file (what a manifest's ``segments[].sha256`` holds).

Its own module so that `runtime.manifest` (which writes digests) and `runtime._checks`
(which verifies them) both import it, and neither imports the other's dependents.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

"""Small text formats shared by the CLI and the reports (one definition each)."""

from __future__ import annotations

import math
from typing import Any


def signed_pct(x: Any, digits: int = 1) -> str:
    """A signed percentage, ``+3.2 %`` / ``-1.5 %``; a value that rounds to zero is ``0.0 %``
    (never ``-0.0 %``, which reads as a loss); ``–`` for a missing or non-finite value."""
    if x is None or isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return "–"
    text = f"{x:+.{digits}f}"
    if float(text) == 0.0:
        return f"{0.0:.{digits}f} %"
    return f"{text} %"

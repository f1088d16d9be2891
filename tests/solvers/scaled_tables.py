"""Cost tables scaled as a whole, for the property tests of the two-job exact searches
(`test_latency_pair.py`, `test_latency_cuts.py`): one factor on every time of a table."""

from __future__ import annotations

from dataclasses import replace

from profiles.costtable import CostTable

SCALES = (1e-3, 0.02, 1.0, 30.0, 1e3)
"""Synthetic groups take ~0.02-1.4 ms: scaled, the times span the realistic range of
magnitudes (1 us .. 10 s per group) and past it at both ends."""


def scaled(table: CostTable, scale: float) -> CostTable:
    """``table`` with every time multiplied by ``scale`` (rounded to 1e-9 ms)."""
    def s(v: float | None) -> float | None:
        return None if v is None else round(v * scale, 9)

    rows = [replace(r, gpu_ms=s(r.gpu_ms), dla_ms=s(r.dla_ms), gpu_to_dla_ms=s(r.gpu_to_dla_ms),
                    dla_to_gpu_ms=s(r.dla_to_gpu_ms)) for r in table.rows]
    return CostTable.build(rows, dict(table.metadata), origin=f"<scaled {scale}>")

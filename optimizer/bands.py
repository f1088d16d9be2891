"""Error bands of estimated times, for every command and report that prints them.

The band comes from the tables themselves (``error_band_gpu`` / ``error_band_dla``
metadata that `profiles.estimate` writes: the estimator's held-out error on published
measurements), read by `profiles.costtable.error_band_of`; nothing here imports the
estimator. JSON keys: docs/formats.md ("Error bands").
"""

from __future__ import annotations

from typing import Any


def problem_band(problem: Any, timeline: Any) -> dict[str, Any] | None:
    """The expected error of the times of a problem's estimated tables, with the ranges
    of the objective (ms) and, in throughput mode, of the FPS (docs/formats.md); None when
    every table is measured or published."""
    from profiles.costtable import band_range, error_band_of

    band = error_band_of([m.table for m in problem.models])
    if band is None or timeline is None:
        return band
    band = dict(band)
    band["objective_range_ms"] = band_range(timeline.objective_ms, band)
    band["makespan_range_ms"] = band_range(timeline.makespan_ms, band)
    if timeline.period_ms is not None:
        band["throughput_fps_range"] = band_range(timeline.throughput_fps, band, inverse=True)
    return band


def band_line(band: dict[str, Any] | None) -> str | None:
    """The band as one line under the rendered schedule (None when nothing is estimated)."""
    from profiles.costtable import band_text

    text = band_text(band)
    if text is None:
        return None
    ranges = []
    if band and band.get("objective_range_ms"):
        lo, hi = band["objective_range_ms"]
        ranges.append(f"objective {lo:.3f}-{hi:.3f} ms")
    if band and band.get("throughput_fps_range"):
        lo, hi = band["throughput_fps_range"]
        ranges.append(f"{lo:.1f}-{hi:.1f} fps")
    return f"error band: {text}" + (f" ({', '.join(ranges)})" if ranges else "")


__all__ = ["band_line", "problem_band"]

"""The one small interface every backend implements.

A `Backend` turns a segment of the plan into a `Runner` (`Backend.load(segment)`), and a
`Runner` maps named input arrays to named output arrays (`Runner.run(inputs)`). The executor
calls `load` for every segment before any frame runs (so a missing or corrupt file stops the
run before it starts) and then calls each runner only from its device's worker thread, one
call at a time; a runner therefore owns per-device state (a session, an execution context, a
stream) without locks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from runtime.plan import SegmentPlan


class Runner(Protocol):
    """Runs one segment: named inputs (host arrays) in, named outputs out."""

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


class Backend(ABC):
    """Loads segments into runners; `close` releases what the backend holds per device."""

    name: str = "backend"

    @abstractmethod
    def load(self, segment: SegmentPlan) -> Runner:
        """A runner for ``segment``; raises on a missing or unloadable file."""

    def describe(self, segment: SegmentPlan) -> dict[str, object]:
        """What this backend decided for ``segment`` (for reports); override to add more."""
        return {"backend": self.name, "device": segment.device, "file": str(segment.file)}

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release per-device resources (streams, contexts)."""


def split_threads(total: int, busy_ms: Mapping[str, float]) -> dict[str, int]:
    """Share ``total`` intra-op threads among the device workers in ``busy_ms``.

    Every worker gets at least one thread; the rest go to the busiest workers first, in
    proportion to their predicted busy time (largest remainder, ties by device name), so a
    worker that carries most of the work on this CPU emulation gets most of the cores.
    A worker count above ``total`` still gets one thread each (the total is then exceeded,
    and the report says so through the returned counts).
    """
    devices = sorted(busy_ms)
    if not devices:
        return {}
    if total < 1:
        raise ValueError(f"thread budget {total} is not >= 1")
    shares = {d: 1 for d in devices}
    spare = total - len(devices)
    if spare <= 0:
        return shares
    weights = {d: max(float(busy_ms[d]), 0.0) for d in devices}
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        weights = {d: 1.0 for d in devices}
        weight_sum = float(len(devices))
    exact = {d: spare * weights[d] / weight_sum for d in devices}
    for d in devices:
        shares[d] += int(exact[d])
    left = total - sum(shares.values())
    by_remainder = sorted(devices, key=lambda d: (-(exact[d] - int(exact[d])), d))
    for d in by_remainder[:left]:
        shares[d] += 1
    return shares

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

    Shares are proportional to the predicted busy time (largest remainder, ties by device
    name) with at least one thread per worker, so the worker that carries most of the work
    on this CPU emulation gets most of the cores. With more workers than threads every
    worker still gets one (the total is then exceeded; the returned counts say so).
    """
    devices = sorted(busy_ms)
    if not devices:
        return {}
    if total < 1:
        raise ValueError(f"thread budget {total} is not >= 1")
    if total <= len(devices):
        return {d: 1 for d in devices}
    weights = {d: max(float(busy_ms[d]), 0.0) for d in devices}
    if sum(weights.values()) <= 0:
        weights = {d: 1.0 for d in devices}
    weight_sum = sum(weights.values())
    exact = {d: total * weights[d] / weight_sum for d in devices}
    shares = {d: max(1, int(exact[d])) for d in devices}
    while sum(shares.values()) > total:  # the floor of 1 took threads from the others
        d = max((d for d in devices if shares[d] > 1), key=lambda d: (shares[d] - exact[d], d))
        shares[d] -= 1
    left = total - sum(shares.values())
    by_remainder = sorted(devices, key=lambda d: (-(exact[d] - shares[d]), d))
    for d in by_remainder[:left]:
        shares[d] += 1
    return shares

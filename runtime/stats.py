"""What a run measured, kept in bounded memory however long the stream.

A run of 100 frames and one of 100 million frames keep the same amount of state: per
segment and per model a `Sample` (count, sum, min, max and a uniform reservoir sample of at
most `RESERVOIR` values, exact quantiles while the count fits), per device the busy time,
and for the rounds and frames still in flight their first start; everything in flight is
dropped when its round or frame finishes. `RunStats` is fed one `SegmentRecord` at a time by
the executor (under its lock) and read by `runtime.report`.

Definitions (docs/runtime.md, "Measurement"):

- **throughput** (steady state): rounds run back to back once the pipeline is full. The
  measured period per frame is ``(end of the last complete round - end of round 0) /
  (complete rounds - 1) / frames_per_round``, the same frames per model in every round; the
  throughput is ``1000 / period`` frames per second per model. The **fill** (run start to
  the end of round 0, including the worker start) is reported separately, never folded in.
- **frame latency** under streaming: for each frame of each model, from the start of its
  first segment to the end of the segment that delivers its last model output; p50 over the
  reservoir (exact up to `RESERVOIR` frames per model, a uniform sample beyond), worst exact.
- **dispatch delay** of a segment execution: from when the plan let it start (its device's
  previous execution ended, its round was admitted, its producers had ended: the moment the
  scheduling model starts it) to when it started: the runtime's own cost (fetching the
  frame's inputs, waking the worker, gathering hand-offs, the GIL). Kept per segment over
  the steady-state rounds (round 1 on, as the period), with the execution times of those
  rounds: what `optimizer.replay` feeds the simulator.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

RESERVOIR = 4096  # values kept per Sample: quantiles are exact up to this many
RECENT_RECORDS = 4096  # segment executions kept whole (the most recent ones)


class SegmentRecord(NamedTuple):
    """One execution of one segment for one frame (times in ns since the run started).

    ``reached_ns``: when the worker reached the segment in its order; ``start_ns -
    reached_ns`` is the time it waited for the segment's inputs (hand-offs, model inputs).
    ``ready_ns``: when the plan let it start (its device free, its round admitted, its
    producers ended); ``start_ns - ready_ns`` is its dispatch delay (module docstring).
    A named tuple: one is made per segment per frame, on the hot path."""

    device: str
    segment: str
    model: str
    instance: int
    round: int
    frame: int
    reached_ns: int
    start_ns: int
    end_ns: int
    ready_ns: int = 0

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def dispatch_ms(self) -> float:
        return (self.start_ns - self.ready_ns) / 1e6


class Sample:
    """Streaming statistics of one quantity: count, sum, min, max exact; quantiles over a
    uniform reservoir sample (Vitter's algorithm R, seeded: the same values in the same
    order give the same sample), exact while ``count <= capacity``."""

    __slots__ = ("_kept", "_rng", "capacity", "count", "high", "low", "total")

    def __init__(self, capacity: int = RESERVOIR, seed: int = 0) -> None:
        self.capacity = capacity
        self.count = 0
        self.total = 0.0
        self.low = float("inf")
        self.high = float("-inf")
        self._kept: list[float] = []
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        if len(self._kept) < self.capacity:
            self._kept.append(value)
        else:
            slot = self._rng.randrange(self.count)
            if slot < self.capacity:
                self._kept[slot] = value

    @property
    def exact(self) -> bool:
        """Whether quantiles are over every value (not a sample)."""
        return self.count <= self.capacity

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1, linear interpolation) of the kept values; None when empty."""
        if not self._kept:
            return None
        values = sorted(self._kept)
        pos = q * (len(values) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (pos - lo)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def minimum(self) -> float | None:
        return self.low if self.count else None

    @property
    def maximum(self) -> float | None:
        return self.high if self.count else None


@dataclass
class RunStats:
    """Bounded per-run measurements; `add` one record, `frame_done` / `round_done` when a
    frame or round completes (the executor calls them under its lock)."""

    frames_per_round: int
    recent_limit: int = RECENT_RECORDS
    segments: dict[str, Sample] = field(default_factory=dict)
    steady: dict[str, Sample] = field(default_factory=dict)  # executions of rounds >= 1, ns
    dispatch: dict[str, Sample] = field(default_factory=dict)  # their dispatch delays, ns
    latency: dict[str, Sample] = field(default_factory=dict)  # per model, ns
    instance_latency: dict[str, list[Sample]] = field(default_factory=dict)  # per instance
    busy_ns: dict[str, int] = field(default_factory=dict)
    executions: dict[str, int] = field(default_factory=dict)
    first_start_ns: int | None = None
    last_end_ns: int | None = None
    round_spans: Sample = field(default_factory=Sample)
    round_span_first_ns: int | None = None
    round0_end_ns: int | None = None
    last_round_end_ns: int | None = None
    complete_rounds: int = 0
    records_seen: int = 0
    recent: deque[SegmentRecord] = field(init=False)
    _round_window: dict[int, list[int]] = field(default_factory=dict)
    _frame_start: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recent = deque(maxlen=self.recent_limit)

    def prepare(self, segments: Iterable[str], models: Iterable[str],
                devices: Iterable[str]) -> None:
        """Name every segment, model and device up front (reports list them all)."""
        for i, seg in enumerate(segments):
            self.segments[seg] = Sample(seed=i)
            self.steady[seg] = Sample(seed=i)
            self.dispatch[seg] = Sample(seed=i)
        for i, model in enumerate(models):
            self.latency[model] = Sample(seed=1000 + i)
            self.instance_latency[model] = [Sample(seed=2000 + i * self.frames_per_round + k)
                                            for k in range(self.frames_per_round)]
        for dev in devices:
            self.busy_ns[dev] = 0
            self.executions[dev] = 0

    def add(self, r: SegmentRecord) -> None:
        self.records_seen += 1
        self.recent.append(r)
        self.segments[r.segment].add(r.end_ns - r.start_ns)
        if r.round >= 1:
            self.steady[r.segment].add(r.end_ns - r.start_ns)
            self.dispatch[r.segment].add(r.start_ns - r.ready_ns)
        self.busy_ns[r.device] += r.end_ns - r.start_ns
        self.executions[r.device] += 1
        if self.first_start_ns is None or r.start_ns < self.first_start_ns:
            self.first_start_ns = r.start_ns
        if self.last_end_ns is None or r.end_ns > self.last_end_ns:
            self.last_end_ns = r.end_ns
        window = self._round_window.get(r.round)
        if window is None:
            self._round_window[r.round] = [r.start_ns, r.end_ns]
        else:
            window[0] = min(window[0], r.start_ns)
            window[1] = max(window[1], r.end_ns)
        key = (r.model, r.frame)
        first = self._frame_start.get(key)
        if first is None or r.start_ns < first:
            self._frame_start[key] = r.start_ns

    def frame_done(self, model: str, frame: int, end_ns: int) -> None:
        """Frame ``frame`` of ``model`` has its last model output (made at ``end_ns``)."""
        start = self._frame_start.pop((model, frame), None)
        if start is not None:
            self.latency[model].add(end_ns - start)
            self.instance_latency[model][frame % self.frames_per_round].add(end_ns - start)

    def round_done(self, rnd: int, complete: bool, frames: Iterable[tuple[str, int]]) -> None:
        """Round ``rnd`` finished (``complete``: it held frames_per_round frames of every
        model); ``frames`` are its (model, frame) keys, whose leftovers are dropped."""
        window = self._round_window.pop(rnd, None)
        for key in frames:
            self._frame_start.pop(key, None)
        if window is None or not complete:
            return
        span = window[1] - window[0]
        self.round_spans.add(span)
        if rnd == 0:
            self.round_span_first_ns = span
            self.round0_end_ns = window[1]
        self.complete_rounds += 1
        if self.last_round_end_ns is None or window[1] > self.last_round_end_ns:
            self.last_round_end_ns = window[1]

    # ------------------------------------------------------------------ derived figures
    @property
    def period_ms(self) -> float | None:
        """Steady-state period per frame (module docstring); None before 2 complete rounds."""
        if (self.round0_end_ns is None or self.last_round_end_ns is None
                or self.complete_rounds < 2 or self.last_round_end_ns <= self.round0_end_ns):
            return None
        return ((self.last_round_end_ns - self.round0_end_ns) / 1e6
                / (self.complete_rounds - 1) / self.frames_per_round)

    @property
    def fill_ms(self) -> float | None:
        """Run start (t = 0) to the end of round 0: the pipeline filling, workers starting."""
        return None if self.round0_end_ns is None else self.round0_end_ns / 1e6

    def in_flight(self) -> int:
        """Entries held for rounds and frames not yet finished (bounded by the in-flight
        window; a test watches it)."""
        return len(self._round_window) + len(self._frame_start)

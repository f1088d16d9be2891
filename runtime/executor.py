"""Execute a plan: one worker thread per device, round after round, frames streamed.

How it works. Frame ``f`` of every model is processed by instance ``f % F`` in round
``f // F`` (``F`` = frames_per_round; 1 for a latency manifest). Each device worker walks its
``device_order`` once per round, for round 0, 1, 2, ...; a segment runs as soon as its
inputs are there: the model inputs of its frame (asked from the input source once per frame
and shared by every segment that reads them) or the outputs of the producing segment of the
same frame, possibly on another device. Rounds overlap (pipelining) but at most
``rounds_in_flight`` of them: a worker does not start round ``r`` before every round up to
``r - rounds_in_flight`` has finished, which bounds memory (tensors of a round are dropped
when the round finishes) and gives back-pressure without any queue. Model outputs are
handed to ``on_frame`` per model in frame order, whatever order frames finish in.

Long streams run in bounded memory: ``frames=None`` streams until Ctrl-C (which then ends
the run normally); per-execution records go into `runtime.stats.RunStats` (streaming
statistics, reservoir quantiles, a ring of the most recent records) and to ``on_record``
(e.g. a trace file written as it goes), never into a list that grows with the run.

Every wait is a condition wait with a short timeout that re-checks the abort flag, so a
failure anywhere (a segment raising, a wrong shape at a hand-off, the output sink failing,
Ctrl-C in the main thread, no progress for ``stall_timeout_s``) stops all workers within a
fraction of a second; `Executor.run` joins every worker before it returns or raises, and
raises one `RuntimeExecutionError` naming the segment and frame.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from runtime.backends.base import Backend, Runner
from runtime.errors import RunInterrupted, RuntimeExecutionError
from runtime.manifest import file_sha256
from runtime.plan import Plan, SegmentPlan
from runtime.stats import RECENT_RECORDS, RunStats, SegmentRecord

InputSource = Callable[[str, int], Mapping[str, np.ndarray]]
FrameSink = Callable[[str, int, dict[str, np.ndarray]], None]
RecordSink = Callable[[SegmentRecord], None]

POLL_S = 0.05  # every wait re-checks the abort flag at least this often
JOIN_GRACE_S = 30.0  # how long run() waits for a worker stuck inside a native call


@dataclass
class RunResult:
    """What a run did: its bounded statistics (`RunStats`), the frames every model
    completed, the wall time of the stream. ``frames_requested`` is None for a run until
    Ctrl-C (then ``interrupted`` is True and the run ended normally)."""

    plan: Plan
    frames: int
    seconds: float
    stats: RunStats
    completed_frames: dict[str, int]
    frames_requested: int | None = None
    interrupted: bool = False
    load_seconds: float = 0.0
    backend: str = ""
    rounds_in_flight: int = 2
    backend_details: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def records(self) -> list[SegmentRecord]:
        """The most recent executions (every one when the run had at most
        `RECENT_RECORDS`), in start order."""
        return sorted(self.stats.recent, key=lambda r: (r.start_ns, r.device))


class _Abort(Exception):
    """Internal: raised inside a worker when another thread has already failed the run."""


class Executor:
    """Runs ``frames`` frames of every model of ``plan`` with already-loaded ``runners``."""

    def __init__(self, plan: Plan, runners: Mapping[str, Runner], *, rounds_in_flight: int = 2,
                 stall_timeout_s: float | None = None, recent_records: int = RECENT_RECORDS
                 ) -> None:
        if rounds_in_flight < 1:
            raise ValueError(f"rounds_in_flight {rounds_in_flight} is not >= 1")
        self.plan = plan
        self.runners = dict(runners)
        self.rounds_in_flight = rounds_in_flight
        self.stall_timeout_s = stall_timeout_s
        self.recent_records = recent_records
        self._by_id = {s.id: s for s in plan.segments}
        # precomputed per segment, so the per-frame path does no searching
        self._consumers: dict[str, list[tuple[str, str]]] = {}
        for seg in plan.segments:
            for b in seg.inputs:
                if b.segment is not None:
                    self._consumers.setdefault(b.segment, []).append((seg.id, b.output or ""))
        self._kept = {s.id: sorted({name for _, name in self._consumers.get(s.id, [])})
                      for s in plan.segments}
        self._producers = {s.id: frozenset(b.segment for b in s.inputs if b.segment)
                           for s in plan.segments}
        self._output_count = {m.name: len(m.outputs) for m in plan.models}

    # ------------------------------------------------------------------ public
    def run(self, frames: int | None, inputs: InputSource, on_frame: FrameSink | None = None,
            on_record: RecordSink | None = None) -> RunResult:
        """Run ``frames`` frames of every model (None: until Ctrl-C, which then ends the run
        normally); ``on_record`` sees every segment execution as it ends (worker threads)."""
        if frames is not None and frames < 1:
            raise ValueError(f"frames {frames} is not >= 1")
        plan = self.plan
        self._frames = sys.maxsize if frames is None else frames
        self._on_record = on_record
        self._full_round = len(plan.segments)
        self._inputs = inputs
        self._on_frame = on_frame
        self._cond = threading.Condition()
        self._abort = threading.Event()
        self._error: RuntimeExecutionError | None = None
        self._low = 0  # lowest round not yet finished
        self._finished_rounds: set[int] = set()
        self._remaining: dict[int, int] = {}
        self._done: dict[int, dict[str, int]] = {}  # round -> segment -> its end (ns)
        self._released: dict[int, int] = {}  # round -> when it and all before it had
        # finished (ns): it then admitted round + rounds_in_flight; the recent ones only
        self._tensors: dict[int, dict[tuple[str, str], np.ndarray]] = {}
        self._frame_inputs: dict[tuple[str, int], Mapping[str, np.ndarray]] = {}
        self._frame_outputs: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        self._emit_lock = threading.Lock()
        self._pending: dict[str, dict[int, dict[str, np.ndarray]]] = {
            m.name: {} for m in plan.models}
        self._next_frame = {m.name: 0 for m in plan.models}
        self._running: dict[str, tuple[str, int]] = {}
        self._waiting: dict[str, tuple] = {}  # device -> what it waits for (see _waiting_text)
        self.stats = RunStats(plan.frames_per_round, recent_limit=self.recent_records)
        self.stats.prepare([s.id for s in plan.segments], [m.name for m in plan.models],
                           plan.devices)
        self._t0 = time.perf_counter_ns()
        self._last_progress = time.monotonic()

        workers = [threading.Thread(target=self._worker, args=(dev,), name=f"layerswap-{dev}",
                                    daemon=True) for dev in plan.devices]
        _rearm_sigint()
        self._finished = {dev: threading.Event() for dev in plan.devices}
        try:
            for w in workers:
                w.start()
            while not all(ev.is_set() for ev in self._finished.values()):
                for ev in self._finished.values():
                    ev.wait(timeout=POLL_S)
                self._check_stall()
        except KeyboardInterrupt:
            self._fail(self._interrupted_error())
        finally:
            self._stop_and_join(workers)
        seconds = (time.perf_counter_ns() - self._t0) / 1e9
        interrupted = frames is None and isinstance(self._error, RunInterrupted)
        if self._error is not None and not interrupted:
            self._error.completed_frames = dict(self._next_frame)
            raise self._error
        return RunResult(plan=plan, frames=min(self._next_frame.values(), default=0),
                         seconds=seconds, stats=self.stats,
                         completed_frames=dict(self._next_frame), frames_requested=frames,
                         interrupted=interrupted, rounds_in_flight=self.rounds_in_flight)

    @property
    def completed_frames(self) -> dict[str, int]:
        """Frames per model whose outputs were handed to ``on_frame`` (in order)."""
        return dict(self._next_frame)

    # ------------------------------------------------------------------ workers
    def _worker(self, device: str) -> None:
        seg: SegmentPlan | None = None
        frame: int | None = None
        try:
            order = [self._by_id[s] for s in self.plan.device_order[device]]
            F = self.plan.frames_per_round
            free = 0  # when this device's previous execution ended (ns since the start)
            for rnd in itertools.count():
                if rnd * F >= self._frames:
                    break
                seg, frame = None, None
                if rnd >= self._low + self.rounds_in_flight:  # _low only grows: re-checked
                    self._waiting[device] = ("admission", rnd)
                    self._wait_for(lambda r=rnd: r < self._low + self.rounds_in_flight)
                if rnd >= self.rounds_in_flight:  # admitted when that round had finished
                    with self._cond:
                        free = max(free, self._released.get(rnd - self.rounds_in_flight, 0))
                for seg in order:
                    frame = rnd * F + seg.instance
                    if frame >= self._frames:
                        continue
                    free = self._run_segment(device, seg, rnd, frame, free)
            self._waiting.pop(device, None)
        except _Abort:
            return
        except BaseException as exc:  # every failure stops the run, named
            self._fail(self._wrap(exc, seg, frame, device))
        finally:
            self._finished[device].set()

    def _run_segment(self, device: str, seg: SegmentPlan, rnd: int, frame: int,
                     free: int) -> int:
        """Run one segment; ``free``: when the plan let the device take it (its previous
        execution's end, or the round's admission). Returns when it ended."""
        reached = time.perf_counter_ns() - self._t0
        self._waiting[device] = ("inputs", seg.id, frame)
        feeds = self._gather(seg, rnd, frame)
        producers = self._producers[seg.id]
        if producers:
            with self._cond:
                done = self._done[rnd]
                free = max(free, *(done[p] for p in producers))
        self._waiting.pop(device, None)
        self._running[device] = (seg.id, frame)
        start = time.perf_counter_ns() - self._t0
        try:
            outputs = self.runners[seg.id].run(feeds)
        except Exception as exc:
            text = " ".join(str(exc).split())
            raise RuntimeExecutionError(
                f"segment {seg.id!r} ({device}, model {seg.model}, frame {frame}) raised "
                f"{type(exc).__name__}: {text}", segment=seg.id, frame=frame,
                model=seg.model) from exc
        end = time.perf_counter_ns() - self._t0
        self._running.pop(device, None)
        self._check_outputs(seg, frame, outputs)
        record = SegmentRecord(device, seg.id, seg.model, seg.instance, rnd, frame, reached,
                               start, end, free)
        self._publish(seg, rnd, frame, outputs, record)
        if self._on_record is not None:
            self._on_record(record)
        return end

    def _wait_for(self, predicate: Callable[[], bool]) -> None:
        with self._cond:
            while not predicate():
                if self._abort.is_set():
                    raise _Abort
                self._cond.wait(timeout=POLL_S)
            if self._abort.is_set():
                raise _Abort

    def _gather(self, seg: SegmentPlan, rnd: int, frame: int) -> dict[str, np.ndarray]:
        producers = self._producers[seg.id]
        if producers:
            self._wait_for(lambda: producers <= self._done.get(rnd, {}).keys())
        feeds: dict[str, np.ndarray] = {}
        frame_inputs = None
        for b in seg.inputs:
            if b.model_input is not None:
                if frame_inputs is None:
                    frame_inputs = self._model_inputs(seg.model, frame)
                value = frame_inputs.get(b.model_input)
                if value is None:
                    raise RuntimeExecutionError(
                        f"segment {seg.id!r} frame {frame}: the input source gave no "
                        f"{b.model_input!r} for model {seg.model}", segment=seg.id, frame=frame,
                        model=seg.model)
                origin = f"model input {b.model_input!r}"
            else:
                with self._cond:
                    value = self._tensors[rnd][(b.segment or "", b.output or "")]
                origin = f"output {b.output!r} of {b.segment!r}"
            value = np.asarray(value)
            if value.shape != b.spec.shape or value.dtype != b.spec.numpy_dtype:
                raise RuntimeExecutionError(
                    f"segment {seg.id!r} ({seg.device}) frame {frame}: input {b.spec.name!r} "
                    f"({origin}) is {_describe(value)}, the manifest says "
                    f"{list(b.spec.shape)} {b.spec.dtype}", segment=seg.id, frame=frame,
                    model=seg.model)
            feeds[b.spec.name] = value
        return feeds

    def _model_inputs(self, model: str, frame: int) -> Mapping[str, np.ndarray]:
        key = (model, frame)
        with self._cond:
            cached = self._frame_inputs.get(key)
        if cached is not None:
            return cached
        fresh = self._inputs(model, frame)  # outside the lock: may read a file or draw
        with self._cond:
            return self._frame_inputs.setdefault(key, fresh)

    def _check_outputs(self, seg: SegmentPlan, frame: int,
                       outputs: Mapping[str, np.ndarray]) -> None:
        for spec in seg.outputs:
            value = outputs.get(spec.name)
            if (isinstance(value, np.ndarray) and value.shape == spec.shape
                    and value.dtype == spec.numpy_dtype):
                continue  # the per-frame path: nothing more to look at
            to = [c for c, name in self._consumers.get(seg.id, []) if name == spec.name]
            where = f" (hand-off to {', '.join(repr(t) for t in sorted(set(to)))})" if to else ""
            if value is None:
                raise RuntimeExecutionError(
                    f"segment {seg.id!r} ({seg.device}) frame {frame}: the sub-model "
                    f"{seg.file.name} has no output {spec.name!r}{where}; re-export the model",
                    segment=seg.id, frame=frame, model=seg.model)
            value = np.asarray(value)
            if value.shape != spec.shape or value.dtype != spec.numpy_dtype:
                raise RuntimeExecutionError(
                    f"segment {seg.id!r} ({seg.device}) frame {frame}: output {spec.name!r} is "
                    f"{_describe(value)}, the manifest says {list(spec.shape)} {spec.dtype}"
                    f"{where}; re-export the model", segment=seg.id, frame=frame,
                    model=seg.model)

    def _publish(self, seg: SegmentPlan, rnd: int, frame: int,
                 outputs: Mapping[str, np.ndarray], record: SegmentRecord) -> None:
        model_outputs = {n: np.asarray(outputs[n]) for n in seg.model_outputs}
        complete: dict[str, np.ndarray] | None = None
        with self._cond:
            self.stats.add(record)
            store = self._tensors.setdefault(rnd, {})
            for name in self._kept[seg.id]:
                store[(seg.id, name)] = outputs[name]
            self._done.setdefault(rnd, {})[seg.id] = record.end_ns
            if model_outputs:
                got = self._frame_outputs.setdefault((seg.model, frame), {})
                got.update(model_outputs)
                if len(got) == self._output_count[seg.model]:
                    complete = self._frame_outputs.pop((seg.model, frame))
                    self.stats.frame_done(seg.model, frame, record.end_ns)
            left = self._remaining.get(rnd)
            if left is None:
                left = (self._full_round if (rnd + 1) * self.plan.frames_per_round
                        <= self._frames else self._segments_in_round(rnd))
            self._remaining[rnd] = left - 1
            if left - 1 == 0:
                self._finish_round(rnd, record.end_ns)
            self._last_progress = time.monotonic()
            self._cond.notify_all()
        if complete is not None:
            self._emit(seg.model, frame, complete)

    def _segments_in_round(self, rnd: int) -> int:
        base = rnd * self.plan.frames_per_round
        return sum(1 for s in self.plan.segments if base + s.instance < self._frames)

    def _finish_round(self, rnd: int, end_ns: int) -> None:
        """Drop a finished round's tensors and advance the in-flight window (lock held)."""
        self._finished_rounds.add(rnd)
        self._tensors.pop(rnd, None)
        self._done.pop(rnd, None)
        self._remaining.pop(rnd, None)
        base = rnd * self.plan.frames_per_round
        keys = [(m.name, f) for m in self.plan.models
                for f in range(base, base + self.plan.frames_per_round)]
        for key in keys:
            self._frame_inputs.pop(key, None)
        self.stats.round_done(rnd, base + self.plan.frames_per_round <= self._frames, keys)
        while self._low in self._finished_rounds:
            self._finished_rounds.discard(self._low)
            self._released[self._low] = end_ns
            self._released.pop(self._low - self.rounds_in_flight, None)
            self._low += 1

    def _emit(self, model: str, frame: int, outputs: dict[str, np.ndarray]) -> None:
        """Hand complete frames to the sink in frame order (the lock keeps the order)."""
        with self._emit_lock:
            pending = self._pending[model]
            pending[frame] = outputs
            while self._next_frame[model] in pending:
                f = self._next_frame[model]
                ready = pending.pop(f)
                if self._abort.is_set():
                    raise _Abort
                if self._on_frame is not None:
                    try:
                        self._on_frame(model, f, ready)
                    except Exception as exc:
                        raise RuntimeExecutionError(
                            f"model {model} frame {f}: the output sink failed: "
                            f"{type(exc).__name__}: {exc}", frame=f, model=model) from exc
                self._next_frame[model] = f + 1

    # ------------------------------------------------------------------ failure handling
    def _fail(self, error: RuntimeExecutionError) -> None:
        with self._cond:
            if self._error is None:
                self._error = error
            self._abort.set()
            self._cond.notify_all()

    def _wrap(self, exc: BaseException, seg: SegmentPlan | None, frame: int | None,
              device: str) -> RuntimeExecutionError:
        if isinstance(exc, RuntimeExecutionError):
            return exc
        where = f"segment {seg.id!r} frame {frame}" if seg is not None else f"worker {device}"
        err = RuntimeExecutionError(f"{where} ({device}): {type(exc).__name__}: {exc}",
                                    segment=seg.id if seg else None, frame=frame,
                                    model=seg.model if seg else None)
        err.__cause__ = exc
        return err

    def _interrupted_error(self) -> RuntimeExecutionError:
        running = dict(self._running)
        if running:
            what = ", ".join(f"{sid!r} frame {f} on {dev}" for dev, (sid, f) in
                             sorted(running.items()))
            first_dev = sorted(running)[0]
            seg_id, frame = running[first_dev]
        else:
            what, seg_id, frame = "no segment running", None, None
        done = ", ".join(f"{m}: {n}" for m, n in self._next_frame.items())
        return RunInterrupted(
            f"interrupted (Ctrl-C) while running {what}; frames completed: {done}",
            segment=seg_id, frame=frame)

    def _check_stall(self) -> None:
        if self.stall_timeout_s is None or self._abort.is_set():
            return
        idle = time.monotonic() - self._last_progress
        if idle <= self.stall_timeout_s:
            return
        waiting, running_now = dict(self._waiting), dict(self._running)  # workers write them
        waits = "; ".join(f"{dev} waits for {_waiting_text(what)}" for dev, what in
                          sorted(waiting.items())) or "no worker is waiting"
        running = ", ".join(f"{sid!r} frame {f} on {dev}" for dev, (sid, f) in
                            sorted(running_now.items()))
        seg_id, frame = next(iter(running_now.values()), (None, None))
        self._fail(RuntimeExecutionError(
            f"no progress for {idle:.1f} s (stall timeout {self.stall_timeout_s} s): {waits}"
            + (f"; running {running}" if running else ""), segment=seg_id, frame=frame))

    def _stop_and_join(self, workers: list[threading.Thread]) -> None:
        """Wake every worker and wait until each has really ended; Ctrl-C again does not
        skip this.

        Completion is read from each worker's own ``finished`` event, not from
        `Thread.is_alive`: a KeyboardInterrupt that lands inside `Thread.join` can make
        CPython mark a still-running thread as stopped (the interrupted join releases the
        thread's state lock), after which ``is_alive()`` is False while the thread runs on.
        """
        deadline = time.monotonic() + JOIN_GRACE_S
        for w in workers:
            done = self._finished[w.name.removeprefix("layerswap-")]
            while time.monotonic() < deadline:
                try:
                    if self._error is not None:
                        self._abort.set()
                        with self._cond:
                            self._cond.notify_all()
                    if done.wait(timeout=POLL_S):
                        break
                except KeyboardInterrupt:
                    self._fail(self._interrupted_error())
        for w in workers:  # each has set its event; wait for the thread itself to exit
            while w in threading.enumerate() and time.monotonic() < deadline:
                try:
                    w.join(timeout=POLL_S)
                    time.sleep(0.001)
                except KeyboardInterrupt:
                    self._fail(self._interrupted_error())
        stuck = [w.name for w in workers if w in threading.enumerate()]
        if stuck and self._error is None:
            self._fail(RuntimeExecutionError(
                f"workers {stuck} did not stop within {JOIN_GRACE_S} s"))


def _rearm_sigint() -> None:
    """Re-install Python's own SIGINT handler at the C level (main thread only).

    Native libraries can replace the process's SIGINT handler behind Python's back: after an
    OR-Tools CP-SAT solve in the same process (`layerswap` solves, then runs), Ctrl-C kills
    the process outright, losing the frames already completed, while `signal.getsignal`
    still reports Python's handler. Installing that same handler again restores Ctrl-C ->
    KeyboardInterrupt, which `Executor.run` turns into a clean stop; otherwise it is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    handler = signal.getsignal(signal.SIGINT)
    if handler is None:  # installed outside Python: not ours to touch
        return
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, handler)


def _waiting_text(what: tuple) -> str:
    if what[0] == "admission":
        return f"round {what[1]} to be admitted (back-pressure)"
    return f"inputs of {what[1]!r} frame {what[2]}"


def _describe(value: np.ndarray) -> str:
    return f"{list(value.shape)} {value.dtype}"


def load_runners(plan: Plan, backend: Backend) -> dict[str, Runner]:
    """Load every segment (manifest order); a failure closes what was loaded and names the
    segment and file."""
    runners: dict[str, Runner] = {}
    try:
        for seg in plan.segments:
            if not seg.file.is_file():
                raise RuntimeExecutionError(
                    f"segment {seg.id!r}: sub-model file {seg.file} does not exist; re-run "
                    "`layerswap export` or copy the whole export folder", segment=seg.id)
            if seg.sha256 is not None and file_sha256(seg.file) != seg.sha256:
                raise RuntimeExecutionError(
                    f"segment {seg.id!r}: sub-model file {seg.file} changed since the manifest "
                    "was loaded (its sha256 no longer matches); re-run `layerswap export` or "
                    "copy the whole export folder again", segment=seg.id)
            try:
                runners[seg.id] = backend.load(seg)
            except RuntimeExecutionError:
                raise
            except Exception as exc:
                text = " ".join(str(exc).split())
                raise RuntimeExecutionError(
                    f"segment {seg.id!r}: {backend.name} cannot load {seg.file}: "
                    f"{type(exc).__name__}: {text}; re-run `layerswap export`",
                    segment=seg.id) from exc
    except BaseException:
        close_runners(runners)
        raise
    return runners


def close_runners(runners: Mapping[str, Runner]) -> None:
    for runner in runners.values():
        runner.close()

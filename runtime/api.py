"""One call to run a manifest: load, pick a backend, stream frames, save outputs, report.

`run_manifest` is what ``layerswap run`` calls; the pieces (`load_plan`, `make_backend`,
`Executor`, `OutputWriter`, `runtime.report`) are public for other drivers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from runtime.backends.base import Backend, split_threads
from runtime.errors import RuntimeExecutionError
from runtime.executor import (
    Executor,
    FrameSink,
    InputSource,
    RunResult,
    close_runners,
    load_runners,
)
from runtime.io import OutputWriter, random_inputs
from runtime.manifest import load_manifest
from runtime.plan import Plan
from runtime.report import TraceWriter

BACKENDS = ("ort", "ort-trt", "trt")


def load_plan(path: str | Path) -> Plan:
    """Load ``path`` (a manifest.json or its folder) with `runtime.manifest.load_manifest`
    (JSON Schema, files and sha256, hand-offs, device orders, cycles: a `ManifestError`
    naming the field), then build the execution plan from the typed manifest."""
    source = str(Path(path) / "manifest.json" if Path(path).is_dir() else Path(path))
    return Plan.from_manifest(load_manifest(path), source=source)


def device_busy_ms(plan: Plan) -> dict[str, float]:
    """Predicted busy time per device with work (from the manifest; segment times otherwise)."""
    busy = dict(plan.predicted.device_busy_ms) if plan.predicted is not None else {}
    out = {}
    for dev in plan.devices:
        value = busy.get(dev)
        if value is None:
            value = sum(s.predicted_ms or 0.0 for s in plan.segments if s.device == dev)
        out[dev] = float(value)
    return out


def make_backend(name: str, plan: Plan, *, threads: int | None = None,
                 cache_dir: str | Path | None = None, optimize: bool = True) -> Backend:
    """The backend called ``name`` (ort | ort-trt | trt) for ``plan``.

    ``threads`` is the total intra-op thread budget of the CPU backend, shared among the
    device workers by `split_threads` (default: the machine's CPU count); ``optimize=False``
    runs it with graph optimisations off, for outputs checked with
    `runtime.agreement.SAME_KERNELS`."""
    if name == "ort":
        from runtime.backends.ort import OrtCpuBackend

        total = threads if threads is not None else (os.cpu_count() or 1)
        return OrtCpuBackend(split_threads(total, device_busy_ms(plan)), optimize=optimize)
    if name == "ort-trt":
        from runtime.backends.ort_trt import OrtTrtBackend

        return OrtTrtBackend(cache_dir=Path(cache_dir) if cache_dir else
                             plan.base_dir / "engines" / "ort-cache")
    if name == "trt":
        from runtime.backends.trt import TrtBackend

        return TrtBackend(plan)
    raise RuntimeExecutionError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")


def run_manifest(manifest: str | Path | Plan, *, frames: int | None = 1,
                 backend: str | Backend = "ort", threads: int | None = None,
                 inputs: InputSource | None = None, seed: int = 0,
                 save_outputs: str | Path | None = None, trace: str | Path | None = None,
                 on_frame: FrameSink | None = None, rounds_in_flight: int = 2,
                 stall_timeout_s: float | None = None,
                 progress: Callable[[int, int | None], None] | None = None) -> RunResult:
    """Run ``frames`` frames of every model of ``manifest`` and return what happened.

    ``frames=None`` runs until Ctrl-C, which then ends the run normally (the result says
    ``interrupted``). Memory stays bounded however long the run (`runtime.stats`).
    ``inputs`` defaults to `random_inputs(plan, seed)`; ``save_outputs`` writes
    ``DIR/MODEL.npz`` (completed frames, even when the run stops with an error); ``trace``
    writes a Chrome trace as the run goes (`runtime.report.TraceWriter`; also finished when
    the run stops early); both targets are checked before the first frame. ``on_frame(model,
    frame, outputs)`` sees every model's frames in order; ``progress(done, total)`` is called
    after each completed frame (done counts frames over all models; total is None for a run
    until Ctrl-C). Raises `RuntimeExecutionError` naming segment and frame when the run
    stops; its ``saved_outputs`` / ``unsaved_outputs`` say what the output writer kept."""
    plan = manifest if isinstance(manifest, Plan) else load_plan(manifest)
    chosen = backend if isinstance(backend, Backend) else make_backend(backend, plan,
                                                                       threads=threads)
    source = inputs if inputs is not None else random_inputs(plan, seed)
    writer: OutputWriter | None = None
    tracer: TraceWriter | None = None
    total = None if frames is None else frames * len(plan.models)
    done = [0]

    def sink(model: str, frame: int, outputs: dict) -> None:
        if writer is not None:
            writer(model, frame, outputs)
        if on_frame is not None:
            on_frame(model, frame, outputs)
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    runners = {}
    result: RunResult | None = None
    try:
        t0 = time.perf_counter()
        runners = load_runners(plan, chosen)
        load_seconds = time.perf_counter() - t0
        if trace is not None:
            tracer = TraceWriter(plan, trace)
        if save_outputs is not None:  # only once every segment loaded: no empty files
            writer = OutputWriter(plan, save_outputs)
        executor = Executor(plan, runners, rounds_in_flight=rounds_in_flight,
                            stall_timeout_s=stall_timeout_s)
        result = executor.run(frames, source, sink, on_record=tracer)
        result.load_seconds = load_seconds
        result.backend = chosen.name
        result.backend_details = {s.id: chosen.describe(s) for s in plan.segments}
    except RuntimeExecutionError as exc:
        _finish_files(writer, tracer, backend=chosen.name, frames=None, error=exc)
        raise
    except BaseException:
        if tracer is not None:
            tracer.abandon()
        if writer is not None:
            writer.close()
        raise
    finally:
        close_runners(runners)
        chosen.close()
    _finish_files(writer, tracer, backend=chosen.name, frames=result.frames, error=None)
    return result


def _finish_files(writer: OutputWriter | None, tracer: TraceWriter | None, *, backend: str,
                  frames: int | None, error: RuntimeExecutionError | None) -> None:
    """Close the output writer and the trace; after a failed run, record on ``error`` what
    was saved; after a good run, a file that cannot be finished is the error."""
    trouble: list[str] = []
    if writer is not None:
        written = writer.close()
        saved = {m: writer.count[m] for m in written}
        if error is not None:
            error.saved_outputs = saved  # type: ignore[attr-defined]
            error.unsaved_outputs = dict(writer.failed)  # type: ignore[attr-defined]
        trouble += [f"outputs of {m} not saved ({why})" for m, why in writer.failed.items()]
    if tracer is not None:
        try:
            tracer.close(backend=backend, frames=frames or 0)
        except RuntimeExecutionError as exc:
            trouble.append(str(exc))
    if trouble and error is None:
        raise RuntimeExecutionError("the run finished but " + "; ".join(trouble))
    if trouble and error is not None:
        error.args = (f"{error}; " + "; ".join(trouble),)

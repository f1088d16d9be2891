"""Native TensorRT engines from the build plan (a Jetson with TensorRT and cuda-python).

Decisions, pure and unit-tested without a GPU:
- `choose_engine(segment)`: the engine file the manifest names for the segment (built by
  the export's build plan, e.g. trtexec ``--saveEngine``), and the DLA core to set on the
  `trt.Runtime` *before* deserialising it: the segment's device decides (DLA0 -> 0, DLA1 ->
  1), so an engine built for core 0 runs on core 1 (IRuntime.DLA_core picks the core at
  deserialisation; NVIDIA's answer in NVIDIA-AI-IOT/cuDLA-samples#35). A DLA segment must
  be fp16 or int8; a GPU segment must not carry a DLA engine.
- `stream_slots(devices)`: one CUDA stream per device worker (GPU, DLA0, DLA1): every
  segment of a device is enqueued on its device's stream, so a device's segments run in
  its order and the three devices run concurrently.
- `binding_dtype(segment, tensor, manifest_dtype, engine_dtype, linear)`: the host dtype a
  binding is staged in (an fp16-I/O engine gets fp16 host arrays, converted from and back to
  the manifest's dtype); non-linear I/O formats (chw16, chw32: ``--inputIOFormats``) are
  refused with the fix, since hand-offs are linear host arrays.

Hand-offs go through host memory: each run copies its inputs host-to-device on its
device's stream, calls ``execute_async_v3``, copies outputs back, records a CUDA event on
that stream and waits for it; the consumer (perhaps on another device's stream) reads only
complete outputs. Device-resident hand-offs (``cudaStreamWaitEvent`` between the producer's
and the consumer's streams, no host copy; on a Jetson the memory is shared anyway) are the
next step and are not done here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runtime.backends.base import Backend
from runtime.errors import BackendUnavailableError, PlanError
from runtime.plan import DEVICES, Plan, SegmentPlan

TRT_HINT = "install TensorRT (`pip install -e \".[trt]\"`; on a Jetson it comes with JetPack)"
CUDA_HINT = "install cuda-python matching your CUDA (`pip install cuda-python`)"
DEVICE_CORE = {"GPU": None, "DLA0": 0, "DLA1": 1}
ENGINE_DTYPES = {"FLOAT": "float32", "HALF": "float16", "INT8": "int8", "INT32": "int32",
                 "INT64": "int64", "BOOL": "bool", "UINT8": "uint8", "BF16": "bfloat16"}


@dataclass(frozen=True)
class EngineChoice:
    """What the native backend loads for one segment, and where it runs."""

    segment: str
    device: str
    engine_file: Path
    dla_core: int | None
    built_for_core: int | None


def choose_engine(segment: SegmentPlan) -> EngineChoice:
    """The engine file and the DLA core to deserialise it on (see module doc)."""
    if segment.device not in DEVICE_CORE:
        raise PlanError(f"segment {segment.id!r}: device {segment.device!r} is not one of "
                        f"{', '.join(DEVICE_CORE)}")
    if segment.engine_file is None:
        raise PlanError(f"segment {segment.id!r} names no engine file (segments[].engine.file)"
                        ": build the engines with the export's build plan, or use --backend "
                        "ort-trt")
    core = DEVICE_CORE[segment.device]
    if core is None and segment.dla_core is not None:
        raise PlanError(f"segment {segment.id!r} runs on the GPU but its engine "
                        f"{segment.engine_file.name} was built for DLA core {segment.dla_core};"
                        " rebuild it for the GPU")
    if core is not None and segment.precision.lower() not in ("fp16", "int8"):
        raise PlanError(f"segment {segment.id!r} is on {segment.device} in "
                        f"{segment.precision}: DLA engines are fp16 or int8; re-export it "
                        "with precision fp16")
    return EngineChoice(segment.id, segment.device, segment.engine_file, core, segment.dla_core)


def stream_slots(devices: Iterable[str]) -> dict[str, int]:
    """One stream slot per device with work, in GPU, DLA0, DLA1 order."""
    wanted = set(devices)
    unknown = wanted - set(DEVICES)
    if unknown:
        raise PlanError(f"unknown device(s) {sorted(unknown)}; devices are {DEVICES}")
    return {d: i for i, d in enumerate(d for d in DEVICES if d in wanted)}


def binding_dtype(segment: str, tensor: str, manifest_dtype: str, engine_dtype: str,
                  linear: bool) -> np.dtype:
    """The host dtype of one engine binding (``engine_dtype`` is TensorRT's name, e.g.
    ``HALF``); refuses vectorised formats and dtype changes other than a float width."""
    if not linear:
        raise PlanError(f"segment {segment!r}: engine tensor {tensor!r} has a vectorised I/O "
                        "format (chw16/chw32); rebuild the engine with linear I/O formats "
                        "(drop --inputIOFormats/--outputIOFormats), hand-offs are linear")
    name = engine_dtype.split(".")[-1].upper()
    if name not in ENGINE_DTYPES:
        raise PlanError(f"segment {segment!r}: engine tensor {tensor!r} has dtype {name}, "
                        "which the runtime cannot stage")
    host = np.dtype(ENGINE_DTYPES[name]) if name != "BF16" else None
    want = np.dtype(manifest_dtype)
    if host is None or (host != want and not (host.kind == want.kind == "f")):
        raise PlanError(f"segment {segment!r}: engine tensor {tensor!r} is {name}, the "
                        f"manifest says {manifest_dtype}; rebuild the engine or re-export")
    return host


def _tensorrt() -> Any:
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendUnavailableError(f"backend trt needs TensorRT: {TRT_HINT}") from exc
    return tensorrt


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.x
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as exc:
            raise BackendUnavailableError(f"backend trt needs cuda-python: {CUDA_HINT}"
                                          ) from exc
    return cudart


def _check(cudart: Any, result: tuple, what: str) -> Any:
    err, *rest = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError(f"{what} failed: {err}")
    return rest[0] if len(rest) == 1 else tuple(rest)


class TrtRunner:
    """One execution context on its device's stream; host-staged I/O (see module doc)."""

    def __init__(self, trt: Any, cudart: Any, engine: Any, stream: Any,
                 segment: SegmentPlan) -> None:
        self.cudart, self.engine, self.stream, self.segment = cudart, engine, stream, segment
        self.context = engine.create_execution_context()
        specs = {t.name: t.dtype for t in segment.outputs}
        specs.update({b.spec.name: b.spec.dtype for b in segment.inputs})
        self.bindings: dict[str, tuple[bool, tuple[int, ...], np.dtype, np.dtype, int]] = {}
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            linear = engine.get_tensor_format(name) == trt.TensorFormat.LINEAR
            host = binding_dtype(segment.id, name, specs.get(name, "float32"),
                                 str(engine.get_tensor_dtype(name)), linear)
            nbytes = int(np.prod(shape)) * host.itemsize
            ptr = _check(cudart, cudart.cudaMalloc(max(nbytes, 1)), "cudaMalloc")
            self.context.set_tensor_address(name, int(ptr))
            self.bindings[name] = (is_input, shape, host, np.dtype(specs.get(name, host)),
                                   int(ptr))
        self.done = _check(cudart, cudart.cudaEventCreateWithFlags(
            cudart.cudaEventDisableTiming), "cudaEventCreate")

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        cu = self.cudart
        staged = []
        for name, (is_input, _shape, host, _, ptr) in self.bindings.items():
            if is_input:
                arr = np.ascontiguousarray(np.asarray(inputs[name]).astype(host, copy=False))
                staged.append(arr)  # kept alive until the event below has fired
                _check(cu, cu.cudaMemcpyAsync(ptr, arr.ctypes.data, arr.nbytes,
                                              cu.cudaMemcpyKind.cudaMemcpyHostToDevice,
                                              self.stream), "cudaMemcpyAsync H2D")
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError(f"execute_async_v3 failed for {self.segment.id}")
        outputs = {}
        for name, (is_input, shape, host, _, ptr) in self.bindings.items():
            if not is_input:
                out = np.empty(shape, dtype=host)
                _check(cu, cu.cudaMemcpyAsync(out.ctypes.data, ptr, out.nbytes,
                                              cu.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                                              self.stream), "cudaMemcpyAsync D2H")
                outputs[name] = out
        _check(cu, cu.cudaEventRecord(self.done, self.stream), "cudaEventRecord")
        _check(cu, cu.cudaEventSynchronize(self.done), "cudaEventSynchronize")
        return {name: value.astype(self.bindings[name][3], copy=False)
                for name, value in outputs.items()}

    def close(self) -> None:
        for _, _, _, _, ptr in self.bindings.values():
            self.cudart.cudaFree(ptr)
        self.bindings = {}
        self.cudart.cudaEventDestroy(self.done)
        self.context = None
        self.engine = None


class TrtBackend(Backend):
    """Deserialises each segment's engine on its device's DLA core; one stream per device."""

    name = "trt"

    def __init__(self, plan: Plan) -> None:
        self.trt = _tensorrt()
        self.cudart = _cudart()
        self.logger = self.trt.Logger(self.trt.Logger.WARNING)
        self.slots = stream_slots(plan.devices)
        self.streams: dict[str, Any] = {}

    def _stream(self, device: str) -> Any:
        if device not in self.streams:
            self.streams[device] = _check(self.cudart, self.cudart.cudaStreamCreateWithFlags(
                self.cudart.cudaStreamNonBlocking), "cudaStreamCreate")
        return self.streams[device]

    def load(self, segment: SegmentPlan) -> TrtRunner:
        choice = choose_engine(segment)
        if not choice.engine_file.is_file():
            raise PlanError(f"segment {segment.id!r}: engine {choice.engine_file} does not "
                            "exist; run the export's build plan on this device first")
        runtime = self.trt.Runtime(self.logger)
        if choice.dla_core is not None:
            if runtime.num_DLA_cores <= choice.dla_core:
                raise BackendUnavailableError(
                    f"segment {segment.id!r} needs DLA core {choice.dla_core}; this device "
                    f"has {runtime.num_DLA_cores} DLA core(s)")
            runtime.DLA_core = choice.dla_core  # before deserialising: picks the core
        engine = runtime.deserialize_cuda_engine(choice.engine_file.read_bytes())
        if engine is None:
            raise PlanError(f"segment {segment.id!r}: TensorRT cannot deserialise "
                            f"{choice.engine_file} (built by another TensorRT version or "
                            "for another device?); rebuild it with the build plan")
        return TrtRunner(self.trt, self.cudart, engine, self._stream(segment.device), segment)

    def describe(self, segment: SegmentPlan) -> dict[str, object]:
        choice = choose_engine(segment)
        return {**super().describe(segment), "engine": str(choice.engine_file),
                "dla_core": choice.dla_core, "stream": self.slots.get(segment.device)}

    def close(self) -> None:
        for stream in self.streams.values():
            self.cudart.cudaStreamDestroy(stream)
        self.streams = {}

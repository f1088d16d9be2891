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
- `staging(...)`: how a binding is staged on the host: an fp16-I/O engine gets fp16 host
  arrays (converted from and back to the manifest's dtype); CHW16/CHW32 I/O formats (what
  ``--inputIOFormats=fp16:chw16`` gives a DLA engine) are packed and unpacked on the host
  (`pack_vectorized`, `unpack_vectorized`); other formats (dla_linear, dla_hwc4, hwc8) are
  refused with the fix.

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
    for kind, formats in (("input", segment.engine_input_formats),
                          ("output", segment.engine_output_formats)):
        for spec in formats:
            if format_of(spec) not in ("LINEAR", "CHW", "CHW16", "CHW32", "CHW2", "CHW4"):
                raise PlanError(f"segment {segment.id!r}: engine {kind} format {spec!r} is not "
                                "staged by the runtime; build with linear, chw16 or chw32 I/O")
    return EngineChoice(segment.id, segment.device, segment.engine_file, core, segment.dla_core)


def stream_slots(devices: Iterable[str]) -> dict[str, int]:
    """One stream slot per device with work, in GPU, DLA0, DLA1 order."""
    wanted = set(devices)
    unknown = wanted - set(DEVICES)
    if unknown:
        raise PlanError(f"unknown device(s) {sorted(unknown)}; devices are {DEVICES}")
    return {d: i for i, d in enumerate(d for d in DEVICES if d in wanted)}


@dataclass(frozen=True)
class Staging:
    """How one engine binding is staged on the host: its dtype, and for vectorised formats
    (CHW16 / CHW32) the axis that is vectorised and the components per vector (else 0)."""

    dtype: np.dtype
    vectorized_dim: int = -1
    components: int = 0


def staging(segment: str, tensor: str, manifest_dtype: str, engine_dtype: str,
            format_name: str, vectorized_dim: int = -1, components: int = 1) -> Staging:
    """The host staging of one engine binding. ``engine_dtype`` and ``format_name`` are
    TensorRT's names (``HALF``, ``CHW16``). Linear and CHW16/CHW32 formats are staged (the
    latter packed/unpacked on the host by `pack_vectorized`); DLA_LINEAR, DLA_HWC4, HWC8 and
    other formats are refused with the fix, as are dtype changes other than a float width."""
    fmt = format_name.split(".")[-1].upper()
    name = engine_dtype.split(".")[-1].upper()
    if name not in ENGINE_DTYPES or name == "BF16":
        raise PlanError(f"segment {segment!r}: engine tensor {tensor!r} has dtype {name}, "
                        "which the runtime cannot stage")
    host = np.dtype(ENGINE_DTYPES[name])
    want = np.dtype(manifest_dtype)
    if host != want and not (host.kind == want.kind == "f"):
        raise PlanError(f"segment {segment!r}: engine tensor {tensor!r} is {name}, the "
                        f"manifest says {manifest_dtype}; rebuild the engine or re-export")
    if fmt in ("LINEAR", "CHW"):
        return Staging(host)
    if fmt in ("CHW16", "CHW32", "CHW2", "CHW4") and vectorized_dim >= 0 and components > 1:
        return Staging(host, vectorized_dim, components)
    raise PlanError(f"segment {segment!r}: engine tensor {tensor!r} has I/O format {fmt}, "
                    "which the runtime does not stage; rebuild the engine with linear, chw16 "
                    "(fp16) or chw32 (int8) I/O formats (--inputIOFormats/--outputIOFormats)")


def format_of(spec: str) -> str:
    """The layout of a manifest I/O format string (``fp16:chw16`` -> ``CHW16``)."""
    return spec.split(":")[-1].strip().upper() if spec else "LINEAR"


def pack_vectorized(array: np.ndarray, axis: int, components: int) -> np.ndarray:
    """A linear array in TensorRT's vectorised layout: ``axis`` padded to a multiple of
    ``components`` and split into (blocks, components) with the components innermost, i.e.
    NCHW -> N, ceil(C/k), H, W, k (element (c, h, w) at ((c // k) * H * W + h * W + w) * k +
    c % k within an image, as TensorRT documents CHW16/CHW32)."""
    size = array.shape[axis]
    padded = -(-size // components) * components
    if padded != size:
        pad = [(0, 0)] * array.ndim
        pad[axis] = (0, padded - size)
        array = np.pad(array, pad)
    shape = (*array.shape[:axis], padded // components, components, *array.shape[axis + 1:])
    return np.ascontiguousarray(np.moveaxis(array.reshape(shape), axis + 1, -1))


def unpack_vectorized(buffer: np.ndarray, shape: tuple[int, ...], axis: int,
                      components: int) -> np.ndarray:
    """Inverse of `pack_vectorized`: the linear array of logical ``shape``."""
    blocks = -(-shape[axis] // components)
    packed_shape = (*shape[:axis], blocks, *shape[axis + 1:], components)
    linear = np.moveaxis(buffer.reshape(packed_shape), -1, axis + 1)
    merged = linear.reshape((*shape[:axis], blocks * components, *shape[axis + 1:]))
    return np.ascontiguousarray(np.take(merged, np.arange(shape[axis]), axis=axis))


def packed_nbytes(shape: tuple[int, ...], stage: Staging) -> int:
    """Bytes of a binding's device buffer (vectorised formats pad their axis)."""
    dims = list(shape)
    if stage.components:
        dims[stage.vectorized_dim] = -(-dims[stage.vectorized_dim] // stage.components) \
            * stage.components
    return int(np.prod(dims)) * stage.dtype.itemsize


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


@dataclass
class _Binding:
    is_input: bool
    shape: tuple[int, ...]
    stage: Staging
    manifest_dtype: np.dtype
    pointer: int
    nbytes: int


class TrtRunner:
    """One execution context on its device's stream; host-staged I/O (see module doc)."""

    def __init__(self, trt: Any, cudart: Any, engine: Any, stream: Any,
                 segment: SegmentPlan) -> None:
        self.cudart, self.engine, self.stream, self.segment = cudart, engine, stream, segment
        self.context = engine.create_execution_context()
        specs = {t.name: t.dtype for t in segment.outputs}
        specs.update({b.spec.name: b.spec.dtype for b in segment.inputs})
        self.bindings: dict[str, _Binding] = {}
        self.done = _check(cudart, cudart.cudaEventCreateWithFlags(
            cudart.cudaEventDisableTiming), "cudaEventCreate")
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            if name not in specs:
                raise PlanError(f"segment {segment.id!r}: engine tensor {name!r} is not an "
                                "input or output of the segment in the manifest; rebuild it")
            fmt = engine.get_tensor_format(name)
            stage = staging(segment.id, name, specs[name], str(engine.get_tensor_dtype(name)),
                            getattr(fmt, "name", str(fmt)),
                            int(engine.get_tensor_vectorized_dim(name)),
                            int(engine.get_tensor_components_per_element(name)))
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            nbytes = packed_nbytes(shape, stage)
            ptr = int(_check(cudart, cudart.cudaMalloc(max(nbytes, 1)), "cudaMalloc"))
            self.context.set_tensor_address(name, ptr)
            self.bindings[name] = _Binding(
                engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT, shape, stage,
                np.dtype(specs[name]), ptr, nbytes)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        cu = self.cudart
        staged = []  # host arrays kept alive until the event below has fired
        for name, b in self.bindings.items():
            if not b.is_input:
                continue
            arr = np.asarray(inputs[name]).astype(b.stage.dtype, copy=False)
            if b.stage.components:
                arr = pack_vectorized(arr, b.stage.vectorized_dim, b.stage.components)
            arr = np.ascontiguousarray(arr)
            staged.append(arr)
            _check(cu, cu.cudaMemcpyAsync(b.pointer, arr.ctypes.data, arr.nbytes,
                                          cu.cudaMemcpyKind.cudaMemcpyHostToDevice,
                                          self.stream), "cudaMemcpyAsync H2D")
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError(f"execute_async_v3 failed for {self.segment.id}")
        raw = {}
        for name, b in self.bindings.items():
            if b.is_input:
                continue
            out = np.empty(b.nbytes // b.stage.dtype.itemsize, dtype=b.stage.dtype)
            _check(cu, cu.cudaMemcpyAsync(out.ctypes.data, b.pointer, b.nbytes,
                                          cu.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                                          self.stream), "cudaMemcpyAsync D2H")
            raw[name] = out
        _check(cu, cu.cudaEventRecord(self.done, self.stream), "cudaEventRecord")
        _check(cu, cu.cudaEventSynchronize(self.done), "cudaEventSynchronize")
        outputs = {}
        for name, flat in raw.items():
            b = self.bindings[name]
            value = (unpack_vectorized(flat, b.shape, b.stage.vectorized_dim, b.stage.components)
                     if b.stage.components else flat.reshape(b.shape))
            outputs[name] = value.astype(b.manifest_dtype, copy=False)
        return outputs

    def close(self) -> None:
        for b in self.bindings.values():
            self.cudart.cudaFree(b.pointer)
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

"""ONNX Runtime with the TensorRT execution provider (a Jetson with onnxruntime-gpu).

The decisions are pure functions, unit-tested without a GPU:
- `dla_core(segment)`: DLA0 -> 0, DLA1 -> 1, GPU -> None (the device decides; an engine
  built for the other core is fine, see `runtime.backends.trt`).
- `precision_options(segment)`: fp16 -> ``trt_fp16_enable``; int8 -> ``trt_int8_enable``
  with fp16 for the layers without scales; a DLA segment in fp32 is refused, because the
  EP only uses the DLA when fp16 or int8 is on and would otherwise run it on the GPU
  without a word (onnxruntime `tensorrt_execution_provider.cc`).
- `provider_options(segment, cache_root)`: the TensorRT EP's options, with one engine
  cache folder per segment. On DLA core 1 the engine cache is off: with caching on, the EP
  deserialises cached engines without setting the runtime's DLA core, so they land on core
  0 (microsoft/onnxruntime#26680, fix in PR #28364, open when this was written).
- `providers(segment, cache_root)`: TensorRT first, then CUDA (for the nodes TensorRT
  cannot take), then CPU.
- `check_providers(segment, active)`: refuses a session where ONNX Runtime silently fell
  back from TensorRT (missing libraries make it do so with only a warning).

ORT gives every session its own CUDA stream; per-device streams of the native backend are
not reproduced here (the EP's ``user_compute_stream`` option would take one).
"""

from __future__ import annotations

import re
from pathlib import Path

from runtime.backends.base import Backend
from runtime.backends.ort import OrtRunner
from runtime.errors import BackendUnavailableError, PlanError
from runtime.plan import SegmentPlan

TRT_EP = "TensorrtExecutionProvider"
CUDA_EP = "CUDAExecutionProvider"
INSTALL_HINT = ("install onnxruntime-gpu built with TensorRT (on a Jetson: the Jetson Zoo "
                "wheel matching your JetPack) and TensorRT (`pip install -e \".[trt]\"`)")
CORES = {"GPU": None, "DLA0": 0, "DLA1": 1}


def dla_core(segment: SegmentPlan) -> int | None:
    """The DLA core a segment runs on (None for the GPU), from its device."""
    try:
        return CORES[segment.device]
    except KeyError:
        raise PlanError(f"segment {segment.id!r}: device {segment.device!r} is not one of "
                        f"{', '.join(CORES)}") from None


def precision_options(segment: SegmentPlan) -> dict[str, str]:
    """``trt_fp16_enable`` / ``trt_int8_enable`` for the segment's precision."""
    precision = segment.precision.lower()
    if precision not in ("fp32", "fp16", "int8"):
        raise PlanError(f"segment {segment.id!r}: precision {segment.precision!r} is not "
                        "fp32, fp16 or int8")
    if precision == "fp32" and dla_core(segment) is not None:
        raise PlanError(f"segment {segment.id!r} is on {segment.device} in fp32: the DLA runs "
                        "fp16 or int8 only (the TensorRT EP would silently keep it on the "
                        "GPU); export it with precision fp16")
    return {"trt_fp16_enable": "True" if precision in ("fp16", "int8") else "False",
            "trt_int8_enable": "True" if precision == "int8" else "False"}


def cache_folder(segment: SegmentPlan, cache_root: Path) -> Path:
    """One engine-cache folder per segment (ids like ``gan#0/1`` become ``gan_0_1``)."""
    return cache_root / re.sub(r"[^A-Za-z0-9_.-]+", "_", segment.id)


def provider_options(segment: SegmentPlan, cache_root: Path) -> dict[str, str]:
    """The TensorRT EP options for ``segment`` (strings, as ONNX Runtime takes them)."""
    core = dla_core(segment)
    options = {"device_id": "0", **precision_options(segment),
               "trt_engine_cache_enable": "False" if core == 1 else "True",
               "trt_engine_cache_path": str(cache_folder(segment, cache_root))}
    if core is not None:
        options["trt_dla_enable"] = "True"
        options["trt_dla_core"] = str(core)
    return options


def providers(segment: SegmentPlan, cache_root: Path) -> list:
    """The provider list for the segment's InferenceSession, in priority order."""
    return [(TRT_EP, provider_options(segment, cache_root)), (CUDA_EP, {"device_id": "0"}),
            "CPUExecutionProvider"]


def check_providers(segment: SegmentPlan, active: list[str]) -> None:
    """Refuse a session on which TensorRT is not the first active provider."""
    if not active or active[0] != TRT_EP:
        raise BackendUnavailableError(
            f"segment {segment.id!r}: ONNX Runtime did not enable TensorRT (active providers: "
            f"{', '.join(active) or 'none'}); check TensorRT's libraries, or {INSTALL_HINT}")


class OrtTrtBackend(Backend):
    """Sessions on the TensorRT EP; engine caches under ``cache_dir``."""

    name = "ort-trt"

    def __init__(self, cache_dir: Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - onnxruntime is a dependency
            raise BackendUnavailableError(f"backend ort-trt needs onnxruntime: {INSTALL_HINT}"
                                          ) from exc
        available = ort.get_available_providers()
        if TRT_EP not in available:
            raise BackendUnavailableError(
                f"backend ort-trt: this onnxruntime has no {TRT_EP} (it has "
                f"{', '.join(available)}); {INSTALL_HINT}, or use --backend ort")
        self.cache_dir = cache_dir

    def load(self, segment: SegmentPlan) -> OrtRunner:
        import onnxruntime as ort

        cache_folder(segment, self.cache_dir).mkdir(parents=True, exist_ok=True)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(segment.file), sess_options=opts,
                                       providers=providers(segment, self.cache_dir))
        check_providers(segment, session.get_providers())
        return OrtRunner(session)

    def describe(self, segment: SegmentPlan) -> dict[str, object]:
        return {**super().describe(segment), "provider": TRT_EP,
                "provider_options": provider_options(segment, self.cache_dir)}

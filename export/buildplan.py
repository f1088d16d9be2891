"""Engine build plans: how each segment's sub-model becomes a TensorRT engine for its device.

Two ways to build, one set of decisions (`plan_builds`):

- ``build_engines.sh``: one ``trtexec`` command per engine (`BuildPlan.script`), for
  TensorRT 8.5, 8.6, 10.x (10.0-10.7 for DLA) and 11.4+;
- `build_engine`: the TensorRT Python API, where ``tensorrt`` imports (lazy import; without
  it a clear message names ``pip install -e ".[trt]"``).

Decisions (docs/export.md has the sources):

- **Device.** A DLA segment gets ``--useDLACore=N`` (N = 0 for DLA0, 1 for DLA1) and *no*
  ``--allowGPUFallback`` unless asked: a segment the DLA cannot run entirely must fail at
  build time instead of silently running on the GPU (which would void the schedule).
  Without fallback trtexec sets DIRECT_IO: I/O must already be in a DLA format.
- **Precision.** ``fp16`` (default): TRT < 11 gets ``--fp16``; TRT >= 11 is strongly typed
  (no precision flags), so every fp16 segment is built from an fp16 copy of its ONNX
  (`fp16_copy`: onnxconverter-common's ``convert_float_to_float16``, float I/O included;
  ops it blocks stay fp32 behind casts). ``fp32``: GPU-only schedules (the DLA has no
  fp32). ``int8`` is refused: it needs a calibration cache this export does not make.
- **I/O formats** (`io_format`), per boundary tensor, the same on both sides of a hand-off:
  a float tensor a DLA segment reads or writes, or that crosses to/from a DLA segment, is
  ``fp16:chw16`` when 4-D (the format GPU and DLA share, so no reformat kernel at the cut),
  ``fp16:dla_linear`` on the DLA side otherwise; a tensor between two GPU engines is
  ``fp16:chw``; a model input/output read/written by a GPU segment stays ``fp32:chw``
  (TRT < 11; under 11.x the fp16 copy's type, ``fp16:chw``); other types ``<type>:chw``.
  TRT < 11 flags carry ``type:layout``; 11.x flags carry the layout only (types come from
  the ONNX). fp32 plans pass no format flags (defaults).
- **Versions.** TRT < 8.5 is refused (the flags above are those of 8.5+); DLA segments need
  TRT <= 10.7 or >= 11.4.1 (10.8-11.3 have no DLA, 11.4.0 only on Windows-on-ARM; 11.4.1
  restores it on AGX Orin; "11.4" is read as 11.4.x and the script says 11.4.1+).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.errors import ExportError

PRECISIONS = ("fp16", "fp32")
SCRIPT_NAME = "build_engines.sh"
TRT_EXTRA_HINT = 'pip install -e ".[trt]" (TensorRT comes with JetPack on a Jetson)'
_TRT_TYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "int32": "int32",
              "int64": "int64", "int8": "int8", "uint8": "uint8", "bool": "bool"}
_FLOATS = ("float32", "float16", "bfloat16")


@dataclass(frozen=True, order=True)
class TrtVersion:
    """A TensorRT version and what its trtexec / builder accept."""

    major: int
    minor: int
    text: str = ""
    patch: int | None = None  # None: not given ("11.4" means 11.4.x, DLA from 11.4.1)

    @classmethod
    def parse(cls, text: str) -> TrtVersion:
        m = re.fullmatch(r"\s*(\d+)\.(\d+|x)(?:\.(\d+))?(?:\.\d+)*\s*", str(text))
        if not m:
            raise ExportError(f"TensorRT version {text!r} is not like '8.6', '10.3' or '11.4.1'",
                              source="--trt-version")
        minor = 0 if m.group(2) == "x" else int(m.group(2))
        patch = None if m.group(3) is None else int(m.group(3))
        v = cls(int(m.group(1)), minor, str(text).strip(), patch)
        if (v.major, v.minor) < (8, 5):
            raise ExportError(f"TensorRT {text}: build plans start at 8.5 (JetPack 5.1); "
                              "upgrade JetPack", source="--trt-version")
        return v

    @property
    def precision_flags(self) -> bool:
        """``--fp16`` / BuilderFlag.FP16 exist (removed in 11.x: strongly typed)."""
        return self.major < 11

    @property
    def strongly_typed(self) -> bool:
        return self.major >= 11

    @property
    def has_dla(self) -> bool:
        """DLA on Jetson: up to 10.7, and from 11.4.1 (11.4.0: Windows-on-ARM only)."""
        v = (self.major, self.minor)
        if v == (11, 4) and self.patch == 0:
            return False
        return v <= (10, 7) or v >= (11, 4)

    @property
    def explicit_batch_flag(self) -> bool:
        """NetworkDefinitionCreationFlag.EXPLICIT_BATCH must be set (ignored from 10.0)."""
        return self.major < 10

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class BoundaryIO:
    """A segment input or output as the build plan sees it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    crosses_dla: bool   # produced or read by a DLA segment (or this segment is on a DLA)
    host: bool          # a model input/output (comes from / goes to the application)


@dataclass(frozen=True)
class SegmentBuild:
    """What to build for one engine: its ONNX (relative path), device and boundary."""

    key: str            # engine identity, e.g. "gan.g0-3.DLA0"
    segments: tuple[str, ...]  # manifest segment ids that use this engine
    onnx: str
    device: str         # GPU | DLA0 | DLA1
    inputs: tuple[BoundaryIO, ...]
    outputs: tuple[BoundaryIO, ...]


@dataclass(frozen=True)
class EngineBuild:
    """One engine of the plan: the decisions and the trtexec command line."""

    key: str
    segments: tuple[str, ...]
    device: str
    dla_core: int | None
    precision: str
    onnx: str            # the segment's ONNX
    build_onnx: str      # the ONNX the engine is built from (an fp16 copy under TRT 11.x)
    engine: str
    log: str
    input_formats: tuple[str, ...]   # "fp16:chw16" ... (type:layout, manifest form)
    output_formats: tuple[str, ...]
    argv: tuple[str, ...]
    allow_gpu_fallback: bool

    @property
    def converted(self) -> bool:
        return self.build_onnx != self.onnx

    @property
    def shell(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class BuildPlan:
    trt: TrtVersion
    precision: str
    allow_gpu_fallback: bool
    engines: tuple[EngineBuild, ...]

    def engine_for(self, segment_id: str) -> EngineBuild:
        for e in self.engines:
            if segment_id in e.segments:
                return e
        raise KeyError(segment_id)

    def script(self) -> str:
        """``build_engines.sh``: builds every engine with trtexec, stops at the first failure."""
        n = len(self.engines)
        lines = [
            "#!/usr/bin/env bash",
            f"# layerswap engine builds: {n} engine(s) for TensorRT {self.trt} "
            f"({self.precision}); the runtime reads manifest.json.",
            "# Run on the target (a Jetson) from any directory; override the binary with",
            "# TRTEXEC=/usr/src/tensorrt/bin/trtexec. Each build writes engines/<name>.build.log.",
        ]
        if any(e.dla_core is not None for e in self.engines):
            if self.allow_gpu_fallback:
                lines.append("# DLA engines use --allowGPUFallback: layers the DLA rejects run "
                             "on the GPU (check the build logs).")
            else:
                lines.append("# DLA engines are built without --allowGPUFallback: a layer the "
                             "DLA cannot run fails the build instead of moving to the GPU.")
        if self.trt.strongly_typed:
            lines.append(f"# TensorRT {self.trt} is strongly typed (DLA needs 11.4.1+, JetPack "
                         "7.2.2+ on AGX Orin): fp16 engines are built from the *.fp16.onnx "
                         "copies; the I/O format flags give layouts only.")
        lines += [
            "set -euo pipefail",
            'cd "$(dirname "$0")"',
            'TRTEXEC="${TRTEXEC:-trtexec}"',
            "mkdir -p engines",
            "build() {  # build LOG CMD...: run, keep the log, say where to look on failure",
            '  local log="$1"; shift',
            '  if ! "$@" > "$log" 2>&1; then',
            '    echo "layerswap: engine build failed; see $log" >&2; tail -n 20 "$log" >&2',
            "    exit 1",
            "  fi",
            "}",
        ]
        for i, e in enumerate(self.engines, start=1):
            what = ", ".join(e.segments)
            lines += ["", f"# [{i}/{n}] {what} on {e.device} ({e.precision})",
                      f"echo {shlex.quote(f'[{i}/{n}] {e.engine} ({e.device})')} >&2",
                      f"build {shlex.quote(e.log)} \"$TRTEXEC\" "
                      + shlex.join(e.argv[1:])]
        lines += ["", f"echo {shlex.quote(f'built {n} engine(s) in engines/')} >&2"]
        return "\n".join(lines) + "\n"


def io_format(t: BoundaryIO, *, device: str, precision: str, trt: TrtVersion) -> str:
    """The engine I/O format of one boundary tensor, as ``type:layout`` (module docstring)."""
    if precision == "fp32" or t.dtype not in _FLOATS:
        return f"{_TRT_TYPES.get(t.dtype, 'fp32')}:chw"
    on_dla = device != "GPU"
    if on_dla or t.crosses_dla:
        if len(t.shape) == 4:
            return "fp16:chw16"
        return "fp16:dla_linear" if on_dla else "fp16:chw"
    if t.host and not trt.strongly_typed:
        return "fp32:chw"
    return "fp16:chw"


def _flag_token(fmt: str, trt: TrtVersion) -> str:
    return fmt.split(":", 1)[1] if trt.strongly_typed else fmt


def plan_builds(segments: Sequence[SegmentBuild], *, trt_version: str | TrtVersion,
                precision: str = "fp16", allow_gpu_fallback: bool = False,
                extra_args: Sequence[str] = ()) -> BuildPlan:
    """Decide every engine's flags and formats (see the module docstring)."""
    trt = trt_version if isinstance(trt_version, TrtVersion) else TrtVersion.parse(trt_version)
    if precision == "int8":
        raise ExportError("int8 engines need a calibration cache, which the export does not "
                          "make yet; export with --precision fp16", source="--precision")
    if precision not in PRECISIONS:
        raise ExportError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}",
                          source="--precision")
    engines = []
    for s in segments:
        dla_core = None if s.device == "GPU" else int(s.device[3:])
        if dla_core is not None:
            if precision == "fp32":
                raise ExportError(f"{', '.join(s.segments)} runs on {s.device}, which has no "
                                  "fp32: export with --precision fp16", source="--precision")
            if not trt.has_dla:
                raise ExportError(
                    f"TensorRT {trt} has no DLA support on Jetson (10.7 is the last 10.x with "
                    "DLA, 11.0-11.3 have none, 11.4.0 only on Windows-on-ARM, 11.4.1 restores "
                    "it on AGX Orin) but "
                    f"{', '.join(s.segments)} runs on {s.device}: use TRT <= 10.7 or >= 11.4",
                    source="--trt-version")
        ins = tuple(io_format(t, device=s.device, precision=precision, trt=trt)
                    for t in s.inputs)
        outs = tuple(io_format(t, device=s.device, precision=precision, trt=trt)
                     for t in s.outputs)
        convert = trt.strongly_typed and precision == "fp16"
        build_onnx = fp16_name(s.onnx) if convert else s.onnx
        engine = f"engines/{s.key}.plan"
        log = f"engines/{s.key}.build.log"
        argv = ["trtexec", f"--onnx={build_onnx}", f"--saveEngine={engine}"]
        if precision == "fp16" and trt.precision_flags:
            argv.append("--fp16")
        if dla_core is not None:
            argv.append(f"--useDLACore={dla_core}")
            if allow_gpu_fallback:
                argv.append("--allowGPUFallback")
        if precision == "fp16":
            argv.append("--inputIOFormats=" + ",".join(_flag_token(f, trt) for f in ins))
            argv.append("--outputIOFormats=" + ",".join(_flag_token(f, trt) for f in outs))
        argv += ["--skipInference", *extra_args]
        engines.append(EngineBuild(
            key=s.key, segments=s.segments, device=s.device, dla_core=dla_core,
            precision=precision, onnx=s.onnx, build_onnx=build_onnx, engine=engine, log=log,
            input_formats=ins, output_formats=outs, argv=tuple(argv),
            allow_gpu_fallback=allow_gpu_fallback and dla_core is not None))
    return BuildPlan(trt, precision, allow_gpu_fallback, tuple(engines))


def fp16_name(onnx_rel: str) -> str:
    """``segments/a.onnx`` -> ``segments/a.fp16.onnx``."""
    return onnx_rel[:-5] + ".fp16.onnx" if onnx_rel.endswith(".onnx") else onnx_rel + ".fp16"


def fp16_copy(model: Any) -> Any:
    """An fp16 copy of an ONNX model for strongly typed TensorRT (11.x).

    The documented conversion: ``onnxconverter_common.float16.convert_float_to_float16``
    with ``keep_io_types=False`` (float inputs/outputs become fp16: DLA I/O is fp16), the
    library's default op block list (blocked ops stay fp32 behind Cast nodes). NVIDIA's
    equivalent for DLA is ``python -m modelopt.onnx.autocast --target_dla
    --low_precision_type fp16``.
    """
    import onnx
    from onnxconverter_common import float16

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    out = float16.convert_float_to_float16(copy, keep_io_types=False)
    onnx.checker.check_model(out)
    return out


# ---------------------------------------------------------------------- Python API builder
@dataclass(frozen=True)
class BuilderSettings:
    """What `build_engine` asks of the TensorRT builder (decided without TensorRT)."""

    network_flags: tuple[str, ...]       # NetworkDefinitionCreationFlag names
    builder_flags: tuple[str, ...]       # BuilderFlag names
    default_device: str                  # "GPU" | "DLA"
    dla_core: int | None
    input_formats: tuple[tuple[str, str], ...]   # (TRT DataType name | "", TensorFormat name)
    output_formats: tuple[tuple[str, str], ...]
    require_all_layers_on_dla: bool
    optional_builder_flags: tuple[str, ...] = ()  # set only where the enum still has them


_DTYPE_ENUM = {"fp32": "FLOAT", "fp16": "HALF", "bf16": "BF16", "int32": "INT32",
               "int64": "INT64", "int8": "INT8", "uint8": "UINT8", "bool": "BOOL"}
_LAYOUT_ENUM = {"chw": "LINEAR", "chw16": "CHW16", "chw32": "CHW32", "dla_linear": "DLA_LINEAR",
                "dla_hwc4": "DLA_HWC4", "hwc8": "HWC8", "chw4": "CHW4", "chw2": "CHW2",
                "hwc": "HWC"}


def builder_settings(build: EngineBuild, trt: TrtVersion) -> BuilderSettings:
    """The builder configuration equivalent to the trtexec line of ``build``."""
    network = ("EXPLICIT_BATCH",) if trt.explicit_batch_flag else ()
    flags: list[str] = []
    optional: list[str] = []
    if build.precision == "fp16" and trt.precision_flags:
        flags.append("FP16")
    if build.dla_core is not None:
        if build.allow_gpu_fallback:
            flags.append("GPU_FALLBACK")
        elif not trt.strongly_typed:
            flags.append("DIRECT_IO")  # what trtexec sets without fallback (8.x-10.x)
        else:
            optional.append("DIRECT_IO")  # deprecated in the 11.1 header, "removed" in docs

    def fmts(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
        out = []
        for f in items:
            dtype, layout = f.split(":", 1)
            out.append(("" if trt.strongly_typed else _DTYPE_ENUM[dtype], _LAYOUT_ENUM[layout]))
        return tuple(out)

    use_formats = build.precision == "fp16"
    return BuilderSettings(
        network_flags=network, builder_flags=tuple(flags),
        default_device="GPU" if build.dla_core is None else "DLA", dla_core=build.dla_core,
        input_formats=fmts(build.input_formats) if use_formats else (),
        output_formats=fmts(build.output_formats) if use_formats else (),
        require_all_layers_on_dla=build.dla_core is not None and not build.allow_gpu_fallback,
        optional_builder_flags=tuple(optional))


def import_tensorrt() -> Any:
    """``import tensorrt`` or an `ExportError` naming the extra to install."""
    try:
        import tensorrt
    except ImportError as exc:
        raise ExportError(f"the TensorRT Python package is not installed ({exc}); install it "
                          f"with {TRT_EXTRA_HINT}, or run build_engines.sh (trtexec) instead",
                          source="tensorrt") from None
    return tensorrt


def build_engine(build: EngineBuild, root: str | os.PathLike[str], *,
                 trt_version: str | TrtVersion | None = None,
                 workspace_mib: int | None = None) -> Path:
    """Build one engine with the TensorRT Python API; returns the engine path.

    ``root`` is the export directory (the plan's paths are relative to it). The builder
    gets `builder_settings`; without GPU fallback a DLA build first checks
    ``config.can_run_on_DLA`` for every layer and refuses the build naming the first layer
    that cannot run there.
    """
    trt = import_tensorrt()
    version = (TrtVersion.parse(trt.__version__) if trt_version is None else
               trt_version if isinstance(trt_version, TrtVersion) else
               TrtVersion.parse(trt_version))
    settings = builder_settings(build, version)
    base = Path(root)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    net_flags = 0
    for name in settings.network_flags:
        net_flags |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, name))
    network = builder.create_network(net_flags)
    parser = trt.OnnxParser(network, logger)
    onnx_path = base / build.build_onnx
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT cannot parse the ONNX ({errors})", source=str(onnx_path))
    config = builder.create_builder_config()
    for name in settings.builder_flags:
        config.set_flag(getattr(trt.BuilderFlag, name))
    for name in settings.optional_builder_flags:
        if hasattr(trt.BuilderFlag, name):
            config.set_flag(getattr(trt.BuilderFlag, name))
    if workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    if settings.default_device == "DLA":
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(settings.dla_core or 0)
        if settings.require_all_layers_on_dla:
            for i in range(network.num_layers):
                layer = network.get_layer(i)
                if not config.can_run_on_DLA(layer):
                    raise ExportError(
                        f"layer {layer.name!r} cannot run on {build.device}; the schedule put "
                        f"it on the DLA without GPU fallback (re-solve with the DLA checker's "
                        f"verdicts, or build with allow_gpu_fallback)", source=str(onnx_path),
                        entry=", ".join(build.segments))
    for getter, formats in ((network.get_input, settings.input_formats),
                            (network.get_output, settings.output_formats)):
        for i, (dtype, layout) in enumerate(formats):
            tensor = getter(i)
            if dtype:
                tensor.dtype = getattr(trt.DataType, dtype)
            tensor.allowed_formats = 1 << int(getattr(trt.TensorFormat, layout))
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError("TensorRT failed to build the engine (see the messages above)",
                          source=str(onnx_path), entry=", ".join(build.segments))
    target = base / build.engine
    from profiles.fileio import atomic_write_bytes

    return atomic_write_bytes(target, bytes(memoryview(serialized)))


__all__ = [
    "PRECISIONS",
    "SCRIPT_NAME",
    "BoundaryIO",
    "BuildPlan",
    "BuilderSettings",
    "EngineBuild",
    "SegmentBuild",
    "TrtVersion",
    "build_engine",
    "builder_settings",
    "fp16_copy",
    "fp16_name",
    "import_tensorrt",
    "io_format",
    "plan_builds",
]

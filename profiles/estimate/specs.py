"""The estimator's two data files: platform specs and efficiency parameters.

- ``platforms.toml``: published figures per Jetson module (GPU and DLA peak throughput per
  precision, DRAM bandwidth, DLA cores, CBUF size, default TensorRT version), each with
  its ``source`` and an ``assumption`` flag. `load_platform` returns a `PlatformSpec`.
- ``params.toml``: the roofline's free parameters (per-op-class compute efficiency,
  memory efficiency, per-layer overhead for GPU and DLA, fusion rules, transition
  hand-off costs), fitted on published data where it exists (see
  ``benchmarks/estimator.py``), each with its ``source``. `load_params` returns
  `EstimatorParams`.

Both loaders validate the whole file (a missing figure or source is an `EstimateError`
naming the file and the key) and carry the file's SHA-256, which the estimated cost table
records so that a table says exactly which numbers made it.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from profiles.estimate.work import OP_CLASSES, PRECISIONS, EstimateError

PLATFORMS_FORMAT = "layerswap.platforms/1"
PARAMS_FORMAT = "layerswap.estimator-params/1"


@dataclass(frozen=True)
class Figure:
    """One sourced number."""

    value: Any
    source: str
    assumption: bool = False


@dataclass(frozen=True)
class PlatformSpec:
    """Published figures of one Jetson module (see platforms.toml for units)."""

    name: str
    description: str
    solver_platform: str
    checker_platform: str
    figures: Mapping[str, Figure]
    digest: str
    path: str

    def value(self, key: str) -> Any:
        return self.figures[key].value

    @property
    def dram_gbps(self) -> float:
        return float(self.value("dram_gbps"))

    @property
    def dla_cores(self) -> int:
        return int(self.value("dla_cores"))

    @property
    def trt_version(self) -> str:
        return str(self.value("trt_version"))

    @property
    def dla_atomic_c(self) -> int:
        """NVDLA MAC atomic size of input channels (1 when the file does not give it)."""
        fig = self.figures.get("dla_atomic_c")
        return 1 if fig is None else int(fig.value)

    @property
    def dla_cbuf_bytes(self) -> int:
        return int(self.value("dla_cbuf_kib")) * 1024

    def gpu_peak_flops(self, precision: str, tensor: bool) -> float:
        """GPU peak in FLOP/s: tensor cores (conv/gemm) or CUDA cores (everything else)."""
        key = "gpu_tensor_tflops" if tensor else "gpu_cuda_tflops"
        return float(self.value(f"{key}.{precision}")) * 1e12

    def dla_peak_flops(self, precision: str) -> float | None:
        """Peak of one DLA core in FLOP/s; None when the DLA cannot run this precision."""
        fig = self.figures.get(f"dla_tflops_per_core.{precision}")
        return None if fig is None else float(fig.value) * 1e12

    @property
    def assumptions(self) -> tuple[str, ...]:
        return tuple(k for k, f in sorted(self.figures.items()) if f.assumption)


@dataclass(frozen=True)
class DeviceParams:
    """Roofline parameters of one device kind."""

    compute_efficiency: Mapping[str, float]  # per op class, fraction of the peak
    memory_efficiency: float                 # fraction of DRAM peak a layer achieves
    overhead_us: float                       # per executed layer (launch / DLA op setup)
    invocation_us: float = 0.0               # per engine / loadable invocation


@dataclass(frozen=True)
class WholeModelFit:
    """Parameters one device kind got from whole-model data on one module
    (``[fitted."<module>".<kind>]`` in params.toml, written by benchmarks/estimator.py)."""

    tensor_efficiency: Mapping[str, float]   # per precision (conv, deconv, gemm)
    memory_efficiency: float
    overhead_us: float
    invocation_us: float


@dataclass(frozen=True)
class EstimatorParams:
    """Every free parameter of the estimator, with the file it came from."""

    gpu: DeviceParams
    dla: DeviceParams
    fuse_into_producer: frozenset[str]
    elided_ops: frozenset[str]
    dla_cbuf_weight_share: float
    transition: Mapping[str, float]  # gpu_fixed_us, gpu_gbps, dla_fixed_us, dla_gbps
    sources: Mapping[str, str]
    assumptions: Mapping[str, bool]
    digest: str
    path: str
    description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    # module -> {"gpu"/"dla": WholeModelFit}; "applies_to" maps other modules to a fit
    fitted: Mapping[str, Mapping[str, WholeModelFit]] = field(default_factory=dict)
    applies_to: Mapping[str, str] = field(default_factory=dict)

    def fit_module(self, module: str) -> str | None:
        """The module whose whole-model fit applies to ``module`` (itself, the one whose
        ``applies_to`` lists it, or None: the base parameters)."""
        if module in self.fitted:
            return module
        return self.applies_to.get(module)

    def for_target(self, module: str, precision: str) -> EstimatorParams:
        """These parameters with the whole-model fit of ``module`` (or of the module whose
        ``applies_to`` lists it) put in for ``precision``: tensor-op efficiency, memory
        efficiency, per-kernel overhead and invocation cost per device kind. A device kind
        (or a precision) the fit lacks keeps the base values."""
        src = self.fit_module(module)
        if src is None:
            return self
        out = self
        for kind, f in self.fitted[src].items():
            if precision not in f.tensor_efficiency:
                continue
            dev = self.device(kind)
            eff = dict(dev.compute_efficiency)
            for cls in ("conv", "deconv", "gemm"):
                eff[cls] = f.tensor_efficiency[precision]
            out = replace(out, **{kind: DeviceParams(
                compute_efficiency=eff, memory_efficiency=f.memory_efficiency,
                overhead_us=f.overhead_us, invocation_us=f.invocation_us)})
        return out

    @property
    def assumed(self) -> tuple[str, ...]:
        """Keys of the parameters that are assumptions (not fitted, not sourced)."""
        return tuple(k for k, v in sorted(self.assumptions.items()) if v)

    def device(self, kind: str) -> DeviceParams:
        return self.gpu if kind == "gpu" else self.dla

    def summary(self) -> dict[str, Any]:
        """The parameter values as plain data (written into the table metadata)."""
        def dev(p: DeviceParams) -> dict[str, Any]:
            return {"eff": {k: round(v, 6) for k, v in sorted(p.compute_efficiency.items())},
                    "mem_eff": round(p.memory_efficiency, 6),
                    "overhead_us": round(p.overhead_us, 6),
                    "invocation_us": round(p.invocation_us, 6)}
        return {"gpu": dev(self.gpu), "dla": dev(self.dla),
                "transition": {k: round(v, 6) for k, v in sorted(self.transition.items())},
                "cbuf_weight_share": self.dla_cbuf_weight_share}


# ---------------------------------------------------------------------- files
def _default_file(name: str) -> tuple[str, bytes]:
    ref = resources.files("profiles.estimate").joinpath(name)
    return f"profiles/estimate/{name}", ref.read_bytes()


def _read(path: str | Path | None, default: str) -> tuple[str, bytes, dict[str, Any]]:
    if path is None:
        where, raw = _default_file(default)
    else:
        where = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise EstimateError(f"cannot read ({exc.strerror})", source=where) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EstimateError(f"not a valid TOML file ({exc})", source=where) from exc
    return where, raw, data


def _figure(node: Any, where: str, key: str, *, number: bool = True) -> Figure:
    if not isinstance(node, Mapping) or "value" not in node or "source" not in node:
        raise EstimateError("every figure must be a table {value = ..., source = \"...\"}",
                            source=where, entry=key)
    value = node["value"]
    bad_number = isinstance(value, bool) or not isinstance(value, int | float) or \
        not math.isfinite(value) or value <= 0
    if number and bad_number:
        raise EstimateError(f"value must be a finite number > 0, got {value!r}",
                            source=where, entry=key)
    source = str(node["source"]).strip()
    if not source:
        raise EstimateError("empty source: say where the figure comes from (or mark it "
                            "assumption = true and say why)", source=where, entry=key)
    return Figure(value=value, source=source, assumption=bool(node.get("assumption", False)))


def platform_names(path: str | Path | None = None) -> list[str]:
    """Module names in the platforms file (aliases not included)."""
    _where, _raw, data = _read(path, "platforms.toml")
    return sorted(data.get("platforms", {}))


def platform_aliases(path: str | Path | None = None) -> dict[str, str]:
    """Alias -> module name (``[aliases]`` of the platforms file)."""
    _where, _raw, data = _read(path, "platforms.toml")
    return {str(k): str(v) for k, v in data.get("aliases", {}).items()}


def resolve_platform_name(name: str, path: str | Path | None = None) -> str:
    where, _raw, data = _read(path, "platforms.toml")
    key = name.strip().lower()
    aliases = data.get("aliases", {})
    key = aliases.get(key, key)
    if key not in data.get("platforms", {}):
        known = sorted([*data.get("platforms", {}), *aliases])
        raise EstimateError(f"unknown platform {name!r}; choose one of {', '.join(known)}",
                            source=where)
    return key


def load_platform(name: str, path: str | Path | None = None) -> PlatformSpec:
    """The spec of one module (``orin-agx`` means ``orin-agx-64``; see ``[aliases]``)."""
    where, raw, data = _read(path, "platforms.toml")
    if data.get("format") != PLATFORMS_FORMAT:
        raise EstimateError(f"format must be {PLATFORMS_FORMAT!r}", source=where, entry="format")
    key = resolve_platform_name(name, path)
    node = data["platforms"][key]
    figures: dict[str, Figure] = {}
    for scalar in ("dram_gbps", "gpu_clock_ghz", "dla_cbuf_kib", "dla_cores"):
        figures[scalar] = _figure(node.get(scalar), where, f"platforms.{key}.{scalar}")
    if "dla_atomic_c" in node:
        figures["dla_atomic_c"] = _figure(node["dla_atomic_c"], where,
                                          f"platforms.{key}.dla_atomic_c")
    figures["trt_version"] = _figure(node.get("trt_version"), where,
                                     f"platforms.{key}.trt_version", number=False)
    for table in ("gpu_cuda_tflops", "gpu_tensor_tflops"):
        for prec in PRECISIONS:
            sub = node.get(table, {})
            figures[f"{table}.{prec}"] = _figure(sub.get(prec), where,
                                                 f"platforms.{key}.{table}.{prec}")
    for prec, fig in node.get("dla_tflops_per_core", {}).items():
        if prec not in PRECISIONS:
            raise EstimateError(f"unknown precision {prec!r}", source=where,
                                entry=f"platforms.{key}.dla_tflops_per_core")
        figures[f"dla_tflops_per_core.{prec}"] = _figure(
            fig, where, f"platforms.{key}.dla_tflops_per_core.{prec}")
    for text in ("solver_platform", "checker_platform", "description"):
        if not isinstance(node.get(text), str) or not node[text].strip():
            raise EstimateError(f"missing {text}", source=where, entry=f"platforms.{key}")
    return PlatformSpec(name=key, description=node["description"],
                        solver_platform=node["solver_platform"],
                        checker_platform=node["checker_platform"], figures=figures,
                        digest=hashlib.sha256(raw).hexdigest(), path=where)


def load_params(path: str | Path | None = None) -> EstimatorParams:
    """The efficiency parameters (default: the fitted ``params.toml`` shipped here)."""
    where, raw, data = _read(path, "params.toml")
    if data.get("format") != PARAMS_FORMAT:
        raise EstimateError(f"format must be {PARAMS_FORMAT!r}", source=where, entry="format")
    sources: dict[str, str] = {}
    assumed: dict[str, bool] = {}

    def num(node: Any, key: str, *, at_most_one: bool = False) -> float:
        fig = _figure(node, where, key)
        value = float(fig.value)
        if at_most_one and value > 1:
            raise EstimateError(f"an efficiency is a fraction in (0, 1], got {value}",
                                source=where, entry=key)
        sources[key] = fig.source
        assumed[key] = fig.assumption
        return value

    devices = {}
    for kind in ("gpu", "dla"):
        node = data.get(kind)
        if not isinstance(node, Mapping):
            raise EstimateError(f"missing table [{kind}]", source=where, entry=kind)
        eff_node = node.get("compute_efficiency", {})
        missing = [c for c in OP_CLASSES if c not in eff_node]
        if missing:
            raise EstimateError(f"compute_efficiency lacks op class(es) {', '.join(missing)}",
                                source=where, entry=f"{kind}.compute_efficiency")
        eff = {c: num(eff_node[c], f"{kind}.compute_efficiency.{c}", at_most_one=True)
               for c in OP_CLASSES}
        devices[kind] = DeviceParams(
            compute_efficiency=eff,
            memory_efficiency=num(node.get("memory_efficiency"), f"{kind}.memory_efficiency",
                                  at_most_one=True),
            overhead_us=num(node.get("overhead_us"), f"{kind}.overhead_us"))
    fitted: dict[str, dict[str, WholeModelFit]] = {}
    applies: dict[str, str] = {}
    for module, node in (data.get("fitted") or {}).items():
        fitted[module] = {}
        for other in node.get("applies_to", []):
            applies[str(other)] = module
        for kind in ("gpu", "dla"):
            sub = node.get(kind)
            if sub is None:
                continue
            key = f"fitted.{module}.{kind}"
            effs = sub.get("tensor_efficiency", {})
            if not effs:
                raise EstimateError("a whole-model fit needs tensor_efficiency per precision",
                                    source=where, entry=key)
            fitted[module][kind] = WholeModelFit(
                tensor_efficiency={pr: num(v, f"{key}.tensor_efficiency.{pr}",
                                           at_most_one=True) for pr, v in effs.items()},
                memory_efficiency=num(sub.get("memory_efficiency"),
                                      f"{key}.memory_efficiency", at_most_one=True),
                overhead_us=num(sub.get("overhead_us"), f"{key}.overhead_us"),
                invocation_us=num(sub.get("invocation_us"), f"{key}.invocation_us"))
    fusion = data.get("fusion", {})
    trans_node = data.get("transition", {})
    transition = {k: num(trans_node.get(k), f"transition.{k}")
                  for k in ("gpu_fixed_us", "gpu_gbps", "dla_fixed_us", "dla_gbps")}
    share = num(data.get("dla", {}).get("cbuf_weight_share"), "dla.cbuf_weight_share",
                at_most_one=True)
    return EstimatorParams(
        gpu=devices["gpu"], dla=devices["dla"],
        fuse_into_producer=frozenset(str(x) for x in fusion.get("into_producer", [])),
        elided_ops=frozenset(str(x) for x in fusion.get("elided", [])),
        dla_cbuf_weight_share=share, transition=transition, sources=sources,
        assumptions=assumed,
        digest=hashlib.sha256(raw).hexdigest(), path=where,
        description=str(data.get("description", "")), raw=data, fitted=fitted,
        applies_to=applies)


__all__ = [
    "DeviceParams",
    "EstimatorParams",
    "Figure",
    "PlatformSpec",
    "WholeModelFit",
    "load_params",
    "load_platform",
    "platform_names",
    "resolve_platform_name",
]

"""What a platform name means: the one registry every command reads.

A name is a Jetson module (``orin-agx-64``, ``orin-nx-8``, ...), an alias of one
(``orin-agx`` = ``orin-agx-64``, ``orin-nx`` = ``orin-nx-16``, ``xavier`` = ``xavier-agx``;
``[aliases]`` in ``profiles/estimate/platforms.toml``), or ``gpu-only`` (the baseline
platform, no DLA). The module's figures (DLA cores, DRAM, TensorRT version) come from
``platforms.toml``, where each figure carries its source. The other fields are derived here:

- ``jetpack``: the JetPack release that ships ``trt_version`` (`JETPACK_OF_TRT`, with sources);
- ``power_mode``: always ``MAXN``. The spec figures are the modules' maximum clocks, and no
  other power mode is modelled. A measured table taken at another mode says so in its
  metadata, and `disagreement` reports the difference;
- ``family``: the solver's contention preset and the DLA checker's rule set. Modules of
  one family share both.

`solvers.model.problem.PLATFORMS`, the estimator and the CLI's ``--platform`` all resolve
names here, so ``estimate``, ``solve``, ``dla``, ``rewrite`` and ``export`` accept the same
names and agree on what each name means.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

GPU_ONLY = "gpu-only"
POWER_MODE = "MAXN"

JETPACK_OF_TRT: dict[str, str] = {
    "8.5.2": "5.1.1",
    "8.6.2": "6.0",
    "10.3": "6.1/6.2",
    "11.4.1": "7.2.2+",
}
"""JetPack release that ships a TensorRT version on Jetson. Sources:
NVIDIA/Deep-Learning-Accelerator-SW ``operators/README.md`` (JetPack 5.1.1 = DLA 3.12.1 +
TRT 8.5.2; JetPack 6 = DLA 3.14.1 + TRT 8.6.2); pytorch/TensorRT ``docsrc/getting_started/
jetpack.rst`` (JetPack 6.1/6.2 = TRT 10.3); TensorRT 11.4.1 "Working with DLA" (DLA on AGX
Orin under JetPack >= 7.2.2)."""


@dataclass(frozen=True)
class PlatformInfo:
    """One platform name, resolved. ``name`` is the canonical module name."""

    name: str
    family: str
    description: str
    dla_cores: int
    trt_version: str | None
    dram_gbps: float | None
    power_mode: str = POWER_MODE

    @property
    def jetpack(self) -> str | None:
        return JETPACK_OF_TRT.get(self.trt_version or "")

    def summary(self) -> dict[str, object]:
        """JSON form (`layerswap platforms --json`, table metadata checks)."""
        return {"name": self.name, "family": self.family, "description": self.description,
                "dla_cores": self.dla_cores, "trt_version": self.trt_version,
                "jetpack": self.jetpack, "power_mode": self.power_mode,
                "dram_gbps": self.dram_gbps}


class UnknownPlatform(ValueError):
    """A name no module, alias or ``gpu-only`` answers to; the message lists the known ones."""


@cache
def _registry() -> tuple[dict[str, PlatformInfo], dict[str, str]]:
    from profiles.estimate.specs import load_platform, platform_aliases, platform_names

    modules: dict[str, PlatformInfo] = {
        GPU_ONLY: PlatformInfo(GPU_ONLY, GPU_ONLY, "GPU only (no DLA): the baseline platform",
                               0, None, None)}
    for key in platform_names():
        spec = load_platform(key)
        modules[key] = PlatformInfo(
            name=key, family=spec.solver_platform, description=spec.description,
            dla_cores=int(spec.dla_cores), trt_version=str(spec.trt_version),
            dram_gbps=float(spec.dram_gbps))
    return modules, dict(platform_aliases())


def names() -> list[str]:
    """Every accepted name: the modules, their aliases and ``gpu-only``."""
    modules, aliases = _registry()
    return sorted({*modules, *aliases})


def resolve(name: str) -> PlatformInfo:
    """The module behind ``name`` (case and surrounding spaces ignored)."""
    modules, aliases = _registry()
    key = name.strip().lower()
    key = aliases.get(key, key)
    if key not in modules:
        raise UnknownPlatform(f"unknown platform {name!r}; choose one of {', '.join(names())}")
    return modules[key]


def short_name(name: str) -> str:
    """The name tables and reports use for a module: its family's name where that name
    means this module (``orin-agx`` for ``orin-agx-64``, ``xavier-agx``), else the module
    name (``orin-agx-32``, ``orin-nx-8``)."""
    info = resolve(name)
    return info.family if known(info.family) and resolve(info.family) == info else info.name


def known(name: str) -> bool:
    try:
        resolve(name)
    except UnknownPlatform:
        return False
    return True


def disagreement(table_platform: str, command_platform: str) -> str | None:
    """Why a table made for ``table_platform`` does not fit a command run for
    ``command_platform`` (None when they are the same hardware, or the table names no
    known module). Names of one module agree (``orin-agx`` and ``orin-agx-64``)."""
    if not table_platform.strip() or not known(table_platform):
        return None
    table, command = resolve(table_platform), resolve(command_platform)
    if table.name == command.name or command.name == GPU_ONLY:
        return None
    diffs = []
    if table.dla_cores != command.dla_cores:
        diffs.append(f"{table.dla_cores} vs {command.dla_cores} DLA cores")
    if table.trt_version != command.trt_version:
        diffs.append(f"TensorRT {table.trt_version} vs {command.trt_version}")
    if table.family != command.family:
        diffs.append(f"{table.family} vs {command.family} hardware")
    detail = f" ({', '.join(diffs)})" if diffs else " (another module of the same family)"
    return f"table made for {table.name}, command runs for {command.name}{detail}"


FALLBACK_TRT_VERSION = "10.3"
"""TensorRT assumed for a platform that names none (``gpu-only``, an unknown table platform):
the TensorRT of JetPack 6.1/6.2."""


def default_trt_version(name: str) -> str:
    """The TensorRT a command targets on ``name`` when ``--trt-version`` is not given."""
    info = resolve(name) if known(name) else None
    return (info.trt_version if info else None) or FALLBACK_TRT_VERSION

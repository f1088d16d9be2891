"""Reader of trtexec / TensorRT build logs: which layers run on DLA vs GPU and why.

Placement listings (trtexec_formats.md 8.2; matched case-insensitively on
``Layers running on (DLA|GPU)``):

- TRT 7.x: the header, then ONE comma-separated line; DLA subgraphs are ``{a,b,c}``.
- TRT 8.2: one ``[DlaLayer] name`` / ``[GpuLayer] name`` line per engine layer.
- TRT 8.4+: GPU lines carry a type: ``[GpuLayer] SHUFFLE: name``.
- ``No layer is running on GPU`` (DRIVE) gives an empty list.

Every DLA entry is one DLA subgraph, i.e. one DLA loadable on the core the engine was built
for (``--useDLACore=N`` on the command line or ``DLACore: N`` in the options), which is what
`BuildLog.loadables_per_core` counts. Fallback / partition warnings (8.3) are collected with
their reason; ``DLA supports only N subgraphs per DLA core`` lines become
`SubgraphLimitHit` s. The version comes from the RUNNING line (``[TensorRT v8502]``), the
``TensorRT version:`` line, or is ``7.x`` when the RUNNING line has no version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from profiles.errors import ProfileError
from profiles.trtexec.common import (
    LogLine,
    PathLike,
    TrtVersion,
    check_text,
    detect_version,
    load_text,
    short,
    split_log,
)
from profiles.trtexec.names import split_top_level

_WHAT = "trtexec build log"
_SECTION = re.compile(r"^-{3,}\s*Layers running on (?P<dev>DLA|GPU)\s*(?:-+|:)?\s*$",
                      re.IGNORECASE)
_MEMBER = re.compile(r"^\[(?P<dev>Dla|Gpu)Layer\]\s+(?P<rest>.*?),?\s*$")
_TYPED = re.compile(r"^(?P<type>[A-Z][A-Z0-9_]*): (?P<name>.+)$")
_NO_LAYER = re.compile(r"^No layer is running on (?:DLA|GPU)\s*$", re.IGNORECASE)
_USE_DLA = re.compile(r"--useDLACore[= ](?P<n>\d+)")
_DLA_CORE_OPT = re.compile(r"^DLACore: (?P<n>\d+)")
_SUBGRAPH_LIMIT = re.compile(
    r"DLA supports only (?P<n>\d+) subgraphs per DLA core\. Switching to GPU for layer "
    r"(?P<layer>.+?)\.?\s*$")
_SPLIT = re.compile(r"Splitting DLA subgraph at: (?P<layer>.+?) because (?P<reason>.+?)\.?\s*$")
_OFFLOADED = re.compile(r"^(?P<name>.+?) successfully offloaded to DLA\.?\s*$")
_CANDIDATES = re.compile(r"Number of DLA node candidates offloaded\s*:\s*(?P<a>\d+) out of "
                         r"(?P<b>\d+)")
_RUNNER = re.compile(r"^-+ Timing Runner: (?P<name>.+) \((?P<runner>[A-Za-z0-9_]+)\)\s*$")
_FALLBACKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^Layer '(?P<layer>.+)' \((?P<type>[A-Za-z0-9_]+)\): (?P<why>Unsupported on "
                r"DLA)\. Switching this layer's device type to GPU\.?$"), "unsupported on DLA"),
    (re.compile(r"^Validation failed for DLA layer: (?P<layer>.+?)\. Switching to GPU "
                r"fallback\.?$"), "DLA validation failed"),
    (re.compile(r"^Default DLA is enabled but layer (?P<layer>.+?) is not (?:running|supported) "
                r"on DLA, falling back to GPU\.?$"), "not supported on DLA"),
    (re.compile(r"^DLA only supports FP16 and Int8 precision type\. Switching (?P<layer>.+?) "
                r"device type to GPU\.?$"), "DLA only supports FP16 and Int8"),
    (re.compile(r"^DLA Layer (?P<layer>.+?) does not support dynamic shapes in any "
                r"dimension\.?$"), "dynamic shapes are not supported on DLA"),
    (re.compile(r"^DLA LAYER: Batch size .* for layer (?P<layer>.+?) exceeds max batch size "
                r"allowed of \d+\.?$"), "batch size exceeds the DLA maximum"),
    (re.compile(r"^(?P<layer>\S.*?): (?P<why>Concatenation on DLA requires at least two "
                r"inputs)\.?$"), ""),
    (re.compile(r"^(?P<layer>\S.*?): (?P<why>DLA (?:only supports|does not support) .+?)\.?$"),
     ""),
    (re.compile(r"^(?P<why>This version of DLA does not support .+?)\.?$"), ""),
    (re.compile(r"^(?P<why>setDefaultDeviceType was called but no layer in the network can run "
                r"on DLA)\.?$"), ""),
)


@dataclass(frozen=True)
class Fallback:
    """A layer TensorRT moved to the GPU (``layer`` None for network-wide notes)."""

    layer: str | None
    reason: str
    line: int


@dataclass(frozen=True)
class SubgraphLimitHit:
    """``DLA supports only N subgraphs per DLA core. Switching to GPU for layer X``."""

    limit: int
    layer: str
    line: int


@dataclass(frozen=True)
class BuildLog:
    """What a build log says about DLA/GPU placement.

    ``dla_layers``/``gpu_layers``: engine layer names in listing order. ``format``:
    ``'7.x'``, ``'8.2'``, ``'8.4+'``, ``'8.2+'`` (only untyped DLA lines) or None when no
    placement listing was printed (x86 builds print none).
    ``runners``: verbose ``Timing Runner: X (DLA|Myelin|...)``.
    """

    path: str
    trt_version: TrtVersion | None
    version_hint: str | None
    format: str | None
    dla_layers: tuple[str, ...]
    gpu_layers: tuple[str, ...]
    gpu_layer_types: dict[str, str] = field(default_factory=dict)
    fallbacks: tuple[Fallback, ...] = ()
    splits: tuple[Fallback, ...] = ()
    subgraph_limit_hits: tuple[SubgraphLimitHit, ...] = ()
    dla_core: int | None = None
    offloaded: tuple[str, ...] = ()
    dla_candidates: tuple[int, int] | None = None
    runners: dict[str, str] = field(default_factory=dict)

    @property
    def loadables_per_core(self) -> dict[int, int]:
        """DLA subgraphs (loadables) of this engine per DLA core (core -1 when unknown)."""
        if not self.dla_layers:
            return {}
        return {self.dla_core if self.dla_core is not None else -1: len(self.dla_layers)}

    @property
    def dla_subgraph_count(self) -> int:
        return len(self.dla_layers)

    @property
    def fallback_pairs(self) -> list[tuple[str | None, str]]:
        return [(f.layer, f.reason) for f in self.fallbacks]

    def device_of(self, engine_layer: str) -> str | None:
        """``'DLA'``/``'GPU'`` from the listing or a timing runner; None when unknown."""
        if engine_layer in self.dla_layers:
            return "DLA"
        if engine_layer in self.gpu_layers:
            return "GPU"
        runner = self.runners.get(engine_layer)
        if runner is None:
            return None
        return "DLA" if runner == "DLA" else "GPU"


def _trt7_members(text: str) -> list[str]:
    return [p.strip() for p in split_top_level(text, (",",)) if p.strip()]


def _read_section(lines: list[LogLine], i: int, device: str, source: str,
                  ) -> tuple[list[str], dict[str, str], str | None, int]:
    """Members of the section whose header is ``lines[i]``; returns the next index."""
    names: list[str] = []
    types: dict[str, str] = {}
    fmt: str | None = None
    j = i + 1
    while j < len(lines) and not lines[j].text.strip():
        j += 1
    if j >= len(lines):
        raise ProfileError(f"the 'Layers running on {device}' listing is cut off (truncated log)",
                           source=source, entry=f"line {lines[i].number}")
    first = lines[j].text.strip()
    if _NO_LAYER.match(first):
        return names, types, None, j + 1
    if _SECTION.match(first):
        return names, types, None, j
    if not _MEMBER.match(first):
        fmt = "7.x"
        names.extend(_trt7_members(first))
        return names, types, fmt, j + 1
    while j < len(lines):
        m = _MEMBER.match(lines[j].text.strip())
        if not m:
            break
        if m.group("dev").upper() != device:
            raise ProfileError(
                f"a [{m.group('dev')}Layer] entry inside the 'Layers running on {device}' "
                "listing; the log is mixed up", source=source, entry=f"line {lines[j].number}")
        rest = m.group("rest").strip()
        typed = _TYPED.match(rest)
        if typed and not rest.startswith("{"):
            fmt = "8.4+"
            names.append(typed.group("name"))
            types[typed.group("name")] = typed.group("type")
        else:
            names.append(rest)
        if not rest:
            raise ProfileError("empty layer entry", source=source, entry=f"line {lines[j].number}")
        j += 1
    if fmt is None and names:
        fmt = "8.2+" if device == "DLA" else "8.2"  # DLA lines are untyped in 8.2 and 8.4+
    return names, types, fmt, j


def parse_build_log(text: str, *, source: str = "<text>") -> BuildLog:
    """Parse a build log given as text."""
    check_text(text, source=source, what=_WHAT)
    lines = split_log(text)
    version, hint = detect_version([ln.raw for ln in lines])
    dla: list[str] = []
    gpu: list[str] = []
    types: dict[str, str] = {}
    formats: list[str] = []
    fallbacks: list[Fallback] = []
    splits: list[Fallback] = []
    limits: list[SubgraphLimitHit] = []
    offloaded: list[str] = []
    runners: dict[str, str] = {}
    candidates: tuple[int, int] | None = None
    core: int | None = None
    recognised = version is not None or hint is not None
    i = 0
    while i < len(lines):
        ln = lines[i]
        text_i = ln.text.strip()
        sec = _SECTION.match(text_i)
        if sec:
            recognised = True
            device = sec.group("dev").upper()
            names, t, fmt, i = _read_section(lines, i, device, source)
            (dla if device == "DLA" else gpu).extend(names)
            types.update(t)
            if fmt:
                formats.append(fmt)
            continue
        i += 1
        if core is None:
            m = _USE_DLA.search(ln.raw) if "&&&& RUNNING" in ln.raw else None
            m = m or _DLA_CORE_OPT.match(text_i)
            if m:
                core = int(m.group("n"))
        if "DLA" not in text_i and "Timing Runner" not in text_i:
            continue
        recognised = True
        if m := _SUBGRAPH_LIMIT.search(text_i):
            limits.append(SubgraphLimitHit(int(m.group("n")), m.group("layer"), ln.number))
            continue
        if m := _SPLIT.search(text_i):
            splits.append(Fallback(m.group("layer"), m.group("reason"), ln.number))
            continue
        if m := _OFFLOADED.match(text_i):
            offloaded.append(m.group("name"))
            continue
        if m := _CANDIDATES.search(text_i):
            candidates = (int(m.group("a")), int(m.group("b")))
            continue
        if m := _RUNNER.match(text_i):
            runners[m.group("name")] = m.group("runner")
            continue
        for pattern, reason in _FALLBACKS:
            m = pattern.match(text_i)
            if m:
                groups = m.groupdict()
                why = reason or groups.get("why") or text_i
                if groups.get("type"):
                    why = f"{why} ({groups['type']})"
                fallbacks.append(Fallback(groups.get("layer"), why, ln.number))
                break
    if not recognised:
        raise ProfileError(
            "no TensorRT build output found (no '&&&& RUNNING TensorRT.trtexec' line, no "
            "'Layers running on DLA/GPU' listing, no DLA message); pass the full trtexec log",
            source=source, entry="RUNNING line")
    fmt_out = next((f for f in ("7.x", "8.4+", "8.2", "8.2+") if f in formats), None)
    return BuildLog(source, version, hint, fmt_out, tuple(dla), tuple(gpu), types,
                    tuple(fallbacks), tuple(splits), tuple(limits), core, tuple(offloaded),
                    candidates, runners)


def read_build_log(path: PathLike) -> BuildLog:
    """Read a trtexec build log (INFO or verbose)."""
    text, source = load_text(path, what=_WHAT)
    return parse_build_log(text, source=source)


def describe(log: BuildLog) -> str:
    """One line for reports: counts of DLA/GPU layers and fallbacks."""
    return (f"{short(log.path, 60)}: TRT {log.trt_version or log.version_hint or '?'}, "
            f"{len(log.dla_layers)} DLA subgraph(s), {len(log.gpu_layers)} GPU layer(s), "
            f"{len(log.fallbacks)} fallback(s), {len(log.subgraph_limit_hits)} subgraph-limit "
            "hit(s)")


__all__ = [
    "BuildLog",
    "Fallback",
    "SubgraphLimitHit",
    "describe",
    "parse_build_log",
    "read_build_log",
]

"""The sweep specification: a TOML file naming the models, the model groups and the axes.

::

    name = "two-boards"                       # optional; kept with the results

    [models]                                  # name = source
    googlenet = "googlenet_xavier"            # a stored table (`layerswap tables`)
    detector = "examples/detector.csv"        # a cost-table CSV (relative to the spec)
    gan = "models/gan.onnx"                   # an ONNX file, estimated per platform
    resnet50 = "zoo:resnet50"                 # a zoo model (export.zoo), estimated
    alexnet = { xavier-agx = "alexnet_xavier" }   # per platform: absent elsewhere

    [groups]                                  # which model sets to solve together
    size = [2]                                # every pair (3: every triple)
    sets = [["googlenet", "gan", "detector"]] # and explicit sets

    [axes]                                    # every combination is one point
    platforms = ["xavier-agx", "orin-agx"]    # any `layerswap platforms` name: orin-nx-8 ...
    precision = ["fp16"]                      # fp16 | int8 | fp32 (estimated models)
    objectives = ["latency", "throughput"]
    max_transitions = [1, 2, 3]
    contention = ["off", "on"]                # on: the platform preset (needs bandwidth)
    variants = ["original", "rewritten"]      # rewritten: export.rewrite's exact passes
    solvers = ["cpsat"]
    time_limits = [10]                        # seconds per solve

    [settings]
    threads = 1              # solver threads per task (the pool runs one task per core)
    frames_per_round = 1     # throughput: frames per round
    groups = 8               # layer groups of an estimated table (default: estimator's)
    max_crossing = 1         # tensors an estimated table's cut may hand over

Parsing only checks the file's shape (known keys, types, names); `points.expand` then
resolves the models and reports entries that cannot make a point (a table made for
another platform, an empty cross product). Every error names the file and the entry.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiles.errors import LayerswapError

SPEC_FORMAT = 1

AXES: dict[str, tuple[Any, ...]] = {
    "platforms": ("xavier-agx",),
    "precision": ("fp16",),
    "objectives": ("latency",),
    "max_transitions": (2,),
    "contention": ("off",),
    "variants": ("original",),
    "solvers": ("cpsat",),
    "time_limits": (10.0,),
}
"""Every axis a spec may name, with its default when the spec leaves it out."""

AXIS_HINTS = {
    "power_modes": "cost tables are made at MAXN only (the estimator's figures are each "
                   "module's maximum clocks, `layerswap platforms`; its fit knows AGX Orin "
                   "64GB's per-mode peaks but cannot yet estimate a table at another mode), "
                   "so there is no power-mode axis; sweep the module variants instead, e.g. "
                   "platforms = [\"orin-agx-64\", \"orin-agx-32\", \"orin-nx-16\", "
                   "\"orin-nx-8\"]",
}
AXIS_HINTS["power_mode"] = AXIS_HINTS["power_modes"]

PRECISIONS = ("fp16", "int8", "fp32")
OBJECTIVES = ("latency", "throughput")
CONTENTION = ("off", "on")
VARIANTS = ("original", "rewritten")
SOLVERS = ("cpsat", "sat", "ilp", "exhaustive")
GROUP_SIZES = (2, 3)
SETTINGS: dict[str, Any] = {"threads": 1, "frames_per_round": 1, "groups": None,
                            "max_crossing": 1}
TOP_LEVEL = ("name", "format", "models", "groups", "axes", "settings")


class SpecError(LayerswapError):
    """A sweep spec that cannot be run: names the file and the entry at fault."""

    def __init__(self, source: str, entry: str, message: str) -> None:
        self.source = source
        self.entry = entry
        super().__init__(f"{source}: {entry}: {message}")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed spec. ``models`` maps a model name to its source: one string for every
    platform, or a ``{platform: source}`` mapping; ``base`` is the folder relative paths
    are read from; ``text`` the file itself (its digest identifies the sweep)."""

    path: str
    name: str
    models: dict[str, str | dict[str, str]]
    sizes: tuple[int, ...]
    sets: tuple[tuple[str, ...], ...]
    axes: dict[str, tuple[Any, ...]]
    settings: dict[str, Any]
    base: Path
    text: str = field(repr=False)

    @property
    def digest(self) -> str:
        """SHA-256 of the spec's parsed content (whitespace and comments do not count)."""
        doc = {"name": self.name, "models": self.models, "sizes": self.sizes,
               "sets": self.sets, "axes": self.axes, "settings": self.settings}
        return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()
                              ).hexdigest()


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep spec (`SpecError` names the file and entry at fault)."""
    p = Path(path)
    where = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(where, "file", f"cannot read the spec ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(where, "TOML", f"{exc}; see `layerswap sweep --help` for the "
                                       "format") from exc
    return parse_spec(data, where, p.resolve().parent, text)


def parse_spec(data: dict[str, Any], where: str, base: Path, text: str = "") -> SweepSpec:
    """`load_spec` on an already parsed TOML document."""
    _known(data, TOP_LEVEL, where, "top level", "key")
    if data.get("format", SPEC_FORMAT) != SPEC_FORMAT:
        raise SpecError(where, "format", f"this layerswap reads spec format {SPEC_FORMAT}, "
                                         f"not {data.get('format')!r}")
    name = data.get("name", Path(where).stem)
    if not isinstance(name, str) or not name:
        raise SpecError(where, "name", "must be a non-empty string")
    models = _models(data.get("models"), where)
    sizes, sets = _groups(data.get("groups", {"size": [2]}), models, where)
    axes = _axes(data.get("axes", {}), where)
    settings = _settings(data.get("settings", {}), where)
    return SweepSpec(where, name, models, sizes, sets, axes, settings, base, text)


def _known(table: Any, keys: tuple[str, ...], where: str, entry: str, kind: str,
           hints: dict[str, str] | None = None) -> None:
    if not isinstance(table, dict):
        raise SpecError(where, entry, f"must be a table, not {type(table).__name__}")
    for key in table:
        if key not in keys:
            hint = (hints or {}).get(key)
            raise SpecError(where, f"{entry}.{key}" if entry != "top level" else key,
                            f"unknown {kind} {key!r}; "
                            + (hint if hint else f"known: {', '.join(keys)}"))


def _models(raw: Any, where: str) -> dict[str, str | dict[str, str]]:
    if raw is None:
        raise SpecError(where, "[models]", "missing; name each model and its source, e.g. "
                                           "googlenet = \"googlenet_xavier\"")
    if not isinstance(raw, dict) or not raw:
        raise SpecError(where, "[models]", "must be a table of name = source, not empty")
    out: dict[str, str | dict[str, str]] = {}
    for name, source in raw.items():
        entry = f"models.{name}"
        if any(c in name for c in "+:=,# "):
            raise SpecError(where, entry, "a model name may not contain '+', ':', '=', ',', "
                                          "'#' or spaces")
        if isinstance(source, str) and source:
            out[name] = source
        elif isinstance(source, dict) and source and all(
                isinstance(v, str) and v for v in source.values()):
            out[name] = {str(k).lower(): v for k, v in source.items()}
        else:
            raise SpecError(where, entry, "must be a source (stored table name, CSV path, "
                                          "ONNX path or zoo:NAME) or a table of platform = "
                                          "source")
    return out


def _groups(raw: Any, models: dict[str, Any], where: str
            ) -> tuple[tuple[int, ...], tuple[tuple[str, ...], ...]]:
    _known(raw, ("size", "sets"), where, "groups", "key")
    size = raw.get("size", [])
    sizes = [size] if isinstance(size, int) else size
    if not isinstance(sizes, list) or any(
            isinstance(s, bool) or s not in GROUP_SIZES for s in sizes):
        raise SpecError(where, "groups.size", f"must be 2, 3 or a list of them, not {size!r}")
    sets_raw = raw.get("sets", [])
    if not isinstance(sets_raw, list):
        raise SpecError(where, "groups.sets", "must be a list of model-name lists")
    sets: list[tuple[str, ...]] = []
    for i, members in enumerate(sets_raw):
        entry = f"groups.sets[{i}]"
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise SpecError(where, entry, "must be a list of model names")
        unknown = [m for m in members if m not in models]
        if unknown:
            raise SpecError(where, entry, f"unknown model {unknown[0]!r}; [models] names "
                                          f"{', '.join(models)}")
        if len(set(members)) != len(members) or not 1 <= len(members) <= 4:
            raise SpecError(where, entry, "must name 1 to 4 different models")
        sets.append(tuple(members))
    if not sizes and not sets:
        raise SpecError(where, "groups", "names no model set: give size = 2 (every pair), "
                                         "3 (every triple) or sets = [[...], ...]")
    for s in sizes:
        if s > len(models):
            raise SpecError(where, "groups.size", f"size {s} needs at least {s} models; "
                                                  f"[models] has {len(models)}")
    return tuple(sorted(set(sizes))), tuple(sets)


def _axes(raw: Any, where: str) -> dict[str, tuple[Any, ...]]:
    _known(raw, tuple(AXES), where, "axes", "axis", AXIS_HINTS)
    out: dict[str, tuple[Any, ...]] = {}
    for axis, default in AXES.items():
        values = raw.get(axis, list(default))
        values = values if isinstance(values, list) else [values]
        entry = f"axes.{axis}"
        if not values:
            raise SpecError(where, entry, "is empty: the cross product has no point; give at "
                                          "least one value or leave the axis out")
        checked = [_axis_value(axis, v, where, entry) for v in values]
        if len(set(checked)) != len(checked):
            raise SpecError(where, entry, f"repeats a value: {values}")
        out[axis] = tuple(checked)
    return out


def _axis_value(axis: str, value: Any, where: str, entry: str) -> Any:
    choices = {"precision": PRECISIONS, "objectives": OBJECTIVES, "variants": VARIANTS,
               "solvers": SOLVERS}
    if axis in choices:
        if value not in choices[axis]:
            raise SpecError(where, entry, f"unknown value {value!r}; choose from "
                                          f"{', '.join(choices[axis])}")
        return value
    if axis == "platforms":
        from profiles.platforms import UnknownPlatform, resolve

        try:
            resolve(str(value))
        except UnknownPlatform as exc:
            raise SpecError(where, entry, str(exc)) from None
        return str(value).strip().lower()
    if axis == "contention":
        if isinstance(value, bool):
            return "on" if value else "off"
        if value not in CONTENTION:
            raise SpecError(where, entry, f"unknown value {value!r}; choose on or off")
        return value
    if axis == "max_transitions":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SpecError(where, entry, f"{value!r} is not an integer >= 0")
        return value
    # time_limits
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SpecError(where, entry, f"{value!r} is not a number of seconds > 0")
    return float(value)


def _settings(raw: Any, where: str) -> dict[str, Any]:
    _known(raw, tuple(SETTINGS), where, "settings", "setting")
    out = dict(SETTINGS)
    for key, value in raw.items():
        low = 1
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise SpecError(where, f"settings.{key}", f"{value!r} is not an integer >= {low}")
        out[key] = value
    return out


__all__ = ["AXES", "SpecError", "SweepSpec", "load_spec", "parse_spec"]

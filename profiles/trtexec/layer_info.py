"""Reader of ``trtexec --exportLayerInfo`` JSON (engine inspector output, TRT >= 8.2).

``{"Layers": [...], "Bindings": [...]}`` where ``Layers`` is a list of names (default
``layer_names_only`` verbosity) or of dicts (engine built with
``--profilingVerbosity=detailed``). TRT 10 dicts carry ``Metadata``: the ONNX nodes merged
into the layer, ``[ONNX Layer: X]`` items separated by U+001E or U+001F
(trtexec_formats.md section 5). ``Bindings`` may be absent in old files.

Layer names equal the profile names of the same engine; `check_profile_matches` joins the
two and raises `ProfileError` on the first name that does not match. Repeated layer names
get TREx's ``_2``, ``_3`` suffixes in ``keys``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from profiles.errors import ProfileError
from profiles.trtexec.common import PathLike, check_text, load_text, short

_WHAT = "trtexec --exportLayerInfo file"
_ONNX_ITEM = re.compile(r"^\[ONNX Layer: (?P<name>.*)\]$", re.DOTALL)


@dataclass(frozen=True)
class TensorInfo:
    """An input/output tensor of a detailed layer."""

    name: str
    dimensions: tuple[int, ...] | None = None
    format: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class LayerInfoEntry:
    """One engine layer. Only ``name`` is known for names-only files."""

    name: str
    key: str
    layer_type: str | None = None
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    onnx_layers: tuple[str, ...] = ()
    tactic: str | None = None
    stream_id: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_noop(self) -> bool:
        return self.layer_type == "NoOp"


@dataclass(frozen=True)
class LayerInfo:
    """A parsed ``--exportLayerInfo`` file; ``detailed`` is False for names-only files."""

    path: str
    detailed: bool
    layers: tuple[LayerInfoEntry, ...]
    bindings: tuple[str, ...] | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def by_name(self) -> dict[str, LayerInfoEntry]:
        """First entry of each name."""
        out: dict[str, LayerInfoEntry] = {}
        for layer in self.layers:
            out.setdefault(layer.name, layer)
        return out

    def __len__(self) -> int:
        return len(self.layers)


def split_metadata(text: str) -> tuple[str, ...]:
    """ONNX node names from a TRT 10 ``Metadata`` string (``\\x1e``/``\\x1f`` separated)."""
    out: list[str] = []
    for item in re.split(r"[\x1e\x1f]", text):
        item = item.strip()
        if not item:
            continue
        m = _ONNX_ITEM.match(item)
        out.append(m.group("name") if m else item)
    return tuple(out)


def _tensors(value: Any, source: str, entry: str, key: str) -> tuple[TensorInfo, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProfileError(f"'{key}' must be a list of tensors", source=source, entry=entry)
    out = []
    for j, t in enumerate(value):
        if not isinstance(t, dict) or not isinstance(t.get("Name"), str):
            raise ProfileError(f"'{key}'[{j}] must be an object with a 'Name' string",
                               source=source, entry=entry)
        dims = t.get("Dimensions")
        dims_t: tuple[int, ...] | None = None
        if isinstance(dims, list) and all(isinstance(d, int) and not isinstance(d, bool)
                                          for d in dims):
            dims_t = tuple(dims)
        fmt = t.get("Format/Datatype")
        loc = t.get("Location")
        out.append(TensorInfo(t["Name"], dims_t, fmt if isinstance(fmt, str) else None,
                              loc if isinstance(loc, str) else None))
    return tuple(out)


def _assign_keys(names: Sequence[str]) -> list[str]:
    taken = set(names)
    seen: dict[str, int] = {}
    keys = []
    for name in names:
        n = seen.get(name, 0) + 1
        seen[name] = n
        if n == 1:
            keys.append(name)
            continue
        key = f"{name}_{n}"
        while key in taken:
            n += 1
            key = f"{name}_{n}"
        seen[name] = n
        taken.add(key)
        keys.append(key)
    return keys


def parse_layer_info(text: str, *, source: str = "<text>") -> LayerInfo:
    """Parse the text of an ``--exportLayerInfo`` file."""
    check_text(text, source=source, what=_WHAT)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        lineno = getattr(exc, "lineno", None)
        raise ProfileError(
            f"not valid JSON ({getattr(exc, 'msg', 'nested too deeply')}); the file is truncated"
            " or was written by a TRT 9 build with broken kgen layers: re-export it",
            source=source, entry=f"line {lineno}" if lineno else None) from None
    if not isinstance(data, dict) or "Layers" not in data:
        raise ProfileError(
            "expected an object with a 'Layers' list (trtexec --exportLayerInfo)",
            source=source, entry="top level")
    layers_raw = data["Layers"]
    if not isinstance(layers_raw, list) or not layers_raw:
        raise ProfileError("'Layers' must be a non-empty list", source=source, entry="Layers")
    detailed = isinstance(layers_raw[0], dict)
    names: list[str] = []
    for i, item in enumerate(layers_raw):
        entry = f"Layers[{i}]"
        if detailed:
            if not isinstance(item, dict):
                raise ProfileError("mixes layer names and layer objects; re-export the file",
                                   source=source, entry=entry)
            name = item.get("Name")
        else:
            name = item
        if not isinstance(name, str) or not name.strip():
            raise ProfileError(f"layer name must be a non-empty string, found {short(repr(name))}",
                               source=source, entry=entry)
        names.append(name)
    keys = _assign_keys(names)
    entries: list[LayerInfoEntry] = []
    for i, (item, name, key) in enumerate(zip(layers_raw, names, keys, strict=True)):
        if not detailed:
            entries.append(LayerInfoEntry(name, key))
            continue
        entry = f"Layers[{i}] ({short(name)})"
        meta = item.get("Metadata")
        if meta is not None and not isinstance(meta, str):
            raise ProfileError("'Metadata' must be a string", source=source, entry=entry)
        ltype = item.get("LayerType")
        if ltype is not None and not isinstance(ltype, str):
            raise ProfileError("'LayerType' must be a string", source=source, entry=entry)
        stream = item.get("StreamId")
        tactic = item.get("TacticValue", item.get("TacticName"))
        entries.append(LayerInfoEntry(
            name, key, ltype, _tensors(item.get("Inputs"), source, entry, "Inputs"),
            _tensors(item.get("Outputs"), source, entry, "Outputs"),
            split_metadata(meta) if meta else (),
            tactic if isinstance(tactic, str) else None,
            stream if isinstance(stream, int) and not isinstance(stream, bool) else None,
            item))
    bindings_raw = data.get("Bindings")
    bindings: tuple[str, ...] | None = None
    if bindings_raw is not None:
        if not isinstance(bindings_raw, list) or not all(isinstance(b, str) for b in bindings_raw):
            raise ProfileError("'Bindings' must be a list of tensor names", source=source,
                               entry="Bindings")
        bindings = tuple(bindings_raw)
    return LayerInfo(source, detailed, tuple(entries), bindings)


def read_layer_info(path: PathLike) -> LayerInfo:
    """Read a ``trtexec --exportLayerInfo`` JSON file."""
    text, source = load_text(path, what=_WHAT)
    return parse_layer_info(text, source=source)


def check_profile_matches(profile_names: Iterable[str], info: LayerInfo, *,
                          profile_source: str = "<profile>") -> None:
    """Raise `ProfileError` unless the profile's layer names are the layer-info names.

    Both come from one engine file, so the distinct names must agree exactly (a profile
    may report one layer as several consecutive kernel rows, and TRT >= 8.4 dumpProfile
    tables omit zero-time rows, so only the profile -> info direction is required when
    ``info`` has extra names that the profile skipped). Different engine builds of the same
    ONNX give different names: join only files of one engine.
    """
    info_names = set(info.names)
    for i, name in enumerate(profile_names):
        if name not in info_names:
            raise ProfileError(
                f"profile row {short(name)!r} is not a layer of {info.path}; the profile and the "
                "layer info come from different engines (rebuild or re-export both from one "
                "engine file)", source=profile_source, entry=f"row {i}")


__all__ = [
    "LayerInfo",
    "LayerInfoEntry",
    "TensorInfo",
    "check_profile_matches",
    "parse_layer_info",
    "read_layer_info",
]

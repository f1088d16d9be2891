"""Engine layer names -> what the row is and which source (ONNX/network) layers it holds.

TensorRT names engine layers after the network layers it fused (trtexec_formats.md 6-8):

- ``A + B`` vertical fusion, ``A || B`` horizontal merge (split at top level only),
- ``PWN(PWN(A), B)`` pointwise fusion (nested; arguments are themselves fused names),
- ``{a,b,c}`` TRT 7 DLA subgraph listing every member,
- ``{ForeignNode[first...last]}`` TRT >= 8 DLA *or* Myelin subgraph listing only the first
  and last member (the middle comes from a topological layer order, `expand_source_layers`),
- auxiliary rows with no source layer of their own: reformatters, concat copies, DLA
  (NvMedia) transfer/sync rows, and TRT 10 Myelin kernel rows.

`parse_engine_name` never raises on any non-empty string: an unknown shape is a plain
compute layer named as itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from profiles.errors import ProfileError
from profiles.trtexec.common import short


class RowKind(StrEnum):
    """What an engine row does."""

    COMPUTE = "compute"            # an ordinary (possibly fused) layer
    SUBGRAPH = "subgraph"          # {a,b,c} or {ForeignNode[...]}: DLA or Myelin subgraph
    MYELIN_KERNEL = "myelin_kernel"  # TRT 10 kernel rows of an expanded Myelin subgraph
    REFORMAT = "reformat"          # Reformatting CopyNode / input|output reformatter
    COPY = "copy"                  # '<tensor> copy' (concatenation copies)
    SYNC = "sync"                  # to nvm / from nvm / copy finish / finish (Xavier DLA)

    @property
    def is_compute(self) -> bool:
        """Rows that are layers in their own right (anchors for attribution)."""
        return self in (RowKind.COMPUTE, RowKind.SUBGRAPH, RowKind.MYELIN_KERNEL)


@dataclass(frozen=True)
class EngineLayerName:
    """A parsed engine layer name.

    ``source_layers``: network layers the row computes (empty for auxiliary rows and Myelin
    kernels). ``target``: for reformat/sync rows, the engine layer or tensor they serve.
    ``direction``: ``'input'``/``'output'`` for reformatters, ``'to_dla'``/``'from_dla'``
    for NvMedia transfers, None otherwise. For ForeignNode rows ``first``/``last`` are the
    first and last member names as printed (each may itself be a fused name).
    """

    raw: str
    kind: RowKind
    source_layers: tuple[str, ...] = ()
    target: str | None = None
    direction: str | None = None
    is_foreign_node: bool = False
    first: str | None = None
    last: str | None = None
    profile_index: int = 0
    hint: str | None = None

    @property
    def is_trt7_dla_subgraph(self) -> bool:
        """``{a,b,c}``: in TRT 7 this spelling is only used for DLA subgraphs."""
        return self.kind is RowKind.SUBGRAPH and not self.is_foreign_node


_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}


_BRACKET = re.compile(r"[()\[\]{}]")


def _balanced(text: str) -> bool:
    stack: list[str] = []
    for m in _BRACKET.finditer(text):
        ch = m.group()
        if ch in _OPEN:
            stack.append(ch)
        elif not stack or stack[-1] != _CLOSE[ch]:
            return False
        else:
            stack.pop()
    return not stack


def split_top_level(text: str, separators: Sequence[str]) -> list[str]:
    """Split ``text`` on any of ``separators`` outside brackets.

    Names like ``(Unnamed Layer* 7) [Shuffle]`` keep their brackets balanced; when the
    brackets of a name are not balanced (an odd user name) depth tracking is meaningless,
    so the split falls back to plain splitting at every separator.
    """
    alternatives = "|".join(re.escape(sep) for sep in separators)
    if not _BRACKET.search(text) or not _balanced(text):
        return re.split(alternatives, text) if separators else [text]
    parts: list[str] = []
    depth = 0
    start = 0
    for m in re.finditer(r"[()\[\]{}]|" + alternatives, text):
        token = m.group()
        if token in _OPEN:
            depth += 1
        elif token in _CLOSE:
            depth -= 1
        elif depth == 0:
            parts.append(text[start:m.start()])
            start = m.end()
    parts.append(text[start:])
    return parts


def split_fused(name: str) -> list[str]:
    """Source layer names of a fused name (``+``, ``||``, nested ``PWN(...)``), in order."""
    out: list[str] = []
    for part in split_top_level(name, (" || ", " + ")):
        piece = part.strip()
        if not piece:
            continue
        if piece.startswith("PWN(") and piece.endswith(")") and _balanced(piece[4:-1]):
            for arg in split_top_level(piece[4:-1], (", ",)):
                out.extend(split_fused(arg))
        else:
            out.append(piece)
    return out


_PROFILE_SUFFIX = re.compile(r"^(?P<base>.*) \[profile (?P<n>\d+)\]$")
_COPYNODE = re.compile(
    r"^Reformatting CopyNode for (?P<dir>Input|Output) Tensor (?P<k>\d+) to (?P<target>.+)$")
_COPYNODE_NET = re.compile(r"^Reformatting CopyNode for Network (?P<dir>Input|Output) (?P<t>.+)$")
_TRT7_REFORMATTER = re.compile(r"^(?P<target>.+) (?P<dir>input|output) reformatter (?P<k>\d+)$")
_TRT7_REFORMAT_FINISH = re.compile(
    r"^(?P<target>.+) (?:reformatted input (?P<ki>\d+)|output to be reformatted (?P<ko>\d+))"
    r" finish$")
_TO_NVM = re.compile(r"^(?P<t>.+) to nvm$")
_FROM_NVM = re.compile(r"^(?P<t>.+) from nvm$")
_COPY_FINISH = re.compile(r"^(?P<t>.+) copy finish$")
_FINISH = re.compile(r"^(?P<t>.+) finish$")
_COPY = re.compile(r"^(?P<t>.+) copy$")
_FOREIGN = re.compile(r"^\{ForeignNode\[(?P<body>.*)\]\}$", re.DOTALL)
_MYELIN = re.compile(r"^(?:__myl_|__mye\d|dummy_shape_call__)|_myl\d+_\d+$")
_MYELIN_ONNX = re.compile(r"^(?P<onnx>.+?)_myl\d+_\d+$")
_ELLIPSIS = ("...", "\u2026")


def _foreign(raw: str, body: str, profile_index: int) -> EngineLayerName:
    first, last = body, body
    for ell in _ELLIPSIS:
        parts = split_top_level(body, (ell,))
        if len(parts) >= 2:
            first, last = parts[0], ell.join(parts[1:])
            break
    sources = split_fused(first)
    if last != first:
        last_sources = split_fused(last)
        sources = sources + [s for s in last_sources if s not in sources]
    return EngineLayerName(raw, RowKind.SUBGRAPH, tuple(sources), is_foreign_node=True,
                           first=first, last=last, profile_index=profile_index)


def parse_engine_name(name: str) -> EngineLayerName:
    """Classify an engine row name and list its source layers (never raises on text)."""
    if isinstance(name, str) and name.strip():
        return _parse_cached(name)
    raise ProfileError(f"an engine layer name must be a non-empty string, got {name!r}")


@lru_cache(maxsize=1 << 16)
def _parse_cached(name: str) -> EngineLayerName:
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"an engine layer name must be a non-empty string, got {name!r}")
    raw = name
    profile_index = 0
    m = _PROFILE_SUFFIX.match(name)
    if m:
        name, profile_index = m.group("base"), int(m.group("n"))

    def aux(kind: RowKind, target: str | None, direction: str | None) -> EngineLayerName:
        return EngineLayerName(raw, kind, (), target=target, direction=direction,
                               profile_index=profile_index)

    if m := _COPYNODE.match(name):
        return aux(RowKind.REFORMAT, m.group("target"), m.group("dir").lower())
    if m := _COPYNODE_NET.match(name):
        return aux(RowKind.REFORMAT, None, m.group("dir").lower())
    if m := _TRT7_REFORMATTER.match(name):
        return aux(RowKind.REFORMAT, m.group("target"), m.group("dir"))
    if m := _TRT7_REFORMAT_FINISH.match(name):
        return aux(RowKind.SYNC, m.group("target"), "input" if m.group("ki") else "output")
    if m := _TO_NVM.match(name):
        return aux(RowKind.SYNC, m.group("t"), "to_dla")
    if m := _FROM_NVM.match(name):
        return aux(RowKind.SYNC, m.group("t"), "from_dla")
    if m := _COPY_FINISH.match(name):
        return aux(RowKind.SYNC, m.group("t"), "to_dla")
    if m := _FINISH.match(name):
        return aux(RowKind.SYNC, m.group("t"), "from_dla")
    if m := _COPY.match(name):
        return aux(RowKind.COPY, m.group("t"), None)
    if m := _FOREIGN.match(name):
        return _foreign(raw, m.group("body"), profile_index)
    if name.startswith("{") and name.endswith("}") and len(name) > 2 and _balanced(name):
        members = [s.strip() for s in split_top_level(name[1:-1], (",",)) if s.strip()]
        sources = [layer for member in members for layer in split_fused(member)]
        return EngineLayerName(raw, RowKind.SUBGRAPH, tuple(sources),
                               first=members[0] if members else None,
                               last=members[-1] if members else None,
                               profile_index=profile_index)
    if _MYELIN.search(name):
        hint = None
        if not name.startswith(("__myl_", "__mye", "dummy_shape_call__")):
            mo = _MYELIN_ONNX.match(name)
            hint = mo.group("onnx") if mo else None
        return EngineLayerName(raw, RowKind.MYELIN_KERNEL, (), profile_index=profile_index,
                               hint=hint)
    return EngineLayerName(raw, RowKind.COMPUTE, tuple(split_fused(name)),
                           profile_index=profile_index)


def expand_source_layers(parsed: EngineLayerName, order: Sequence[str] | Mapping[str, int],
                         *, source: str | None = None) -> tuple[str, ...]:
    """Source layers of a row with a ``{ForeignNode[first...last]}`` expanded.

    ``order`` is the network's topological layer order (a sequence of layer names or a
    name -> position map). The members are every layer from the first source layer of
    ``first`` to the last source layer of ``last`` in that order. Rows that are not foreign
    nodes return their ``source_layers`` unchanged. A member missing from ``order`` is a
    `ProfileError` (the profile and the network do not match).
    """
    if not parsed.is_foreign_node or parsed.first is None or parsed.last is None:
        return parsed.source_layers
    position = order if isinstance(order, Mapping) else {n: i for i, n in enumerate(order)}
    names = list(order) if not isinstance(order, Mapping) else sorted(position, key=position.get)
    first_layers = split_fused(parsed.first)
    last_layers = split_fused(parsed.last)
    lo_name = first_layers[0] if first_layers else parsed.first
    hi_name = last_layers[-1] if last_layers else parsed.last
    for want in (lo_name, hi_name):
        if want not in position:
            raise ProfileError(
                f"foreign node member {short(want)!r} is not a layer of the given network "
                "order; pass the topological order of the ONNX model this engine was built from",
                source=source, entry=short(parsed.raw))
    lo, hi = position[lo_name], position[hi_name]
    if hi < lo:
        raise ProfileError(
            f"foreign node runs from {short(lo_name)!r} to {short(hi_name)!r} but the latter "
            "comes first in the given network order", source=source, entry=short(parsed.raw))
    return tuple(names[lo:hi + 1])


__all__ = [
    "EngineLayerName",
    "RowKind",
    "expand_source_layers",
    "parse_engine_name",
    "split_fused",
    "split_top_level",
]

"""The mapping between a cost table's groups and an ONNX model's layers.

A cost table made from an ONNX model records, per row, the ONNX node names ``first_layer``
and ``last_layer``: group ``g`` is the layers from ``first_layer`` to ``last_layer``
inclusive in ``LayerGraph.from_onnx(model).order``. The metadata line ``# onnx_graph:
<sha256>`` is `profiles.graph.onnx_graph_signature` of that model (structure only), so a
table is never applied to another graph. An optional ``cut_tensors`` column lists
(``;``-joined) the tensors crossing the cut after each group (empty on the last row);
when present it is re-derived from the graph and compared.

`map_table` checks all of this and returns a `TableMapping` (group -> layer positions);
`mapped_table` writes the mapping into a table made from a `Grouping` (what the estimator,
the sweep ingester and the tests use). The export refuses a table without the mapping
(e.g. the published HaX-CoNN tables, whose groups are TensorRT layer ranges of engines
built from another export of the model).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from profiles.costtable import CostTable, GroupCost
from profiles.errors import ProfileError
from profiles.graph import Grouping, LayerGraph, _load_onnx, onnx_graph_signature

SIGNATURE_KEY = "onnx_graph"
CUT_TENSORS = "cut_tensors"
NO_MAPPING_FIX = "make it with `layerswap estimate` or `profile ingest-sweep`"


@dataclass(frozen=True)
class GroupSpan:
    """Group ``group`` = ``graph.order[start:end]`` (end exclusive)."""

    group: int
    start: int
    end: int
    first_layer: str
    last_layer: str
    cut_tensors: tuple[str, ...]  # crossing the cut after the group; () for the last group


@dataclass(frozen=True)
class TableMapping:
    """A cost table checked against its ONNX model: every group's layer range."""

    table_origin: str
    onnx_source: str
    signature: str
    graph: LayerGraph
    spans: tuple[GroupSpan, ...]

    def layers(self, first_group: int, last_group: int | None = None) -> tuple[str, ...]:
        """Layer names of groups ``first_group..last_group`` (inclusive), in order."""
        last = first_group if last_group is None else last_group
        a, b = self.spans[first_group], self.spans[last]
        return self.graph.order[a.start:b.end]


def has_mapping(table: CostTable) -> bool:
    """True when the table carries first/last layers on every row and the graph signature."""
    return (bool(str(table.metadata.get(SIGNATURE_KEY, "")).strip())
            and all(r.first_layer and r.last_layer for r in table.rows))


def map_table(table: CostTable, model: str | os.PathLike[str] | Any, *,
              graph: LayerGraph | None = None, source: str | None = None) -> TableMapping:
    """Check ``table`` against ``model`` (ONNX path or ModelProto) and map its groups.

    Raises `ProfileError` when the table has no mapping ("table X has no ONNX mapping: make
    it with ..."), when the signatures differ (naming both files), or when a row's layers
    are not the next contiguous run of the graph order, or its ``cut_tensors`` differ from
    the graph's. ``graph`` (the model's `LayerGraph`, when the caller has it) saves a shape
    inference pass; ``source`` names the model in messages when a ModelProto is given.
    """
    proto, onnx_source = _load_onnx(model)
    onnx_source = source or onnx_source
    src = table.origin
    if not has_mapping(table):
        missing = [c for c in ("first_layer", "last_layer")
                   if any(not getattr(r, c) for r in table.rows)]
        if not str(table.metadata.get(SIGNATURE_KEY, "")).strip():
            missing.append(f"'# {SIGNATURE_KEY}:' metadata")
        raise ProfileError(f"table {src} has no ONNX mapping (missing {', '.join(missing)}): "
                           f"{NO_MAPPING_FIX} from {onnx_source}", source=src)
    want = table.metadata[SIGNATURE_KEY].strip().lower()
    got = onnx_graph_signature(proto)
    if want != got:
        raise ProfileError(
            f"table {src} was made for another ONNX graph than {onnx_source} (onnx_graph "
            f"{want[:12]}... in the table, {got[:12]}... for the model): pass the ONNX file the "
            "table was made from, or re-make the table from this one", source=src,
            entry=SIGNATURE_KEY)
    g = graph if graph is not None else LayerGraph.from_onnx(proto, allow_unknown_ops=True)
    order = g.order
    cuts = g.cut_points(max_crossing=len(g.tensors) + 1)
    spans = []
    expect = 0
    n = len(table.rows)
    for row in table.rows:
        entry = f"row {row.group}"
        start = _position(g, row.first_layer, src, onnx_source, entry, "first_layer")
        end = _position(g, row.last_layer, src, onnx_source, entry, "last_layer") + 1
        if start != expect:
            want_layer = order[expect] if expect < len(order) else "(past the last layer)"
            raise ProfileError(
                f"first_layer {row.first_layer!r} is layer {start} of {onnx_source}'s order, "
                f"but group {row.group} must start at layer {expect} ({want_layer!r}); groups "
                "must cover the layer order contiguously", source=src, entry=entry)
        if end <= start:
            raise ProfileError(f"last_layer {row.last_layer!r} comes before first_layer "
                               f"{row.first_layer!r} in {onnx_source}", source=src, entry=entry)
        crossing = () if end == len(order) else cuts[end - 1].tensor_names
        recorded = row.extra.get(CUT_TENSORS)
        if recorded is not None and row.group < n - 1:
            rec = tuple(sorted(t for t in recorded.split(";") if t))
            if rec != tuple(sorted(crossing)):
                raise ProfileError(
                    f"cut_tensors {';'.join(rec) or '(none)'} differ from the tensors crossing "
                    f"the cut after {row.last_layer!r} in {onnx_source}: "
                    f"{';'.join(sorted(crossing)) or '(none)'}", source=src, entry=entry)
        spans.append(GroupSpan(row.group, start, end, order[start], order[end - 1],
                               tuple(crossing)))
        expect = end
    if expect != len(order):
        raise ProfileError(f"the groups end at layer {expect - 1} ({order[expect - 1]!r}) but "
                           f"{onnx_source} has {len(order)} layers (last {order[-1]!r}); the "
                           "table must cover the whole model", source=src,
                           entry=f"row {n - 1}")
    return TableMapping(src, onnx_source, got, g, tuple(spans))


def _position(g: LayerGraph, name: str | None, src: str, onnx_source: str, entry: str,
              col: str) -> int:
    try:
        return g.position(str(name))
    except ProfileError:
        raise ProfileError(f"{col} {name!r} is not a layer of {onnx_source}", source=src,
                           entry=entry) from None


def mapped_table(grouping: Grouping, model: str | os.PathLike[str] | Any, *,
                 gpu_ms: Sequence[float], dla_ms: Sequence[float | None],
                 gpu_to_dla_ms: Sequence[float | None], dla_to_gpu_ms: Sequence[float | None],
                 metadata: Mapping[str, str], origin: str = "<memory>",
                 extra_columns: Mapping[str, Sequence[str]] | None = None) -> CostTable:
    """A cost table whose rows are ``grouping``'s groups, with the ONNX mapping recorded.

    Writes ``first_layer``, ``last_layer``, ``layers``, ``out_bytes`` (when known),
    ``cut_tensors`` and the ``onnx_graph`` metadata; the times are the caller's.
    """
    n = len(grouping.groups)
    for name, seq in (("gpu_ms", gpu_ms), ("dla_ms", dla_ms), ("gpu_to_dla_ms", gpu_to_dla_ms),
                      ("dla_to_gpu_ms", dla_to_gpu_ms)):
        if len(seq) != n:
            raise ProfileError(f"{len(seq)} values of {name} for {n} groups", source=origin)
    rows = []
    for i, grp in enumerate(grouping.groups):
        cut = grp.out_cut
        extra = {CUT_TENSORS: "" if cut is None else ";".join(sorted(cut.tensor_names))}
        for col, values in (extra_columns or {}).items():
            extra[col] = values[i]
        rows.append(GroupCost(
            group=i, gpu_ms=gpu_ms[i], dla_ms=dla_ms[i], gpu_to_dla_ms=gpu_to_dla_ms[i],
            dla_to_gpu_ms=dla_to_gpu_ms[i], first_layer=grp.first_layer,
            last_layer=grp.last_layer, layers=len(grp.layers),
            out_bytes=None if cut is None else cut.bytes, extra=extra))
    meta = dict(metadata)
    meta[SIGNATURE_KEY] = onnx_graph_signature(model)
    return CostTable.build(rows, meta, origin=origin)


__all__ = [
    "CUT_TENSORS",
    "SIGNATURE_KEY",
    "GroupSpan",
    "TableMapping",
    "has_mapping",
    "map_table",
    "mapped_table",
]

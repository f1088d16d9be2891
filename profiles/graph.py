"""The layer graph of one model: topological order, valid cut points and grouping.

A `LayerGraph` is an immutable value wrapping a networkx ``DiGraph`` whose nodes are layers
(ONNX nodes, or TensorRT engine layers from an ``--exportLayerInfo`` JSON) and whose edges
carry the tensors flowing between them. It answers three questions the scheduler needs:

- **Order.** `order` is a deterministic topological order: among ready layers the one
  listed first in the source file goes first (``lexicographical_topological_sort`` keyed
  on the original index), so the same file always gives the same order.
- **Cuts.** `cut_points` gives, for every position ``k`` (a cut *after* ``order[k]``,
  ``k = 0 .. n-2``), the tensors crossing it: produced by a layer at a position ``<= k``
  and consumed by a layer at a position ``> k``. Decisions, documented here once:
  graph inputs are *not* crossing tensors (they come from the host whatever the device;
  no GPU<->DLA hand-off), and a graph output crosses a cut only when a later layer also
  consumes it (being a network output it leaves the engine anyway). Initializers and
  ``Constant`` nodes are weights, not layers and not tensors that cross anything. Sizes in
  bytes are known when ONNX shape inference (or the layer-info JSON) gives a static
  shape and a dtype; otherwise ``None`` (never a guess).
- **Valid cuts.** A cut is *valid* when at most ``max_crossing`` tensors cross it
  (default 1: the HaX-CoNN single-tensor cut, where a device switch hands over exactly one
  tensor). A cut crossed by no tensor (two independent parts) is valid too.
- **Groups.** `group` partitions the order into ``K`` contiguous groups whose boundaries
  are valid cuts. It solves the bottleneck problem exactly: minimise the largest group
  cost (per-layer costs when given, else 1 per layer) by dynamic programming over the
  valid cuts (numpy, O(K * C^2) for C valid cuts); ties go to the earliest boundary, so
  the answer is deterministic.

Errors (missing file, not an ONNX file, cycle, unknown op, duplicate layer names, K out
of range) are `ProfileError` naming the file and the entry.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from profiles.errors import ProfileError

# bytes per element of ONNX TensorProto data types (onnx.TensorProto enum values)
_ONNX_DTYPE_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4,
                     13: 8, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1}
_ONNX_DTYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
                     7: "int64", 9: "bool", 10: "float16", 11: "float64", 12: "uint32",
                     13: "uint64", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
                     19: "float8e5m2", 20: "float8e5m2fnuz"}
# TensorRT "Format/Datatype" strings -> (dtype name, bytes per element); matched by keyword
_TRT_DTYPES = (("fp32", "float32", 4), ("float", "float32", 4), ("fp16", "float16", 2),
               ("half", "float16", 2), ("bf16", "bfloat16", 2), ("int64", "int64", 8),
               ("int32", "int32", 4), ("int8", "int8", 1), ("bool", "bool", 1),
               ("fp8", "float8", 1), ("uint8", "uint8", 1))


@dataclass(frozen=True)
class TensorInfo:
    """A tensor between layers. ``bytes`` is None when shape or dtype is unknown."""

    name: str
    producer: str | None
    consumers: tuple[str, ...]
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    bytes: int | None = None
    is_graph_input: bool = False
    is_graph_output: bool = False
    synthetic: bool = False  # invented for a names-only layer list (no real tensor name)


@dataclass(frozen=True)
class LayerInfo:
    """One layer: its name, op type and (ONNX) attributes, kept for the DLA rules."""

    name: str
    op_type: str
    index: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    domain: str = ""


@dataclass(frozen=True)
class CutPoint:
    """The cut after ``order[position]``: the tensors crossing it and whether it is valid."""

    position: int
    after_layer: str
    tensors: tuple[TensorInfo, ...]
    valid: bool

    @property
    def tensor_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tensors)

    @property
    def bytes(self) -> int | None:
        """Total crossing bytes, None when any crossing tensor's size is unknown."""
        if any(t.bytes is None for t in self.tensors):
            return None
        return sum(t.bytes for t in self.tensors)  # type: ignore[misc]


@dataclass(frozen=True)
class Group:
    """A contiguous run of layers ``order[start:end]`` (end exclusive)."""

    index: int
    start: int
    end: int
    layers: tuple[str, ...]
    cost: float
    out_cut: CutPoint | None  # the cut after the group; None for the last group

    @property
    def first_layer(self) -> str:
        return self.layers[0]

    @property
    def last_layer(self) -> str:
        return self.layers[-1]


@dataclass(frozen=True)
class Grouping:
    """K groups covering the order; ``boundaries`` are the cut positions between them."""

    groups: tuple[Group, ...]
    boundaries: tuple[int, ...]
    max_crossing: int

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def bottleneck(self) -> float:
        return max(g.cost for g in self.groups)

    def cost_rows(self, gpu_ms: Mapping[str, float],
                  dla_ms: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
        """Cost-table rows (dicts with CSV column names) summing per-layer costs per group.

        Transition columns are left out (they are measured per cut, not per layer); a layer
        missing from ``gpu_ms`` (or from a given ``dla_ms``) is a `ProfileError`, never 0.
        """
        rows = []
        for g in self.groups:
            row: dict[str, Any] = {"group": g.index, "first_layer": g.first_layer,
                                   "last_layer": g.last_layer, "layers": len(g.layers)}
            for col, table in (("gpu_ms", gpu_ms), ("dla_ms", dla_ms)):
                if table is None:
                    continue
                missing = [name for name in g.layers if name not in table]
                if missing:
                    raise ProfileError(f"no {col} for layer(s) {', '.join(missing[:5])}",
                                       source="per-layer costs", entry=f"group {g.index}")
                row[col] = float(sum(table[name] for name in g.layers))
            if g.out_cut is not None and g.out_cut.bytes is not None:
                row["out_bytes"] = g.out_cut.bytes
            rows.append(row)
        return rows


class LayerGraph:
    """Immutable layer graph; build it with `from_onnx` or `from_layer_info`."""

    def __init__(self, layers: Sequence[LayerInfo], tensors: Mapping[str, TensorInfo], *,
                 source: str, graph_inputs: Sequence[str] = (),
                 graph_outputs: Sequence[str] = (), shapes_known: bool = True) -> None:
        self._source = source
        self._layers = {layer.name: layer for layer in layers}
        if len(self._layers) != len(layers):
            seen: set[str] = set()
            dup = next(la.name for la in layers if la.name in seen or seen.add(la.name))
            raise ProfileError(f"layer name {dup!r} appears twice; layer names must be unique",
                               source=source, entry=dup)
        self._tensors = dict(tensors)
        self._inputs = tuple(graph_inputs)
        self._outputs = tuple(graph_outputs)
        self.shapes_known = shapes_known
        g = nx.DiGraph()
        for layer in layers:
            g.add_node(layer.name, index=layer.index, op_type=layer.op_type)
        for t in self._tensors.values():
            if t.producer is None:
                continue
            for c in t.consumers:
                if c == t.producer:
                    raise ProfileError(f"layer consumes its own output {t.name!r} (a cycle)",
                                       source=source, entry=c)
                if g.has_edge(t.producer, c):
                    g.edges[t.producer, c]["tensors"] += (t.name,)
                else:
                    g.add_edge(t.producer, c, tensors=(t.name,))
        nx.freeze(g)
        self._graph = g
        index = {la.name: la.index for la in layers}
        try:
            order = list(nx.lexicographical_topological_sort(g, key=lambda n: index[n]))
        except nx.NetworkXUnfeasible:
            cycle = nx.find_cycle(g)
            names = " -> ".join(u for u, _ in cycle) + f" -> {cycle[0][0]}"
            raise ProfileError(f"the graph has a cycle ({names}); a feed-forward model is needed",
                               source=source, entry=cycle[0][0]) from None
        self._order = tuple(order)
        self._position = {name: i for i, name in enumerate(order)}
        self._cuts: dict[int, tuple[CutPoint, ...]] = {}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_onnx(cls, model: str | os.PathLike[str] | Any, *,
                  allow_unknown_ops: bool = False, infer_shapes: bool = True,
                  source: str | None = None) -> LayerGraph:
        """Build from an ONNX file path or an ``onnx.ModelProto`` (shapes inferred).

        ``infer_shapes=False`` trusts the model's ``value_info`` (a model that already went
        through shape inference: saves a pass over a large model); ``source`` names the
        model in errors when a ModelProto is given.
        """
        import onnx

        proto, source_ = _load_onnx(model)
        source = source or source_
        shapes_known = True
        if infer_shapes:
            try:
                proto = onnx.shape_inference.infer_shapes(proto)
            except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError,
                    ValueError):
                shapes_known = False  # sizes stay None; order and cuts do not need them
        graph = proto.graph
        opsets = {imp.domain or "": imp.version for imp in proto.opset_import}
        initializers = {init.name for init in graph.initializer}
        value_types: dict[str, Any] = {}
        for vi in [*graph.input, *graph.value_info, *graph.output]:
            value_types[vi.name] = vi.type
        graph_inputs = [vi.name for vi in graph.input if vi.name not in initializers]
        graph_outputs = [vi.name for vi in graph.output]
        constants: set[str] = set(initializers)
        layers: list[LayerInfo] = []
        used_names: set[str] = set()
        for i, node in enumerate(graph.node):
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                constants.update(node.output)
                continue
            if not allow_unknown_ops:
                _check_known_op(node, opsets, source, i)
            name = node.name or f"{node.op_type}_{i}"
            if name in used_names:
                raise ProfileError(
                    f"node name {name!r} appears twice; give every node a unique name "
                    "(e.g. onnx-graphsurgeon: node.name = ...)", source=source, entry=f"node {i}")
            used_names.add(name)
            attrs = {a.name: _attr_value(a) for a in node.attribute}
            layers.append(LayerInfo(name=name, op_type=node.op_type, index=len(layers),
                                    inputs=tuple(x for x in node.input if x),
                                    outputs=tuple(x for x in node.output if x),
                                    attributes=attrs, domain=node.domain))
        if not layers:
            raise ProfileError("the model has no layers (only constants)", source=source)
        producers: dict[str, str] = {}
        consumers: dict[str, list[str]] = {}
        for layer in layers:
            for out in layer.outputs:
                producers[out] = layer.name
            for inp in layer.inputs:
                if inp in constants:
                    continue
                consumers.setdefault(inp, [])
                if layer.name not in consumers[inp]:
                    consumers[inp].append(layer.name)
        tensors: dict[str, TensorInfo] = {}
        for name in [*producers, *(c for c in consumers if c not in producers)]:
            if name not in producers and name not in graph_inputs:
                raise ProfileError(f"tensor {name!r} is consumed but produced by no node and is "
                                   "not a graph input or initializer", source=source, entry=name)
            shape, dtype, nbytes = _onnx_type_info(value_types.get(name))
            tensors[name] = TensorInfo(
                name=name, producer=producers.get(name), consumers=tuple(consumers.get(name, ())),
                shape=shape, dtype=dtype, bytes=nbytes, is_graph_input=name in graph_inputs,
                is_graph_output=name in graph_outputs)
        return cls(layers, tensors, source=source, graph_inputs=graph_inputs,
                   graph_outputs=graph_outputs, shapes_known=shapes_known)

    @classmethod
    def from_layer_info(cls, path: str | os.PathLike[str]) -> LayerGraph:
        """Build from a trtexec ``--exportLayerInfo`` JSON.

        Detailed files (``--profilingVerbosity=detailed``) give layers with ``Inputs`` and
        ``Outputs`` tensor names and shapes; names-only files give a chain in listed order
        with one synthetic tensor (size unknown) between consecutive layers. Repeated layer
        names get ``_2``, ``_3`` suffixes (as TREx does).
        """
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"cannot read the layer-info file ({exc.strerror})",
                               source=source) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"not valid JSON ({exc.msg} at line {exc.lineno}); expected "
                               "a trtexec --exportLayerInfo file", source=source) from exc
        if not isinstance(data, dict) or not isinstance(data.get("Layers"), list):
            raise ProfileError("no 'Layers' list; expected a trtexec --exportLayerInfo file",
                               source=source, entry="Layers")
        raw = data["Layers"]
        if not raw:
            raise ProfileError("'Layers' is empty", source=source, entry="Layers")
        bindings = [b for b in data.get("Bindings", []) if isinstance(b, str)]
        names = _dedupe([r if isinstance(r, str) else str(r.get("Name", "")) for r in raw])
        if all(isinstance(r, str) for r in raw):
            return cls._chain(names, source)
        if not all(isinstance(r, dict) for r in raw):
            raise ProfileError("'Layers' mixes names and objects", source=source, entry="Layers")
        layers: list[LayerInfo] = []
        producers: dict[str, str] = {}
        consumers: dict[str, list[str]] = {}
        meta: dict[str, tuple[tuple[int, ...] | None, str | None, int | None]] = {}
        for i, (rec, name) in enumerate(zip(raw, names, strict=True)):
            if not name:
                raise ProfileError("layer without a 'Name'", source=source, entry=f"Layers[{i}]")
            ins = _trt_tensors(rec.get("Inputs", []), source, i)
            outs = _trt_tensors(rec.get("Outputs", []), source, i)
            for tname, info in [*ins, *outs]:
                meta.setdefault(tname, info)
            attrs = {k: v for k, v in rec.items() if k not in ("Name", "Inputs", "Outputs")}
            layers.append(LayerInfo(name=name, op_type=str(rec.get("LayerType", "unknown")),
                                    index=i, inputs=tuple(t for t, _ in ins),
                                    outputs=tuple(t for t, _ in outs), attributes=attrs))
            for tname, _ in outs:
                producers[tname] = name
            for tname, _ in ins:
                consumers.setdefault(tname, [])
                if name not in consumers[tname]:
                    consumers[tname].append(name)
        graph_inputs = [t for t in consumers if t not in producers]
        graph_outputs = [b for b in bindings if b in producers] or \
            [t for t in producers if t not in consumers]
        tensors = {}
        for tname in [*producers, *graph_inputs]:
            shape, dtype, nbytes = meta.get(tname, (None, None, None))
            tensors[tname] = TensorInfo(
                name=tname, producer=producers.get(tname),
                consumers=tuple(consumers.get(tname, ())), shape=shape, dtype=dtype,
                bytes=nbytes, is_graph_input=tname in graph_inputs,
                is_graph_output=tname in graph_outputs)
        return cls(layers, tensors, source=source, graph_inputs=graph_inputs,
                   graph_outputs=graph_outputs)

    @classmethod
    def _chain(cls, names: Sequence[str], source: str) -> LayerGraph:
        layers = []
        tensors: dict[str, TensorInfo] = {}
        for i, name in enumerate(names):
            out = f"{name}:output"
            nxt = (names[i + 1],) if i + 1 < len(names) else ()
            prev = (f"{names[i - 1]}:output",) if i > 0 else ()
            layers.append(LayerInfo(name=name, op_type="unknown", index=i, inputs=prev,
                                    outputs=(out,)))
            tensors[out] = TensorInfo(name=out, producer=name, consumers=nxt,
                                      is_graph_output=not nxt, synthetic=True)
        return cls(layers, tensors, source=source, graph_outputs=(f"{names[-1]}:output",),
                   shapes_known=False)

    # ------------------------------------------------------------------ accessors
    @property
    def source(self) -> str:
        return self._source

    @property
    def graph(self) -> nx.DiGraph:
        """The (frozen) networkx graph: nodes are layer names, edges carry ``tensors``."""
        return self._graph

    @property
    def order(self) -> tuple[str, ...]:
        return self._order

    @property
    def inputs(self) -> tuple[str, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[str, ...]:
        return self._outputs

    def __len__(self) -> int:
        return len(self._order)

    def layer(self, name: str) -> LayerInfo:
        try:
            return self._layers[name]
        except KeyError:
            raise ProfileError(f"no layer named {name!r}", source=self._source,
                               entry=name) from None

    def tensor(self, name: str) -> TensorInfo:
        try:
            return self._tensors[name]
        except KeyError:
            raise ProfileError(f"no tensor named {name!r}", source=self._source,
                               entry=name) from None

    @property
    def tensors(self) -> Mapping[str, TensorInfo]:
        return dict(self._tensors)

    def position(self, layer: str | int) -> int:
        """Position in `order` of a layer name (or a position, checked)."""
        if isinstance(layer, int) and not isinstance(layer, bool):
            if not 0 <= layer < len(self._order):
                raise ProfileError(f"layer position {layer} is outside 0..{len(self) - 1}",
                                   source=self._source)
            return layer
        if layer not in self._position:
            raise ProfileError(f"no layer named {layer!r}", source=self._source, entry=str(layer))
        return self._position[layer]

    # ------------------------------------------------------------------ cuts
    def cut_points(self, max_crossing: int = 1) -> tuple[CutPoint, ...]:
        """Every cut ``k = 0 .. n-2`` (after ``order[k]``) with its crossing tensors."""
        if max_crossing < 0:
            raise ProfileError(f"max_crossing must be >= 0, got {max_crossing}",
                               source=self._source)
        if max_crossing in self._cuts:
            return self._cuts[max_crossing]
        # a tensor produced at position p and last consumed at q crosses cuts p .. q-1
        n = len(self._order)
        crossing: list[list[TensorInfo]] = [[] for _ in range(max(n - 1, 0))]
        for t in sorted(self._tensors.values(), key=lambda t: t.name):
            if t.producer is None or not t.consumers:
                continue
            p = self._position[t.producer]
            q = max(self._position[c] for c in t.consumers)
            for k in range(p, q):
                crossing[k].append(t)
        cuts = tuple(
            CutPoint(position=k, after_layer=self._order[k], tensors=tuple(ts),
                     valid=len(ts) <= max_crossing)
            for k, ts in enumerate(crossing))
        self._cuts[max_crossing] = cuts
        return cuts

    def cut_after(self, layer: str | int, max_crossing: int = 1) -> CutPoint:
        """The cut after one layer; the last layer has no cut after it."""
        k = self.position(layer)
        if k >= len(self._order) - 1:
            raise ProfileError(f"no cut after the last layer {self._order[k]!r}",
                               source=self._source, entry=self._order[k])
        return self.cut_points(max_crossing)[k]

    def valid_cuts(self, max_crossing: int = 1) -> tuple[CutPoint, ...]:
        return tuple(c for c in self.cut_points(max_crossing) if c.valid)

    # ------------------------------------------------------------------ grouping
    def group(self, k: int, *, costs: Mapping[str, float] | Sequence[float] | None = None,
              max_crossing: int = 1) -> Grouping:
        """K contiguous groups with valid-cut boundaries, minimising the largest group cost.

        ``costs`` maps layer name -> cost (or is a sequence in `order`); without costs every
        layer costs 1 (balanced layer counts).
        """
        weights = self._weights(costs)
        valid = [c.position for c in self.valid_cuts(max_crossing)]
        n = len(self._order)
        if k < 1:
            raise ProfileError(f"K must be >= 1, got {k}", source=self._source)
        if k > len(valid) + 1:
            raise ProfileError(
                f"K={k} groups need {k - 1} valid cuts but only {len(valid)} cut(s) are crossed "
                f"by <= {max_crossing} tensor(s); lower K or raise max_crossing",
                source=self._source)
        prefix = np.concatenate([[0.0], np.cumsum(weights)])
        bounds = _bottleneck_partition(prefix, valid, k)
        cuts = self.cut_points(max_crossing)
        starts = [0, *(b + 1 for b in bounds)]
        ends = [*(b + 1 for b in bounds), n]
        groups = tuple(
            Group(index=i, start=s, end=e, layers=self._order[s:e],
                  cost=float(prefix[e] - prefix[s]),
                  out_cut=cuts[e - 1] if e < n else None)
            for i, (s, e) in enumerate(zip(starts, ends, strict=True)))
        return Grouping(groups=groups, boundaries=tuple(bounds), max_crossing=max_crossing)

    def group_by_cost(self, costs: Mapping[str, float] | Sequence[float], k: int, *,
                      max_crossing: int = 1) -> Grouping:
        """`group` with per-layer costs (the usual call)."""
        return self.group(k, costs=costs, max_crossing=max_crossing)

    def _weights(self, costs: Mapping[str, float] | Sequence[float] | None) -> np.ndarray:
        n = len(self._order)
        if costs is None:
            return np.ones(n)
        if isinstance(costs, Mapping):
            missing = [name for name in self._order if name not in costs]
            if missing:
                raise ProfileError(f"no cost for {len(missing)} layer(s), e.g. "
                                   f"{', '.join(missing[:3])}", source="per-layer costs")
            values = [costs[name] for name in self._order]
        else:
            values = list(costs)
            if len(values) != n:
                raise ProfileError(f"{len(values)} costs given for {n} layers",
                                   source="per-layer costs")
        for name, v in zip(self._order, values, strict=True):
            if not isinstance(v, int | float) or math.isnan(v) or math.isinf(v) or v < 0:
                raise ProfileError(f"cost {v!r} is not a finite number >= 0",
                                   source="per-layer costs", entry=name)
        return np.asarray(values, dtype=float)


# ---------------------------------------------------------------------- ONNX signature
SIGNATURE_VERSION = 1


def onnx_graph_signature(model: str | os.PathLike[str] | Any) -> str:
    """SHA-256 (hex) of an ONNX graph's *structure*: the key that ties a cost table to a model.

    Hashed, in this order, as canonical JSON (``sort_keys``, no spaces): the signature
    version, then every node of ``graph.node`` in file order as ``[name, op_type, domain,
    inputs, outputs]`` (empty optional inputs kept as ``""`` so positions stay meaningful;
    ``Constant`` nodes included, their values not), then the graph inputs that are not
    initializers and the graph outputs as ``[name, shape]`` with ``shape`` a list of ints
    (static dims), strings (symbolic dims) or ``null`` (unknown dim / no shape).

    Weights (initializers, ``Constant`` values, attributes) are excluded on purpose: the
    same network re-exported with other weights keeps its cost table, while renaming a
    node, reordering nodes or changing an input shape changes the signature. Accepts an
    ONNX file path or an ``onnx.ModelProto``; a missing or unreadable file is a
    `ProfileError`.
    """
    proto, _source = _load_onnx(model)
    graph = proto.graph
    initializers = {init.name for init in graph.initializer}
    nodes = [[n.name, n.op_type, n.domain if n.domain != "ai.onnx" else "",
              list(n.input), list(n.output)] for n in graph.node]
    inputs = [[vi.name, _signature_shape(vi.type)] for vi in graph.input
              if vi.name not in initializers]
    outputs = [[vi.name, _signature_shape(vi.type)] for vi in graph.output]
    doc = {"version": SIGNATURE_VERSION, "nodes": nodes, "inputs": inputs, "outputs": outputs}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _signature_shape(type_proto: Any) -> list[int | str | None] | None:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for d in type_proto.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(str(d.dim_param))
        else:
            dims.append(None)
    return dims


# ---------------------------------------------------------------------- helpers
def _bottleneck_partition(prefix: np.ndarray, valid: Sequence[int], k: int) -> list[int]:
    """Exact min-max partition into k groups; boundaries among ``valid`` cut positions.

    ``best[j][i]`` = smallest possible largest group cost when the first ``j+1`` groups end
    exactly at point ``i`` (points: the valid cuts, then the end of the order). Ties take
    the earliest previous boundary (``argmin`` returns the first minimum).
    """
    if k == 1:
        return []
    ends = np.asarray([*(c + 1 for c in valid), len(prefix) - 1], dtype=int)
    m = len(ends)
    end_cost = prefix[ends]
    best = np.full((k, m), np.inf)
    back = np.zeros((k, m), dtype=int)
    best[0] = end_cost
    for j in range(1, k):
        for i in range(j, m):
            cand = np.maximum(best[j - 1, :i], end_cost[i] - end_cost[:i])
            a = int(np.argmin(cand))
            best[j, i] = cand[a]
            back[j, i] = a
    i = m - 1
    bounds = []
    for j in range(k - 1, 0, -1):
        i = int(back[j, i])
        bounds.append(int(ends[i]) - 1)
    return sorted(bounds)


def _load_onnx(model: Any) -> tuple[Any, str]:
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(model, onnx.ModelProto):
        return model, f"<ModelProto {model.graph.name or 'unnamed'}>"
    p = Path(model)
    source = str(p)
    if not p.is_file():
        raise ProfileError("ONNX file not found; check the path", source=source)
    try:
        proto = onnx.load(str(p))
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ProfileError(f"not an ONNX model file ({type(exc).__name__}: {exc})",
                           source=source) from exc
    if not proto.graph.node:
        raise ProfileError("not an ONNX model file (no graph nodes found)", source=source)
    return proto, source


def _check_known_op(node: Any, opsets: Mapping[str, int], source: str, index: int) -> None:
    import onnx

    domain = node.domain or ""
    if domain == "ai.onnx":
        domain = ""
    if onnx.defs.has(node.op_type, domain):
        return
    raise ProfileError(
        f"unknown op {node.op_type!r} (domain {domain or 'ai.onnx'!r}); a custom/plugin op has "
        "no ONNX schema: pass allow_unknown_ops=True if TensorRT has a plugin for it",
        source=source, entry=f"node {index} ({node.name or node.op_type})")


def _attr_value(attr: Any) -> Any:
    import onnx

    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return tuple(v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v
                     for v in value if isinstance(v, int | float | bytes | str))
    if isinstance(value, int | float | str):
        return value
    return f"<{type(value).__name__}>"  # tensors/graphs: kept as a marker, not the payload


def _onnx_type_info(type_proto: Any) -> tuple[tuple[int, ...] | None, str | None, int | None]:
    if type_proto is None or not type_proto.HasField("tensor_type"):
        return None, None, None
    tt = type_proto.tensor_type
    dtype = _ONNX_DTYPE_NAMES.get(tt.elem_type)
    if not tt.HasField("shape"):
        return None, dtype, None
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        else:
            return None, dtype, None
    shape = tuple(dims)
    width = _ONNX_DTYPE_BYTES.get(tt.elem_type)
    nbytes = None if width is None else int(np.prod(shape, dtype=np.int64)) * width
    return shape, dtype, nbytes


def _trt_tensors(items: Any, source: str, index: int
                 ) -> list[tuple[str, tuple[tuple[int, ...] | None, str | None, int | None]]]:
    if not isinstance(items, list):
        raise ProfileError("'Inputs'/'Outputs' must be lists", source=source,
                           entry=f"Layers[{index}]")
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise ProfileError("tensor entry without a 'Name'", source=source,
                               entry=f"Layers[{index}]")
        dims = item.get("Dimensions")
        shape = None
        if isinstance(dims, list) and all(isinstance(d, int) and d > 0 for d in dims):
            shape = tuple(dims)
        fmt = str(item.get("Format/Datatype", "")).lower()
        dtype, width = None, None
        for key, name, w in _TRT_DTYPES:
            if key in fmt:
                dtype, width = name, w
                break
        nbytes = None if shape is None or width is None else int(np.prod(shape)) * width
        out.append((item["Name"], (shape, dtype, nbytes)))
    return out


def _dedupe(names: Iterable[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 1
            out.append(name)
    return out


__all__ = [
    "CutPoint",
    "Group",
    "Grouping",
    "LayerGraph",
    "LayerInfo",
    "TensorInfo",
    "onnx_graph_signature",
]

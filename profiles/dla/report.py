"""`check_model`: the DLA report of one ONNX model for one target.

Per node: may it run on the DLA, and if not, every rule that refuses it (with parameter,
value and source). Per model: the predicted DLA islands (one loadable each with GPU
fallback), the GPU fallbacks, and the loadables one instance needs against the per-core
limit of the TensorRT version. Nodes are listed in `profiles.graph.LayerGraph` order, the
order cost tables and the splitter use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiles.dla.context import NodeCtx, load_model
from profiles.dla.islands import find_islands
from profiles.dla.refusal import Refusal
from profiles.dla.rules import check_node, family_of
from profiles.dla.target import Target, make_target
from profiles.graph import LayerGraph

ISLAND_INTERNAL_LIMIT = 1 << 30  # "less than 1GB" of internal tensors per subgraph [hdr]
DLA_CORES = {"xavier-agx": 2, "orin-agx": 2, "orin-nx": 2}  # Orin NX 8GB: 1 [dla-sw FAQ]


@dataclass(frozen=True)
class NodeVerdict:
    """One node's verdict: ``dla`` True when no rule refuses it."""

    name: str
    op: str
    dla: bool
    reasons: tuple[Refusal, ...] = ()
    family: str | None = None
    unknown_op: bool = False  # no ONNX schema: a custom op (a TensorRT plugin at best)

    def __str__(self) -> str:
        if self.dla:
            return f"{self.name} ({self.op}): DLA"
        return f"{self.name} ({self.op}): GPU: " + "; ".join(
            f"{r.rule} {r.parameter}={r.value}: {r.message} {r.source}" for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "family": self.family, "dla": self.dla,
                "unknown_op": self.unknown_op, "reasons": [r.to_dict() for r in self.reasons]}


@dataclass(frozen=True)
class Island:
    """A maximal DLA region = one DLA loadable (``nodes`` in graph order)."""

    index: int
    nodes: tuple[str, ...]
    inputs: tuple[str, ...]    # tensors entering from the GPU or the host
    outputs: tuple[str, ...]   # tensors leaving to the GPU or the host
    internal_bytes: int | None  # at DLA precision; None when a size is unknown

    @property
    def first(self) -> str:
        return self.nodes[0]

    @property
    def last(self) -> str:
        return self.nodes[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "first": self.first, "last": self.last,
                "size": len(self.nodes), "nodes": list(self.nodes),
                "inputs": list(self.inputs), "outputs": list(self.outputs),
                "internal_bytes": self.internal_bytes,
                "over_1gb": (self.internal_bytes or 0) >= ISLAND_INTERNAL_LIMIT}


@dataclass(frozen=True)
class Loadables:
    """Loadables one instance needs (one per island, all on one core) vs the limit."""

    per_instance: int
    limit_per_core: int
    cores: int
    within_limit: bool
    instances_per_core: int | None  # how many instances fit one core; None: no DLA part
    fallback_islands: tuple[int, ...]  # islands past the limit: TensorRT moves them to GPU

    def to_dict(self) -> dict[str, Any]:
        return {"per_instance": self.per_instance, "limit_per_core": self.limit_per_core,
                "cores": self.cores, "within_limit": self.within_limit,
                "instances_per_core": self.instances_per_core,
                "fallback_islands": list(self.fallback_islands)}


@dataclass(frozen=True)
class DlaReport:
    """The DLA report of one model (see module doc); immutable."""

    model: str
    source: str
    target: Target
    nodes: tuple[NodeVerdict, ...]
    islands: tuple[Island, ...]
    loadables: Loadables

    def eligible(self, node_name: str) -> bool:
        """Whether ``node_name`` may run on the DLA (KeyError for an unknown name)."""
        return self.verdict(node_name).dla

    def verdict(self, node_name: str) -> NodeVerdict:
        for v in self.nodes:
            if v.name == node_name:
                return v
        raise KeyError(f"no node {node_name!r} in {self.source}")

    @property
    def gpu_fallbacks(self) -> tuple[NodeVerdict, ...]:
        return tuple(v for v in self.nodes if not v.dla)

    @property
    def unknown_ops(self) -> tuple[NodeVerdict, ...]:
        """Nodes whose op has no ONNX schema (custom ops)."""
        return tuple(v for v in self.nodes if v.unknown_op)

    @property
    def eligible_count(self) -> int:
        return sum(v.dla for v in self.nodes)

    def island_of(self, node_name: str) -> int | None:
        for isl in self.islands:
            if node_name in isl.nodes:
                return isl.index
        return None

    def refusals_by_rule(self) -> dict[str, list[str]]:
        """rule -> names of the nodes it refuses (sorted by rule)."""
        out: dict[str, list[str]] = {}
        for v in self.nodes:
            for r in v.reasons:
                out.setdefault(r.rule, []).append(v.name)
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "source": self.source, "target": self.target.to_dict(),
            "summary": {"nodes": len(self.nodes), "dla_eligible": self.eligible_count,
                        "gpu_fallbacks": len(self.nodes) - self.eligible_count,
                        "islands": len(self.islands)},
            "nodes": [v.to_dict() for v in self.nodes],
            "islands": [i.to_dict() for i in self.islands],
            "gpu_fallbacks": [v.name for v in self.gpu_fallbacks],
            "refusals_by_rule": self.refusals_by_rule(),
            "loadables": self.loadables.to_dict(),
        }


def _model_name(proto: Any, source: str) -> str:
    if not source.startswith("<"):
        return Path(source).stem
    return proto.graph.name or "model"


def check_model(model: Any, *, platform: str, trt_version: str | None = None,
                precision: str = "fp16") -> DlaReport:
    """The DLA report of ``model`` (a path or ``onnx.ModelProto``) for the given target.

    Raises `DlaError` (one line) for a file that is not ONNX, a dynamic graph input, an
    unknown platform/precision or a version the rules do not cover. Unknown ops are refused
    nodes in the report, not errors.
    """
    target = make_target(platform, trt_version, precision)
    view = load_model(model)
    graph = LayerGraph.from_onnx(view.proto, allow_unknown_ops=True)
    by_name = {n.name: n for n in view.nodes}
    verdicts = []
    for name in graph.order:
        node = by_name[name]
        reasons = tuple(check_node(NodeCtx(node=node, model=view, target=target)))
        verdicts.append(NodeVerdict(name=name, op=node.op, dla=not reasons, reasons=reasons,
                                    family=family_of(node.op), unknown_op=not node.known_op))
    eligible = [v.name for v in verdicts if v.dla]
    groups = find_islands(graph.graph, graph.order, eligible)
    elem = 1 if target.precision == "int8" else 2
    islands = tuple(_island(i, g, graph, elem) for i, g in enumerate(groups))
    limit = target.loadable_limit
    n = len(islands)
    loadables = Loadables(
        per_instance=n, limit_per_core=limit, cores=DLA_CORES[target.platform],
        within_limit=n <= limit, instances_per_core=(limit // n) if n else None,
        fallback_islands=tuple(range(limit, n)))
    return DlaReport(model=_model_name(view.proto, view.source), source=view.source,
                     target=target, nodes=tuple(verdicts), islands=islands,
                     loadables=loadables)


def _island(index: int, nodes: tuple[str, ...], graph: LayerGraph, elem: int) -> Island:
    members = set(nodes)
    inputs: list[str] = []
    outputs: list[str] = []
    internal = 0
    known = True
    for name in nodes:
        layer = graph.layer(name)
        for t in layer.inputs:
            info = graph.tensors.get(t)
            if info is None:
                continue  # a weight
            if (info.producer not in members) and t not in inputs:
                inputs.append(t)
        for t in layer.outputs:
            info = graph.tensors.get(t)
            if info is None:
                continue
            leaves = info.is_graph_output or any(c not in members for c in info.consumers)
            if leaves:
                outputs.append(t)
            elif info.shape is None:
                known = False
            else:
                count = 1
                for d in info.shape:
                    count *= d
                internal += count * elem
    return Island(index=index, nodes=nodes, inputs=tuple(inputs), outputs=tuple(outputs),
                  internal_bytes=internal if known else None)


__all__ = ["DLA_CORES", "DlaReport", "Island", "Loadables", "NodeVerdict", "check_model"]

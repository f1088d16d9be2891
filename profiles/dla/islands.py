"""DLA islands: maximal connected DLA-eligible regions that stay one loadable each.

With GPU fallback TensorRT cuts the network at every DLA/GPU boundary and builds one DLA
loadable per connected DLA region (dla_rules.md section 2). A region is only buildable as
one loadable if contracting it keeps the network a DAG: when two DLA regions are joined by
an edge and also by a path through a GPU node (the diamond: ``a -> b`` directly and ``a ->
gpu -> b``), merging them would need the GPU in the middle of one DLA engine. So, as in TVM
BYOC partitioning, regions grow edge by edge in topological order and a merge is refused
when the contracted graph would get a cycle; the result is deterministic (same graph, same
islands).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import networkx as nx


def _path_avoiding_edge(q: nx.DiGraph, x: str, y: str) -> bool:
    """True when ``y`` is reachable from ``x`` in ``q`` by a path of length >= 2."""
    stack = [s for s in q.successors(x) if s != y]
    seen = set(stack)
    while stack:
        n = stack.pop()
        for s in q.successors(n):
            if s == y:
                return True
            if s not in seen:
                seen.add(s)
                stack.append(s)
    return False


def find_islands(graph: nx.DiGraph, order: Sequence[str], eligible: Iterable[str]
                 ) -> list[tuple[str, ...]]:
    """Islands (each a tuple of node names in ``order``), sorted by their first node.

    ``graph``: the layer DAG (nodes = layer names); ``order``: its topological order;
    ``eligible``: the DLA-eligible layers.
    """
    ok = set(eligible)
    position = {n: i for i, n in enumerate(order)}
    rep = {n: n for n in order if n in ok}  # node -> representative of its region

    def find(n: str) -> str:
        while rep[n] != n:
            rep[n] = rep[rep[n]]
            n = rep[n]
        return n

    q = nx.DiGraph()
    q.add_nodes_from(order)
    q.add_edges_from((u, v) for u, v in graph.edges if u != v)
    for v in order:
        if v not in ok:
            continue
        for u in sorted(graph.predecessors(v), key=position.__getitem__):
            if u not in ok:
                continue
            a, b = find(u), find(v)
            if a == b:
                continue
            if _path_avoiding_edge(q, a, b) or _path_avoiding_edge(q, b, a):
                continue  # merging would put a GPU path inside one loadable
            keep, gone = (a, b) if position[a] <= position[b] else (b, a)
            nx.contracted_nodes(q, keep, gone, self_loops=False, copy=False)
            rep[gone] = keep
    groups: dict[str, list[str]] = {}
    for n in order:
        if n in ok:
            groups.setdefault(find(n), []).append(n)
    return sorted((tuple(g) for g in groups.values()), key=lambda g: position[g[0]])


__all__ = ["find_islands"]

"""DLA islands and loadables: chains, GPU breaks, the diamond, and properties on random DAGs."""

from __future__ import annotations

import networkx as nx
import numpy as np
from dla_graphs import G
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.dla import check_model
from profiles.dla.islands import find_islands

ORIN10 = {"platform": "orin-agx", "trt_version": "10.3"}


def test_all_eligible_chain_is_one_island_one_loadable():
    g = G()
    x = g.input("x", [1, 4, 8, 8])
    a = g.node("Relu", [x], name="a")
    b = g.node("Sigmoid", [a], name="b")
    rep = check_model(g.model(b), **ORIN10)
    assert [i.nodes for i in rep.islands] == [("a", "b")]
    assert rep.loadables.per_instance == 1 and rep.loadables.instances_per_core == 16
    assert rep.islands[0].inputs == ("x",) and rep.islands[0].outputs == ("b",)
    assert rep.islands[0].internal_bytes == 4 * 8 * 8 * 2  # 'a' at fp16


def test_gpu_node_in_a_chain_splits_it_into_two_loadables():
    g = G()
    x = g.input("x", [1, 4, 8, 8])
    a = g.node("Relu", [x], name="a")
    e = g.node("Elu", [a], name="gpu")
    b = g.node("Relu", [e], name="b")
    rep = check_model(g.model(b), **ORIN10)
    assert [i.nodes for i in rep.islands] == [("a",), ("b",)]
    assert [v.name for v in rep.gpu_fallbacks] == ["gpu"]
    assert rep.loadables.per_instance == 2 and rep.island_of("gpu") is None


def test_diamond_through_gpu_is_split_not_merged():
    """a -> b directly and a -> gpu -> b: one loadable {a, b} would need the GPU inside."""
    g = G()
    x = g.input("x", [1, 4, 8, 8])
    a = g.node("Relu", [x], name="a")
    e = g.node("Elu", [a], name="gpu")
    b = g.node("Add", [a, e], name="b")
    c = g.node("Relu", [b], name="c")
    rep = check_model(g.model(c), **ORIN10)
    assert [i.nodes for i in rep.islands] == [("a",), ("b", "c")]
    assert rep.loadables.per_instance == 2


def test_limit_past_16_islands_reports_the_fallback_islands():
    g = G()
    t = g.input("x", [1, 4, 8, 8])
    for i in range(18):
        t = g.node("Relu", [t], name=f"r{i}")
        t = g.node("Elu", [t], name=f"e{i}")
    rep = check_model(g.model(t), **ORIN10)
    assert rep.loadables.per_instance == 18 and not rep.loadables.within_limit
    assert rep.loadables.fallback_islands == (16, 17)
    d = rep.to_dict()
    assert d["loadables"]["within_limit"] is False and len(d["islands"]) == 18


def _check_partition(graph: nx.DiGraph, order: list[str], eligible: set[str]) -> None:
    islands = find_islands(graph, order, eligible)
    members = [n for isl in islands for n in isl]
    assert sorted(members) == sorted(eligible) and len(members) == len(set(members))
    region = {n: i for i, isl in enumerate(islands) for n in isl}
    for isl in islands:
        assert nx.is_weakly_connected(graph.subgraph(isl))
    q = nx.DiGraph()
    for n in order:
        q.add_node(region.get(n, n))
    for u, v in graph.edges:
        ru, rv = region.get(u, u), region.get(v, v)
        if ru != rv:
            q.add_edge(ru, rv)
    assert nx.is_directed_acyclic_graph(q)
    # maximal: two islands joined by an edge cannot be merged without a cycle
    for u, v in graph.edges:
        if u in region and v in region and region[u] != region[v]:
            merged = nx.relabel_nodes(q, {region[v]: region[u]})
            merged.remove_edges_from(list(nx.selfloop_edges(merged)))
            assert not nx.is_directed_acyclic_graph(merged)


@settings(max_examples=60, deadline=None)
@given(st.integers(4, 14), st.floats(0.1, 0.5), st.floats(0.0, 0.5), st.integers(0, 10**6))
def test_islands_partition_connected_acyclic_and_maximal(n, density, gpu_share, seed):
    rng = np.random.default_rng(seed)
    order = [f"n{i}" for i in range(n)]
    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < density:
                graph.add_edge(order[i], order[j])
    eligible = {v for v in order if rng.random() >= gpu_share}
    _check_partition(graph, order, eligible)


"""Deterministic synthetic cost tables for tests, property checks and solver benchmarks.

Shapes follow the published Xavier figures: DLA 1.5-3.5x slower than the GPU per group,
transitions 0.01-0.08 ms, bandwidth demand 5-60 GB/s. Values are rounded to ``decimals``
places of a millisecond so integer-time backends represent them exactly. The tables say
``source: synthetic`` so they are never mistaken for measurements.
"""

from __future__ import annotations

import random

from profiles.costtable import CostTable, GroupCost


def synthetic_table(
    n_groups: int,
    seed: int = 0,
    *,
    model: str | None = None,
    platform: str = "xavier-agx",
    ineligible_fraction: float = 0.0,
    bandwidth: bool = True,
    decimals: int = 4,
) -> CostTable:
    """A reproducible table of ``n_groups`` groups (same seed, same table)."""
    if n_groups < 1:
        raise ValueError("n_groups must be >= 1")
    rng = random.Random(f"layerswap-synthetic-{seed}-{n_groups}")
    rows = []
    eligible = [rng.random() >= ineligible_fraction for _ in range(n_groups)]

    def q(x: float) -> float:
        return max(round(x, decimals), 10.0 ** -decimals)

    for g in range(n_groups):
        gpu = q(rng.uniform(0.02, 0.4))
        dla = q(gpu * rng.uniform(1.5, 3.5)) if eligible[g] else None
        last = g == n_groups - 1
        g2d = None if last or not eligible[g + 1] else q(rng.uniform(0.01, 0.045))
        d2g = None if last or dla is None else q(rng.uniform(0.04, 0.08))
        rows.append(GroupCost(
            group=g, gpu_ms=gpu, dla_ms=dla, gpu_to_dla_ms=g2d, dla_to_gpu_ms=d2g,
            first_layer=f"layer_{3 * g}", last_layer=f"layer_{3 * g + 2}", layers=3,
            gpu_bw_gbps=round(rng.uniform(5, 60), 2) if bandwidth else None,
            dla_bw_gbps=round(rng.uniform(3, 25), 2) if bandwidth and dla is not None else None,
        ))
    meta = {"model": model or f"synth{seed}_{n_groups}", "platform": platform,
            "precision": "fp16", "source": "synthetic",
            "provenance": f"profiles.synthetic.synthetic_table(n_groups={n_groups}, seed={seed})"}
    return CostTable.build(rows, meta, origin=f"<synthetic {n_groups} groups, seed {seed}>")


def scaled_table(table: CostTable, low: float, high: float, seed: int = 0, *,
                 decimals: int = 4) -> CostTable:
    """``table`` with every time of group ``g`` (its GPU and DLA times and the transitions
    after it) multiplied by a factor drawn uniformly from ``[low, high]`` (rounded to
    ``decimals`` places; same seed, same table). Used for large-time problems: x60-100 turns
    the synthetic 0.02-1.4 ms groups into 1-140 ms ones, where the ILP once returned a wrong
    optimum (issue 11)."""
    rng = random.Random(f"layerswap-scaled-{seed}-{table.model}")

    def times(x: float | None, factor: float) -> float | None:
        return None if x is None else max(round(x * factor, decimals), 10.0 ** -decimals)

    rows = []
    for row in table.rows:
        f = rng.uniform(low, high)
        rows.append(GroupCost(
            group=row.group, gpu_ms=times(row.gpu_ms, f) or 0.0, dla_ms=times(row.dla_ms, f),
            gpu_to_dla_ms=times(row.gpu_to_dla_ms, f), dla_to_gpu_ms=times(row.dla_to_gpu_ms, f),
            first_layer=row.first_layer, last_layer=row.last_layer, layers=row.layers,
            gpu_bw_gbps=row.gpu_bw_gbps, dla_bw_gbps=row.dla_bw_gbps))
    meta = dict(table.metadata)
    meta["provenance"] = (f"profiles.synthetic.scaled_table({meta.get('provenance', table.model)},"
                          f" low={low}, high={high}, seed={seed})")
    return CostTable.build(rows, meta, origin=f"<{table.origin} x{low}-{high}>")


def large_times_pair() -> tuple[CostTable, CostTable]:
    """The issue-11 example: two 8-group synthetic tables with every time x60-100 (groups of
    ~1-140 ms). `layerswap compare` must agree across backends on it."""
    return (scaled_table(synthetic_table(8, 1, model="big_a"), 60, 100, seed=1),
            scaled_table(synthetic_table(8, 2, model="big_b"), 60, 100, seed=2))


def synthetic_onnx_table(
    model: object,
    n_groups: int,
    seed: int = 0,
    *,
    name: str | None = None,
    platform: str = "xavier-agx",
    max_crossing: int | None = None,
    ineligible_fraction: float = 0.0,
    bandwidth: bool = True,
) -> CostTable:
    """A synthetic table whose groups are real layer ranges of an ONNX model.

    The model (path or ``onnx.ModelProto``) is grouped with `LayerGraph.group` into
    ``n_groups`` groups with at most ``max_crossing`` tensors crossing each boundary (None:
    any cut), and the table records the ONNX mapping (``first_layer``, ``last_layer``,
    ``cut_tensors``, ``# onnx_graph:``), so it can be exported; the times are those of
    `synthetic_table` with the same seed (``source: synthetic``).
    """
    from profiles.graph import LayerGraph
    from profiles.onnxmap import mapped_table

    graph = LayerGraph.from_onnx(model, allow_unknown_ops=True)
    limit = len(graph.tensors) + 1 if max_crossing is None else max_crossing
    grouping = graph.group(n_groups, max_crossing=limit)
    times = synthetic_table(n_groups, seed, model=name, platform=platform,
                            ineligible_fraction=ineligible_fraction, bandwidth=bandwidth)
    meta = dict(times.metadata)
    meta["provenance"] = (f"profiles.synthetic.synthetic_onnx_table(n_groups={n_groups}, "
                          f"seed={seed}) on {graph.source}")
    if name is None:
        meta["model"] = str(getattr(getattr(model, "graph", None), "name", "") or
                            meta["model"])
    table = mapped_table(
        grouping, model, gpu_ms=[r.gpu_ms for r in times.rows],
        dla_ms=[r.dla_ms for r in times.rows],
        gpu_to_dla_ms=[r.gpu_to_dla_ms for r in times.rows],
        dla_to_gpu_ms=[r.dla_to_gpu_ms for r in times.rows], metadata=meta,
        origin=f"<synthetic {n_groups} groups of {graph.source}, seed {seed}>")
    if bandwidth:
        from profiles.costtable import replace_rows

        rows = [GroupCost(**{**_asdict(r), "gpu_bw_gbps": t.gpu_bw_gbps,
                             "dla_bw_gbps": t.dla_bw_gbps})
                for r, t in zip(table.rows, times.rows, strict=True)]
        table = replace_rows(table, rows)
    return table


def _asdict(row: GroupCost) -> dict[str, object]:
    from dataclasses import fields

    return {f.name: getattr(row, f.name) for f in fields(row)}

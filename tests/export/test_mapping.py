"""Cost-table groups <-> ONNX layers: recorded when a table is made, checked at export."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from dag_models import MODELS

from profiles.costtable import CostTable, load_published, replace_rows
from profiles.errors import ProfileError
from profiles.graph import LayerGraph, onnx_graph_signature
from profiles.onnxmap import has_mapping, map_table
from profiles.sweep import ingest_sweep
from profiles.synthetic import synthetic_onnx_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sweep_chain"


def test_synthetic_onnx_table_records_the_mapping_and_survives_csv(tmp_path):
    model = MODELS["unet"]()
    table = synthetic_onnx_table(model, 4, seed=3, name="unet")
    assert has_mapping(table)
    assert table.metadata["onnx_graph"] == onnx_graph_signature(model)
    path = table.to_csv(tmp_path / "unet.csv")
    back = CostTable.from_csv(path)
    mapping = map_table(back, model)
    graph = LayerGraph.from_onnx(model)
    assert [s.start for s in mapping.spans] == [0, *(s.end for s in mapping.spans[:-1])]
    assert mapping.spans[-1].end == len(graph)
    assert mapping.layers(0, 3) == graph.order
    # U-Net cuts are crossed by several tensors; the table lists them all
    assert any(len(s.cut_tensors) > 1 for s in mapping.spans)
    assert back.rows[0].extra["cut_tensors"] == ";".join(mapping.spans[0].cut_tensors)


def test_a_published_table_without_mapping_is_refused():
    table = load_published("googlenet_xavier")
    with pytest.raises(ProfileError) as info:
        map_table(table, MODELS["diamond"]())
    msg = str(info.value)
    assert "has no ONNX mapping" in msg and "layerswap estimate" in msg
    assert "profile ingest-sweep" in msg and "googlenet_xavier.csv" in msg


def test_signature_mismatch_names_both_files(tmp_path):
    table = synthetic_onnx_table(MODELS["diamond"](), 3, name="diamond")
    table_path = table.to_csv(tmp_path / "diamond.csv")
    other = tmp_path / "other.onnx"
    onnx.save(MODELS["unet"](), other)
    with pytest.raises(ProfileError) as info:
        map_table(CostTable.from_csv(table_path), other)
    assert str(table_path) in str(info.value) and str(other) in str(info.value)


def test_weights_do_not_matter_but_layer_names_do():
    table = synthetic_onnx_table(MODELS["diamond"](seed=0), 3, name="diamond")
    map_table(table, MODELS["diamond"](seed=5))  # same graph, other weights: fine


def test_wrong_cut_tensors_and_non_contiguous_rows_are_refused():
    model = MODELS["diamond"]()
    table = synthetic_onnx_table(model, 3, name="diamond")
    rows = list(table.rows)
    rows[0] = type(rows[0])(**{**rows[0].__dict__, "extra": {"cut_tensors": "nope"}})
    with pytest.raises(ProfileError, match="cut_tensors nope differ"):
        map_table(replace_rows(table, rows), model)
    rows = list(table.rows)
    rows[1] = type(rows[1])(**{**rows[1].__dict__, "first_layer": rows[2].first_layer})
    with pytest.raises(ProfileError, match="contiguously"):
        map_table(replace_rows(table, rows), model)
    rows = list(table.rows)
    rows[2] = type(rows[2])(**{**rows[2].__dict__, "last_layer": "no_such_layer"})
    with pytest.raises(ProfileError, match="not a layer of"):
        map_table(replace_rows(table, rows), model)


def test_ingest_sweep_records_the_mapping():
    result = ingest_sweep(FIXTURES / "sweep")
    table = result.to_cost_table(platform="orin-agx")
    assert has_mapping(table)
    mapping = map_table(table, FIXTURES / "chain.onnx")
    assert [s.cut_tensors for s in mapping.spans[:-1]] == [("t1",), ("t3",), ("t5",)]

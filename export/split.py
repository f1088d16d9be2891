"""The splitter: one ONNX sub-model per schedule segment (onnx-graphsurgeon).

A segment of a job is a contiguous range of cost-table groups, hence (through the table's
ONNX mapping, `profiles.onnxmap`) a contiguous range ``order[start:end]`` of the model's
`LayerGraph` order. Its sub-model is cut with the graphsurgeon sub-graph idiom: copy the
graph, set ``graph.inputs`` / ``graph.outputs`` to the segment's boundary tensors,
``cleanup()``, export; then ``onnx.checker`` (full check) and strict shape inference.

Boundary tensors of a segment (DAG cuts are the normal case):

- **inputs**: every non-constant tensor a layer of the segment reads that no layer of the
  segment produces: a model input (graph inputs may be read by late segments only) or an
  output of an earlier segment, which need not be the previous one (a skip connection
  produced in segment 0 and read in segment 2 is an output of 0 and an input of 2, and
  passes segment 1 by);
- **outputs**: every tensor the segment produces that a later segment reads or that is a
  model output (a model output may come from an early segment; a tensor read by two later
  segments is one output with two consumers).

Initializers and ``Constant`` nodes are weights: each sub-model keeps the ones it uses
(``cleanup`` drops the rest), so a weight shared by two segments is in both files. Names
of tensors and nodes are the original ones, so a sub-model's input ``t`` is the tensor ``t``
its producer outputs. Inputs are listed in the order the segment first reads them, outputs
in the order it produces them: deterministic, and byte-identical files for equal inputs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from export.errors import ExportError
from profiles.errors import ProfileError
from profiles.graph import LayerGraph, TensorInfo, _load_onnx
from profiles.onnxmap import TableMapping, map_table


@dataclass(frozen=True)
class BoundaryTensor:
    """A tensor at a sub-model's boundary.

    For an input, ``producer`` is the index of the producing segment (None: a model input).
    For an output, ``consumers`` are the later segments that read it and ``model_output``
    says whether it is a model output.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    producer: int | None = None
    consumers: tuple[int, ...] = ()
    model_output: bool = False

    @property
    def nbytes(self) -> int:
        return _DTYPE_BYTES.get(self.dtype, 4) * _prod(self.shape)


@dataclass(frozen=True)
class SubModel:
    """Layers ``order[start:end]`` of a model as a standalone ONNX model."""

    index: int
    start: int
    end: int
    layers: tuple[str, ...]
    inputs: tuple[BoundaryTensor, ...]
    outputs: tuple[BoundaryTensor, ...]
    proto: Any  # onnx.ModelProto

    @property
    def first_layer(self) -> str:
        return self.layers[0]

    @property
    def last_layer(self) -> str:
        return self.layers[-1]

    def serialized(self) -> bytes:
        """The ONNX bytes (deterministic for equal sub-models)."""
        return self.proto.SerializeToString(deterministic=True)


@dataclass(frozen=True)
class ModelSplit:
    """One model cut into consecutive sub-models."""

    source: str
    graph: LayerGraph
    inputs: tuple[BoundaryTensor, ...]   # the model's inputs
    outputs: tuple[BoundaryTensor, ...]  # the model's outputs
    submodels: tuple[SubModel, ...]


def infer_static(model: str | os.PathLike[str] | Any) -> tuple[Any, str]:
    """Load an ONNX model and run strict shape inference (value_info filled)."""
    prepared = PreparedModel.load(model)
    return prepared.inferred, prepared.source


@dataclass(frozen=True)
class PreparedModel:
    """A model loaded once for many splits: its file, shape-inferred form and layer graph.

    ``original`` is the model as given (its `onnx_graph_signature` is the table's key);
    ``inferred`` went through strict shape inference (static boundary shapes); ``graph`` is
    the `LayerGraph` whose order the cost-table groups index.
    """

    source: str
    original: Any
    inferred: Any
    graph: LayerGraph
    gs_graph: Any

    @classmethod
    def load(cls, model: str | os.PathLike[str] | Any) -> PreparedModel:
        import onnx

        try:
            proto, source = _load_onnx(model)
        except ProfileError as exc:
            raise ExportError(exc.detail, source=exc.source) from None
        try:
            inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
        except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
            raise ExportError(f"ONNX shape inference fails ({exc}); the export needs a model "
                              "whose shapes infer (static, batch fixed)", source=source) from None
        try:
            graph = LayerGraph.from_onnx(inferred, allow_unknown_ops=True, infer_shapes=False,
                                         source=source)
        except ProfileError as exc:
            raise ExportError(exc.detail, source=source, entry=exc.entry) from None
        return cls(source, proto, inferred, graph, _import_gs(inferred))

    def map_table(self, table: Any) -> TableMapping:
        """`profiles.onnxmap.map_table` against this model (errors become `ExportError`)."""
        try:
            return map_table(table, self.original, graph=self.graph, source=self.source)
        except ProfileError as exc:
            raise ExportError(exc.detail, source=exc.source, entry=exc.entry) from None

    def split(self, ranges: Sequence[tuple[int, int]], *, name: str | None = None
              ) -> ModelSplit:
        """Cut into sub-models, one per ``(start, end)`` range of the layer order (module
        docstring); ranges must cover the order contiguously from 0."""
        return _split(self, ranges, name)

    def split_groups(self, mapping: TableMapping, segments: Sequence[tuple[int, int]], *,
                     name: str | None = None) -> ModelSplit:
        """`split` with segments as inclusive group ranges of a mapped cost table."""
        ranges = [(mapping.spans[a].start, mapping.spans[b].end) for a, b in segments]
        return _split(self, ranges, name)


def split_onnx(model: str | os.PathLike[str] | Any, ranges: Sequence[tuple[int, int]], *,
               name: str | None = None) -> ModelSplit:
    """Cut ``model`` into sub-models, one per ``(start, end)`` range of its layer order.

    The ranges (end exclusive) must cover ``LayerGraph.from_onnx(model).order`` contiguously
    from 0. Every sub-model passes ``onnx.checker`` (full check: strict shape inference
    included); every boundary tensor has a static shape (else `ExportError`).
    """
    return PreparedModel.load(model).split(ranges, name=name)


def map_and_split(table: Any, model: str | os.PathLike[str] | Any,
                  segments: Sequence[tuple[int, int]], *, name: str | None = None
                  ) -> tuple[TableMapping, ModelSplit]:
    """Check ``table`` against ``model`` (`profiles.onnxmap.map_table`), then split it at
    the table's groups (``segments``: inclusive group ranges)."""
    prepared = PreparedModel.load(model)
    mapping = prepared.map_table(table)
    return mapping, prepared.split_groups(mapping, segments, name=name)


def _split(prepared: PreparedModel, ranges: Sequence[tuple[int, int]], name: str | None
           ) -> ModelSplit:
    graph, source, inferred = prepared.graph, prepared.source, prepared.inferred
    n = len(graph.order)
    expect = 0
    for k, (a, b) in enumerate(ranges):
        if a != expect or b <= a:
            raise ExportError(f"segment {k} covers layers {a}..{b - 1}; segments must cover "
                              f"the layer order 0..{n - 1} contiguously (next expected {expect})",
                              source=source, entry=f"segment {k}")
        expect = b
    if expect != n:
        raise ExportError(f"the segments end at layer {expect - 1}, the model has {n} layers",
                          source=source)
    seg_of = {}
    for k, (a, b) in enumerate(ranges):
        for name_ in graph.order[a:b]:
            seg_of[name_] = k
    tensors = graph.tensors
    ins: list[list[str]] = [[] for _ in ranges]
    outs: list[list[str]] = [[] for _ in ranges]
    for k, (a, b) in enumerate(ranges):
        for layer_name in graph.order[a:b]:
            layer = graph.layer(layer_name)
            for t in layer.inputs:
                info = tensors.get(t)
                if info is None:  # a weight (initializer or Constant output)
                    continue
                if (info.producer is None or seg_of[info.producer] != k) and t not in ins[k]:
                    ins[k].append(t)
            for t in layer.outputs:
                info = tensors.get(t)
                if info is None:
                    continue
                later = any(seg_of[c] > k for c in info.consumers)
                if (later or info.is_graph_output) and t not in outs[k]:
                    outs[k].append(t)
    model_inputs = tuple(_boundary(source, tensors[t], "model input") for t in graph.inputs
                         if t in tensors)
    model_outputs = tuple(_boundary(source, tensors[t], "model output")
                          for t in graph.outputs)
    for t in graph.outputs:
        if tensors[t].producer is None:
            raise ExportError(f"model output {t!r} is not produced by a layer (a graph input "
                              "or a constant); such a model cannot be split", source=source,
                              entry=t)
    for k, (a, b) in enumerate(ranges):
        if not outs[k]:
            raise ExportError(f"segment {k} (layers {graph.order[a]!r}..{graph.order[b - 1]!r}) "
                              "produces nothing a later segment or the model output uses (dead "
                              "layers); merge it with a neighbour", source=source,
                              entry=f"segment {k}")
    base = name or (inferred.graph.name or "model")
    subs = []
    for k, (a, b) in enumerate(ranges):
        inputs = tuple(
            _boundary(source, tensors[t], f"segment {k} input",
                      producer=None if tensors[t].producer is None
                      else seg_of[tensors[t].producer]) for t in ins[k])
        outputs = tuple(
            _boundary(source, tensors[t], f"segment {k} output",
                      consumers=tuple(sorted({seg_of[c] for c in tensors[t].consumers
                                              if seg_of[c] > k})),
                      model_output=tensors[t].is_graph_output) for t in outs[k])
        proto = _cut(prepared.gs_graph, inferred, ins[k], outs[k], f"{base}_L{a}-{b - 1}",
                     source, k)
        _check_nodes(proto, graph, graph.order[a:b], source, k)
        subs.append(SubModel(k, a, b, graph.order[a:b], inputs, outputs, proto))
    return ModelSplit(source, graph, model_inputs, model_outputs, tuple(subs))


def run_split(split: ModelSplit, feeds: Mapping[str, Any]) -> dict[str, Any]:
    """Run the sub-models in order with ONNX Runtime (CPU); returns the model outputs.

    Each sub-model reads the model inputs and the earlier sub-models' outputs it needs, with
    graph optimisations off (`runtime.agreement.reference_session_options`); this is what the
    tests use to show a split reproduces the whole model (`runtime.agreement.SAME_KERNELS`).
    """
    import onnxruntime as ort

    from runtime.agreement import reference_session_options

    values: dict[str, Any] = dict(feeds)
    for sub in split.submodels:
        sess = ort.InferenceSession(sub.serialized(), reference_session_options(),
                                    providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        results = sess.run(names, {t.name: values[t.name] for t in sub.inputs})
        values.update(zip(names, results, strict=True))
    return {t.name: values[t.name] for t in split.outputs}


# ---------------------------------------------------------------------- helpers
def _boundary(source: str, info: TensorInfo, what: str, *, producer: int | None = None,
              consumers: tuple[int, ...] = (), model_output: bool = False) -> BoundaryTensor:
    if info.shape is None or info.dtype is None:
        raise ExportError(f"{what} {info.name!r} has no static shape/dtype after shape "
                          "inference; export the model with fixed input shapes (batch 1)",
                          source=source, entry=info.name)
    return BoundaryTensor(info.name, tuple(info.shape), info.dtype, producer, consumers,
                          model_output)


def _import_gs(proto: Any) -> Any:
    import onnx_graphsurgeon as gs

    return gs.import_onnx(proto)


def _cut(gs_graph: Any, original: Any, inputs: Sequence[str], outputs: Sequence[str],
         name: str, source: str, k: int) -> Any:
    import onnx
    import onnx_graphsurgeon as gs

    sub = gs_graph.copy()
    tensors = sub.tensors()
    sub.inputs = [tensors[t] for t in inputs]
    sub.outputs = [tensors[t] for t in outputs]
    sub.name = name
    sub.cleanup()
    proto = gs.export_onnx(sub, do_type_check=True)
    proto.ir_version = original.ir_version
    del proto.opset_import[:]
    proto.opset_import.extend(original.opset_import)
    proto.producer_name = "layerswap"
    # named by its layer range, not its index: the same range gives the same bytes
    proto.doc_string = f"layerswap sub-model {name}"
    try:
        # full_check runs strict shape inference too; value_info comes from the whole
        # model's inference (graphsurgeon keeps every tensor's dtype and shape)
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportError(f"sub-model {k} fails the ONNX checker or shape inference ({exc})",
                          source=source, entry=f"segment {k}") from None
    return proto


def _check_nodes(proto: Any, graph: LayerGraph, layers: Sequence[str], source: str,
                 k: int) -> None:
    """The sub-model must hold the segment's layers and nothing else but constants."""
    allowed = {t for name in layers for t in graph.layer(name).outputs}
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            continue
        stray = [t for t in node.output if t and t not in allowed]
        if stray:
            raise ExportError(f"sub-model {k} pulled in node {node.name!r} of another segment "
                              f"(output {stray[0]!r}): a boundary tensor is missing",
                              source=source, entry=f"segment {k}")


def _prod(shape: Sequence[int]) -> int:
    out = 1
    for d in shape:
        out *= int(d)
    return out


_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1, "uint8": 1,
                "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
                "bool": 1}


__all__ = [
    "BoundaryTensor",
    "ModelSplit",
    "PreparedModel",
    "SubModel",
    "infer_static",
    "map_and_split",
    "run_split",
    "split_onnx",
]

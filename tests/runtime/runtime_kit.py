"""Test kit: tiny ONNX DAGs, a node-range splitter and hand-written Manifest v1 folders.

The runtime's tests build their own sub-models and manifests (independent of the exporter):
`skip_net` is a small conv net with skip connections, a model input read again after the
first cut and an early model output, so cuts cross several tensors; `split` cuts a model
after given node indices (graph order) into sub-models whose inputs/outputs are exactly the
tensors crossing each cut; `write_export` writes the folder a `layerswap export` would write
(segments/*.onnx + manifest.json with sha256, bindings, device orders, predictions).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Cuts after node 2 (crossing r1 and the model input x, after the early output) and after
# node 4 (crossing r2, r1 and x): every hand-off carries a skip connection.
LATENCY = {("a", 0): [(2, "GPU"), (4, "DLA0"), (8, "GPU")],
           ("b", 0): [(5, "DLA1"), (8, "GPU")]}
# Two instances per model, partitioned differently (frame f -> instance f % 2).
THROUGHPUT = {("a", 0): [(2, "GPU"), (4, "DLA0"), (8, "GPU")],
              ("a", 1): [(4, "DLA1"), (8, "GPU")],
              ("b", 0): [(8, "DLA0")],
              ("b", 1): [(3, "GPU"), (6, "DLA1"), (8, "DLA0")]}


OPSET = 17


def _conv(rng: np.random.Generator, name: str, x: str, y: str, cin: int, cout: int
          ) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    w = numpy_helper.from_array(
        (rng.standard_normal((cout, cin, 3, 3)) / (3 * np.sqrt(cin))).astype(np.float32),
        f"{name}.w")
    b = numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32) * 0.1, f"{name}.b")
    node = helper.make_node("Conv", [x, w.name, b.name], [y], name=name, pads=[1, 1, 1, 1])
    return node, [w, b]


def skip_net(*, channels: int = 4, size: int = 8, seed: int = 0) -> onnx.ModelProto:
    """x -> c1 -> r1 -> c2 -> r2 -> add(r2, r1) -> c3 -> cat(c3, x) -> c4 -> y, plus an early
    output ``early = sigmoid(r1)``. Node order (indices for `split`):
    0 c1, 1 r1, 2 early, 3 c2, 4 r2, 5 add, 6 c3, 7 cat, 8 c4."""
    rng = np.random.default_rng(seed)
    c = channels
    nodes, inits = [], []
    for name, x, y, cin, cout in (("c1", "x", "t1", c, c),):
        n, w = _conv(rng, name, x, y, cin, cout)
        nodes.append(n)
        inits += w
    nodes.append(helper.make_node("Relu", ["t1"], ["r1"], name="r1"))
    nodes.append(helper.make_node("Sigmoid", ["r1"], ["early"], name="early"))
    n, w = _conv(rng, "c2", "r1", "t2", c, c)
    nodes.append(n)
    inits += w
    nodes.append(helper.make_node("Relu", ["t2"], ["r2"], name="r2"))
    nodes.append(helper.make_node("Add", ["r2", "r1"], ["s"], name="add"))
    n, w = _conv(rng, "c3", "s", "t3", c, c)
    nodes.append(n)
    inits += w
    nodes.append(helper.make_node("Concat", ["t3", "x"], ["cat"], name="cat", axis=1))
    n, w = _conv(rng, "c4", "cat", "y", 2 * c, c)
    nodes.append(n)
    inits += w
    shape = [1, c, size, size]
    graph = helper.make_graph(
        nodes, "skip_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("early", TensorProto.FLOAT, shape)],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    return model


def gather_net(*, size: int = 8) -> onnx.ModelProto:
    """x[1, size] -> c = Cast(x, int64) -> g = Gather(table, c) -> y = g + 1.

    Runs fine for inputs in [0, size) and raises inside ONNX Runtime ("indices element out of
    data bounds") when a frame holds a value >= size: a real data-dependent fault."""
    table = numpy_helper.from_array(np.arange(size, dtype=np.float32) * 2.0, "table")
    one = numpy_helper.from_array(np.ones((1, size), np.float32), "one")
    nodes = [helper.make_node("Identity", ["x"], ["xi"], name="ident"),
             helper.make_node("Cast", ["xi"], ["c"], name="cast", to=TensorProto.INT64),
             helper.make_node("Gather", ["table", "c"], ["g"], name="gather", axis=0),
             helper.make_node("Add", ["g", "one"], ["y"], name="plus")]
    graph = helper.make_graph(
        nodes, "gather_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, size])],
        initializer=[table, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    return model


def _value_infos(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    g = model.graph
    return {v.name: v for v in [*g.input, *g.output, *g.value_info]}


def split(model: onnx.ModelProto, cuts: Sequence[int]) -> list[onnx.ModelProto]:
    """Cut ``model`` after each node index in ``cuts`` (graph order) into sub-models.

    A part's inputs are the tensors it reads that an earlier part (or the graph input)
    produces; its outputs are the tensors it produces that a later part reads, plus graph
    outputs it produces."""
    nodes = list(model.graph.node)
    bounds = [0, *[c + 1 for c in cuts], len(nodes)]
    infos = _value_infos(model)
    inits = {t.name: t for t in model.graph.initializer}
    graph_outputs = [o.name for o in model.graph.output]
    parts = []
    for p in range(len(bounds) - 1):
        part = nodes[bounds[p]:bounds[p + 1]]
        later = nodes[bounds[p + 1]:]
        produced = [o for n in part for o in n.output]
        read = []
        for n in part:
            for i in n.input:
                if i and i not in produced and i not in inits and i not in read:
                    read.append(i)
        later_reads = {i for n in later for i in n.input}
        outs = [t for t in produced if t in later_reads or t in graph_outputs]
        used_inits = [inits[i] for n in part for i in n.input if i in inits]
        graph = helper.make_graph(part, f"{model.graph.name}_part{p}",
                                  [infos[t] for t in read], [infos[t] for t in outs],
                                  initializer=list({t.name: t for t in used_inits}.values()))
        sub = helper.make_model(graph, opset_imports=list(model.opset_import))
        sub.ir_version = model.ir_version
        onnx.checker.check_model(sub)
        parts.append(sub)
    return parts


def _tensor(v: onnx.ValueInfoProto) -> dict:
    t = v.type.tensor_type
    return {"name": v.name, "shape": [d.dim_value for d in t.shape.dim],
            "dtype": np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)).name}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_export(directory: Path, models: Mapping[str, onnx.ModelProto],
                 placements: Mapping[tuple[str, int], Sequence[tuple[int, str]]], *,
                 objective: str = "latency", frames_per_round: int = 1,
                 device_order: Mapping[str, Sequence[str]] | None = None,
                 ms_per_node: float = 0.1) -> Path:
    """Write ``directory/manifest.json`` + ``segments/*.onnx``.

    ``placements[(model, instance)]`` lists segments as (last node index, device); e.g.
    ``[(2, "GPU"), (5, "DLA0"), (8, "GPU")]``. ``device_order`` defaults to every device's
    segments sorted by (instance, segment index, model), which is always deadlock-free.
    Predictions: every node costs ``ms_per_node``; starts/ends follow the device orders."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "segments").mkdir(exist_ok=True)
    doc_models, segments, handoffs = [], [], []
    for name, model in models.items():
        path = directory / f"{name}.onnx"
        onnx.save(model, path)
        doc_models.append({"name": name, "graph_signature": _sha(path), "source_onnx": path.name,
                           "inputs": [_tensor(v) for v in model.graph.input],
                           "outputs": [_tensor(v) for v in model.graph.output]})
    for (name, inst), parts in placements.items():
        model = models[name]
        subs = split(model, [last for last, _ in parts[:-1]])
        graph_inputs = {v.name for v in model.graph.input}
        graph_outputs = {v.name for v in model.graph.output}
        producer: dict[str, str] = {}
        first = 0
        for k, ((last, device), sub) in enumerate(zip(parts, subs, strict=True)):
            sid = f"{name}#{inst}/{k}"
            rel = f"segments/{name}.i{inst}.s{k}.onnx"
            onnx.save(sub, directory / rel)
            inputs = []
            for v in sub.graph.input:
                t = _tensor(v)
                t["from"] = ({"model_input": v.name} if v.name in graph_inputs
                             else {"segment": producer[v.name], "output": v.name})
                inputs.append(t)
            outputs = []
            for v in sub.graph.output:
                t = _tensor(v)
                t["model_output"] = v.name in graph_outputs
                outputs.append(t)
                producer[v.name] = sid
            core = {"GPU": None, "DLA0": 0, "DLA1": 1}[device]
            nodes = list(model.graph.node)
            segments.append({
                "id": sid, "model": name, "instance": inst, "index": k, "device": device,
                "precision": "fp32" if device == "GPU" else "fp16", "file": rel,
                "sha256": _sha(directory / rel),
                "first_group": first, "last_group": last, "first_layer": nodes[first].name,
                "last_layer": nodes[last].name, "inputs": inputs, "outputs": outputs,
                "engine": {"file": f"engines/{name}.i{inst}.s{k}.plan", "dla_core": core},
                "predicted": {"start_ms": 0.0, "end_ms": 0.0},
                "_cost": ms_per_node * (last - first + 1)})
            first = last + 1
    by_id = {s["id"]: s for s in segments}
    for s in segments:
        for t in s["inputs"]:
            src = t["from"].get("segment")
            if src is None:
                continue
            edge = next((h for h in handoffs if h["from"] == src and h["to"] == s["id"]), None)
            nbytes = int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize
            if edge is None:
                kinds = [by_id[x]["device"] for x in (src, s["id"])]
                handoffs.append({"from": src, "to": s["id"], "tensors": [t["name"]],
                                 "bytes": nbytes, "direction": "->".join(kinds),
                                 "predicted_ms": 0.0})
            else:
                edge["tensors"].append(t["name"])
                edge["bytes"] += nbytes
    if device_order is None:
        device_order = {
            d: [s["id"] for s in sorted((s for s in segments if s["device"] == d),
                                        key=lambda s: (s["instance"], s["index"], s["model"]))]
            for d in ("GPU", "DLA0", "DLA1")}
    order = {d: list(device_order.get(d, [])) for d in ("GPU", "DLA0", "DLA1")}
    _predict(segments, order)
    busy = {d: round(sum(by_id[s]["_cost"] for s in ids), 6) for d, ids in order.items()}
    makespan = max(s["predicted"]["end_ms"] for s in segments)
    period = max(busy.values()) / frames_per_round if objective == "throughput" else None
    for s in segments:
        del s["_cost"]
    doc = {
        "format": "layerswap-manifest", "version": 1, "objective": objective,
        "platform": "orin-agx", "frames_per_round": frames_per_round, "models": doc_models,
        "segments": segments, "handoffs": handoffs, "device_order": order,
        "predicted": {"makespan_ms": makespan, "period_ms": period,
                      "throughput_fps": None if period is None else round(1000 / period, 6),
                      "device_busy_ms": busy},
        "provenance": {"layerswap_version": "0.1.0", "solver": "hand-written", "status":
                       "feasible", "objective_ms": period or makespan, "lower_bound_ms": 0.0,
                       "tables": []}}
    path = directory / "manifest.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _predict(segments: list[dict], order: Mapping[str, Sequence[str]]) -> None:
    """Semi-active times of one round from the device orders (no transition costs)."""
    by_id = {s["id"]: s for s in segments}
    end: dict[str, float] = {}
    pos = {d: 0 for d in order}
    free = {d: 0.0 for d in order}
    while len(end) < len(segments):
        moved = False
        for d, ids in order.items():
            if pos[d] >= len(ids):
                continue
            s = by_id[ids[pos[d]]]
            preds = [t["from"]["segment"] for t in s["inputs"] if "segment" in t["from"]]
            if all(p in end for p in preds):
                start = max([free[d], *[end[p] for p in preds]])
                end[s["id"]] = start + s["_cost"]
                s["predicted"] = {"start_ms": round(start, 6), "end_ms": round(end[s["id"]], 6)}
                free[d] = end[s["id"]]
                pos[d] += 1
                moved = True
        if not moved:
            raise ValueError("device orders deadlock")


def reference(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The unsplit model's outputs (ONNX Runtime, CPU, one thread, graph optimisations off:
    `runtime.agreement.reference_session_options`)."""
    import onnxruntime as ort

    from runtime.agreement import reference_session_options

    sess = ort.InferenceSession(model.SerializeToString(),
                                sess_options=reference_session_options(1),
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, dict(inputs)), strict=True))

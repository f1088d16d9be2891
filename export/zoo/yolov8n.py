"""YOLOv8n exactly as the ultralytics ONNX exporter writes it, rebuilt from a structure file.

Where the graph comes from: ``tools/regenerate_yolov8n.py`` (run by hand in a throwaway
virtual environment with torch and ultralytics; never a dependency of the package or the
tests) builds the untrained ``YOLO("yolov8n.yaml")`` (no weight download), exports it with
``format="onnx", imgsz=640, opset=17, dynamic=False, simplify=True, batch=1`` and strips the
result to ``data/yolov8n.structure.json``: every node (name, op, inputs, outputs,
attributes), the graph inputs and outputs, and every initializer's name, dtype and shape.
Weights carry no values; constants that are part of the function keep theirs (Split sizes,
Reshape shapes, Resize scales, Slice bounds, the DFL ``arange(16)`` kernel, the box-decode
scalars) and the anchor points and stride tensor are stored as a recipe (ultralytics'
``make_anchors``: cell centres ``i + 0.5`` per level, strides 8/16/32) that the script
checked against the exported values. The exporter's graph is kept op for op and in its
order: Conv (BatchNorm fused by ultralytics) + Sigmoid + Mul (SiLU), C2f with Split, SPPF
with three MaxPools, nearest Resize, the PAN Concats, the Detect head with its DFL
(Reshape, Transpose, Softmax, 1x1 Conv), the box decode against anchors and strides, the
class Sigmoid and the final Concat. Node and tensor names are the exporter's
(``/model.22/dfl/Softmax``, ``/model.0/conv/Conv_output_0``); output ``output0`` is
[1, 4 + num_classes, anchors].

The untrained exporter shares identical initializers between layers (every fused bias of
an untrained model is 0, and onnxslim merges equal tensors): the stripper gives each Conv
its own bias named after its weight (``model.21.cv2.conv.weight`` -> ``...conv.bias``) so
the seeded layers stay independent; shared non-weight constants stay shared.

Options: ``size`` (a multiple of 32) and ``num_classes``. The file holds the 640 / 80
export with symbols where these enter: ``anchors`` = sum over strides s of (size/s)^2
(8400 at 640) in the DFL Reshape shapes, ``nc`` in the class Reshape shape and the last
class convs, ``c3`` = max(64, min(nc, 100)) as the class branch width (ultralytics'
Detect). The regeneration script verified that resolving the symbols reproduces the
exporter's own graphs at 320 / 80 and at 640 / 2 (node for node, constants by value).

Weights: seeded from ``seed``: biases N(0, 0.02^2); Conv kernels N(0, 1) made zero-sum per
output channel, then scaled by gain / sqrt(fan_in): 1.82 for the 57 SiLU convs, 1 for the six
linear head convs (``model.22.cv{2,3}.<level>.2``). Why: with plain He-style kernels the
SiLU's positive mean and the C2f residual Adds build a per-channel DC term that grows or
dies depending on the seed (seen: head std 0.01 at gain 1.4, 40 at 1.7, seed 3 exploding
where seed 0 did not); zero-sum kernels remove it, as the per-channel centring of a
trained network's BatchNorm does. Measured on seeded uniform images: activations keep a
standard deviation of 0.3-1.1 from backbone to head for seeds 0-7 and sizes 160-640 (at
gain 1.9 they reach 20, at 1.6 they shrink to 0.03).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from export.errors import ExportError
from export.zoo._builder import assemble, seeded_rng

STRUCTURE_FILE = "yolov8n.structure.json"
STRUCTURE_FORMAT = "layerswap-onnx-structure"
STRIDES = (8, 16, 32)
BIAS_STD = 0.02
KERNEL_GAIN = 1.82
HEAD_GAIN = 1.0
DTYPES = {"float32": np.float32, "int64": np.int64}


# --------------------------------------------------------------------------- public
def build_yolov8n(*, seed: int = 0, size: int = 640, num_classes: int = 80
                  ) -> onnx.ModelProto:
    """YOLOv8n at batch 1, 3 x ``size`` x ``size`` input, ``num_classes`` classes."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 32 or size % 32:
        raise ExportError(f"zoo model 'yolov8n': option size={size!r} must be a multiple of "
                          "32 (the largest stride), e.g. 640")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ExportError(f"zoo model 'yolov8n': option num_classes={num_classes!r} must be "
                          "a positive integer")
    structure = resolve(load_structure(), size=size, num_classes=num_classes)
    return model_from_structure(structure, seed=seed)


def load_structure(file: str = STRUCTURE_FILE) -> dict[str, Any]:
    """A stored structure file of ``export/zoo/data`` (default: YOLOv8n's, symbolic),
    parsed; a copy the caller may change."""
    return json.loads(_structure_text(file))


@cache
def _structure_text(file: str) -> str:
    path = resources.files("export.zoo") / "data" / file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:  # pragma: no cover - a broken install
        raise ExportError(f"{path}: the structure file is missing; regenerate it with the "
                          "script of export/zoo/tools that its model's docstring names") from exc
    data = json.loads(text)
    if data.get("format") != STRUCTURE_FORMAT or data.get("version") != 1:
        raise ExportError(f"{path}: not a {STRUCTURE_FORMAT} version 1 file; regenerate it "
                          "with the script of export/zoo/tools that its model names")
    return text


# ------------------------------------------------------------------------- symbols
def symbols(size: int, num_classes: int) -> dict[str, int]:
    """Values of the structure file's symbols for one size / class count."""
    return {"size": size, "nc": num_classes, "c3": max(64, min(num_classes, 100)),
            "anchors": sum((size // s) ** 2 for s in STRIDES)}


def resolve(structure: dict[str, Any], *, size: int, num_classes: int) -> dict[str, Any]:
    """A concrete structure: every symbol in shapes and constant values replaced."""
    env = symbols(size, num_classes)

    def value(item: int | str) -> int:
        return env[item] if isinstance(item, str) else item

    out = dict(structure)
    out["params"] = {"size": size, "num_classes": num_classes}
    out["inputs"] = [{**t, "shape": [value(d) for d in t["shape"]]}
                     for t in structure["inputs"]]
    inits = []
    for init in structure["initializers"]:
        init = {**init, "shape": [value(d) for d in init["shape"]]}
        if "values" in init:
            init["values"] = [value(v) for v in init["values"]]
        inits.append(init)
    out["initializers"] = inits
    return out


def anchor_points(size: int) -> np.ndarray:
    """ultralytics ``make_anchors`` (offset 0.5) as exported: [1, 2, anchors], x then y."""
    levels = []
    for stride in STRIDES:
        n = size // stride
        sy, sx = np.meshgrid(np.arange(n, dtype=np.float32) + np.float32(0.5),
                             np.arange(n, dtype=np.float32) + np.float32(0.5), indexing="ij")
        levels.append(np.stack([sx.ravel(), sy.ravel()]))
    return np.concatenate(levels, axis=1)[None].astype(np.float32)


def stride_tensor(size: int) -> np.ndarray:
    """The stride of every anchor, as exported: [1, anchors]."""
    return np.concatenate([np.full((size // s) ** 2, s, dtype=np.float32)
                           for s in STRIDES])[None]


# ------------------------------------------------------------------------ building
def model_from_structure(structure: dict[str, Any], *, seed: int) -> onnx.ModelProto:
    """The ONNX model of a concrete structure, with seeded weights.

    The structure's ``model`` names the graph (default ``yolov8n``) and ``head_layer`` the
    index of the Detect layer whose last box/class convs are linear (22 in YOLOv8, 23 in
    YOLO11)."""
    size = structure["params"]["size"]
    model = str(structure.get("model", "yolov8n"))
    head_layer = str(structure.get("head_layer", 22))
    arrays: dict[str, np.ndarray] = {}
    fan_in = _conv_fan_in(structure)
    for init in structure["initializers"]:
        name, shape, dtype = init["name"], tuple(init["shape"]), DTYPES[init["dtype"]]
        kind = init["kind"]
        if kind == "const":
            arrays[name] = np.asarray(init["values"], dtype=dtype).reshape(shape)
        elif kind == "anchor_points":
            arrays[name] = anchor_points(size)
        elif kind == "stride_tensor":
            arrays[name] = stride_tensor(size)
        elif kind == "weight":
            rng = seeded_rng(seed, name)
            if len(shape) == 4:  # a Conv kernel: zero-sum per output channel, scaled
                kernel = rng.standard_normal(shape, dtype=np.float32)
                kernel -= kernel.mean(axis=(1, 2, 3), keepdims=True)
                gain = HEAD_GAIN if _is_head_output(name, head_layer) else KERNEL_GAIN
                arrays[name] = (kernel * np.float32(gain / fan_in[name] ** 0.5)
                                ).astype(np.float32)
            else:
                arrays[name] = (rng.standard_normal(shape, dtype=np.float32)
                                * np.float32(BIAS_STD)).astype(np.float32)
        else:  # pragma: no cover - guarded by the regeneration script
            raise ExportError(f"{STRUCTURE_FILE}: initializer {name!r} has unknown kind "
                              f"{kind!r}; regenerate the structure file")
        if arrays[name].shape != shape:
            raise ExportError(f"{STRUCTURE_FILE}: initializer {name!r} resolves to shape "
                              f"{arrays[name].shape}, expected {shape}")
    nodes = [helper.make_node(n["op"], n["inputs"], n["outputs"], name=n["name"],
                              **{k: _attr_value(v) for k, v in n["attrs"].items()})
             for n in structure["nodes"]]
    inputs = [helper.make_tensor_value_info(t["name"], TensorProto.FLOAT, t["shape"])
              for t in structure["inputs"]]
    outputs = [helper.make_tensor_value_info(t["name"], TensorProto.FLOAT, None)
               for t in structure["outputs"]]
    params = structure["params"]
    doc = (f"{model} as exported by ultralytics {structure['source']['ultralytics']} "
           f"(torch {structure['source']['torch']}), size {params['size']}, "
           f"{params['num_classes']} classes; structure from the {model} structure file, "
           f"seeded weights (seed={seed})")
    return assemble(model, nodes, inputs, outputs, arrays, doc)


def _is_head_output(weight: str, head_layer: str = "22") -> bool:
    """The last (linear) 1x1 convs of the box and class branches:
    model.<head_layer>.cv{2,3}.<i>.2 (head_layer 22 in YOLOv8, 23 in YOLO11)."""
    parts = weight.split(".")
    return len(parts) == 6 and parts[:2] == ["model", head_layer] \
        and parts[2] in ("cv2", "cv3") and parts[4] == "2"


def _conv_fan_in(structure: dict[str, Any]) -> dict[str, int]:
    shapes = {i["name"]: i["shape"] for i in structure["initializers"]}
    fan: dict[str, int] = {}
    for node in structure["nodes"]:
        if node["op"] == "Conv":
            w = shapes[node["inputs"][1]]
            fan[node["inputs"][1]] = int(w[1] * w[2] * w[3])
    return fan


def _attr_value(encoded: list[Any]) -> Any:
    kind, value = encoded
    if kind in ("int", "ints", "float", "floats", "string"):
        return value
    raise ExportError(f"{STRUCTURE_FILE}: attribute type {kind!r} is not supported")


# ------------------------------------------------------------------------ stripping
def strip(model: onnx.ModelProto, *, size: int, num_classes: int,
          symbolic: bool) -> dict[str, Any]:
    """The structure of an exported YOLOv8n (the inverse of `model_from_structure`).

    Conv weights and biases become ``weight`` entries (each Conv gets its own bias named
    after its weight), the DFL kernel and every other constant keep their values, the
    anchor/stride tensors become recipes after an exact check of their values. With
    ``symbolic`` the size- and class-dependent numbers become symbols (module docstring).
    Raises `ExportError` where the graph is not what this module knows how to rebuild."""
    graph = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    env = symbols(size, num_classes)
    nodes, weight_shapes = [], {}
    for node in graph.node:
        inputs = list(node.input)
        if node.op_type == "Conv" and "dfl" not in inputs[1]:
            weight = inputs[1]
            if not weight.endswith(".weight"):
                raise ExportError(f"Conv {node.name!r}: weight {weight!r} is not named "
                                  "'<layer>.weight'")
            weight_shapes[weight] = inits[weight].shape
            if len(inputs) > 2:
                bias = weight[: -len("weight")] + "bias"
                weight_shapes[bias] = inits[inputs[2]].shape
                inputs[2] = bias
        attrs = {a.name: _encode_attr(node.name, a) for a in node.attribute}
        nodes.append({"name": node.name, "op": node.op_type, "inputs": inputs,
                      "outputs": list(node.output), "attrs": attrs})
    used = {x for n in nodes for x in n["inputs"]}
    entries = []
    for name, shape in weight_shapes.items():
        entries.append({"name": name, "dtype": "float32", "kind": "weight",
                        "shape": [int(d) for d in shape]})
    for name, value in inits.items():
        if name in weight_shapes or name not in used:
            continue
        dtype = str(value.dtype)
        if dtype not in DTYPES:
            raise ExportError(f"initializer {name!r}: dtype {dtype} is not supported")
        entry: dict[str, Any] = {"name": name, "dtype": dtype,
                                 "shape": [int(d) for d in value.shape]}
        if value.shape == (1, 2, env["anchors"]):
            if not np.array_equal(value, anchor_points(size)):
                raise ExportError(f"initializer {name!r} looks like the anchor points but "
                                  "differs from make_anchors(offset=0.5)")
            entry["kind"] = "anchor_points"
        elif value.shape == (1, env["anchors"]):
            if not np.array_equal(value, stride_tensor(size)):
                raise ExportError(f"initializer {name!r} looks like the stride tensor but "
                                  "differs from the strides 8/16/32")
            entry["kind"] = "stride_tensor"
        else:
            if value.size > 64:
                raise ExportError(f"initializer {name!r} ({value.size} values) is neither a "
                                  "Conv weight nor a known constant")
            entry["kind"] = "const"
            entry["values"] = [v.item() for v in value.ravel()]
        entries.append(entry)
    structure = {
        "inputs": [_value_info(t) for t in graph.input],
        "outputs": [{"name": t.name} for t in graph.output],
        "initializers": entries,
        "nodes": nodes,
    }
    if symbolic:
        structure = _symbolize(structure, env)
    return structure


def _symbolize(structure: dict[str, Any], env: dict[str, int]) -> dict[str, Any]:
    """Replace the size / class dependent numbers by their symbols (module docstring)."""
    reshape_shapes = {n["inputs"][1] for n in structure["nodes"] if n["op"] == "Reshape"}
    for t in structure["inputs"]:
        t["shape"] = [*t["shape"][:2], "size", "size"]
    for init in structure["initializers"]:
        name = init["name"]
        if init["kind"] in ("anchor_points", "stride_tensor"):
            init["shape"] = [*init["shape"][:-1], "anchors"]
        elif init["kind"] == "const" and name in reshape_shapes:
            init["values"] = ["anchors" if v == env["anchors"] else v for v in init["values"]]
            # the class Reshape [1, nc, -1] (the box one is [1, 64, -1])
            if len(init["values"]) == 3 and init["values"][1] == env["nc"] \
                    and init["values"][2] == -1:
                init["values"][1] = "nc"
            init["shape"] = [len(init["values"])]
        elif init["kind"] == "weight" and name.startswith("model.22.cv3."):
            # model.22.cv3.<level>.<j>: j = 0, 1 are Conv blocks of width c3, j = 2 the
            # class conv (nc outputs)
            j = int(name.split(".")[4])
            shape = init["shape"]
            shape[0] = "nc" if j == 2 else "c3"
            if len(shape) == 4 and j >= 1:
                shape[1] = "c3"
    return structure


def canonical(structure: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A concrete structure as comparable tuples: nodes in order with their attributes, and
    each initializer input replaced by its kind, dtype, shape and (constants) values, so two
    exports compare equal whatever their initializer names or sharing."""
    inits = {i["name"]: i for i in structure["initializers"]}

    def operand(name: str) -> Any:
        if name not in inits:
            return name
        i = inits[name]
        return (i["kind"], i["dtype"], tuple(i["shape"]), tuple(i.get("values", ())))

    rows: list[tuple[Any, ...]] = [("input", t["name"], tuple(t["shape"]))
                                   for t in structure["inputs"]]
    rows += [("output", t["name"]) for t in structure["outputs"]]
    for n in structure["nodes"]:
        rows.append((n["name"], n["op"], tuple(operand(x) for x in n["inputs"]),
                     tuple(n["outputs"]), json.dumps(n["attrs"], sort_keys=True)))
    return rows


def _value_info(t: onnx.ValueInfoProto) -> dict[str, Any]:
    dims = [d.dim_value for d in t.type.tensor_type.shape.dim]
    return {"name": t.name, "dtype": "float32", "shape": dims}


def _encode_attr(node: str, attr: onnx.AttributeProto) -> list[Any]:
    value = helper.get_attribute_value(attr)
    kinds = {onnx.AttributeProto.INT: "int", onnx.AttributeProto.INTS: "ints",
             onnx.AttributeProto.FLOAT: "float", onnx.AttributeProto.FLOATS: "floats",
             onnx.AttributeProto.STRING: "string"}
    if attr.type not in kinds:
        raise ExportError(f"node {node!r}: attribute {attr.name!r} of type {attr.type} is "
                          "not supported by the structure file")
    if attr.type == onnx.AttributeProto.STRING:
        value = value.decode("utf-8")
    elif attr.type in (onnx.AttributeProto.INTS, onnx.AttributeProto.FLOATS):
        value = list(value)
    return [kinds[attr.type], value]


def dump_structure(structure: dict[str, Any]) -> str:
    """The structure file's text: one node / initializer per line, stable key order."""
    head = {k: v for k, v in structure.items() if k not in ("initializers", "nodes")}

    def rows(items: list[Any]) -> str:
        return ",\n".join("  " + json.dumps(i, separators=(", ", ": ")) for i in items)

    text = json.dumps(head, indent=1)[:-2]
    return (f"{text},\n\"initializers\": [\n{rows(structure['initializers'])}\n],\n"
            f"\"nodes\": [\n{rows(structure['nodes'])}\n]\n}}\n")

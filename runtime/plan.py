"""The execution plan: the part of a manifest the executor needs, resolved and indexed.

`Plan.from_dict` turns a Manifest v1 document (already validated by `runtime.manifest`, or
written by hand in a test) into immutable values: segments with absolute file paths, their
input bindings (a model input of the frame, or an output of another segment of the same
frame), the per-device round order and the predictions to compare against. It re-checks only
what the executor relies on not to hang (every reference resolves, every segment is in
exactly one device order, every model output has one producer per instance) and names the
field at fault.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import PlanError

DEVICES = ("GPU", "DLA0", "DLA1")


@dataclass(frozen=True)
class TensorSpec:
    """A named tensor with a static shape and a numpy dtype name (e.g. ``float32``)."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @cached_property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)


@dataclass(frozen=True)
class InputBinding:
    """Where a segment input comes from: the frame's model input, or another segment's output
    of the same frame (``segment`` + ``output``)."""

    spec: TensorSpec
    model_input: str | None = None
    segment: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class SegmentPlan:
    """One sub-model of one model instance, placed on one device."""

    id: str
    model: str
    instance: int
    index: int
    device: str
    precision: str
    file: Path
    inputs: tuple[InputBinding, ...]
    outputs: tuple[TensorSpec, ...]
    model_outputs: frozenset[str]
    engine_file: Path | None = None
    dla_core: int | None = None
    engine_input_formats: tuple[str, ...] = ()
    engine_output_formats: tuple[str, ...] = ()
    predicted_start_ms: float | None = None
    predicted_end_ms: float | None = None

    @property
    def predicted_ms(self) -> float | None:
        if self.predicted_start_ms is None or self.predicted_end_ms is None:
            return None
        return self.predicted_end_ms - self.predicted_start_ms


@dataclass(frozen=True)
class ModelPlan:
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


@dataclass(frozen=True)
class Plan:
    """Everything the executor reads, in manifest order."""

    source: str
    base_dir: Path
    objective: str
    platform: str
    frames_per_round: int
    models: tuple[ModelPlan, ...]
    segments: tuple[SegmentPlan, ...]
    device_order: Mapping[str, tuple[str, ...]]
    predicted: Mapping[str, Any] = field(default_factory=dict)

    def segment(self, segment_id: str) -> SegmentPlan:
        for seg in self.segments:
            if seg.id == segment_id:
                return seg
        raise KeyError(segment_id)

    def model(self, name: str) -> ModelPlan:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    @property
    def devices(self) -> tuple[str, ...]:
        """Devices with at least one segment, in GPU, DLA0, DLA1 order."""
        return tuple(d for d in DEVICES if self.device_order.get(d))

    def instance_of(self, frame: int) -> tuple[int, int]:
        """(instance, round) that process ``frame``: frame f -> instance f % F, round f // F."""
        return frame % self.frames_per_round, frame // self.frames_per_round

    @classmethod
    def from_file(cls, path: str | Path) -> Plan:
        """Read a manifest JSON file without schema validation (see `runtime.load_plan`)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise PlanError(f"{path}: cannot read the manifest ({exc})") from exc
        return cls.from_dict(data, base_dir=path.parent, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | Path,
                  source: str = "manifest.json") -> Plan:
        return _build(data, Path(base_dir), source)


def _spec(obj: Mapping[str, Any], where: str, source: str) -> TensorSpec:
    try:
        spec = TensorSpec(str(obj["name"]), tuple(int(d) for d in obj["shape"]), str(obj["dtype"]))
        np.dtype(spec.dtype)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"{source}: {where}: not a tensor (name, static shape, numpy dtype): "
                        f"{exc}") from exc
    return spec


def _build(data: Mapping[str, Any], base_dir: Path, source: str) -> Plan:
    def fail(where: str, message: str) -> PlanError:
        return PlanError(f"{source}: {where}: {message}")

    try:
        frames_per_round = int(data.get("frames_per_round", 1))
        raw_models = list(data["models"])
        raw_segments = list(data["segments"])
        raw_order = dict(data["device_order"])
    except (KeyError, TypeError, ValueError) as exc:
        raise fail("(top level)", f"missing or malformed field {exc}; write the manifest "
                                  "with `layerswap export`") from exc
    if frames_per_round < 1:
        raise fail("frames_per_round", f"{frames_per_round} is not >= 1")

    models = tuple(
        ModelPlan(str(m["name"]),
                  tuple(_spec(t, f"models[{i}].inputs[{k}]", source)
                        for k, t in enumerate(m["inputs"])),
                  tuple(_spec(t, f"models[{i}].outputs[{k}]", source)
                        for k, t in enumerate(m["outputs"])))
        for i, m in enumerate(raw_models))
    model_by_name = {m.name: m for m in models}

    segments: list[SegmentPlan] = []
    for i, s in enumerate(raw_segments):
        where = f"segments[{i}]"
        if s.get("model") not in model_by_name:
            raise fail(f"{where}.model", f"{s.get('model')!r} is not a model of the manifest")
        bindings = []
        for k, t in enumerate(s["inputs"]):
            origin = t.get("from") or {}
            spec = _spec(t, f"{where}.inputs[{k}]", source)
            if "model_input" in origin:
                bindings.append(InputBinding(spec, model_input=str(origin["model_input"])))
            elif "segment" in origin:
                bindings.append(InputBinding(spec, segment=str(origin["segment"]),
                                             output=str(origin.get("output", spec.name))))
            else:
                raise fail(f"{where}.inputs[{k}].from",
                           "needs {'model_input': NAME} or {'segment': ID, 'output': NAME}")
        outputs = tuple(_spec(t, f"{where}.outputs[{k}]", source)
                        for k, t in enumerate(s["outputs"]))
        engine = s.get("engine") or {}
        predicted = s.get("predicted") or {}
        segments.append(SegmentPlan(
            id=str(s["id"]), model=str(s["model"]), instance=int(s.get("instance", 0)),
            index=int(s.get("index", 0)), device=str(s["device"]),
            precision=str(s.get("precision", "fp32")), file=base_dir / str(s["file"]),
            inputs=tuple(bindings), outputs=outputs,
            model_outputs=frozenset(str(t["name"]) for t in s["outputs"]
                                    if t.get("model_output")),
            engine_file=(base_dir / str(engine["file"])) if engine.get("file") else None,
            dla_core=None if engine.get("dla_core") is None else int(engine["dla_core"]),
            engine_input_formats=tuple(str(f) for f in engine.get("input_formats") or ()),
            engine_output_formats=tuple(str(f) for f in engine.get("output_formats") or ()),
            predicted_start_ms=_opt_float(predicted.get("start_ms")),
            predicted_end_ms=_opt_float(predicted.get("end_ms"))))

    by_id: dict[str, SegmentPlan] = {}
    for i, seg in enumerate(segments):
        if seg.id in by_id:
            raise fail(f"segments[{i}].id", f"{seg.id!r} appears twice")
        if seg.device not in DEVICES:
            raise fail(f"segments[{i}].device", f"{seg.device!r} is not one of {DEVICES}")
        by_id[seg.id] = seg
    for i, seg in enumerate(segments):
        model = model_by_name[seg.model]
        for k, b in enumerate(seg.inputs):
            where = f"segments[{i}].inputs[{k}].from"
            if b.model_input is not None:
                if b.model_input not in {t.name for t in model.inputs}:
                    raise fail(where + ".model_input",
                               f"{b.model_input!r} is not an input of model {seg.model!r}")
                continue
            producer = by_id.get(b.segment or "")
            if producer is None:
                raise fail(where + ".segment", f"{b.segment!r} is not a segment")
            if (producer.model, producer.instance) != (seg.model, seg.instance):
                raise fail(where + ".segment",
                           f"{b.segment!r} belongs to another model instance than {seg.id!r}")
            if b.output not in {t.name for t in producer.outputs}:
                raise fail(where + ".output", f"{b.output!r} is not an output of {b.segment!r}")

    order: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for dev, ids in raw_order.items():
        if dev not in DEVICES:
            raise fail(f"device_order.{dev}", f"not one of {DEVICES}")
        for j, sid in enumerate(ids):
            where = f"device_order.{dev}[{j}]"
            if sid not in by_id:
                raise fail(where, f"{sid!r} is not a segment")
            if by_id[sid].device != dev:
                raise fail(where, f"{sid!r} is placed on {by_id[sid].device}, not {dev}")
            if sid in seen:
                raise fail(where, f"{sid!r} is listed twice")
            seen[sid] = dev
        order[dev] = tuple(str(s) for s in ids)
    missing = [s.id for s in segments if s.id not in seen]
    if missing:
        raise fail("device_order", f"segments {missing} are in no device order")

    throughput = data.get("objective") == "throughput"
    for model in models:
        instances = sorted({s.instance for s in segments if s.model == model.name})
        expected = list(range(frames_per_round)) if throughput else [0]
        if instances != expected:
            raise fail("segments", f"model {model.name!r} has instances {instances}; a "
                                   f"{'throughput' if throughput else 'latency'} manifest "
                                   f"needs {expected}")
        for inst in instances:
            for out in model.outputs:
                producers = [s.id for s in segments if s.model == model.name
                             and s.instance == inst and out.name in s.model_outputs]
                if len(producers) != 1:
                    raise fail("segments", f"output {out.name!r} of {model.name}#{inst} is "
                                           f"produced by {producers or 'no segment'}; needs one")
    if not throughput:
        frames_per_round = 1  # latency: every frame goes through instance 0
    return Plan(source=source, base_dir=base_dir, objective=str(data.get("objective", "latency")),
                platform=str(data.get("platform", "")), frames_per_round=frames_per_round,
                models=models, segments=tuple(segments), device_order=order,
                predicted=dict(data.get("predicted") or {}))


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)

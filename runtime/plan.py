"""The execution plan: the part of a loaded manifest the executor needs, resolved and indexed.

The manifest format has one model, `runtime.manifest.Manifest`; every rule about it (schema,
references, shapes, device orders, cycles) is checked once, by `runtime.manifest.load_manifest`
/ `manifest_from_dict`. `Plan.from_manifest` only adds what is execution-specific: absolute
file paths, each segment input flattened into an `InputBinding` (the frame's model input, or
another segment's output of the same frame), the set of model outputs each segment delivers,
the per-device round order and the predictions to compare against. Tensor specs are the
manifest's `TensorSpec` values themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import ManifestError, PlanError
from runtime.manifest import DEVICES, Manifest, ModelEntry, Predicted, TensorSpec


@dataclass(frozen=True)
class InputBinding:
    """Where a segment input comes from: the frame's model input, or another segment's output
    of the same frame (``segment`` + ``output``); flattened from the manifest's
    `runtime.manifest.SegmentInput` for the executor's per-frame path."""

    spec: TensorSpec
    model_input: str | None = None
    segment: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class SegmentPlan:
    """One sub-model of one model instance, placed on one device, with absolute paths."""

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
    sha256: str | None = None  # the manifest's digest of ``file`` (re-checked when loading)
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
class Plan:
    """Everything the executor reads, in manifest order."""

    source: str
    base_dir: Path
    objective: str
    platform: str
    frames_per_round: int
    models: tuple[ModelEntry, ...]
    segments: tuple[SegmentPlan, ...]
    device_order: Mapping[str, tuple[str, ...]]
    predicted: Predicted | None = None

    def segment(self, segment_id: str) -> SegmentPlan:
        for seg in self.segments:
            if seg.id == segment_id:
                return seg
        raise KeyError(segment_id)

    def model(self, name: str) -> ModelEntry:
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
    def from_manifest(cls, manifest: Manifest, *, source: str | None = None) -> Plan:
        """The plan of a loaded manifest (``manifest.root`` anchors the relative paths)."""
        if manifest.root is None:
            raise ManifestError("the manifest was not loaded from a directory; load it with "
                                "`load_manifest` or pass root= to `manifest_from_dict`",
                                source=source, field="root")
        base_dir = manifest.root
        _check_numpy_dtypes(manifest, source or str(base_dir / "manifest.json"))
        segments = tuple(
            SegmentPlan(
                id=s.id, model=s.model, instance=s.instance, index=s.index, device=s.device,
                precision=s.precision, file=manifest.path(s.file),
                inputs=tuple(InputBinding(t, model_input=t.source.model_input,
                                          segment=t.source.segment, output=t.source.output)
                             for t in s.inputs),
                outputs=s.outputs,
                model_outputs=frozenset(t.name for t in s.outputs if t.model_output),
                engine_file=manifest.path(s.engine.file), sha256=s.sha256,
                dla_core=s.engine.dla_core,
                engine_input_formats=s.engine.input_formats,
                engine_output_formats=s.engine.output_formats,
                predicted_start_ms=None if s.predicted is None else s.predicted.start_ms,
                predicted_end_ms=None if s.predicted is None else s.predicted.end_ms)
            for s in manifest.segments)
        return cls(source=source or str(base_dir / "manifest.json"), base_dir=base_dir,
                   objective=manifest.objective, platform=manifest.platform,
                   frames_per_round=manifest.frames_per_round, models=manifest.models,
                   segments=segments, device_order=dict(manifest.device_order),
                   predicted=manifest.predicted)


def _check_numpy_dtypes(manifest: Manifest, source: str) -> None:
    """The executor compares arrays against numpy dtypes: refuse one numpy cannot represent."""
    where: list[tuple[str, TensorSpec]] = []
    for i, m in enumerate(manifest.models):
        where += [(f"models[{i}].inputs[{k}]", t) for k, t in enumerate(m.inputs)]
        where += [(f"models[{i}].outputs[{k}]", t) for k, t in enumerate(m.outputs)]
    for i, s in enumerate(manifest.segments):
        where += [(f"segments[{i}].inputs[{k}]", t) for k, t in enumerate(s.inputs)]
        where += [(f"segments[{i}].outputs[{k}]", t) for k, t in enumerate(s.outputs)]
    for field_path, spec in where:
        try:
            spec.numpy_dtype  # noqa: B018 (cached: computed once, here)
        except TypeError as exc:
            raise PlanError(f"{source}: {field_path}.dtype: {spec.dtype!r} has no numpy "
                            f"dtype in this process ({exc}); export the model in float32 or "
                            "float16") from exc

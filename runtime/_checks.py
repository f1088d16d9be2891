"""Semantic checks of a loaded manifest (steps 1-6 of `runtime.manifest`'s docstring).

Kept apart from the types and the schema step so each module stays readable; only
`runtime.manifest.manifest_from_dict` calls `check_semantics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

from runtime.digest import file_sha256
from runtime.errors import ManifestError

if TYPE_CHECKING:  # annotations only: runtime.manifest imports this module, not the reverse
    from runtime.manifest import Manifest, TensorSpec


def check_semantics(manifest: Manifest, source: str, *, check_files: bool) -> None:
    """Raise `ManifestError` (file + field path) at the first inconsistency."""
    _Checker(manifest, source, check_files=check_files).run()


class _Checker:
    def __init__(self, manifest: Manifest, source: str, *, check_files: bool) -> None:
        self.m = manifest
        self.source = source
        self.check_files = check_files
        self.seg_pos = {s.id: i for i, s in enumerate(manifest.segments)}
        self.models = {m.name: m for m in manifest.models}

    def fail(self, field_name: str, message: str) -> ManifestError:
        return ManifestError(message, source=self.source, field=field_name)

    def run(self) -> None:
        self.structure()
        if self.check_files:
            self.files()
        self.data_flow()
        self.handoffs()
        self.device_order()
        self.cycles()

    # 1 ------------------------------------------------------------------
    def structure(self) -> None:
        m = self.m
        seen_models: set[str] = set()
        for i, model in enumerate(m.models):
            if model.name in seen_models:
                raise self.fail(f"models[{i}].name", f"model {model.name!r} appears twice")
            seen_models.add(model.name)
            for kind in ("inputs", "outputs"):
                names = [t.name for t in getattr(model, kind)]
                for k, n in enumerate(names):
                    if n in names[:k]:
                        raise self.fail(f"models[{i}].{kind}[{k}].name",
                                        f"tensor {n!r} appears twice")
        if m.objective == "latency" and m.frames_per_round != 1:
            raise self.fail("frames_per_round", "must be 1 for the latency objective "
                            f"(got {m.frames_per_round})")
        seen: set[str] = set()
        per_instance: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for i, s in enumerate(m.segments):
            where = f"segments[{i}]"
            if s.id in seen:
                raise self.fail(f"{where}.id", f"segment id {s.id!r} appears twice")
            seen.add(s.id)
            if s.model not in self.models:
                raise self.fail(f"{where}.model", f"{s.model!r} is not a model of this "
                                f"manifest ({', '.join(sorted(self.models))})")
            expect = f"{s.model}#{s.instance}/{s.index}"
            if s.id != expect:
                raise self.fail(f"{where}.id", f"{s.id!r} must be {expect!r} "
                                "(model#instance/index)")
            if s.instance >= m.frames_per_round:
                raise self.fail(f"{where}.instance", f"instance {s.instance} is outside "
                                f"0..{m.frames_per_round - 1} (frames_per_round)")
            if s.last_group < s.first_group:
                raise self.fail(f"{where}.last_group", f"last_group {s.last_group} < "
                                f"first_group {s.first_group}")
            if s.engine.dla_core != s.dla_core:
                raise self.fail(f"{where}.engine.dla_core", f"{s.engine.dla_core} does not "
                                f"match device {s.device} (expected {s.dla_core})")
            if s.device != "GPU" and s.precision == "fp32":
                raise self.fail(f"{where}.precision", f"a DLA segment ({s.device}) cannot run "
                                "in fp32; use fp16 or int8")
            for kind, formats in (("inputs", s.engine.input_formats),
                                  ("outputs", s.engine.output_formats)):
                if formats and len(formats) != len(getattr(s, kind)):
                    raise self.fail(f"{where}.engine.{kind[:-1]}_formats",
                                    f"{len(formats)} formats for {len(getattr(s, kind))} {kind}")
            for kind in ("inputs", "outputs"):
                names = [t.name for t in getattr(s, kind)]
                for k, n in enumerate(names):
                    if n in names[:k]:
                        raise self.fail(f"{where}.{kind}[{k}].name", f"tensor {n!r} appears "
                                        "twice")
            per_instance.setdefault((s.model, s.instance), []).append((s.index, i))
        for model in m.models:
            for inst in range(m.frames_per_round):
                if (model.name, inst) not in per_instance:
                    raise self.fail("segments", f"model {model.name!r} instance {inst} has no "
                                    "segment")
        for (_model, _inst), items in sorted(per_instance.items()):
            items.sort()
            expect_group = 0
            for k, (index, pos) in enumerate(items):
                s = m.segments[pos]
                if index != k:
                    raise self.fail(f"segments[{pos}].index", f"segment indices of "
                                    f"{s.model}#{s.instance} must be 0..{len(items) - 1}; "
                                    f"found {index} where {k} was expected")
                if s.first_group != expect_group:
                    raise self.fail(f"segments[{pos}].first_group", f"must be {expect_group} "
                                    "(segments of an instance cover its groups in order)")
                expect_group = s.last_group + 1

    # 2 ------------------------------------------------------------------
    def files(self) -> None:
        root = self.m.root
        assert root is not None
        top = root.resolve()
        for i, s in enumerate(self.m.segments):
            for key, rel in (("file", s.file), ("engine.onnx", s.engine.onnx)):
                if rel is None:
                    continue
                target = self.m.path(rel)
                try:
                    target.resolve().relative_to(top)
                except ValueError:
                    raise self.fail(f"segments[{i}].{key}", f"{rel!r} points outside the "
                                    "manifest's directory") from None
                if not target.is_file():
                    raise self.fail(f"segments[{i}].{key}", f"{rel!r}: no such file in "
                                    f"{root}; re-export the schedule")
            digest = file_sha256(self.m.path(s.file))
            if digest != s.sha256:
                raise self.fail(f"segments[{i}].sha256", f"{s.file!r} has sha256 "
                                f"{digest[:12]}..., the manifest says {s.sha256[:12]}...; the "
                                "file changed after export: re-export")

    # 3 ------------------------------------------------------------------
    def data_flow(self) -> None:
        m = self.m
        produced: dict[tuple[str, int, str], int] = {}
        for i, s in enumerate(m.segments):
            model = self.models[s.model]
            model_outputs = {t.name: t for t in model.outputs}
            for k, out in enumerate(s.outputs):
                if not out.model_output:
                    continue
                where = f"segments[{i}].outputs[{k}]"
                want = model_outputs.get(out.name)
                if want is None:
                    raise self.fail(f"{where}.model_output", f"{out.name!r} is not an output "
                                    f"of model {s.model!r}")
                self._same(f"{where}", out, want, f"model {s.model!r} output")
                key = (s.model, s.instance, out.name)
                if key in produced:
                    raise self.fail(f"{where}.name", f"model output {out.name!r} of "
                                    f"{s.model}#{s.instance} is produced twice (also by "
                                    f"segments[{produced[key]}])")
                produced[key] = i
            model_inputs = {t.name: t for t in model.inputs}
            for k, inp in enumerate(s.inputs):
                where = f"segments[{i}].inputs[{k}]"
                src = inp.source
                if src.model_input is not None:
                    want = model_inputs.get(src.model_input)
                    if want is None:
                        raise self.fail(f"{where}.from.model_input", f"{src.model_input!r} is "
                                        f"not an input of model {s.model!r}")
                    self._same(where, inp, want, f"model input {src.model_input!r}")
                    continue
                pos = self.seg_pos.get(str(src.segment))
                if pos is None:
                    raise self.fail(f"{where}.from.segment", f"{src.segment!r} is not a segment")
                prod = m.segments[pos]
                if (prod.model, prod.instance) != (s.model, s.instance):
                    raise self.fail(f"{where}.from.segment", f"{src.segment!r} belongs to "
                                    f"{prod.model}#{prod.instance}, not {s.model}#{s.instance}")
                if prod.index >= s.index:
                    raise self.fail(f"{where}.from.segment", f"{src.segment!r} does not come "
                                    f"before {s.id!r}; inputs come from earlier segments")
                outs = {t.name: t for t in prod.outputs}
                if src.output not in outs:
                    raise self.fail(f"{where}.from.output", f"{src.output!r} is not an output "
                                    f"of segment {src.segment!r}")
                self._same(where, inp, outs[str(src.output)],
                           f"output {src.output!r} of {src.segment!r}")
        for model in m.models:
            for inst in range(m.frames_per_round):
                for t in model.outputs:
                    if (model.name, inst, t.name) not in produced:
                        raise self.fail(f"models[{m.models.index(model)}].outputs",
                                        f"model output {t.name!r} of {model.name}#{inst} is "
                                        "produced by no segment (model_output: true)")

    def _same(self, where: str, got: TensorSpec, want: TensorSpec, what: str) -> None:
        if got.shape != want.shape:
            raise self.fail(f"{where}.shape", f"{list(got.shape)} differs from {what}'s shape "
                            f"{list(want.shape)}")
        if got.dtype != want.dtype:
            raise self.fail(f"{where}.dtype", f"{got.dtype} differs from {what}'s dtype "
                            f"{want.dtype}")

    # 4 ------------------------------------------------------------------
    def handoffs(self) -> None:
        m = self.m
        need: dict[tuple[str, str], list[str]] = {}
        for s in m.segments:
            for inp in s.inputs:
                if inp.source.segment is not None:
                    tensors = need.setdefault((inp.source.segment, s.id), [])
                    if inp.source.output not in tensors:
                        tensors.append(str(inp.source.output))
        seen: set[tuple[str, str]] = set()
        for i, h in enumerate(m.handoffs):
            where = f"handoffs[{i}]"
            for key, sid in (("from", h.source), ("to", h.target)):
                if sid not in self.seg_pos:
                    raise self.fail(f"{where}.{key}", f"{sid!r} is not a segment")
            pair = (h.source, h.target)
            if pair in seen:
                raise self.fail(where, f"a second hand-off {h.source} -> {h.target}")
            seen.add(pair)
            if pair not in need:
                raise self.fail(where, f"{h.target!r} takes no input from {h.source!r}")
            if sorted(h.tensors) != sorted(need[pair]):
                raise self.fail(f"{where}.tensors", f"{sorted(h.tensors)} but {h.target!r} "
                                f"reads {sorted(need[pair])} from {h.source!r}")
            a, b = m.segment(h.source), m.segment(h.target)
            if h.direction != f"{a.device}->{b.device}":
                raise self.fail(f"{where}.direction", f"{h.direction!r} but the segments run "
                                f"on {a.device} and {b.device}")
        for pair in need:
            if pair not in seen:
                raise self.fail("handoffs", f"no hand-off {pair[0]} -> {pair[1]} although "
                                f"{pair[1]!r} reads {need[pair]} from it")

    # 5 ------------------------------------------------------------------
    def device_order(self) -> None:
        m = self.m
        listed: dict[str, str] = {}
        for dev, ids in m.device_order.items():
            for k, sid in enumerate(ids):
                where = f"device_order.{dev}[{k}]"
                if sid not in self.seg_pos:
                    raise self.fail(where, f"{sid!r} is not a segment")
                if sid in listed:
                    raise self.fail(where, f"{sid!r} is listed twice (also under "
                                    f"{listed[sid]})")
                listed[sid] = dev
                seg = m.segment(sid)
                if seg.device != dev:
                    raise self.fail(where, f"{sid!r} runs on {seg.device}, not {dev}")
        for i, s in enumerate(m.segments):
            if s.id not in listed:
                raise self.fail(f"device_order.{s.device}", f"segment {s.id!r} "
                                f"(segments[{i}]) is missing from the order of {s.device}")

    # 6 ------------------------------------------------------------------
    def cycles(self) -> None:
        m = self.m
        succ: dict[str, list[str]] = {s.id: [] for s in m.segments}
        for s in m.segments:
            if s.index > 0:
                succ[f"{s.model}#{s.instance}/{s.index - 1}"].append(s.id)
            for inp in s.inputs:
                if inp.source.segment is not None:
                    succ[inp.source.segment].append(s.id)
        for ids in m.device_order.values():
            for a, b in pairwise(ids):
                succ[a].append(b)
        cycle = _find_cycle(succ)
        if cycle:
            names = " -> ".join([*cycle, cycle[0]])
            raise self.fail("device_order", f"the device order and the segments' precedence "
                            f"form a cycle ({names}); the runtime would deadlock: reorder the "
                            "device lists so that every segment follows its producers")


def _find_cycle(succ: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle of the directed graph (empty when acyclic); iterative DFS, deterministic."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(succ, white)
    for start in succ:
        if color[start] != white:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path = [start]
        color[start] = grey
        while stack:
            node, k = stack[-1]
            nxt = succ[node]
            if k < len(nxt):
                stack[-1] = (node, k + 1)
                child = nxt[k]
                if color[child] == grey:
                    return path[path.index(child):]
                if color[child] == white:
                    color[child] = grey
                    stack.append((child, 0))
                    path.append(child)
            else:
                color[node] = black
                stack.pop()
                path.pop()
    return []

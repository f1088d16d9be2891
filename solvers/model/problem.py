"""The scheduling problem: models (cost tables) on a platform's devices, one objective.

`Problem` is immutable and validated on construction (`ProblemError` says what is wrong).
Solvers and the simulator read it only through the accessors below, so that both see
exactly the same numbers. The semantics are written down in ``docs/model.md``.

Jobs: in latency mode every model is one job. In throughput mode a *round* processes
``frames_per_round`` frames and every model runs once per frame, so each model becomes
``frames_per_round`` jobs (instances) that may be partitioned differently, as the seed
paper's two swapped GAN instances are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

from profiles import platforms
from profiles.costtable import CostTable, GroupCost
from profiles.dla.target import loadable_limit_for_trt  # moved down; re-exported here
from profiles.errors import LayerswapError
from solvers.errors import ProblemError
from solvers.model.contention import ContentionModel, no_contention, orin_preset, xavier_preset
from solvers.model.jsonfields import as_choice, as_int, as_list, as_number, as_object, as_str, need

MAX_FRAMES_PER_ROUND = 8
"""A round of F frames makes F instances of every model (the seed paper's pipeline uses 2).
At 64 (the former bound) 2 models became 128 jobs, and the baseline pass alone outlasted a
5 s time limit by minutes (benchmarks/results/option_limits.md); 8 keeps 2-3 models within
what the backends and the time limit handle."""


class Device(StrEnum):
    GPU = "GPU"
    DLA0 = "DLA0"
    DLA1 = "DLA1"

    @property
    def kind(self) -> str:
        """``gpu`` or ``dla``: DLA0 and DLA1 are identical cores."""
        return "gpu" if self is Device.GPU else "dla"


class Objective(StrEnum):
    LATENCY = "latency"
    THROUGHPUT = "throughput"



MIN_WEIGHT = 1e-3
MAX_WEIGHT = 1e3
"""Supported model weights (docs/model.md section 6): integer backends scale them exactly
to at most 6 decimals and multiply them with times; a weight of 1e300 overflowed CP-SAT."""

@dataclass(frozen=True)
class Platform:
    name: str
    devices: tuple[Device, ...]
    description: str
    contention: ContentionModel

    @property
    def dla_cores(self) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.kind == "dla")


def _preset(family: str) -> ContentionModel:
    if family == "xavier-agx":
        return xavier_preset()
    if family.startswith("orin"):
        return orin_preset(family)
    return no_contention()


def _platforms() -> dict[str, Platform]:
    """Every name `profiles.platforms` accepts (modules, aliases, ``gpu-only``), with the
    module's DLA cores as devices and its family's contention preset. The name stays as
    given (``orin-agx`` is still called ``orin-agx``), what it means is the module's."""
    out = {}
    for name in platforms.names():
        info = platforms.resolve(name)
        dlas = (Device.DLA0, Device.DLA1)[:info.dla_cores]
        out[name] = Platform(name, (Device.GPU, *dlas), info.description, _preset(info.family))
    return out


PLATFORMS: Mapping[str, Platform] = _platforms()


def get_platform(name: str) -> Platform:
    key = name.strip().lower()
    if key not in PLATFORMS:
        raise ProblemError(f"unknown platform {name!r}; choose one of {', '.join(PLATFORMS)}")
    return PLATFORMS[key]


def restricted_to_tables(platform: Platform,
                         tables: Iterable[CostTable]) -> tuple[Platform, str | None]:
    """``platform`` with no more DLA cores than any table's own module has (a table made for
    Orin NX 8 GB never gets work on a DLA1 that module lacks), and why it was restricted."""
    cores = len(platform.dla_cores)
    narrow = [(platforms.resolve(t.platform).dla_cores, t.platform) for t in tables
              if t.platform.strip() and platforms.known(t.platform)]
    least = min(narrow, default=(cores, ""))
    if least[0] >= cores:
        return platform, None
    devices = (Device.GPU, *platform.dla_cores[:least[0]])
    note = (f"{platform.name} has {cores} DLA core(s) but a table was made for {least[1]} "
            f"({least[0]}): scheduling on {', '.join(d.value for d in devices)} only")
    return Platform(platform.name, devices, platform.description, platform.contention), note


@dataclass(frozen=True)
class ModelSpec:
    """One model of the problem: its cost table plus per-model options."""

    table: CostTable
    name: str = ""
    weight: float = 1.0
    deadline_ms: float | None = None
    gpu_fallback: bool = False
    """TensorRT's ``--allowGPUFallback`` for this model: a DLA segment may span groups no DLA
    core runs, which then run on the GPU (docs/model.md section 2.1)."""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.table.model)


@dataclass(frozen=True)
class Pin:
    """Groups ``first_group..last_group`` of ``model`` may only run on ``devices``.

    Forbidding a device is pinning to the others (`Pin.forbid`)."""

    model: str
    first_group: int
    last_group: int
    devices: frozenset[Device]

    @classmethod
    def forbid(cls, model: str, first_group: int, last_group: int,
               devices: Iterable[Device]) -> Pin:
        banned = frozenset(devices)
        return cls(model, first_group, last_group, frozenset(Device) - banned)


@dataclass(frozen=True)
class Job:
    index: int
    model_index: int
    instance: int
    name: str


@dataclass(frozen=True)
class Problem:
    """N models on a platform, one objective, constraints. See docs/model.md."""

    models: tuple[ModelSpec, ...]
    platform: Platform
    objective: Objective = Objective.LATENCY
    max_transitions: int = 2
    loadable_limit: int | None = None
    pins: tuple[Pin, ...] = ()
    contention: ContentionModel | None = None
    frames_per_round: int = 1
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "pins", tuple(self.pins))
        object.__setattr__(self, "objective", Objective(self.objective))
        warnings = list(self.warnings)
        self._validate(warnings)
        object.__setattr__(self, "warnings", tuple(warnings))

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        tables: Sequence[CostTable | ModelSpec],
        platform: str | Platform = "xavier-agx",
        *,
        objective: Objective | str = Objective.LATENCY,
        max_transitions: int = 2,
        loadable_limit: int | None = None,
        pins: Sequence[Pin] = (),
        contention: ContentionModel | str | None = "auto",
        frames_per_round: int = 1,
        weights: Mapping[str, float] | None = None,
        deadlines: Mapping[str, float] | None = None,
        gpu_fallback: str | Iterable[str] | None = None,
    ) -> Problem:
        """Friendly constructor.

        ``contention``: ``"auto"`` uses the platform preset when every table has bandwidth
        columns and disables contention (with a warning) otherwise; ``"none"`` disables it;
        ``"preset"`` demands the preset; or pass a `ContentionModel`.

        ``gpu_fallback``: ``"all"`` or model names: those models are built with TensorRT's
        GPU fallback (docs/model.md section 2.1); None or ``()`` keeps each spec's own flag.
        """
        plat = get_platform(platform) if isinstance(platform, str) else platform
        specs = [t if isinstance(t, ModelSpec) else ModelSpec(t) for t in tables]
        plat, narrowed = restricted_to_tables(plat, (s.table for s in specs))
        names = [s.name for s in specs]
        specs = [_rename_duplicate(s, names, i) for i, s in enumerate(specs)]
        renamed = [f"{old} -> {new.name}" for old, new in zip(names, specs, strict=True)
                   if new.name != old]
        rename_warnings = [
            f"several tables name the same model, renamed {', '.join(renamed)}; name them "
            "yourself (CLI: NAME=TABLE.csv; API: ModelSpec(table, name)) so options such as "
            "pins, weights and deadlines can refer to them"] if renamed else []
        weights = dict(weights or {})
        deadlines = dict(deadlines or {})
        known = {s.name for s in specs}
        for key in [*weights, *deadlines]:
            if key not in known:
                raise ProblemError(f"weight/deadline given for unknown model {key!r}; "
                                   f"models are {', '.join(sorted(known))}"
                                   f"{_renamed_hint(key, known)}")
        fallback = fallback_names(gpu_fallback, [s.name for s in specs])
        specs = [ModelSpec(s.table, s.name, weights.get(s.name, s.weight),
                           deadlines.get(s.name, s.deadline_ms),
                           s.gpu_fallback or s.name in fallback) for s in specs]
        warnings: list[str] = [*rename_warnings, *([narrowed] if narrowed else [])]
        if isinstance(contention, ContentionModel):
            model = contention
        elif contention in (None, "none", "off"):
            model = no_contention()
        elif contention in ("auto", "preset"):
            missing = [s.name for s in specs if not _has_bandwidth(s.table)]
            if missing and contention == "preset":
                raise ProblemError(
                    f"contention needs gpu_bw_gbps/dla_bw_gbps columns; missing in "
                    f"{', '.join(missing)} (add them, or use contention='none')")
            if missing and plat.contention.enabled:
                warnings.append(
                    "memory contention is off: no bandwidth columns (gpu_bw_gbps, "
                    f"dla_bw_gbps) in {', '.join(missing)}")
                model = no_contention()
            else:
                model = plat.contention
        else:
            raise ProblemError(f"contention must be 'auto', 'none', 'preset' or a "
                               f"ContentionModel, not {contention!r}")
        return cls(models=tuple(specs), platform=plat, objective=Objective(objective),
                   max_transitions=max_transitions, loadable_limit=loadable_limit,
                   pins=tuple(pins), contention=model, frames_per_round=frames_per_round,
                   warnings=tuple(warnings))

    # ------------------------------------------------------------------ validation
    def _validate(self, warnings: list[str]) -> None:
        if not self.models:
            raise ProblemError("a problem needs at least one model (cost table)")
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ProblemError(f"model names must be unique; repeated: {', '.join(dup)} "
                               "(give each ModelSpec a name)")
        if not isinstance(self.max_transitions, int) or self.max_transitions < 0:
            raise ProblemError(f"max_transitions must be an integer >= 0, "
                               f"got {self.max_transitions!r}")
        if not isinstance(self.frames_per_round, int) or not (
                1 <= self.frames_per_round <= MAX_FRAMES_PER_ROUND):
            raise ProblemError(f"frames_per_round must be an integer in 1.."
                               f"{MAX_FRAMES_PER_ROUND}, got {self.frames_per_round!r}")
        if self.objective is Objective.LATENCY and self.frames_per_round != 1:
            raise ProblemError("frames_per_round > 1 only makes sense for the throughput "
                               "objective (latency is one concurrent inference)")
        if self.loadable_limit is not None and (
                not isinstance(self.loadable_limit, int) or self.loadable_limit < 0):
            raise ProblemError(f"loadable_limit must be an integer >= 0, "
                               f"got {self.loadable_limit!r}")
        if self.contention is None:
            object.__setattr__(self, "contention", no_contention())
        self.contention.check_devices(len(self.platform.devices))
        if self.contention.enabled and self.contention.placeholders:
            warnings.append(
                f"contention model {self.contention.name} holds placeholder values "
                f"({'; '.join(self.contention.placeholders)}): its times are estimates until "
                "calibrated from co-run measurements (`layerswap calibrate`)")
        for m in self.models:
            if not (math.isfinite(m.weight) and m.weight > 0):
                raise ProblemError(f"model {m.name}: weight must be a finite number > 0, "
                                   f"got {m.weight}")
            if not MIN_WEIGHT <= m.weight <= MAX_WEIGHT:
                raise ProblemError(f"model {m.name}: weight {m.weight:g} is outside the "
                                   f"supported range {MIN_WEIGHT:g}..{MAX_WEIGHT:g} (only "
                                   "ratios matter: scale all weights together)")
            if m.deadline_ms is not None and not (math.isfinite(m.deadline_ms)
                                                  and m.deadline_ms > 0):
                raise ProblemError(f"model {m.name}: deadline must be > 0 ms, "
                                   f"got {m.deadline_ms}")
            plat = m.table.platform.strip()
            differs = (platforms.disagreement(plat, self.platform.name)
                       if platforms.known(self.platform.name) else None)
            if differs is None and plat and not platforms.known(plat) and \
                    plat.lower() != self.platform.name:
                differs = f"table measured on {plat}, solving for {self.platform.name}"
            if differs:
                warnings.append(f"model {m.name}: {differs}")
            if m.table.placeholder_columns:
                warnings.append(f"model {m.name}: {', '.join(m.table.placeholder_columns)} "
                                f"of {m.table.origin} are placeholders, not measurements "
                                "(the table's notes say why)")
            if m.gpu_fallback and not self.platform.dla_cores:
                raise ProblemError(f"model {m.name}: GPU fallback asked on platform "
                                   f"{self.platform.name}, which has no DLA core; drop "
                                   "--gpu-fallback or pick a platform with DLA")
            if m.gpu_fallback and all(r.dla_ms is None for r in m.table.rows):
                raise ProblemError(f"model {m.name}: GPU fallback asked but "
                                   f"{m.table.origin} has no DLA cost in any group (nothing "
                                   "could run on a DLA core); add dla_ms or drop the model "
                                   "from --gpu-fallback")
            if self.contention.enabled and not _has_bandwidth(m.table):
                raise ProblemError(
                    f"model {m.name}: contention is on but {m.table.origin} has no "
                    "gpu_bw_gbps/dla_bw_gbps columns; add them or disable contention")
        for pin in self.pins:
            if pin.model not in names:
                raise ProblemError(f"pin names unknown model {pin.model!r}; models are "
                                   f"{', '.join(names)}{_renamed_hint(pin.model, names)}")
            n = self.models[names.index(pin.model)].table.n_groups
            if not (0 <= pin.first_group <= pin.last_group < n):
                raise ProblemError(f"pin on {pin.model}: groups {pin.first_group}.."
                                   f"{pin.last_group} outside 0..{n - 1}")
            if not pin.devices:
                raise ProblemError(f"pin on {pin.model} groups {pin.first_group}.."
                                   f"{pin.last_group} allows no device")
        for job in self.jobs:
            for g in range(self.n_groups(job.index)):
                if not self.allowed(job.index, g):
                    raise ProblemError(
                        f"model {self.models[job.model_index].name} group {g} can run on no "
                        f"device of {self.platform.name} (DLA-ineligible and the GPU is "
                        "forbidden by a pin); relax the pins")
        useful = self.useful_transitions()
        if self.max_transitions > useful:
            warnings.append(
                f"max_transitions {self.max_transitions} capped at {useful}: "
                f"{self._transition_cap_reason(useful)}; the optimum is the same")
            object.__setattr__(self, "max_transitions", useful)

    def useful_transitions(self) -> int:
        """The most device switches any job can make, so a larger ``max_transitions`` allows
        nothing more (docs/model.md section 2): a job of G groups switches at most G-1
        times, and its segments alternate so that at least floor((T+1)/2) of T+1 segments
        are DLA segments, each a loadable: T <= 2 x loadable limit x DLA cores."""
        dla_cores = sum(1 for d in self.devices if d.kind == "dla")
        if dla_cores == 0:
            return 0
        most_groups = max(m.table.n_groups for m in self.models)
        return min(most_groups - 1, 2 * self.dla_loadable_limit * dla_cores)

    def _transition_cap_reason(self, useful: int) -> str:
        dla_cores = sum(1 for d in self.devices if d.kind == "dla")
        if dla_cores == 0:
            return f"{self.platform.name} has no DLA, so no model can switch device"
        most_groups = max(m.table.n_groups for m in self.models)
        if useful == most_groups - 1:
            return (f"no model has more than {most_groups} groups, and a model of G groups "
                    "switches device at most G-1 times")
        return (f"at most {self.dla_loadable_limit} loadables per DLA core x {dla_cores} "
                f"core(s) allow at most {useful} switches per model")

    # ------------------------------------------------------------------ jobs and costs
    @cached_property
    def jobs(self) -> tuple[Job, ...]:
        out = []
        for mi, m in enumerate(self.models):
            for inst in range(self.frames_per_round):
                name = m.name if self.frames_per_round == 1 else f"{m.name}#{inst}"
                out.append(Job(len(out), mi, inst, name))
        return tuple(out)

    @property
    def devices(self) -> tuple[Device, ...]:
        return self.platform.devices

    @property
    def dla_loadable_limit(self) -> int:
        """Per-core loadable limit: explicit, else from the tables' TRT version; never above
        the number of segments (GPU fallback pieces included) all jobs can have: a larger
        limit cannot bind, and the backends need the number to fit their integer models."""
        if self.loadable_limit is not None:
            limit = self.loadable_limit
        else:
            limit = min(loadable_limit_for_trt(m.table.metadata.get("trt_version"))
                        for m in self.models)
        return min(limit, sum(self.max_segments(j.index) for j in self.jobs))

    def table(self, job: int) -> CostTable:
        return self.models[self.jobs[job].model_index].table

    def n_groups(self, job: int) -> int:
        return self.table(job).n_groups

    def weight(self, job: int) -> float:
        return self.models[self.jobs[job].model_index].weight

    def deadline(self, job: int) -> float | None:
        return self.models[self.jobs[job].model_index].deadline_ms

    def cost(self, job: int, group: int, device: Device | str) -> float | None:
        """Standalone time (ms) of ``group`` on ``device``; None if it cannot run there."""
        row = self.table(job).rows[group]
        return row.gpu_ms if Device(device).kind == "gpu" else row.dla_ms

    def segment_cost(self, job: int, first: int, last: int, device: Device | str) -> float:
        """Sum of group costs; raises ProblemError if a group cannot run there."""
        total = 0.0
        for g in range(first, last + 1):
            c = self.cost(job, g, device)
            if c is None or Device(device) not in self.allowed(job, g):
                raise ProblemError(f"{self.jobs[job].name} group {g} cannot run on {device}")
            total += c
        return total

    def transition(self, job: int, after_group: int, src: Device | str,
                   dst: Device | str) -> float:
        """Delay (ms) between a segment ending at ``after_group`` on src and the next on dst.

        Zero for the same device kind is impossible (adjacent segments use different
        devices; DLA0 -> DLA1 pays dla_to_gpu + gpu_to_dla through GPU memory)."""
        row = self.table(job).rows[after_group]
        s, d = Device(src).kind, Device(dst).kind
        if (s, d) == ("gpu", "dla"):
            value = row.gpu_to_dla_ms
        elif (s, d) == ("dla", "gpu"):
            value = row.dla_to_gpu_ms
        elif (s, d) == ("dla", "dla"):
            a, b = row.dla_to_gpu_ms, row.gpu_to_dla_ms
            value = None if a is None or b is None else a + b
        else:
            value = 0.0
        if value is None:
            raise ProblemError(f"{self.jobs[job].name}: no {src}->{dst} transition cost after "
                               f"group {after_group}")
        return value

    def allowed(self, job: int, group: int) -> frozenset[Device]:
        """Devices that group ``group`` of job ``job`` may run on."""
        return self._allowed[job][group]

    def gpu_fallback(self, job: int) -> bool:
        """Whether the job's model is built with TensorRT's GPU fallback (model.md 2.1)."""
        return self.models[self.jobs[job].model_index].gpu_fallback

    @property
    def any_fallback(self) -> bool:
        return any(m.gpu_fallback for m in self.models)

    def refused(self, job: int, group: int) -> bool:
        """No DLA core may run the group (no DLA cost, or pins): with GPU fallback a DLA
        segment may still span it, and it runs on the GPU."""
        return not any(d.kind == "dla" for d in self.allowed(job, group))

    def refused_runs(self, job: int) -> tuple[tuple[int, int], ...]:
        """Maximal runs ``(first, last)`` of refused groups of a job."""
        return self._refused_runs[job]

    @cached_property
    def _refused_runs(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        out = []
        for job in self.jobs:
            runs: list[tuple[int, int]] = []
            for g in range(self.n_groups(job.index)):
                if not self.refused(job.index, g):
                    continue
                if runs and runs[-1][1] == g - 1:
                    runs[-1] = (runs[-1][0], g)
                else:
                    runs.append((g, g))
            out.append(tuple(runs))
        return tuple(out)

    def with_gpu_fallback(self, on: bool = True) -> Problem:
        """This problem with TensorRT's GPU fallback on for every model that has a DLA cost
        (``on``), or off for every model: the two sides of the comparison "how much does
        the partition recover" (docs/model.md 2.1)."""
        models = tuple(replace(m, gpu_fallback=on and any(r.dla_ms is not None
                                                          for r in m.table.rows))
                       for m in self.models)
        if not self.platform.dla_cores:
            models = tuple(replace(m, gpu_fallback=False) for m in self.models)
        out = replace(self, models=models)
        # validation runs again and repeats its warnings: keep each once
        object.__setattr__(out, "warnings", tuple(dict.fromkeys(out.warnings)))
        return out

    def max_segments(self, job: int) -> int:
        """Most executed segments (pieces) a job may have: ``max_transitions + 1``, plus
        with GPU fallback 2 per refused run (a fallback piece and the DLA run after it),
        never more than its groups (model.md 2.1)."""
        n = self.n_groups(job)
        base = min(self.max_transitions + 1, n)
        if not self.gpu_fallback(job):
            return base
        return min(n, self.max_transitions + 1 + 2 * len(self.refused_runs(job)))

    @cached_property
    def _allowed(self) -> tuple[tuple[frozenset[Device], ...], ...]:
        out = []
        for job in self.jobs:
            spec = self.models[job.model_index]
            per_group = []
            for g, row in enumerate(spec.table.rows):
                devs = {d for d in self.platform.devices
                        if d.kind == "gpu" or row.dla_ms is not None}
                for pin in self.pins:
                    if pin.model == spec.name and pin.first_group <= g <= pin.last_group:
                        devs &= pin.devices
                per_group.append(frozenset(devs))
            out.append(tuple(per_group))
        return tuple(out)

    def segment_bandwidth(self, job: int, first: int, last: int, kind: str) -> float:
        """Memory bandwidth demand (GB/s) of groups ``first..last`` of a job on a device kind:
        their per-group ``gpu_bw_gbps`` / ``dla_bw_gbps`` weighted by their standalone times
        there. The co-runner demand the contention term sees (docs/model.md section 3.1);
        0 when those groups take no time there."""
        t, tb = self._demand_prefix[job][kind]
        total = t[last + 1] - t[first]
        return (tb[last + 1] - tb[first]) / total if total > 0 else 0.0

    def demand_time(self, job: int, group: int, kind: str) -> float:
        """The time that weights ``group``'s demand in `segment_bandwidth` (ms; 0 where it
        has no time or no demand on that kind)."""
        t, _ = self._demand_prefix[job][kind]
        return t[group + 1] - t[group]

    def bandwidth(self, job: int, kind: str) -> float:
        """Mean demand (GB/s) of a whole job on a device kind (`segment_bandwidth` over all
        its groups). Informational: the contention term uses the segment's own demand."""
        return self.segment_bandwidth(job, 0, self.n_groups(job) - 1, kind)

    def least_bandwidth(self, job: int, kind: str) -> float:
        """Least demand any segment of the job can have on a device kind: the smallest
        per-group demand among its groups that take time there (a time-weighted mean is
        never below its smallest term). Lower bounds use it."""
        values = []
        for row in self.table(job).rows:
            t, bw = _time_and_demand(row, kind)
            if t is not None and t > 0:
                values.append(0.0 if bw is None else float(bw))
        return min(values, default=0.0)

    @cached_property
    def _demand_prefix(self) -> tuple[dict[str, tuple[tuple[float, ...], tuple[float, ...]]],
                                      ...]:
        """Per job and kind: prefix sums of group time and of time x bandwidth (groups that
        cannot run there, or have no bandwidth, add 0)."""
        out = []
        for job in self.jobs:
            rows = self.models[job.model_index].table.rows
            entry = {}
            for kind in ("gpu", "dla"):
                t_acc, tb_acc = [0.0], [0.0]
                for r in rows:
                    t, bw = _time_and_demand(r, kind)
                    if t is None or bw is None:
                        t, bw = 0.0, 0.0
                    t_acc.append(t_acc[-1] + t)
                    tb_acc.append(tb_acc[-1] + t * bw)
                entry[kind] = (tuple(t_acc), tuple(tb_acc))
            out.append(entry)
        return tuple(out)

    def loss_rate(self, victim_job: int, victim_device: Device | str, aggressor_job: int,
                  aggressor_device: Device | str, first: int, last: int) -> float:
        """k(i, j): progress lost per ms by a segment of ``victim_job`` on ``victim_device``
        while the segment of ``aggressor_job`` made of groups ``first..last`` runs on
        ``aggressor_device``: the contention curve at that segment's own demand
        (`segment_bandwidth`). Zero on the same device (they cannot overlap) and between
        segments of one job in latency mode (never concurrent there; in throughput mode
        they belong to different frames and still share DRAM, so they do count)."""
        vd, ad = Device(victim_device), Device(aggressor_device)
        if vd == ad:
            return 0.0
        if victim_job == aggressor_job and self.objective is Objective.LATENCY:
            return 0.0
        if not self.contention.enabled:
            return 0.0
        return self.contention.loss_rate(
            vd.kind, self.segment_bandwidth(aggressor_job, first, last, ad.kind))

    def least_loss_rate(self, victim_job: int, victim_device: Device | str,
                        aggressor_job: int, aggressor_device: Device | str) -> float:
        """The smallest `loss_rate` any segment of ``aggressor_job`` on
        ``aggressor_device`` can inflict (same zero rules): the curve is non-decreasing, so
        it is the curve at `least_bandwidth`."""
        vd, ad = Device(victim_device), Device(aggressor_device)
        if vd == ad or not self.contention.enabled or (
                victim_job == aggressor_job and self.objective is Objective.LATENCY):
            return 0.0
        return self.contention.loss_rate(vd.kind, self.least_bandwidth(aggressor_job, ad.kind))

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "layerswap.problem/1",
            "platform": self.platform.name,
            "objective": self.objective.value,
            "max_transitions": self.max_transitions,
            "loadable_limit": self.loadable_limit,
            "frames_per_round": self.frames_per_round,
            "contention": self.contention.to_dict(),
            "models": [{"name": m.name, "weight": m.weight, "deadline_ms": m.deadline_ms,
                        "gpu_fallback": m.gpu_fallback, "table": m.table.to_dict()}
                       for m in self.models],
            "pins": [{"model": p.model, "first_group": p.first_group,
                      "last_group": p.last_group, "devices": sorted(d.value for d in p.devices)}
                     for p in self.pins],
        }

    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "<json>") -> Problem:
        """Read `to_dict`'s output. A missing or mistyped field is a ProblemError naming
        ``origin`` and the field's path (``problem.models[1].weight``)."""
        try:
            return cls._from_dict(data)
        except LayerswapError as exc:
            raise ProblemError(f"{origin}: {exc}; write it with Problem.to_dict or "
                               "`layerswap solve -o`") from exc

    @classmethod
    def _from_dict(cls, data: Any) -> Problem:
        w = "problem"
        models = []
        for i, m in enumerate(as_list(need(data, "models", w), f"{w}.models")):
            at = f"{w}.models[{i}]"
            name = as_str(need(m, "name", at), f"{at}.name")
            weight = as_number(m.get("weight", 1.0), f"{at}.weight", positive=True)
            deadline = m.get("deadline_ms")
            if deadline is not None:
                deadline = as_number(deadline, f"{at}.deadline_ms", positive=True)
            table = CostTable.from_dict(as_object(need(m, "table", at), f"{at}.table"),
                                        origin=f"{at}.table ({name})")
            fallback = m.get("gpu_fallback", False)
            if not isinstance(fallback, bool):
                raise ProblemError(f"{at}.gpu_fallback: expected true or false, got "
                                   f"{fallback!r}")
            models.append(ModelSpec(table, name, weight, deadline, fallback))
        pins = []
        for i, p in enumerate(as_list(as_object(data, w).get("pins", []), f"{w}.pins")):
            at = f"{w}.pins[{i}]"
            devices = frozenset(
                Device(as_choice(d, f"{at}.devices[{k}]", tuple(x.value for x in Device)))
                for k, d in enumerate(as_list(need(p, "devices", at), f"{at}.devices")))
            pins.append(Pin(as_str(need(p, "model", at), f"{at}.model"),
                            as_int(need(p, "first_group", at), f"{at}.first_group", minimum=0),
                            as_int(need(p, "last_group", at), f"{at}.last_group", minimum=0),
                            devices))
        loadable_limit = data.get("loadable_limit")
        contention = data.get("contention")
        return cls(
            models=tuple(models),
            platform=get_platform(as_str(need(data, "platform", w), f"{w}.platform")),
            objective=Objective(as_choice(data.get("objective", "latency"), f"{w}.objective",
                                          tuple(o.value for o in Objective))),
            max_transitions=as_int(data.get("max_transitions", 2), f"{w}.max_transitions",
                                   minimum=0),
            loadable_limit=None if loadable_limit is None else as_int(
                loadable_limit, f"{w}.loadable_limit", minimum=0),
            pins=tuple(pins),
            contention=None if contention is None else ContentionModel.from_dict(
                as_object(contention, f"{w}.contention")),
            frames_per_round=as_int(data.get("frames_per_round", 1), f"{w}.frames_per_round",
                                    minimum=1, maximum=MAX_FRAMES_PER_ROUND))


def fallback_names(value: str | Iterable[str] | None, names: Sequence[str]) -> frozenset[str]:
    """The model names ``gpu_fallback`` selects: ``"all"``, one name, or names (a
    comma-separated string too). An unknown name is a ProblemError naming the models."""
    if value is None:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    items = [str(x).strip() for x in items if str(x).strip()]
    if [x.lower() for x in items] == ["all"]:
        return frozenset(names)
    unknown = [x for x in items if x not in names]
    if unknown:
        raise ProblemError(f"GPU fallback asked for unknown model(s) {', '.join(unknown)}; "
                           f"models are {', '.join(names)} (or say 'all')"
                           f"{_renamed_hint(unknown[0], names)}")
    return frozenset(items)


def _time_and_demand(row: GroupCost, kind: str) -> tuple[float | None, float | None]:
    """A group's standalone time (ms) and bandwidth demand (GB/s) on a device kind."""
    if kind == "gpu":
        return row.gpu_ms, row.gpu_bw_gbps
    return row.dla_ms, row.dla_bw_gbps


def _has_bandwidth(table: CostTable) -> bool:
    return all(r.gpu_bw_gbps is not None and (r.dla_ms is None or r.dla_bw_gbps is not None)
               for r in table.rows)


def _renamed_hint(name: str, known: Iterable[str]) -> str:
    """A hint when ``name`` was renamed ``name-1``, ``name-2`` as a duplicate."""
    if any(k.startswith(f"{name}-") and k[len(name) + 1:].isdigit() for k in known):
        return (f" (several tables name the model {name}, so they were renamed; name each "
                "with NAME=TABLE on the command line or ModelSpec(table, name))")
    return ""


def _rename_duplicate(spec: ModelSpec, names: list[str], index: int) -> ModelSpec:
    if names.count(spec.name) == 1:
        return spec
    nth = names[:index].count(spec.name)
    return ModelSpec(spec.table, f"{spec.name}-{nth + 1}", spec.weight, spec.deadline_ms,
                     spec.gpu_fallback)


def dla_symmetric(problem: Problem) -> bool:
    """True when DLA0 and DLA1 are interchangeable everywhere (no pin tells them apart), so
    a backend may demand that the first slot (in a fixed enumeration) on a DLA uses DLA0."""
    devs = set(problem.devices)
    if not {Device.DLA0, Device.DLA1} <= devs:
        return False
    return all((Device.DLA0 in problem.allowed(j.index, g))
               == (Device.DLA1 in problem.allowed(j.index, g))
               for j in problem.jobs for g in range(problem.n_groups(j.index)))

"""From a spec to its points: resolve every model to a cost table per platform, precision and
variant, then take the cross product of the model sets and the axes.

A point carries everything its task needs (the tables as CSV text, the axes), so it can be
shipped to a process pool or a Ray cluster as one small value, and its ``point_id`` (the
SHA-256 of the tables' digests and the axes) is what the results database keys on: the same
point in two sweeps, or in a resumed one, is the same row.

Models from ONNX files or the zoo are estimated here, once per (platform, precision,
variant), in the process that plans the sweep; a combination a model cannot take part in
is skipped with its reason counted (`Plan.skipped`), never silently.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optimizer.sweep.spec import SpecError, SweepSpec
from profiles.costtable import CostTable

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Point:
    """One task of a sweep: a model set on one combination of the axes."""

    point_id: str
    models: tuple[str, ...]
    tables: tuple[str, ...] = field(repr=False)  # CSV text, one per model
    sources: tuple[str, ...]
    digests: tuple[str, ...]
    platform: str            # the axis value: a module or alias (profiles.platforms)
    family: str              # its family (contention preset, DLA rules): orin-nx-8 -> orin-nx
    precision: str
    objective: str
    max_transitions: int
    contention: str          # on | off
    variant: str             # original | rewritten
    solver: str
    time_limit: float
    threads: int
    frames_per_round: int
    groups_total: int

    def axes(self) -> dict[str, Any]:
        """The columns that say which point this is (the database's axis columns)."""
        return {"models": "+".join(self.models), "n_models": len(self.models),
                "platform": self.platform, "family": self.family,
                "precision": self.precision, "objective": self.objective,
                "max_transitions": self.max_transitions, "contention": self.contention,
                "variant": self.variant, "solver": self.solver,
                "time_limit_s": self.time_limit, "threads": self.threads,
                "frames_per_round": self.frames_per_round,
                "groups_total": self.groups_total,
                "table_digest": _sha(":".join(self.digests)),
                "tables_json": json.dumps([
                    {"model": m, "source": s, "sha256": d}
                    for m, s, d in zip(self.models, self.sources, self.digests, strict=True)]),
                }


@dataclass(frozen=True)
class Plan:
    """The points of a spec, and how many combinations were skipped, by reason."""

    spec: SweepSpec
    points: tuple[Point, ...]
    skipped: dict[str, int]


@dataclass(frozen=True)
class _Table:
    table: CostTable
    text: str
    digest: str
    source: str
    changed: bool  # the rewritten variant differs from the original


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _module(platform: str) -> str:
    """The canonical module name (``orin-agx`` -> ``orin-agx-64``; `profiles.platforms`),
    or the name itself when no module answers to it."""
    from profiles import platforms

    return (platforms.resolve(platform).name if platforms.known(platform)
            else platform.strip().lower())


class _Resolver:
    """Cost tables of the spec's models, loaded or estimated once each."""

    def __init__(self, spec: SweepSpec, progress: Progress | None) -> None:
        self.spec = spec
        self.progress = progress
        self.cache: dict[tuple[str, str, str, str], _Table] = {}
        self.onnx: dict[str, Any] = {}
        self.rewrites: dict[str, Any] = {}
        for name, source in spec.models.items():  # fail early on a bad source
            if isinstance(source, dict):
                for plat, ref in source.items():
                    self._check_platform_key(name, plat)
                    self._kind(name, ref)
            else:
                self._kind(name, source)

    def _entry(self, name: str) -> str:
        return f"models.{name}"

    def _check_platform_key(self, name: str, plat: str) -> None:
        from profiles.platforms import UnknownPlatform, resolve

        try:
            resolve(plat)
        except UnknownPlatform as exc:
            raise SpecError(self.spec.path, f"{self._entry(name)}.{plat}", str(exc)) from None

    def _kind(self, name: str, ref: str) -> tuple[str, str]:
        """(kind, resolved ref): stored | csv | onnx | zoo."""
        from profiles.costtable import published_names

        if ref.startswith("zoo:"):
            from export import zoo

            if ref[4:] not in zoo.names():
                raise SpecError(self.spec.path, self._entry(name),
                                f"unknown zoo model {ref[4:]!r}; the zoo has "
                                f"{', '.join(zoo.names())}")
            return "zoo", ref[4:]
        path = Path(ref) if Path(ref).is_absolute() else self.spec.base / ref
        if ref.lower().endswith(".onnx"):
            if not path.is_file():
                raise SpecError(self.spec.path, self._entry(name),
                                f"no such ONNX file {str(path)!r}")
            return "onnx", str(path)
        if path.is_file():
            return "csv", str(path)
        if ref in published_names():
            return "stored", ref
        raise SpecError(self.spec.path, self._entry(name),
                        f"{ref!r} is not a stored table ({', '.join(published_names())}), "
                        "an existing CSV or ONNX file, nor zoo:NAME")

    def source(self, name: str, platform: str) -> str | None:
        src = self.spec.models[name]
        if isinstance(src, str):
            return src
        module = _module(platform)
        for key, ref in src.items():
            if _module(key) == module:
                return ref
        return None

    def table(self, name: str, platform: str, precision: str, variant: str) -> _Table | None:
        """The model's table on this combination; None when the spec gives the model no
        source for ``platform``; `SpecError` when its table was made for another one."""
        ref = self.source(name, platform)
        if ref is None:
            return None
        key = (ref, _module(platform), precision, variant)
        if key not in self.cache:
            self.cache[key] = self._make(name, ref, platform, precision, variant)
        return self.cache[key]

    def _make(self, name: str, ref: str, platform: str, precision: str,
              variant: str) -> _Table:
        kind, where = self._kind(name, ref)
        if kind in ("stored", "csv"):
            if variant == "rewritten":  # a table has no graph to rewrite: same as original
                base = self.table(name, platform, precision, "original")
                assert base is not None
                return _Table(base.table, base.text, base.digest, base.source, False)
            return self._fixed_table(name, kind, where, platform, precision)
        proto = self._proto(name, kind, where)
        changed = False
        if variant == "rewritten":
            proto = self._rewritten(where, proto)
            changed = proto is not None
            if proto is None:
                base = self.table(name, platform, precision, "original")
                assert base is not None
                return _Table(base.table, base.text, base.digest, base.source, False)
        from profiles.errors import LayerswapError
        from profiles.estimate import estimate

        if self.progress:
            self.progress(f"estimating {name} on {platform} ({precision}, {variant})")
        try:
            est = estimate(proto, platform=platform, precision=precision,
                           groups=self.spec.settings["groups"],
                           max_crossing=self.spec.settings["max_crossing"], name=name)
        except LayerswapError as exc:
            raise SpecError(self.spec.path, self._entry(name),
                            f"cannot estimate {ref} on {platform} ({precision}): {exc}"
                            ) from None
        text = est.table.to_csv_text()
        label = f"{ref} estimated for {platform} {precision}" + (
            " (rewritten)" if changed else "")
        return _Table(est.table, text, _sha(text), label, changed)

    def _proto(self, name: str, kind: str, where: str) -> Any:
        if where not in self.onnx:
            if kind == "zoo":
                from export import zoo

                if self.progress:
                    self.progress(f"building zoo model {where}")
                self.onnx[where] = zoo.build(where)
            else:
                import onnx

                try:
                    self.onnx[where] = onnx.load(where)
                except Exception as exc:  # onnx raises DecodeError, OSError, ...
                    raise SpecError(self.spec.path, self._entry(name),
                                    f"cannot read {where}: {exc}") from None
        return self.onnx[where]

    def _rewritten(self, where: str, proto: Any) -> Any:
        """The model after every exact rewrite pass, or None when no pass changes it
        (computed once per model: it does not depend on the platform)."""
        if where not in self.rewrites:
            from export.rewrite import rewrite

            result = rewrite(proto)
            self.rewrites[where] = result.model if result.applied else None
        return self.rewrites[where]

    def _fixed_table(self, name: str, kind: str, where: str, platform: str,
                     precision: str) -> _Table:
        from profiles.costtable import load_published
        from profiles.errors import LayerswapError

        try:
            table = load_published(where) if kind == "stored" else CostTable.from_csv(where)
        except LayerswapError as exc:
            raise SpecError(self.spec.path, self._entry(name), str(exc)) from None
        from profiles.platforms import disagreement

        made_for = (table.platform or "").strip().lower()
        why = disagreement(made_for, platform)
        if why:
            raise SpecError(
                self.spec.path, self._entry(name),
                f"table {where} was made for {made_for}, not {platform} ({why}); list it for "
                f"its platform only ({name} = {{ {made_for} = \"{self._ref(name)}\" }}) or "
                f"drop {platform} from axes.platforms")
        made_at = (table.metadata.get("precision") or "").strip().lower()
        if made_at and made_at != precision:
            raise SpecError(
                self.spec.path, self._entry(name),
                f"table {where} was measured at {made_at}, not {precision}; a precision axis "
                "needs ONNX or zoo models (estimated per precision)")
        text = table.to_csv_text()
        return _Table(table, text, _sha(text), where if kind == "stored" else
                      str(Path(where).name), False)

    def _ref(self, name: str) -> str:
        src = self.spec.models[name]
        return src if isinstance(src, str) else next(iter(src.values()))


def model_sets(spec: SweepSpec) -> list[tuple[str, ...]]:
    """Every model set of the spec: the combinations of each size, then the explicit sets
    (a set named twice, in any order, counts once)."""
    seen: set[frozenset[str]] = set()
    out: list[tuple[str, ...]] = []
    names = list(spec.models)
    for members in [*(c for s in spec.sizes for c in itertools.combinations(names, s)),
                    *spec.sets]:
        if frozenset(members) not in seen:
            seen.add(frozenset(members))
            out.append(tuple(members))
    return out


def _has_bandwidth(table: CostTable) -> bool:
    return all(r.gpu_bw_gbps is not None for r in table.rows)


def expand(spec: SweepSpec, progress: Progress | None = None) -> Plan:
    """The spec's points in a fixed order (model set, then the axes in `AXES` order);
    `SpecError` when the cross product is empty."""
    from solvers import get_platform

    resolver = _Resolver(spec, progress)
    ax = spec.axes
    settings = spec.settings
    points: list[Point] = []
    skipped: Counter[str] = Counter()
    for members in model_sets(spec):
        for platform, precision, variant in itertools.product(
                ax["platforms"], ax["precision"], ax["variants"]):
            family = _family(platform)
            tables = [resolver.table(m, platform, precision, variant) for m in members]
            n_rest = (len(ax["objectives"]) * len(ax["max_transitions"])
                      * len(ax["contention"]) * len(ax["solvers"]) * len(ax["time_limits"]))
            absent = [m for m, t in zip(members, tables, strict=True) if t is None]
            if absent:
                skipped[f"model {absent[0]} has no source for {platform}"] += n_rest
                continue
            ready = [t for t in tables if t is not None]
            if variant == "rewritten" and not any(t.changed for t in ready):
                skipped["rewritten: no exact rewrite changes any model of the set "
                        "(tables have no graph; see export.rewrite)"] += n_rest
                continue
            no_bw = [m for m, t in zip(members, ready, strict=True)
                     if not _has_bandwidth(t.table)]
            for objective, max_t, contention, solver, limit in itertools.product(
                    ax["objectives"], ax["max_transitions"], ax["contention"],
                    ax["solvers"], ax["time_limits"]):
                if contention == "on" and (no_bw or not get_platform(
                        platform).contention.enabled):
                    why = (f"model {no_bw[0]} has no bandwidth columns" if no_bw
                           else f"{platform} has no contention preset")
                    skipped[f"contention on: {why}"] += 1
                    continue
                frames = settings["frames_per_round"] if objective == "throughput" else 1
                key = {"models": [[m, t.digest] for m, t in zip(members, ready, strict=True)],
                       "platform": platform, "precision": precision, "objective": objective,
                       "max_transitions": max_t, "contention": contention,
                       "variant": variant, "solver": solver, "time_limit": limit,
                       "threads": settings["threads"], "frames_per_round": frames}
                points.append(Point(
                    point_id=_sha(json.dumps(key, sort_keys=True)), models=members,
                    tables=tuple(t.text for t in ready),
                    sources=tuple(t.source for t in ready),
                    digests=tuple(t.digest for t in ready), platform=platform,
                    family=family, precision=precision,
                    objective=objective, max_transitions=max_t, contention=contention,
                    variant=variant, solver=solver, time_limit=limit,
                    threads=settings["threads"], frames_per_round=frames,
                    groups_total=sum(t.table.n_groups for t in ready)))
    if not points:
        reasons = "; ".join(f"{n} x {why}" for why, n in skipped.items()) or "no combination"
        raise SpecError(spec.path, "axes", f"the cross product is empty ({reasons}); widen "
                                           "the axes or fix the models")
    return Plan(spec, tuple(points), dict(skipped))


def _family(platform: str) -> str:
    """The family of ``platform`` (``orin-nx-8`` -> ``orin-nx``): the solver's contention
    preset and the DLA rules; the solver itself gets the module (its own DLA cores)."""
    from profiles.platforms import resolve

    return resolve(platform).family


__all__ = ["Plan", "Point", "expand", "model_sets"]

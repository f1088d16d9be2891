"""trtexec artifacts -> a validated `CostTable` (``layerswap ingest``).

Pipeline: read the per-layer profile (``--exportProfile`` JSON or a ``--dumpProfile`` log)
-> classify every engine row (`profiles.trtexec.names`) -> attribute auxiliary rows to the
compute row they serve (`attribute_rows`) -> group compute rows -> merge zero-time groups ->
attach DLA costs when given -> `CostTable.build` (validates).

Attribution rules (one per auxiliary row; first rule that applies wins):

1. *After a DLA node.* If the nearest compute row before the aux row is a DLA node, the row
   belongs to it. On Xavier/TRT 7.1 and TRT 8.x ``to nvm`` engines the DLA time shows up on
   the next GPU row that waits for it (``prob input reformatter 0`` holds 83 % of the time in
   the GoogLeNet transition profile, ``{...} output reformatter 0``, ``X from nvm``,
   ``loss3/classifier finish``), trtexec_formats.md rule 5.
2. *Before a DLA node.* A sync row (``to nvm``, ``copy finish``, ``... finish``) whose next
   compute row is a DLA node belongs to that node.
3. *Named target.* ``Reformatting CopyNode for Input Tensor K to X`` and TRT 7
   ``X input reformatter K`` belong to the next row named X; ``... Output Tensor K to X`` /
   ``X output reformatter K`` / ``X finish`` to the previous row named X.
4. *Neighbour.* Otherwise input-side rows (input reformatters whose target has no row of
   its own, e.g. TRT 10 ``... to {ForeignNode[...]}`` expanded into Myelin kernels, network
   input copies, ``to nvm``) go to the next compute row; output-side rows and concat
   ``<tensor> copy`` rows go to the previous one (the copy writes the producer's output into
   the concat buffer). At either end of the profile the only neighbour is used.

Consecutive rows with the same name (one layer launching several kernels) are one compute
row. DLA nodes are TRT 7 ``{a,b,c}`` subgraphs, names listed as DLA by a build log or by the
caller, and ``{ForeignNode[...]}`` rows with NvMedia sync rows (``to nvm``/``from nvm``/
``finish``) beside them. A ``{ForeignNode[...]}`` alone is *not* a DLA marker (Myelin uses
the same spelling).

Choices documented here:

- gpu_ms comes from a GPU-only engine. A profile with a DLA node is refused: its row times
  are DLA (and sync) times, not GPU times. Use `attribute_rows` on such profiles (the
  transition-sweep ingester does) to get per-node times including the rows of rule 1-2.
- DLA times are never invented. Without ``dla`` the table leaves ``dla_ms`` and transitions
  empty and says ``dla: not measured`` in its metadata; with ``dla`` (a `DlaCosts`, e.g.
  from a transition sweep) they are copied per group and validated by the `CostTable`.
- The cost is ``averageMs`` (``statistic='median'`` for ``medianMs``), never ``timeMs``.
- Zero-time rows stay graph nodes at 0 ms; a group whose total is 0 ms is merged into the
  previous group (the next one for the first group) and the metadata says which.
- ``count`` < 50 is flagged as noisy in the metadata.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiles.costtable import CostTable, GroupCost
from profiles.errors import ProfileError
from profiles.trtexec.build_log import BuildLog, read_build_log
from profiles.trtexec.common import load_text, short
from profiles.trtexec.dump_profile import DumpProfile, DumpRow, parse_dump_profile
from profiles.trtexec.export_profile import (
    NOISY_COUNT,
    ExportProfile,
    ProfileRow,
    parse_export_profile,
)
from profiles.trtexec.layer_info import LayerInfo, check_profile_matches, read_layer_info
from profiles.trtexec.names import RowKind, expand_source_layers, parse_engine_name

ProfileLike = ExportProfile | DumpProfile
Row = ProfileRow | DumpRow
PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------------- attribution
@dataclass(frozen=True)
class ComputeRow:
    """A compute row (or run of same-named rows) with the aux rows attributed to it."""

    position: int              # 0-based among compute rows
    name: str
    rows: tuple[int, ...]      # profile row indices of the compute row itself
    attributed: tuple[int, ...]  # profile row indices of aux rows attributed to it
    own_ms: float
    attributed_ms: float
    device: str | None         # 'DLA' for DLA nodes, 'GPU' when known, None when unknown

    @property
    def total_ms(self) -> float:
        return self.own_ms + self.attributed_ms


@dataclass(frozen=True)
class Attribution:
    """Where each profile row's time went: ``owner[i]`` is the compute position of row i."""

    compute_rows: tuple[ComputeRow, ...]
    owner: tuple[int, ...]
    rule: tuple[str, ...]


def _is_nvmedia_sync(row: Row) -> bool:
    parsed = parse_engine_name(row.name)
    return parsed.kind is RowKind.SYNC and parsed.direction in ("to_dla", "from_dla")


def _dla_flags(rows: Sequence[Row], runs: list[list[int]], dla_names: set[str],
               build_log: BuildLog | None) -> list[bool]:
    flags = []
    for k, run in enumerate(runs):
        row = rows[run[0]]
        parsed = parse_engine_name(row.name)
        dla = row.name in dla_names or parsed.is_trt7_dla_subgraph
        if not dla and build_log is not None:
            dla = build_log.device_of(row.name) == "DLA"
        if not dla and parsed.is_foreign_node:
            lo = runs[k - 1][-1] + 1 if k > 0 else 0
            hi = runs[k + 1][0] if k + 1 < len(runs) else len(rows)
            dla = any(_is_nvmedia_sync(rows[j]) for j in range(lo, hi) if j not in run)
        flags.append(dla)
    return flags


def attribute_rows(profile: ProfileLike, *, statistic: str = "average",
                   dla_nodes: Iterable[str] = (), build_log: BuildLog | None = None,
                   ) -> Attribution:
    """Attribute every auxiliary row to a compute row (rules in the module docstring)."""
    rows = profile.rows
    source = profile.path
    if not rows:
        raise ProfileError("the profile has no rows", source=source)
    runs: list[list[int]] = []
    for i, row in enumerate(rows):
        if not row.kind.is_compute:
            continue
        if runs and rows[runs[-1][-1]].name == row.name and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    if not runs:
        raise ProfileError(
            "the profile has only reformat/copy/sync rows and no compute row; it cannot be "
            "turned into layer costs", source=source, entry="row 0")
    dla = _dla_flags(rows, runs, set(dla_nodes), build_log)
    position_of = {i: k for k, run in enumerate(runs) for i in run}
    owner: list[int] = [0] * len(rows)
    rule: list[str] = [""] * len(rows)
    prev_anchor: list[int | None] = []
    last: int | None = None
    for i in range(len(rows)):
        if i in position_of:
            last = position_of[i]
        prev_anchor.append(last)
    next_anchor: list[int | None] = [None] * len(rows)
    nxt: int | None = None
    for i in range(len(rows) - 1, -1, -1):
        if i in position_of:
            nxt = position_of[i]
        next_anchor[i] = nxt
    names_at: dict[str, list[int]] = {}
    for k, run in enumerate(runs):
        names_at.setdefault(rows[run[0]].name, []).append(k)
    for i, row in enumerate(rows):
        if i in position_of:
            owner[i], rule[i] = position_of[i], "compute"
            continue
        p, n = prev_anchor[i], next_anchor[i]
        parsed = parse_engine_name(row.name)
        forward = parsed.direction in ("input", "to_dla")
        if p is not None and dla[p]:
            owner[i], rule[i] = p, "after DLA node"
            continue
        if parsed.kind is RowKind.SYNC and n is not None and dla[n]:
            owner[i], rule[i] = n, "before DLA node"
            continue
        target = parsed.target
        if target is not None and target in names_at:
            cands = names_at[target]
            if forward:
                hit = next((k for k in cands if n is not None and k >= n), None)
            else:
                hit = next((k for k in reversed(cands) if p is not None and k <= p), None)
            if hit is not None:
                owner[i], rule[i] = hit, "named target"
                continue
        if parsed.kind is RowKind.COPY or not forward:
            choice = p if p is not None else n
        else:
            choice = n if n is not None else p
        assert choice is not None
        owner[i], rule[i] = choice, "neighbour"
    cost = [r.cost_ms(statistic) for r in rows]
    attributed: list[list[int]] = [[] for _ in runs]
    for i in range(len(rows)):
        if i not in position_of:
            attributed[owner[i]].append(i)
    out = []
    for k, run in enumerate(runs):
        members = attributed[k]
        device = "DLA" if dla[k] else None
        if device is None and build_log is not None:
            device = build_log.device_of(rows[run[0]].name)
        out.append(ComputeRow(k, rows[run[0]].name, tuple(run), tuple(members),
                              math.fsum(cost[i] for i in run),
                              math.fsum(cost[i] for i in members), device))
    return Attribution(tuple(out), tuple(owner), tuple(rule))


# ---------------------------------------------------------------------------- DLA side
@dataclass(frozen=True)
class DlaCosts:
    """DLA times measured elsewhere (a transition sweep), keyed by final group index.

    ``first_rows`` optionally names each group's first engine row (or first layer) so a
    mismatch between the sweep's grouping and this table is caught instead of silently
    shifting every number by one group.
    """

    dla_ms: Mapping[int, float]
    gpu_to_dla_ms: Mapping[int, float] = field(default_factory=dict)
    dla_to_gpu_ms: Mapping[int, float] = field(default_factory=dict)
    source: str = "transition sweep"
    first_rows: Sequence[str] | None = None

    @classmethod
    def from_table(cls, table: CostTable) -> DlaCosts:
        """The DLA columns of another cost table with the same groups."""
        dla = {r.group: r.dla_ms for r in table.rows if r.dla_ms is not None}
        g2d = {r.group: r.gpu_to_dla_ms for r in table.rows if r.gpu_to_dla_ms is not None}
        d2g = {r.group: r.dla_to_gpu_ms for r in table.rows if r.dla_to_gpu_ms is not None}
        firsts = [r.extra.get("engine_first") or r.first_layer or "" for r in table.rows]
        return cls(dla, g2d, d2g, f"{table.origin} ({table.source})",
                   firsts if all(firsts) else None)


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class IngestResult:
    """The cost table plus how every profile row was attributed (for reports/--json)."""

    table: CostTable
    attribution: Attribution
    group_of_compute: tuple[int, ...]
    profile: ProfileLike
    statistic: str = "average"
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        rows = self.profile.rows
        comp = self.attribution.compute_rows
        return {
            "metadata": dict(self.table.metadata),
            "n_groups": self.table.n_groups,
            "total_gpu_ms": math.fsum(self.table.gpu_ms),
            "groups": [
                {"group": r.group, "gpu_ms": r.gpu_ms, "dla_ms": r.dla_ms,
                 "first_layer": r.first_layer, "last_layer": r.last_layer,
                 "engine_first": r.extra.get("engine_first"),
                 "engine_last": r.extra.get("engine_last")}
                for r in self.table.rows],
            "rows": [
                {"row": i, "name": row.name, "kind": str(row.kind),
                 "cost_ms": row.cost_ms(self.statistic),
                 "attributed_to": comp[self.attribution.owner[i]].name,
                 "rule": self.attribution.rule[i],
                 "group": self.group_of_compute[self.attribution.owner[i]]}
                for i, row in enumerate(rows)],
            "notes": list(self.notes),
            "csv": self.table.to_csv_text(),
        }


# ---------------------------------------------------------------------------- ingest
def read_profile(path: PathLike) -> ProfileLike:
    """Read a per-layer profile: ``--exportProfile`` JSON, or a log with a dumpProfile table."""
    text, source = load_text(path, what="trtexec profile (exportProfile JSON or log)")
    if text.lstrip().startswith("["):
        return parse_export_profile(text, source=source)
    if text.lstrip().startswith("{"):  # JSON, but not what --exportProfile writes
        raise ProfileError("a JSON object, not a trtexec profile: --exportProfile writes a "
                           'JSON list ([{"count": N}, {"name": ..., "averageMs": ...}, ...]) '
                           "and a log needs trtexec's --dumpProfile table; is this the "
                           "--exportLayerInfo file? (pass it as --layer-info)", source=source)
    return parse_dump_profile(text, source=source)


def _group_starts(starts: Sequence[int | str], comp: Sequence[ComputeRow], source: str,
                  ) -> list[int]:
    index_of: dict[str, int] = {}
    for c in comp:
        index_of.setdefault(c.name, c.position)
    out: list[int] = []
    for s in starts:
        if isinstance(s, str):
            if s not in index_of:
                raise ProfileError(f"group boundary {short(s)!r} is not a compute row of the "
                                   "profile", source=source, entry="group_starts")
            out.append(index_of[s])
        elif isinstance(s, int) and not isinstance(s, bool) and 0 <= s < len(comp):
            out.append(s)
        else:
            raise ProfileError(f"group boundary {s!r} is not a compute-row position in "
                               f"0..{len(comp) - 1}", source=source, entry="group_starts")
    if not out or out[0] != 0:
        out = [0, *out]
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ProfileError(f"group boundaries {out} must increase strictly", source=source,
                           entry="group_starts")
    return out


def _sources(comp: ComputeRow, info: LayerInfo | None,
             order: Sequence[str] | None, source: str) -> tuple[str, ...]:
    parsed = parse_engine_name(comp.name)
    if info is not None:
        entry = info.by_name().get(comp.name)
        if entry is not None and entry.onnx_layers:
            return entry.onnx_layers
    if order is not None and parsed.is_foreign_node:
        return expand_source_layers(parsed, order, source=source)
    return parsed.source_layers


def ingest_trtexec(
    profile: PathLike | ProfileLike,
    *,
    platform: str,
    model: str | None = None,
    precision: str | None = None,
    trt_version: str | None = None,
    statistic: str = "average",
    layer_info: PathLike | LayerInfo | None = None,
    build_log: PathLike | BuildLog | None = None,
    dla: DlaCosts | None = None,
    group_starts: Sequence[int | str] | None = None,
    topo_order: Sequence[str] | None = None,
) -> IngestResult:
    """Turn a GPU-only trtexec per-layer profile into a validated `CostTable`.

    ``group_starts``: compute-row positions or names that begin a group (default: one group
    per compute row). ``dla``: DLA costs per final group (else dla_ms stays empty and the
    metadata says DLA was not measured). Raises `ProfileError` on any malformed input.
    """
    prof = profile if isinstance(profile, ExportProfile | DumpProfile) else read_profile(profile)
    source = prof.path
    if statistic not in ("average", "median"):
        raise ProfileError(f"statistic must be 'average' or 'median', not {statistic!r}",
                           source=source)
    if statistic == "median" and not prof.has_median:
        raise ProfileError("medianMs is not in this profile (TRT <= 8.2); use the average",
                           source=source)
    info = (layer_info if isinstance(layer_info, LayerInfo) or layer_info is None
            else read_layer_info(layer_info))
    blog = (build_log if isinstance(build_log, BuildLog) or build_log is None
            else read_build_log(build_log))
    if info is not None:
        check_profile_matches([r.name for r in prof.rows], info, profile_source=source)
    att = attribute_rows(prof, statistic=statistic, build_log=blog)
    comp = att.compute_rows
    dla_rows = [c for c in comp if c.device == "DLA"]
    if dla_rows:
        raise ProfileError(
            f"row {short(dla_rows[0].name)!r} ran on the DLA: this profile mixes DLA and GPU "
            "times, so it cannot give gpu_ms. Profile an engine built without --useDLACore for "
            "gpu_ms, and get DLA times from a transition sweep (profiles.ingest.attribute_rows "
            "splits DLA profiles per node)", source=source, entry=f"row {dla_rows[0].rows[0]}")
    starts = _group_starts(group_starts or range(len(comp)), comp, source)
    bounds = [*starts, len(comp)]
    chunks = [list(range(a, b)) for a, b in itertools.pairwise(bounds)]
    notes: list[str] = []
    merged_names: list[str] = []
    i = 0
    while i < len(chunks):
        if math.fsum(comp[k].total_ms for k in chunks[i]) > 0:
            i += 1
            continue
        merged_names.append(comp[chunks[i][0]].name)
        if len(chunks) == 1:
            raise ProfileError(
                "every row of the profile is 0 ms; nothing was measured (re-run trtexec with "
                "more iterations)", source=source)
        zero = chunks.pop(i)
        if i > 0:
            chunks[i - 1].extend(zero)   # into the group before it
        else:
            chunks[0][:0] = zero         # the first group: into the one after it
    group_of_compute = [0] * len(comp)
    for g, chunk in enumerate(chunks):
        for k in chunk:
            group_of_compute[k] = g
    if dla is not None:
        _check_dla(dla, chunks, comp, source)
    rows_out: list[GroupCost] = []
    order = list(topo_order) if topo_order is not None else None
    all_sources = True
    for g, chunk in enumerate(chunks):
        srcs: list[str] = []
        for k in chunk:
            s = _sources(comp[k], info, order, source)
            if not s:
                all_sources = False
            srcs.extend(x for x in s if x not in srcs)
        first, last = comp[chunk[0]], comp[chunk[-1]]
        first_src = _sources(first, info, order, source)
        last_src = _sources(last, info, order, source)
        is_last = g == len(chunks) - 1
        dla_ms = dla.dla_ms.get(g) if dla else None
        rows_out.append(GroupCost(
            group=g,
            gpu_ms=math.fsum(comp[k].total_ms for k in chunk),
            dla_ms=dla_ms,
            gpu_to_dla_ms=None if is_last or dla is None else dla.gpu_to_dla_ms.get(g),
            dla_to_gpu_ms=None if is_last or dla is None else dla.dla_to_gpu_ms.get(g),
            first_layer=first_src[0] if first_src else first.name,
            last_layer=last_src[-1] if last_src else last.name,
            layers=len(srcs) if srcs else None,
            extra={"engine_first": first.name, "engine_last": last.name,
                   "engine_rows": str(sum(len(comp[k].rows) + len(comp[k].attributed)
                                          for k in chunk))},
        ))
    if not all_sources:
        rows_out = [replace(r, layers=None) for r in rows_out]
    meta = _metadata(prof, info, blog, dla, platform=platform, model=model,
                     precision=precision, trt_version=trt_version, statistic=statistic,
                     n_comp=len(comp), n_groups=len(chunks), grouped=group_starts is not None,
                     merged=merged_names, notes=notes)
    table = CostTable.build(rows_out, meta, origin=source)
    return IngestResult(table, att, tuple(group_of_compute), prof, statistic, tuple(notes))


def _check_dla(dla: DlaCosts, chunks: list[list[int]], comp: Sequence[ComputeRow],
               source: str) -> None:
    n = len(chunks)
    for label, mapping in (("dla_ms", dla.dla_ms), ("gpu_to_dla_ms", dla.gpu_to_dla_ms),
                           ("dla_to_gpu_ms", dla.dla_to_gpu_ms)):
        bad = [g for g in mapping if not isinstance(g, int) or not 0 <= g < n]
        if bad:
            raise ProfileError(
                f"DLA costs from {dla.source} name group {bad[0]!r} but this profile has {n} "
                f"groups; group both the same way", source=source, entry=label)
    if dla.first_rows is not None:
        if len(dla.first_rows) != n:
            raise ProfileError(
                f"DLA costs from {dla.source} have {len(dla.first_rows)} groups, the profile "
                f"{n}; group both the same way", source=source, entry="dla")
        for g, (want, chunk) in enumerate(zip(dla.first_rows, chunks, strict=True)):
            first = comp[chunk[0]].name
            if want not in (first, *parse_engine_name(first).source_layers):
                raise ProfileError(
                    f"group {g} starts at {short(first)!r} here but at {short(want)!r} in the "
                    f"DLA costs from {dla.source}: the layer names do not match",
                    source=source, entry=f"group {g}")


def _metadata(prof: ProfileLike, info: LayerInfo | None, blog: BuildLog | None,
              dla: DlaCosts | None, *, platform: str, model: str | None,
              precision: str | None, trt_version: str | None, statistic: str, n_comp: int,
              n_groups: int, grouped: bool, merged: list[str], notes: list[str],
              ) -> dict[str, str]:
    is_json = isinstance(prof, ExportProfile)
    kind = "--exportProfile" if is_json else "--dumpProfile"
    meta: dict[str, str] = {
        "model": model or Path(prof.path).stem,
        "platform": platform,
        "source": f"measured (trtexec {kind}, GPU per-layer profile)",
    }
    if precision:
        meta["precision"] = precision
    version = trt_version
    if version is None and blog is not None and blog.trt_version is not None:
        version = str(blog.trt_version)
    if version is None and isinstance(prof, DumpProfile) and prof.trt_version is not None:
        version = str(prof.trt_version)
    if version is None:
        version = (f"unknown ({prof.version_keys} key set)" if is_json
                   else f"unknown ({prof.layout} table layout)")
    meta["trt_version"] = version
    files = [f"{Path(prof.path).name} (count={prof.count}, {len(prof.rows)} rows)"]
    if info is not None:
        files.append(f"{Path(info.path).name} ({len(info)} layers)")
    if blog is not None:
        files.append(Path(blog.path).name)
    meta["provenance"] = "; ".join(files)
    meta["statistic"] = "averageMs" if statistic == "average" else "medianMs"
    if prof.count < NOISY_COUNT:
        meta["noisy"] = (f"count={prof.count} < {NOISY_COUNT}: per-layer times come from few "
                         "inferences (single-shot); re-profile with more iterations")
    if not is_json:
        notes.append("times from the log table are rounded to 0.01/0.0001 ms and zero-time rows "
                     "are omitted; prefer the --exportProfile JSON")
    zero_rows = sum(1 for r in prof.rows if r.cost_ms(statistic) == 0)
    if zero_rows:
        notes.append(f"{zero_rows} zero-time rows kept at 0 ms")
    if merged:
        shown = ", ".join(short(m, 40) for m in merged[:5]) + (" ..." if len(merged) > 5 else "")
        notes.append(f"{len(merged)} zero-time group(s) merged into a neighbour: {shown}")
    meta["grouping"] = (f"{n_groups} groups from given boundaries over {n_comp} compute rows"
                        if grouped else f"one group per engine compute row ({n_comp} rows"
                        f"{', zero-time ones merged' if merged else ''})")
    meta["attribution"] = ("reformat/copy/sync rows attributed to the compute row they serve "
                           "(profiles.ingest rules 1-4)")
    if dla is None:
        meta["dla"] = ("not measured: a GPU profile has no DLA times, dla_ms is empty; add DLA "
                       "costs from a transition sweep")
    else:
        meta["dla"] = f"from {dla.source}"
    if notes:
        meta["notes"] = "; ".join(notes)
    return meta


__all__ = [
    "Attribution",
    "ComputeRow",
    "DlaCosts",
    "IngestResult",
    "attribute_rows",
    "ingest_trtexec",
    "read_profile",
]

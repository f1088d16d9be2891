"""The cost table: per-group GPU/DLA times and transition costs of one model.

A `CostTable` is the validated, immutable form of the cost-table CSV contract
(``docs/formats.md``): one row per layer group in execution order with

- ``group`` (0-based, consecutive), ``gpu_ms`` (> 0),
- ``dla_ms`` (> 0, or empty when the group cannot run on a DLA),
- ``gpu_to_dla_ms`` / ``dla_to_gpu_ms`` (>= 0): paid after this group when the next group
  runs on the other device kind; empty on the last row, and may be empty where that
  switch is impossible (the DLA side of it is not DLA-eligible),
- optional ``first_layer``, ``last_layer``, ``layers``, ``gpu_bw_gbps``, ``dla_bw_gbps``,
  ``out_bytes`` and any further columns, kept verbatim.

Metadata sits in leading ``# key: value`` lines (``model``, ``platform``, ``source`` at
least). A missing, negative, NaN or infinite timing is a `ProfileError`, never a number:
nothing here fills a gap with zero. So is a value outside the supported range
(`MAX_TIME_MS`, `MIN_TIME_MS`, `MAX_GROUPS`, `MAX_BANDWIDTH_GBPS`; docs/model.md section 6).
Writing and reading a table is lossless.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from profiles.errors import ProfileError
from profiles.fileio import atomic_write_text

SOURCES = ("measured", "estimated", "published", "synthetic")
"""Allowed values of the ``source`` metadata key.

``synthetic`` (not in the original contract) marks generated benchmark/test tables."""

REQUIRED_COLUMNS = ("group", "gpu_ms", "dla_ms", "gpu_to_dla_ms", "dla_to_gpu_ms")
KNOWN_OPTIONAL = ("first_layer", "last_layer", "layers", "gpu_bw_gbps", "dla_bw_gbps", "out_bytes")
REQUIRED_METADATA = ("model", "platform", "source")
_FLOAT_OPTIONAL = ("gpu_bw_gbps", "dla_bw_gbps")
_INT_OPTIONAL = ("layers", "out_bytes")

# Supported range (docs/model.md section 6). Every backend is exact for group times from
# 1 us to 10 s and tables of up to 2000 groups; the limits below leave a margin above that
# and are refused at load time, so no solver meets a number it cannot represent (1e12 ms
# overflowed CP-SAT's 64-bit domains, 1e9 ms broke HiGHS).
MAX_TIME_MS = 100_000.0
"""Largest time accepted in any time column (100 s per group or transition)."""
MIN_TIME_MS = 1e-6
"""Smallest non-zero time accepted (1 ns: the integer backends count in ns at the finest)."""
MAX_GROUPS = 10_000
"""Most groups in one table."""
MAX_BANDWIDTH_GBPS = 10_000.0
"""Largest bandwidth demand accepted in ``gpu_bw_gbps`` / ``dla_bw_gbps``."""


@dataclass(frozen=True)
class GroupCost:
    """One row of a cost table (times in milliseconds)."""

    group: int
    gpu_ms: float
    dla_ms: float | None
    gpu_to_dla_ms: float | None
    dla_to_gpu_ms: float | None
    first_layer: str | None = None
    last_layer: str | None = None
    layers: int | None = None
    gpu_bw_gbps: float | None = None
    dla_bw_gbps: float | None = None
    out_bytes: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def dla_eligible(self) -> bool:
        return self.dla_ms is not None


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class CostTable:
    """Validated per-group costs of one model on one platform. Immutable.

    Build one with `CostTable.build` (validates), `from_csv`, `from_frame`, or a profile
    reader. ``metadata`` always holds ``model``, ``platform`` and ``source``; common extra
    keys are ``precision``, ``trt_version``, ``provenance`` and ``notes``.
    """

    rows: tuple[GroupCost, ...]
    metadata: Mapping[str, str]
    origin: str = "<memory>"

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        rows: Iterable[GroupCost | Mapping[str, Any]],
        metadata: Mapping[str, str],
        *,
        origin: str = "<memory>",
    ) -> CostTable:
        """Validate and freeze rows (GroupCost or dicts with the CSV column names)."""
        parsed = tuple(
            r if isinstance(r, GroupCost) else _row_from_mapping(r, origin, i)
            for i, r in enumerate(rows)
        )
        table = cls(rows=parsed, metadata=dict(metadata), origin=origin)
        table.validate()
        return table

    def validate(self) -> None:
        """Raise `ProfileError` naming the row and column of the first problem found."""
        src = self.origin
        for key in REQUIRED_METADATA:
            if not str(self.metadata.get(key, "")).strip():
                raise ProfileError(
                    f"metadata key '{key}' is missing; add a line '# {key}: ...' at the top",
                    source=src,
                )
        source = self.metadata["source"].split()[0].strip().lower()
        if source not in SOURCES:
            raise ProfileError(
                f"metadata 'source' is {self.metadata['source']!r}; it must start with one "
                f"of {', '.join(SOURCES)}",
                source=src,
            )
        if not self.rows:
            raise ProfileError("the table has no rows; a model needs at least one group",
                               source=src)
        n = len(self.rows)
        if n > MAX_GROUPS:
            raise ProfileError(
                f"the table has {n} groups, more than the supported {MAX_GROUPS}; merge "
                "groups (fewer, larger groups: `CostTable.merge_groups`)", source=src)
        for i, row in enumerate(self.rows):
            entry = f"row {i} (group {row.group})"
            if row.group != i:
                raise ProfileError(
                    f"group ids must be 0, 1, 2, ... in execution order; found {row.group} "
                    f"where {i} was expected", source=src, entry=entry)
            _check_time(row.gpu_ms, "gpu_ms", src, entry, positive=True, optional=False)
            _check_time(row.dla_ms, "dla_ms", src, entry, positive=True, optional=True)
            last = i == n - 1
            for col in ("gpu_to_dla_ms", "dla_to_gpu_ms"):
                value = getattr(row, col)
                if last:
                    if value is not None:
                        raise ProfileError(
                            f"{col} must be empty on the last row (nothing follows it)",
                            source=src, entry=entry)
                    continue
                needed = (
                    self.rows[i + 1].dla_eligible if col == "gpu_to_dla_ms" else row.dla_eligible
                )
                if value is None and needed:
                    raise ProfileError(
                        f"{col} is missing but the switch after this group is possible; "
                        "measure it (transition sweep) or mark the DLA side ineligible",
                        source=src, entry=entry)
                _check_time(value, col, src, entry, positive=False, optional=True)
            for col in _FLOAT_OPTIONAL:
                _check_time(getattr(row, col), col, src, entry, positive=False, optional=True,
                            limit=MAX_BANDWIDTH_GBPS, unit="GB/s")
            for col in _INT_OPTIONAL:
                value = getattr(row, col)
                if value is not None and value < 0:
                    raise ProfileError(f"{col} is negative ({value})", source=src, entry=entry)

    # ------------------------------------------------------------------ accessors
    @property
    def model(self) -> str:
        return self.metadata["model"]

    @property
    def platform(self) -> str:
        return self.metadata["platform"]

    @property
    def source(self) -> str:
        return self.metadata["source"]

    @property
    def placeholder_columns(self) -> tuple[str, ...]:
        """Columns whose values are placeholders, not measurements (metadata
        ``placeholder_columns``, comma-separated): e.g. AlexNet's published transition
        costs. Reports and solves say so beside any result that rests on them."""
        text = str(self.metadata.get("placeholder_columns", ""))
        return tuple(c.strip() for c in text.split(",") if c.strip())

    @property
    def n_groups(self) -> int:
        return len(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def gpu_ms(self) -> tuple[float, ...]:
        return tuple(r.gpu_ms for r in self.rows)

    @property
    def dla_ms(self) -> tuple[float | None, ...]:
        return tuple(r.dla_ms for r in self.rows)

    def columns(self) -> list[str]:
        """CSV columns: required, then known optional ones present, then extras."""
        cols = list(REQUIRED_COLUMNS)
        cols += [c for c in KNOWN_OPTIONAL if any(getattr(r, c) is not None for r in self.rows)]
        extras: list[str] = []
        for r in self.rows:
            extras += [k for k in r.extra if k not in extras]
        return cols + extras

    def with_metadata(self, **updates: str) -> CostTable:
        meta = dict(self.metadata)
        meta.update(updates)
        return CostTable.build(self.rows, meta, origin=self.origin)

    def merge_groups(self, starts: Sequence[int]) -> CostTable:
        """Coarsen to fewer groups; ``starts`` are the first old group of each new group.

        Times add up; the transition after a new group is the one after its last old group;
        a new group is DLA-eligible only when all of its old groups are; bandwidths become
        time-weighted means.
        """
        starts = list(starts)
        n = self.n_groups
        increasing = all(b > a for a, b in pairwise(starts))
        if not starts or starts[0] != 0 or not increasing or starts[-1] >= n:
            raise ProfileError(
                f"group starts {starts} must begin at 0, increase strictly and stay below {n}",
                source=self.origin)
        bounds = [*starts, n]
        new_rows = []
        for gi, (a, b) in enumerate(pairwise(bounds)):
            chunk = self.rows[a:b]
            gpu = sum(r.gpu_ms for r in chunk)
            dla = None if any(r.dla_ms is None for r in chunk) else sum(r.dla_ms for r in chunk)
            last = chunk[-1]
            is_last = b == n
            nxt_dla = not is_last and all(r.dla_ms is not None
                                          for r in self.rows[b:bounds[gi + 2]])
            g2d = None if is_last or not nxt_dla else last.gpu_to_dla_ms
            d2g = None if is_last or dla is None else last.dla_to_gpu_ms
            layers = (None if any(r.layers is None for r in chunk)
                      else sum(r.layers for r in chunk))  # type: ignore[misc]
            new_rows.append(GroupCost(
                group=gi, gpu_ms=gpu, dla_ms=dla, gpu_to_dla_ms=g2d, dla_to_gpu_ms=d2g,
                first_layer=chunk[0].first_layer, last_layer=last.last_layer, layers=layers,
                gpu_bw_gbps=_weighted(chunk, "gpu_bw_gbps", "gpu_ms"),
                dla_bw_gbps=None if dla is None else _weighted(chunk, "dla_bw_gbps", "dla_ms"),
                out_bytes=last.out_bytes,
            ))
        meta = dict(self.metadata)
        meta["grouping"] = f"merged {n} groups into {len(new_rows)}"
        return CostTable.build(new_rows, meta, origin=self.origin)

    # ------------------------------------------------------------------ CSV
    def to_csv_text(self) -> str:
        out = io.StringIO()
        for key, value in self.metadata.items():
            text = str(value).replace("\n", " ")
            out.write(f"# {key}: {text}\n")
        cols = self.columns()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(cols)
        for r in self.rows:
            writer.writerow([
                r.extra.get(c, "") if c not in REQUIRED_COLUMNS + KNOWN_OPTIONAL
                else _fmt(getattr(r, c))
                for c in cols
            ])
        return out.getvalue()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (temp file + rename); returns the path."""
        return atomic_write_text(path, self.to_csv_text())

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> CostTable:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ProfileError(f"cannot read the cost table ({exc.strerror})",
                               source=str(p)) from exc
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProfileError(
                f"not a UTF-8 text file (byte {exc.start}); a cost table is a CSV file",
                source=str(p)) from exc
        return cls.from_csv_text(text, origin=str(p))

    @classmethod
    def from_csv_text(cls, text: str, *, origin: str = "<text>") -> CostTable:
        if "\x00" in text:
            raise ProfileError("contains NUL bytes; a cost table is a CSV text file", source=origin)
        metadata: dict[str, str] = {}
        body: list[str] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if stripped.startswith("#"):
                content = stripped[1:].strip()
                if ":" in content:
                    key, _, value = content.partition(":")
                    if key.strip() in metadata:
                        raise ProfileError(f"metadata key '{key.strip()}' appears twice",
                                           source=origin, entry=f"line {lineno}")
                    metadata[key.strip()] = value.strip()
                continue
            if stripped:
                body.append(line)
        if not body:
            raise ProfileError("no CSV header or rows found (empty or only comments)",
                               source=origin)
        reader = csv.DictReader(io.StringIO("\n".join(body)))
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ProfileError(
                f"missing required column(s) {', '.join(missing)}; the header must contain "
                f"{', '.join(REQUIRED_COLUMNS)}", source=origin, entry="header")
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise ProfileError(f"duplicate column(s) {', '.join(dupes)}", source=origin,
                               entry="header")
        rows = []
        for i, rec in enumerate(reader):
            if None in rec:
                raise ProfileError("row has more fields than the header", source=origin,
                                   entry=f"row {i}")
            rows.append(_row_from_mapping(rec, origin, i))
        return cls.build(rows, metadata, origin=origin)

    # ------------------------------------------------------------------ pandas
    def to_frame(self):  # -> pandas.DataFrame
        import pandas as pd

        text_cols = [c for c in self.columns() if c not in REQUIRED_COLUMNS
                     and c not in _FLOAT_OPTIONAL and c not in _INT_OPTIONAL]
        frame = pd.read_csv(io.StringIO(self.to_csv_text()), comment="#",
                            dtype=dict.fromkeys(text_cols, str))
        for col in _INT_OPTIONAL:  # keep whole numbers whole even when a cell is empty
            if col in frame.columns:
                frame[col] = frame[col].astype("Int64")
        return frame

    @classmethod
    def from_frame(cls, frame, metadata: Mapping[str, str], *, origin: str = "<DataFrame>"):
        import pandas as pd

        records = []
        for rec in frame.to_dict(orient="records"):
            records.append({k: ("" if _is_missing(v) or v is pd.NA else v)
                            for k, v in rec.items()})
        return cls.build([_row_from_mapping(r, origin, i) for i, r in enumerate(records)],
                         metadata, origin=origin)

    # ------------------------------------------------------------------ dict (JSON)
    def to_dict(self) -> dict[str, Any]:
        return {"metadata": dict(self.metadata), "csv": self.to_csv_text()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, origin: str = "<json>") -> CostTable:
        text = data.get("csv") if isinstance(data, Mapping) else None
        if not isinstance(text, str):
            raise ProfileError("embedded cost table needs a 'csv' string", source=origin)
        return cls.from_csv_text(text, origin=origin)


# ---------------------------------------------------------------------- error bands
BAND_KEYS = ("error_band_gpu", "error_band_dla")
"""Metadata keys of an estimated table's expected error (JSON, written by
`profiles.estimate.estimate`; see docs/formats.md)."""


def table_error_bands(table: CostTable) -> dict[str, dict[str, Any]] | None:
    """The ``error_band_gpu`` / ``error_band_dla`` metadata of an estimated table, parsed
    (``{"gpu": {...}, "dla": {...}}``); None for a measured or published table. An
    estimated table written before the bands existed gets ``measured: false``."""
    if not table.source.lower().startswith("estimated"):
        return None
    out: dict[str, dict[str, Any]] = {}
    for key in BAND_KEYS:
        kind = key.rsplit("_", 1)[1]
        raw = table.metadata.get(key)
        try:
            value = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict) or "measured" not in value:
            value = {"measured": False,
                     "why": f"the table carries no readable {key} (estimated before error "
                            "bands were recorded; re-run layerswap estimate)"}
        out[kind] = value
    return out


def error_band_of(tables: Sequence[CostTable]) -> dict[str, Any] | None:
    """The expected relative error of times computed from ``tables``: None when none is
    estimated; else the widest band of the estimated tables (both device kinds), with
    ``measured: false`` when any of them has no published check."""
    per_table = {}
    for t in tables:
        bands = table_error_bands(t)
        if bands is not None:
            per_table[t.model] = bands
    if not per_table:
        return None
    values = [b for bands in per_table.values() for b in bands.values()]
    measured = all(b.get("measured") for b in values)
    out: dict[str, Any] = {"estimated_tables": sorted(per_table), "measured": measured,
                           "per_table": per_table}
    if measured:
        out["mean_abs"] = max(float(b["mean_abs"]) for b in values)
        out["max_abs"] = max(float(b["max_abs"]) for b in values)
        out["basis"] = ("held-out error of the estimator on published measurements "
                        "(widest device band of the estimated tables; "
                        "benchmarks/results/estimator.md)")
    else:
        out["basis"] = "; ".join(sorted({str(b.get("why")) for b in values
                                         if not b.get("measured")}))
    return out


def band_range(value: float | None, band: Mapping[str, Any] | None, *,
               inverse: bool = False) -> list[float] | None:
    """``[low, high]`` of an estimated time (or, ``inverse``, a rate such as FPS) under
    the band's mean relative error; None without a measured band or value."""
    if value is None or band is None or not band.get("measured"):
        return None
    m = float(band["mean_abs"])
    if inverse:
        return [value / (1 + m), value / (1 - m) if m < 1 else math.inf]
    return [value * (1 - m), value * (1 + m)]


def band_text(band: Mapping[str, Any] | None) -> str | None:
    """One line for people: the expected error of estimated times (None if no table is
    estimated)."""
    if band is None:
        return None
    names = ", ".join(band["estimated_tables"])
    if not band["measured"]:
        return f"estimated table(s) {names}: expected error not measured ({band['basis']})"
    return (f"estimated table(s) {names}: expect about \u00b1{100 * band['mean_abs']:.0f} % "
            f"(held-out mean; up to {100 * band['max_abs']:.0f} %) on every time and FPS")


# ---------------------------------------------------------------------- helpers
def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _weighted(chunk: Sequence[GroupCost], bw_col: str, t_col: str) -> float | None:
    pairs = [(getattr(r, bw_col), getattr(r, t_col)) for r in chunk]
    if any(bw is None or t is None for bw, t in pairs):
        return None
    total = sum(t for _, t in pairs)
    return sum(bw * t for bw, t in pairs) / total


def _check_time(value: float | None, col: str, src: str, entry: str, *, positive: bool,
                optional: bool, limit: float = MAX_TIME_MS, unit: str = "ms") -> None:
    if value is None:
        if optional:
            return
        raise ProfileError(f"{col} is missing; every group needs a measured GPU time",
                           source=src, entry=entry)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{col} is not a number ({value!r})", source=src, entry=entry)
    if math.isnan(value) or math.isinf(value):
        raise ProfileError(f"{col} is {value}; re-measure this group", source=src, entry=entry)
    if positive and value <= 0:
        raise ProfileError(f"{col} must be > 0 ms, found {value}; a zero or negative time is a "
                           "measurement error (re-run the sweep or merge the group)",
                           source=src, entry=entry)
    if value < 0:
        raise ProfileError(f"{col} must be >= 0 {unit}, found {value}", source=src, entry=entry)
    if value > limit:
        raise ProfileError(f"{col} is {value:g} {unit}, above the supported limit of {limit:g} "
                           f"{unit}; check the unit (the table is in milliseconds) or split "
                           "the group", source=src, entry=entry)
    if unit == "ms" and 0 < value < MIN_TIME_MS:
        raise ProfileError(f"{col} is {value:g} ms, below the 1 ns resolution of the solvers "
                           f"({MIN_TIME_MS:g} ms); merge the group with a neighbour or "
                           "write 0 for a free transition", source=src, entry=entry)


def _parse_float(text: Any, col: str, src: str, entry: str) -> float | None:
    if text is None:
        return None
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip()
    if s == "":
        return None
    try:
        return float(s)
    except ValueError:
        raise ProfileError(f"{col} is not a number ({s!r})", source=src, entry=entry) from None


def _parse_int(text: Any, col: str, src: str, entry: str) -> int | None:
    value = _parse_float(text, col, src, entry)
    if value is None:
        return None
    if math.isnan(value) or value != int(value):
        raise ProfileError(f"{col} must be a whole number ({text!r})", source=src, entry=entry)
    return int(value)


def _row_from_mapping(rec: Mapping[str, Any], src: str, index: int) -> GroupCost:
    entry = f"row {index}"
    group = _parse_int(rec.get("group"), "group", src, entry)
    if group is None:
        raise ProfileError("group id is empty", source=src, entry=entry)
    kwargs: dict[str, Any] = {"group": group}
    for col in ("gpu_ms", "dla_ms", "gpu_to_dla_ms", "dla_to_gpu_ms", *_FLOAT_OPTIONAL):
        kwargs[col] = _parse_float(rec.get(col), col, src, f"row {index} (group {group})")
    for col in _INT_OPTIONAL:
        kwargs[col] = _parse_int(rec.get(col), col, src, f"row {index} (group {group})")
    for col in ("first_layer", "last_layer"):
        value = rec.get(col)
        kwargs[col] = None if _is_missing(value) or str(value) == "" else str(value)
    known = set(REQUIRED_COLUMNS + KNOWN_OPTIONAL)
    kwargs["extra"] = {k: ("" if _is_missing(v) else str(v)) for k, v in rec.items()
                       if k not in known and k is not None}
    return GroupCost(**kwargs)


def published_names() -> list[str]:
    """Names of the stored tables in ``profiles/data`` (without ``.csv``)."""
    return sorted(p.name[:-4] for p in resources.files("profiles.data").iterdir()
                  if p.name.endswith(".csv"))


def load_published(name: str) -> CostTable:
    """Load a stored table from ``profiles/data`` by name, e.g. ``googlenet_xavier``."""
    names = published_names()
    if name not in names:
        raise ProfileError(f"no stored table named {name!r}; available: {', '.join(names)}",
                           source="profiles/data")
    ref = resources.files("profiles.data").joinpath(f"{name}.csv")
    return CostTable.from_csv_text(ref.read_text(encoding="utf-8"),
                                   origin=f"profiles/data/{name}.csv")


def replace_rows(table: CostTable, rows: Iterable[GroupCost]) -> CostTable:
    """A copy of ``table`` with new rows (validated)."""
    return CostTable.build(list(rows), table.metadata, origin=table.origin)


__all__ = [
    "KNOWN_OPTIONAL",
    "REQUIRED_COLUMNS",
    "SOURCES",
    "CostTable",
    "GroupCost",
    "load_published",
    "published_names",
    "replace_rows",
]

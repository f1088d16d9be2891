"""Reader of ``trtexec --exportProfile`` JSON (per-layer times), TRT 7.0 to 11.x.

The file is a list: ``{ "count" : N }`` then one object per engine row in execution order
with keys ``name, timeMs, averageMs, percentage`` (TRT 7.0-8.2) or ``name, timeMs,
averageMs, medianMs, percentage`` (TRT >= 8.4). trtexec writes it with ``ostream <<``: names
are not escaped and numbers may be ``nan`` (trtexec_formats.md section 2).

Parsing order: first the *writer-form line parser* (one element per line, exactly as
trtexec prints it): it keeps names verbatim even when they contain ``"`` or ``\\``, and
reads ``nan``. Only if a line is not in writer form (a file re-saved by another tool) is
the whole text parsed with `json`, which then decodes escapes properly.

Rules (each violation is one `ProfileError` naming the file and the element):
- ``count`` is a whole number >= 1; every row has the same key set, one of the two above.
- times are finite and >= 0; ``averageMs``/``medianMs`` cannot exceed ``timeMs``.
- a ``nan`` percentage (0/0 when every row is 0) becomes ``percentage=None``; an infinite
  or negative percentage is an error.
- repeated names are legal (one engine layer may launch several kernels: the TRT 7 GoogLeNet
  profile reports ``inception_4b/1x1 + ... || ...`` three times in a row); each row gets a
  unique ``key``: the name, then ``name_2``, ``name_3`` ... for repeats (TREx's rule). Two
  cases cannot be disambiguated and are errors: the *first* row's name recurring (trtexec
  counts inferences by the first name, so such a file is not one profile: concatenated or
  edited) and a generated key colliding with a real name.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from profiles.errors import ProfileError
from profiles.trtexec.common import (
    PathLike,
    check_text,
    check_time,
    load_text,
    parse_number,
    short,
)
from profiles.trtexec.names import EngineLayerName, RowKind, parse_engine_name

KEYS_7X = ("name", "timeMs", "averageMs", "percentage")
KEYS_84 = ("name", "timeMs", "averageMs", "medianMs", "percentage")
NOISY_COUNT = 50
"""Profiles averaged over fewer inferences than this are flagged as noisy."""
_REL_TOL = 1e-4  # 6 significant digits in the file


@dataclass(frozen=True)
class ProfileRow:
    """One engine row of a per-layer profile (times in ms).

    ``time_ms`` is the *sum over all profiled inferences* (never a layer cost);
    ``average_ms``/``median_ms`` are per inference. ``index`` is the 0-based row position
    and ``key`` a unique name (``name`` or ``name_2`` ... for repeats).
    """

    name: str
    time_ms: float
    average_ms: float
    median_ms: float | None
    percentage: float | None
    kind: RowKind
    index: int = 0
    key: str = ""

    @cached_property
    def parsed(self) -> EngineLayerName:
        return parse_engine_name(self.name)

    def cost_ms(self, statistic: str = "average") -> float:
        """The per-inference cost: ``average`` (averageMs) or ``median`` (medianMs)."""
        if statistic == "average":
            return self.average_ms
        if statistic == "median":
            if self.median_ms is None:
                raise ProfileError(
                    "medianMs is not in this profile (TRT <= 8.2 writes only averageMs); "
                    "use the average", entry=f"row {self.index} ({short(self.name)})")
            return self.median_ms
        raise ProfileError(f"unknown statistic {statistic!r}; use 'average' or 'median'")


@dataclass(frozen=True)
class ExportProfile:
    """A parsed ``--exportProfile`` file."""

    path: str
    count: int
    rows: tuple[ProfileRow, ...]
    version_keys: str  # '7.x-8.2' or '8.4+'
    parse_mode: str = "lines"  # 'lines' (writer form) or 'json'

    @property
    def total_average_ms(self) -> float:
        return math.fsum(r.average_ms for r in self.rows)

    @property
    def total_median_ms(self) -> float | None:
        if self.version_keys != "8.4+":
            return None
        return math.fsum(r.median_ms or 0.0 for r in self.rows)

    @property
    def noisy(self) -> bool:
        """True when averaged over fewer than `NOISY_COUNT` inferences."""
        return self.count < NOISY_COUNT

    @property
    def has_median(self) -> bool:
        return self.version_keys == "8.4+"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ProfileRow]:
        return iter(self.rows)


# ---------------------------------------------------------------------------- parsing
_NUM = r"[-+]?(?:nan|inf|[0-9.]+(?:[eE][-+]?[0-9]+)?)"
_COUNT_LINE = re.compile(r"^\s*\{\s*\"count\"\s*:\s*(?P<n>\S+?)\s*\}\s*$")
_ROW_LINE = re.compile(
    r"^\s*,\s*\{\s*\"name\"\s*:\s*\"(?P<name>.*)\"\s*"
    r",\s*\"timeMs\"\s*:\s*(?P<timeMs>" + _NUM + r")\s*"
    r",\s*\"averageMs\"\s*:\s*(?P<averageMs>" + _NUM + r")\s*"
    r"(?:,\s*\"medianMs\"\s*:\s*(?P<medianMs>" + _NUM + r")\s*)?"
    r",\s*\"percentage\"\s*:\s*(?P<percentage>" + _NUM + r")\s*\}\s*$",
    re.IGNORECASE)


class _NotWriterForm(Exception):
    """Internal: the text is not laid out as trtexec writes it (try json)."""

    def __init__(self, line: int, text: str):
        super().__init__(line)
        self.line = line
        self.text = text


def _parse_lines(text: str, source: str) -> tuple[object, list[dict[str, Any]]]:
    lines = [ln.rstrip("\r") for ln in text.split("\n")]  # names may hold \x1c-\x1f, \u2028
    body = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not body or body[0][1].strip() != "[":
        raise _NotWriterForm(body[0][0] if body else 1, body[0][1] if body else "")
    if body[-1][1].strip() != "]":
        raise _NotWriterForm(body[-1][0], body[-1][1])
    if len(body) < 3:
        raise _NotWriterForm(body[-1][0], body[-1][1])
    lineno, count_line = body[1]
    m = _COUNT_LINE.match(count_line)
    if not m:
        raise _NotWriterForm(lineno, count_line)
    count: object = m.group("n")
    rows: list[dict[str, Any]] = []
    for lineno, line in body[2:-1]:
        mr = _ROW_LINE.match(line)
        if not mr:
            raise _NotWriterForm(lineno, line)
        entry = f"line {lineno}"
        row: dict[str, Any] = {"name": mr.group("name"), "_entry": entry}
        for key in ("timeMs", "averageMs", "medianMs", "percentage"):
            token = mr.group(key)
            if token is not None:
                row[key] = parse_number(token, field=key, source=source, entry=entry)
        rows.append(row)
    return count, rows


def _parse_json(text: str, source: str, hint: _NotWriterForm) -> tuple[object, list[dict]]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = getattr(exc, "msg", "nested too deeply")
        where = f"line {getattr(exc, 'lineno', hint.line)}"
        raise ProfileError(
            f"not a trtexec --exportProfile file: line {hint.line} ({short(hint.text.strip())!r}) "
            f"is not a profile element and the text is not valid JSON either ({detail}); the "
            "file may be truncated: re-run trtexec with --exportProfile",
            source=source, entry=where) from None
    if not isinstance(data, list):
        raise ProfileError(
            f"the top level is a JSON {type(data).__name__}; --exportProfile writes a list "
            "[{\"count\": N}, {layer}, ...]", source=source, entry="top level")
    if not data:
        raise ProfileError("the profile list is empty (no count, no layers)", source=source,
                           entry="element 0")
    first = data[0]
    if not isinstance(first, dict) or set(first) != {"count"}:
        raise ProfileError(
            f"element 0 must be {{\"count\": N}}, found {short(repr(first))}", source=source,
            entry="element 0")
    rows: list[dict[str, Any]] = []
    for i, elem in enumerate(data[1:], start=1):
        if not isinstance(elem, dict):
            raise ProfileError(f"expected a layer object, found {short(repr(elem))}",
                               source=source, entry=f"element {i}")
        row = dict(elem)
        if "_entry" in row:
            raise ProfileError("unexpected key '_entry'", source=source, entry=f"element {i}")
        row["_entry"] = f"element {i}"
        rows.append(row)
    return first["count"], rows


def _check_count(count: object, source: str) -> int:
    value: object = count
    if isinstance(count, str):
        try:
            value = float(count) if not count.strip().lstrip("+-").isdigit() else int(count)
        except ValueError:
            value = count
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and (not math.isfinite(value) or value != int(value))):
        raise ProfileError(f"'count' must be a whole number of inferences, found {count!r}",
                           source=source, entry="count header")
    n = int(value)
    if n < 1:
        raise ProfileError(
            f"'count' is {n}: no inference was profiled; re-run trtexec with --exportProfile "
            "and at least one iteration", source=source, entry="count header")
    return n


def _rows_from_dicts(raw_rows: Sequence[dict[str, Any]], source: str,
                     ) -> tuple[tuple[ProfileRow, ...], str]:
    if not raw_rows:
        raise ProfileError("the profile has a count header but no layer rows; the file is "
                           "truncated or the engine reported nothing", source=source,
                           entry="element 1")
    keyset: tuple[str, ...] | None = None
    rows: list[ProfileRow] = []
    for index, raw in enumerate(raw_rows):
        entry = raw["_entry"]
        keys = tuple(k for k in raw if k != "_entry")
        if set(keys) == set(KEYS_84):
            this = KEYS_84
        elif set(keys) == set(KEYS_7X):
            this = KEYS_7X
        else:
            missing = [k for k in KEYS_84 if k not in keys and k != "medianMs"]
            extra = [k for k in keys if k not in KEYS_84]
            what = (f"missing {', '.join(missing)}" if missing else "") + (
                ("; " if missing and extra else "") + (f"unknown {', '.join(extra)}" if extra
                                                       else ""))
            raise ProfileError(
                f"wrong keys ({what}); a row needs {', '.join(KEYS_7X)} (TRT <= 8.2) or "
                f"{', '.join(KEYS_84)} (TRT >= 8.4)", source=source, entry=entry)
        if keyset is None:
            keyset = this
        elif this != keyset:
            raise ProfileError(
                f"this row has keys {', '.join(this)} but earlier rows have "
                f"{', '.join(keyset)}; the file mixes two trtexec versions", source=source,
                entry=entry)
        name = raw["name"]
        if not isinstance(name, str) or not name.strip():
            raise ProfileError(f"'name' must be a non-empty string, found {name!r}",
                               source=source, entry=entry)
        label = f"{entry} ({short(name)})"
        time_ms = check_time(raw["timeMs"], field="timeMs", source=source, entry=label)
        avg = check_time(raw["averageMs"], field="averageMs", source=source, entry=label)
        med = check_time(raw.get("medianMs"), field="medianMs", source=source, entry=label,
                         allow_none=this is KEYS_7X)
        assert time_ms is not None and avg is not None
        for field, value in (("averageMs", avg), ("medianMs", med)):
            if value is not None and value > time_ms * (1 + _REL_TOL) + 1e-9:
                raise ProfileError(
                    f"'{field}' ({value}) is larger than 'timeMs' ({time_ms}), the total over "
                    "all inferences; the columns are swapped or the file was edited",
                    source=source, entry=label)
        pct_raw = raw["percentage"]
        pct: float | None
        if isinstance(pct_raw, float) and math.isnan(pct_raw):
            pct = None  # 0/0: every layer reported 0 ms (trtexec_formats.md rule 2)
        else:
            pct = check_time(pct_raw, field="percentage", source=source, entry=label)
        rows.append(ProfileRow(name, time_ms, avg, med, pct, parse_engine_name(name).kind,
                               index, name))
    assert keyset is not None
    return _assign_keys(rows, source), ("8.4+" if keyset is KEYS_84 else "7.x-8.2")


def _assign_keys(rows: list[ProfileRow], source: str) -> tuple[ProfileRow, ...]:
    first = rows[0].name
    names = {r.name for r in rows}
    seen: dict[str, int] = {}
    out: list[ProfileRow] = []
    for r in rows:
        n = seen.get(r.name, 0) + 1
        seen[r.name] = n
        if n > 1 and r.name == first:
            raise ProfileError(
                f"the first layer name {short(first)!r} recurs at row {r.index}: trtexec counts "
                "inferences by the first layer name, so this cannot be one profile "
                "(concatenated or edited file); keep one trtexec output per file",
                source=source, entry=f"row {r.index}")
        key = r.name if n == 1 else f"{r.name}_{n}"
        if n > 1 and key in names:
            raise ProfileError(
                f"repeat {n} of {short(r.name)!r} would be keyed {short(key)!r}, which is also "
                "a real layer name; the rows cannot be told apart", source=source,
                entry=f"row {r.index}")
        out.append(ProfileRow(r.name, r.time_ms, r.average_ms, r.median_ms, r.percentage,
                              r.kind, r.index, key))
    return tuple(out)


def parse_export_profile(text: str, *, source: str = "<text>") -> ExportProfile:
    """Parse the text of an ``--exportProfile`` file (see the module docstring)."""
    check_text(text, source=source, what="trtexec --exportProfile file")
    mode = "lines"
    try:
        count, raw_rows = _parse_lines(text, source)
    except _NotWriterForm as hint:
        mode = "json"
        count, raw_rows = _parse_json(text, source, hint)
    n = _check_count(count, source)
    rows, version_keys = _rows_from_dicts(raw_rows, source)
    return ExportProfile(source, n, rows, version_keys, mode)


def read_export_profile(path: PathLike) -> ExportProfile:
    """Read a ``trtexec --exportProfile`` file; `ProfileError` on any malformed input."""
    text, source = load_text(path, what="trtexec --exportProfile file")
    return parse_export_profile(text, source=source)


def format_export_profile(rows: Sequence[ProfileRow], count: int, *,
                          with_median: bool = True) -> str:
    """Write rows exactly as trtexec does (used by tests and benchmarks; round-trips)."""

    def num(x: float | None) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return "nan"
        return f"{x:.6g}"

    out = ["[", f"  {{ \"count\" : {count} }}"]
    for r in rows:
        med = f", \"medianMs\" : {num(r.median_ms)}" if with_median else ""
        out.append(f", {{ \"name\" : \"{r.name}\", \"timeMs\" : {num(r.time_ms)}, "
                   f"\"averageMs\" : {num(r.average_ms)}{med}, "
                   f"\"percentage\" : {num(r.percentage)} }}")
    out.append("]")
    return "\n".join(out) + "\n"


__all__ = [
    "KEYS_7X",
    "KEYS_84",
    "NOISY_COUNT",
    "ExportProfile",
    "ProfileRow",
    "format_export_profile",
    "parse_export_profile",
    "read_export_profile",
]

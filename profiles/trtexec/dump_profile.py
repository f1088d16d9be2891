"""Readers of trtexec *logs*: the ``--dumpProfile`` table and the performance summary.

``--dumpProfile`` table (trtexec_formats.md section 3), after ``=== Profile (N iterations ) ===``:

- TRT <= 8.5, name first, right-aligned: ``Layer  Time (ms)  Avg. Time (ms)  [Median Time (ms)]
  Time %``; numbers are split off from the *right* because names contain spaces.
- TRT >= 8.6, numbers first: ``Time(ms)  Avg.(ms)  Median(ms)  Time(%)  Layer``; numbers
  are split off from the *left*.

The table ends with a ``Total`` row. Rows the table omits (zero-time rows from 8.4 on) are
simply absent; times carry 2 or 4 decimals (prefer the JSON profile when you have it).

Performance summary (section 4): TRT 7.x prints blocks (``GPU Compute`` header then
``mean: X ms`` lines); TRT 8.0+ prints one line per metric (``GPU Compute Time: min = ...``).
The 8.x ``[V]`` explanation line (``GPU Compute Time: the GPU latency ...``) has the same
key, so metric lines are recognised only when they carry ``min = ``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from profiles.errors import ProfileError
from profiles.trtexec.common import (
    LogLine,
    PathLike,
    TrtVersion,
    check_text,
    check_time,
    detect_version,
    load_text,
    parse_number,
    short,
    split_log,
)
from profiles.trtexec.names import RowKind, parse_engine_name

_WHAT = "trtexec log"
_HEADER = re.compile(r"^=== Profile \((?P<n>\d+) iterations? \) ===\s*$")
_OLD_COLUMNS = re.compile(r"^\s*Layer\s+Time \(ms\)\s+Avg\. Time \(ms\)\s+"
                          r"(?P<med>Median Time \(ms\)\s+)?Time %\s*$")
_NEW_COLUMNS = re.compile(r"^\s*Time\(ms\)\s+Avg\.\(ms\)\s+Median\(ms\)\s+Time\(%\)\s+Layer\s*$")
_N = r"([-+]?(?:nan|inf|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?))"
_OLD_ROW_3 = re.compile(r"^\s*(?P<name>\S.*?)\s+" + _N + r"\s+" + _N + r"\s+" + _N + r"\s*$",
                        re.IGNORECASE)
_OLD_ROW_4 = re.compile(r"^\s*(?P<name>\S.*?)\s+" + _N + r"\s+" + _N + r"\s+" + _N + r"\s+" + _N
                        + r"\s*$", re.IGNORECASE)
_NEW_ROW = re.compile(r"^\s*" + _N + r"\s+" + _N + r"\s+" + _N + r"\s+" + _N
                      + r"\s+(?P<name>\S.*?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class DumpRow:
    """One row of the ``--dumpProfile`` table (times in ms, rounded as printed)."""

    name: str
    time_ms: float
    average_ms: float
    median_ms: float | None
    percentage: float | None
    kind: RowKind
    index: int = 0
    key: str = ""
    line: int = 0

    def cost_ms(self, statistic: str = "average") -> float:
        if statistic == "average":
            return self.average_ms
        if statistic == "median" and self.median_ms is not None:
            return self.median_ms
        raise ProfileError(f"statistic {statistic!r} is not available in this table",
                           entry=f"line {self.line}")


@dataclass(frozen=True)
class DumpProfile:
    """A parsed ``--dumpProfile`` table."""

    path: str
    iterations: int
    layout: str  # '7.x-8.2', '8.4-8.5' or '8.6+'
    rows: tuple[DumpRow, ...]
    total: DumpRow
    trt_version: TrtVersion | None = None

    @property
    def count(self) -> int:
        """Alias of ``iterations`` so a table can stand in for an exportProfile."""
        return self.iterations

    @property
    def has_median(self) -> bool:
        return self.layout != "7.x-8.2"

    @property
    def total_average_ms(self) -> float:
        return math.fsum(r.average_ms for r in self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[DumpRow]:
        return iter(self.rows)


def _numbers(tokens: tuple[str, ...], names: tuple[str, ...], source: str, entry: str,
             ) -> list[float | None]:
    out: list[float | None] = []
    for token, name in zip(tokens, names, strict=True):
        value = parse_number(token, field=name, source=source, entry=entry)
        if name == "Time %" and math.isnan(value):
            out.append(None)
            continue
        out.append(check_time(value, field=name, source=source, entry=entry))
    return out


def _find_tables(lines: list[LogLine]) -> list[int]:
    return [i for i, ln in enumerate(lines) if _HEADER.match(ln.text.strip())]


def _parse_table(lines: list[LogLine], start: int, source: str,
                 version: TrtVersion | None) -> DumpProfile:
    header = lines[start]
    iterations = int(_HEADER.match(header.text.strip()).group("n"))  # type: ignore[union-attr]
    if iterations < 1:
        raise ProfileError("the profile covers 0 iterations", source=source,
                           entry=f"line {header.number}")
    i = start + 1
    while i < len(lines) and (lines[i].severity not in (None, "I") or not lines[i].text.strip()):
        i += 1
    if i >= len(lines):
        raise ProfileError("the profile table stops after its title (truncated log)",
                           source=source, entry=f"line {header.number}")
    cols = lines[i]
    old = _OLD_COLUMNS.match(cols.text)
    if old:
        layout = "8.4-8.5" if old.group("med") else "7.x-8.2"
    elif _NEW_COLUMNS.match(cols.text):
        layout = "8.6+"
    else:
        raise ProfileError(
            f"unrecognised column header {short(cols.text.strip())!r}; expected 'Layer  Time (ms)"
            "  Avg. Time (ms) ...' (TRT <= 8.5) or 'Time(ms)  Avg.(ms)  Median(ms)  Time(%)  "
            "Layer' (TRT >= 8.6)", source=source, entry=f"line {cols.number}")
    rows: list[DumpRow] = []
    total: DumpRow | None = None
    for ln in lines[i + 1:]:
        if ln.severity not in (None, "I"):
            continue  # a warning interleaved from stderr
        text = ln.text
        if not text.strip():
            if rows or total:
                break
            continue
        entry = f"line {ln.number}"
        if layout == "8.6+":
            m = _NEW_ROW.match(text)
            toks = m.groups()[:4] if m else ()
            colnames: tuple[str, ...] = ("Time(ms)", "Avg.(ms)", "Median(ms)", "Time %")
        elif layout == "8.4-8.5":
            m = _OLD_ROW_4.match(text)
            toks = m.groups()[1:5] if m else ()
            colnames = ("Time (ms)", "Avg. Time (ms)", "Median Time (ms)", "Time %")
        else:
            m = _OLD_ROW_3.match(text)
            toks = m.groups()[1:4] if m else ()
            colnames = ("Time (ms)", "Avg. Time (ms)", "Time %")
        if m is None:
            raise ProfileError(
                f"not a profile row: {short(text.strip())!r} (layout {layout}); the table ends "
                "with a 'Total' row, the log may be truncated or mixed", source=source,
                entry=entry)
        name = m.group("name")
        values = _numbers(tuple(toks), colnames, source, f"{entry} ({short(name)})")
        if len(values) == 3:
            t, avg, pct = values
            med = None
        else:
            t, avg, med, pct = values
        assert t is not None and avg is not None
        row = DumpRow(name, t, avg, med, pct, parse_engine_name(name).kind, len(rows), name,
                      ln.number)
        if name == "Total":
            total = row
            break
        rows.append(row)
    if total is None:
        raise ProfileError("the profile table has no 'Total' row: the log is truncated",
                           source=source, entry=f"line {header.number}")
    if not rows:
        raise ProfileError("the profile table has no layer rows", source=source,
                           entry=f"line {header.number}")
    tol = 0.006 * len(rows) + 0.01 + 1e-3 * total.time_ms
    summed = math.fsum(r.time_ms for r in rows)
    if abs(summed - total.time_ms) > tol:
        raise ProfileError(
            f"the rows add up to {summed:.2f} ms but the Total row says {total.time_ms:.2f} ms; "
            "rows are missing or mangled", source=source, entry=f"line {total.line}")
    keyed = _keys(rows, source)
    return DumpProfile(source, iterations, layout, keyed, total, version)


def _keys(rows: list[DumpRow], source: str) -> tuple[DumpRow, ...]:
    names = {r.name for r in rows}
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        n = seen.get(r.name, 0) + 1
        seen[r.name] = n
        key = r.name if n == 1 else f"{r.name}_{n}"
        if n > 1 and key in names:
            raise ProfileError(f"repeat {n} of {short(r.name)!r} collides with a layer named "
                               f"{short(key)!r}", source=source, entry=f"line {r.line}")
        out.append(DumpRow(r.name, r.time_ms, r.average_ms, r.median_ms, r.percentage, r.kind,
                           r.index, key, r.line))
    return tuple(out)


def parse_dump_profile(text: str, *, source: str = "<text>") -> DumpProfile:
    """Parse the ``--dumpProfile`` table of a trtexec log given as text."""
    check_text(text, source=source, what=_WHAT)
    lines = split_log(text)
    starts = _find_tables(lines)
    if not starts:
        raise ProfileError(
            "no '=== Profile (N iterations ) ===' table in this log; run trtexec with "
            "--dumpProfile (and keep stdout)", source=source, entry="=== Profile table")
    if len(starts) > 1:
        where = ", ".join(str(lines[s].number) for s in starts)
        raise ProfileError(
            f"the log holds {len(starts)} profile tables (lines {where}); split it into one "
            "log per trtexec run", source=source, entry=f"line {lines[starts[1]].number}")
    version, _ = detect_version([ln.raw for ln in lines])
    return _parse_table(lines, starts[0], source, version)


def read_dump_profile(path: PathLike) -> DumpProfile:
    """Read the ``--dumpProfile`` table from a trtexec log file."""
    text, source = load_text(path, what=_WHAT)
    return parse_dump_profile(text, source=source)


# ---------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class LatencyStats:
    """Statistics of one metric in ms (``mean`` absent in TRT 7 ``Enqueue Time``)."""

    min_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None
    median_ms: float | None = None
    percentiles: dict[float, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PerformanceSummary:
    """The performance summary of a trtexec run.

    ``format`` is ``'7.x'`` (blocks) or ``'8.0+'`` (single lines). ``host_latency_e2e``
    holds TRT 7 ``(end to end ...)`` values and TRT 8.0-8.2 ``End-to-End Host Latency``.
    """

    path: str
    format: str
    trt_version: TrtVersion | None
    gpu_compute: LatencyStats
    host_latency: LatencyStats | None = None
    host_latency_e2e: LatencyStats | None = None
    enqueue: LatencyStats | None = None
    h2d: LatencyStats | None = None
    d2h: LatencyStats | None = None
    throughput_qps: float | None = None
    total_host_walltime_s: float | None = None
    total_gpu_compute_s: float | None = None
    gpu_compute_cov_percent: float | None = None


_METRIC_LINE = re.compile(r"^(?P<key>[A-Za-z0-9 \-]+): (?P<body>min = .*)$")
_STAT = re.compile(r"(?P<k>min|max|mean|median|percentile\((?P<p>[\d.]+)%\)) = "
                   r"(?P<v>\S+) ms")
_METRIC_KEYS = {"Latency": "host_latency", "End-to-End Host Latency": "host_latency_e2e",
                "Enqueue Time": "enqueue", "H2D Latency": "h2d", "GPU Compute Time": "gpu_compute",
                "D2H Latency": "d2h"}
_BLOCKS = {"host latency": "host_latency", "enqueue time": "enqueue", "gpu compute": "gpu_compute"}
_T7_STAT = re.compile(r"^(?P<k>min|max|mean|median): (?P<v>\S+) ms"
                      r"(?: \(end to end (?P<e>\S+) ms\))?\s*$")
_T7_PCT = re.compile(r"^percentile: (?P<v>\S+) ms at (?P<p>[\d.]+)%"
                     r"(?: \(end to end (?P<e>\S+) ms at [\d.]+%\))?\s*$")


def _stats(body: str, source: str, entry: str) -> LatencyStats:
    values: dict[str, float] = {}
    pcts: dict[float, float] = {}
    for m in _STAT.finditer(body):
        v = check_time(parse_number(m.group("v"), field=m.group("k"), source=source,
                                    entry=entry), field=m.group("k"), source=source, entry=entry)
        assert v is not None
        if m.group("p"):
            pcts[float(m.group("p"))] = v
        else:
            values[m.group("k")] = v
    if "min" not in values or "max" not in values:
        raise ProfileError(f"metric line without min/max: {short(body)!r}", source=source,
                           entry=entry)
    return LatencyStats(values.get("min"), values.get("max"), values.get("mean"),
                        values.get("median"), pcts)


def _summary_8x(lines: list[LogLine], source: str) -> dict[str, object]:
    found: dict[str, object] = {}
    for ln in lines:
        if ln.severity == "V":
            continue  # explanation lines repeat the metric names
        text = ln.text.strip()
        entry = f"line {ln.number}"
        m = _METRIC_LINE.match(text)
        if m and m.group("key") in _METRIC_KEYS:
            found[_METRIC_KEYS[m.group("key")]] = _stats(m.group("body"), source, entry)
            continue
        for pattern, key in ((r"^Throughput: (\S+) qps$", "throughput_qps"),
                             (r"^Total Host Walltime: (\S+) s$", "total_host_walltime_s"),
                             (r"^Total GPU Compute Time: (\S+) s$", "total_gpu_compute_s"),
                             (r"coefficient of variance = (\S+)%", "gpu_compute_cov_percent")):
            mm = re.search(pattern, text)
            if mm:
                found[key] = check_time(parse_number(mm.group(1).rstrip("."), field=key,
                                                     source=source, entry=entry),
                                        field=key, source=source, entry=entry)
    return found


def _summary_7x(lines: list[LogLine], source: str) -> dict[str, object]:
    found: dict[str, object] = {}
    block: str | None = None
    acc: dict[str, dict[str, float]] = {}
    e2e: dict[str, float] = {}
    pcts: dict[str, dict[float, float]] = {}
    for ln in lines:
        if ln.severity == "V":
            continue
        text = ln.text.strip()
        entry = f"line {ln.number}"
        low = text.lower()
        if low in _BLOCKS:
            block = _BLOCKS[low]
            acc.setdefault(block, {})
            continue
        if block is None:
            continue
        m = _T7_STAT.match(text)
        if m:
            v = check_time(parse_number(m.group("v"), field=m.group("k"), source=source,
                                        entry=entry), field=m.group("k"), source=source,
                           entry=entry)
            assert v is not None
            acc[block][m.group("k")] = v
            if m.group("e") and block == "host_latency":
                e = check_time(parse_number(m.group("e"), field="end to end", source=source,
                                            entry=entry), field="end to end", source=source,
                               entry=entry)
                assert e is not None
                e2e[m.group("k")] = e
            continue
        m = _T7_PCT.match(text)
        if m:
            v = check_time(parse_number(m.group("v"), field="percentile", source=source,
                                        entry=entry), field="percentile", source=source,
                           entry=entry)
            assert v is not None
            pcts.setdefault(block, {})[float(m.group("p"))] = v
            continue
        mt = re.match(r"^throughput: (\S+) qps$", text)
        if mt:
            found["throughput_qps"] = check_time(
                parse_number(mt.group(1), field="throughput", source=source, entry=entry),
                field="throughput", source=source, entry=entry)
            continue
        mw = re.match(r"^(walltime|total compute time): (\S+) s$", text)
        if mw:
            key = "total_host_walltime_s" if mw.group(1) == "walltime" else "total_gpu_compute_s"
            found[key] = check_time(parse_number(mw.group(2), field=mw.group(1), source=source,
                                                 entry=entry), field=mw.group(1),
                                    source=source, entry=entry)
    for name, vals in acc.items():
        if vals:
            found[name] = LatencyStats(vals.get("min"), vals.get("max"), vals.get("mean"),
                                       vals.get("median"), pcts.get(name, {}))
    if e2e:
        found["host_latency_e2e"] = LatencyStats(e2e.get("min"), e2e.get("max"),
                                                 e2e.get("mean"), e2e.get("median"))
    return found


def parse_performance_summary(text: str, *, source: str = "<text>") -> PerformanceSummary:
    """Parse the performance summary of a trtexec log given as text."""
    check_text(text, source=source, what=_WHAT)
    lines = split_log(text)
    version, hint = detect_version([ln.raw for ln in lines])
    found = _summary_8x(lines, source)
    fmt = "8.0+"
    if "gpu_compute" not in found:
        found7 = _summary_7x(lines, source)
        if "gpu_compute" in found7:
            found, fmt = found7, "7.x"
    if "gpu_compute" not in found:
        if any("e2e network timing is not reported" in ln.text for ln in lines):
            raise ProfileError(
                "this run printed no performance summary because the profiler was on; re-run "
                "with --separateProfileRun (or without --dumpProfile) to get it",
                source=source, entry="=== Performance summary")
        raise ProfileError(
            "no GPU compute time found (neither 'GPU Compute Time: min = ...' nor a TRT 7 "
            "'GPU Compute' block); the log is truncated or not from trtexec", source=source,
            entry="GPU Compute Time")
    gpu = found["gpu_compute"]
    assert isinstance(gpu, LatencyStats)
    if gpu.mean_ms is None and gpu.median_ms is None:
        raise ProfileError("the GPU compute block has neither mean nor median", source=source,
                           entry="GPU Compute")
    del hint
    return PerformanceSummary(source, fmt, version, **found)  # type: ignore[arg-type]


def read_performance_summary(path: PathLike) -> PerformanceSummary:
    """Read the performance summary from a trtexec log file."""
    text, source = load_text(path, what=_WHAT)
    return parse_performance_summary(text, source=source)


__all__ = [
    "DumpProfile",
    "DumpRow",
    "LatencyStats",
    "PerformanceSummary",
    "parse_dump_profile",
    "parse_performance_summary",
    "read_dump_profile",
    "read_performance_summary",
]

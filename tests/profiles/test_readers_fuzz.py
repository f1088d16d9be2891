"""Property tests: arbitrary bytes/text and structured mutations never raise anything but
ProfileError; writer-form round trips hold."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.errors import ProfileError
from profiles.ingest import ingest_trtexec
from profiles.trtexec import (
    ProfileRow,
    RowKind,
    format_export_profile,
    parse_build_log,
    parse_dump_profile,
    parse_engine_name,
    parse_export_profile,
    parse_layer_info,
    parse_performance_summary,
    read_build_log,
    read_dump_profile,
    read_export_profile,
    read_layer_info,
    split_fused,
)

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
OWN = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec"
TEXT_PARSERS: list[Callable[..., object]] = [
    parse_export_profile, parse_dump_profile, parse_performance_summary, parse_layer_info,
    parse_build_log]
PATH_READERS: list[Callable[..., object]] = [
    read_export_profile, read_dump_profile, read_layer_info, read_build_log]


def _only_profile_error(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        fn(*args, **kwargs)
    except ProfileError as exc:
        assert str(exc)


@FAST
@given(st.binary(max_size=400))
def test_arbitrary_bytes_from_files(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x"
        path.write_bytes(data)
        for reader in PATH_READERS:
            _only_profile_error(reader, path)


@FAST
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    for parser in TEXT_PARSERS:
        _only_profile_error(parser, text, source="fuzz")


_LINE_PIECES = st.sampled_from([
    "[", "]", "  { \"count\" : 3 }", ", { \"name\" : \"a\", \"timeMs\" : 1, \"averageMs\" : 0.5,"
    " \"percentage\" : 100 }", "=== Profile (3 iterations ) ===",
    "   Layer   Time (ms)   Avg. Time (ms)   Time %", "   Time(ms)     Avg.(ms)   Median(ms)"
    "   Time(%)   Layer", "  x   1.00   0.1000   100.0", "  Total   1.00   0.1000   100.0",
    "      1.00   0.1   0.1   100.0   y", "GPU Compute", "mean: 1 ms", "min: -1 ms",
    "GPU Compute Time: min = 1 ms, max = nan ms", "---------- Layers Running on DLA ----------",
    "---------- Layers Running on GPU ----------", "[DlaLayer] {ForeignNode[a...b]}",
    "[GpuLayer] SHUFFLE: x", "{a,b}, c,", "No layer is running on GPU", "",
    "&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec",
    "DLA supports only 16 subgraphs per DLA core. Switching to GPU for layer q",
    "Layer 'z' (CONSTANT): Unsupported on DLA. Switching this layer's device type to GPU.",
])
_PREFIXES = st.sampled_from(["", "[I] ", "[W] ", "[V] [TRT] ", "[01/01/2024-00:00:00] [I] ",
                             "INFO: [TRT]: "])


@FAST
@given(st.lists(st.tuples(_PREFIXES, _LINE_PIECES, st.text(max_size=5)), max_size=25))
def test_structured_line_soup(parts: list[tuple[str, str, str]]) -> None:
    text = "\n".join(p + line + junk for p, line, junk in parts)
    for parser in TEXT_PARSERS:
        _only_profile_error(parser, text, source="soup")


_NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                max_size=30).filter(lambda s: s.strip() != "")
_TIME = st.floats(min_value=0, max_value=1e4, allow_nan=False, allow_infinity=False)


@st.composite
def _profiles(draw: st.DrawFn) -> tuple[list[ProfileRow], int]:
    names = draw(st.lists(_NAME, min_size=1, max_size=12, unique=True))
    count = draw(st.integers(min_value=1, max_value=100000))
    rows = []
    for i, name in enumerate(names):
        total = draw(_TIME)
        avg = total / draw(st.integers(min_value=1, max_value=1000))
        rows.append(ProfileRow(name, total, avg, avg, draw(_TIME), RowKind.COMPUTE, i, name))
    return rows, count


@FAST
@given(_profiles())
def test_export_profile_round_trip(sample: tuple[list[ProfileRow], int]) -> None:
    rows, count = sample
    parsed = parse_export_profile(format_export_profile(rows, count), source="rt")
    assert parsed.count == count and parsed.parse_mode == "lines"
    assert [r.name for r in parsed.rows] == [r.name for r in rows]
    for got, want in zip(parsed.rows, rows, strict=True):
        assert math.isclose(got.average_ms, want.average_ms, rel_tol=1e-5, abs_tol=1e-300)
        assert got.kind is parse_engine_name(want.name).kind


_MUTATIONS = st.sampled_from(["delete", "insert", "duplicate", "number"])


@FAST
@given(st.data())
def test_mutated_real_files(data: st.DataObject) -> None:
    files = sorted(p for p in OWN.iterdir() if p.is_file())
    path = data.draw(st.sampled_from(files))
    text = path.read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(_MUTATIONS)
        at = data.draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 200)):]
        elif kind == "insert":
            text = text[:at] + data.draw(st.text(max_size=10)) + text[at:]
        elif kind == "duplicate":
            lines = text.split("\n")
            i = data.draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        else:
            text = text[:at] + data.draw(st.sampled_from(["-1", "nan", "inf", "1e999", "x"])) \
                + text[at:]
    for parser in TEXT_PARSERS:
        _only_profile_error(parser, text, source=path.name)
    if text.lstrip().startswith("["):
        try:
            prof = parse_export_profile(text, source=path.name)
        except ProfileError:
            return
        _only_profile_error(ingest_trtexec, prof, platform="fuzz")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["Layers", "Bindings", "Name", "LayerType", "Metadata",
                                       "Inputs", "Outputs", "Dimensions", "StreamId", "x"]),
                      children, max_size=5),
    max_leaves=20)


@FAST
@given(_JSON)
def test_layer_info_arbitrary_json(value: object) -> None:
    _only_profile_error(parse_layer_info, json.dumps(value), source="li")
    _only_profile_error(parse_export_profile, json.dumps(value), source="ep")


@FAST
@given(st.lists(st.text(st.characters(blacklist_characters="+|(){}[], \n"), min_size=1,
                        max_size=8).filter(lambda s: s.strip() == s), min_size=1, max_size=6),
       st.sampled_from([" + ", " || "]))
def test_split_fused_round_trip(parts: list[str], sep: str) -> None:
    name = sep.join(parts)
    assert split_fused(name) == parts
    parsed = parse_engine_name(name)
    if parsed.kind is RowKind.COMPUTE and len(parts) > 1:
        assert parsed.source_layers == tuple(parts)


@FAST
@given(st.text(min_size=1, max_size=60))
def test_parse_engine_name_total(name: str) -> None:
    _only_profile_error(parse_engine_name, name)


@FAST
@given(st.lists(st.tuples(_NAME.filter(lambda s: s.strip() == s and s != "Total"),
                          st.integers(1, 10**6)), min_size=1, max_size=8),
       st.sampled_from(["old", "median", "new"]))
def test_dump_table_round_trip(rows: list[tuple[str, int]], layout: str) -> None:
    iters = 10
    total = sum(t for _, t in rows) / 100
    lines = ["=== Profile (10 iterations ) ==="]
    if layout == "new":
        lines.append("   Time(ms)     Avg.(ms)   Median(ms)   Time(%)   Layer")
    else:
        med = "   Median Time (ms)" if layout == "median" else ""
        lines.append(f"   Layer   Time (ms)   Avg. Time (ms){med}   Time %")
    for name, t in [*rows, ("Total", int(total * 100))]:
        ms = t / 100
        pct = 100 * ms / total if total else 0
        if layout == "new":
            lines.append(f"{ms:12.2f} {ms / iters:12.4f} {ms / iters:12.4f} {pct:9.1f}   {name}")
        elif layout == "median":
            lines.append(f"  {name} {ms:11.2f} {ms / iters:16.4f} {ms / iters:18.4f} {pct:8.1f}")
        else:
            lines.append(f"  {name} {ms:11.2f} {ms / iters:16.4f} {pct:8.1f}")
    try:
        d = parse_dump_profile("\n".join(lines) + "\n", source="rt")
    except ProfileError as exc:
        # a name that is itself number-like can be ambiguous; that must be the only failure
        assert any(any(ch.isdigit() for ch in n) for n, _ in rows), str(exc)
        return
    assert [r.name for r in d.rows] == [n for n, _ in rows]
    assert [r.time_ms for r in d.rows] == [t / 100 for _, t in rows]

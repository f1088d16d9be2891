"""The malformed-input corpus: every case is ONE ProfileError naming the file and the entry."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from profiles.errors import ProfileError
from profiles.ingest import ingest_trtexec
from profiles.trtexec import (
    read_build_log,
    read_dump_profile,
    read_export_profile,
    read_layer_info,
    read_performance_summary,
)

OWN = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec"

HEAD = "[\n  { \"count\" : 100 }\n"


def _row(name: str, t: str = "10", a: str = "0.1", m: str | None = "0.1", p: str = "50") -> str:
    med = f", \"medianMs\" : {m}" if m is not None else ""
    return (f", {{ \"name\" : \"{name}\", \"timeMs\" : {t}, \"averageMs\" : {a}{med}, "
            f"\"percentage\" : {p} }}\n")


GOOD = HEAD + _row("conv") + _row("relu") + "]\n"

EXPORT_CASES: dict[str, tuple[str | bytes, str, str]] = {
    # case: (content, entry expected in the message, a phrase of the message)
    "empty": ("", "line 1", "empty"),
    "whitespace": ("  \n\n ", "line 1", "empty"),
    "binary_junk": (b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe", "byte", "not UTF-8"),
    "nul_bytes": ("[\n\x00\x00{}", "line 2", "binary"),
    "truncated_mid_row": (GOOD[: GOOD.index("relu") + 10], "line", "truncated"),
    "truncated_after_count": (HEAD, "line", "truncated"),
    "no_rows": (HEAD + "]\n", "element 1", "no layer rows"),
    "wrong_key_missing_average": (
        HEAD + ", { \"name\" : \"conv\", \"timeMs\" : 1, \"percentage\" : 100 }\n]\n",
        "element 1", "missing averageMs"),
    "wrong_key_renamed": (
        HEAD + ", { \"name\" : \"a\", \"time\" : 1, \"averageMs\" : 1, \"percentage\" : 1 }\n]\n",
        "element 1", "wrong keys"),
    "mixed_key_sets": (HEAD + _row("a") + _row("b", m=None) + "]\n", "line 4", "mixes"),
    "negative_time": (HEAD + _row("a", t="-1") + "]\n", "line 3 (a)", "negative"),
    "nan_average": (HEAD + _row("a", a="nan") + "]\n", "line 3 (a)", "nan"),
    "inf_median": (HEAD + _row("a", m="inf") + "]\n", "line 3 (a)", "inf"),
    "negative_percentage": (HEAD + _row("a", p="-5") + "]\n", "line 3 (a)", "negative"),
    "average_above_total": (HEAD + _row("a", t="0.1", a="5") + "]\n", "line 3 (a)",
                            "larger than 'timeMs'"),
    "count_zero": ("[\n  { \"count\" : 0 }\n" + _row("a") + "]\n", "count header",
                   "no inference"),
    "count_fraction": ("[\n  { \"count\" : 2.5 }\n" + _row("a") + "]\n", "count header",
                       "whole number"),
    "count_missing": ("[\n" + _row("a")[2:] + "]\n", "element 0", "count"),
    "duplicate_first_name": (GOOD.replace("]\n", "") + _row("conv") + "]\n", "row 2",
                             "first layer name"),
    "duplicate_key_collision": (HEAD + _row("s") + _row("a") + _row("a") + _row("a_2") + "]\n",
                                "row 2", "cannot be told apart"),
    "top_level_object": ("{\"count\": 1}", "top level", "list"),
    "row_not_object": ("[{\"count\": 1}, 5]", "element 1", "layer object"),
    "empty_name": (HEAD + _row("  ") + "]\n", "line 3", "non-empty"),
    "number_is_text": ("[{\"count\": 1}, {\"name\": \"a\", \"timeMs\": \"1\", \"averageMs\": 1,"
                       " \"percentage\": 1}]", "element 1 (a)", "not a number"),
}


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _one_error(reader: Callable[[Path], object], path: Path, entry: str, phrase: str) -> None:
    with pytest.raises(ProfileError) as info:
        reader(path)
    err = info.value
    text = str(err)
    assert str(path) in text, text
    assert err.source == str(path)
    assert err.entry is not None and entry in err.entry, (err.entry, entry)
    assert err.entry in text
    assert phrase.lower() in text.lower(), text
    assert err.__cause__ is None  # one error, not a chain


@pytest.mark.parametrize("case", sorted(EXPORT_CASES))
def test_export_profile_corpus(tmp_path: Path, case: str) -> None:
    content, entry, phrase = EXPORT_CASES[case]
    _one_error(read_export_profile, _write(tmp_path, f"{case}.json", content), entry, phrase)


TABLE_HEAD = ("[I] === Profile (10 iterations ) ===\n"
              "[I]    Layer   Time (ms)   Avg. Time (ms)   Time %\n")
DUMP_CASES: dict[str, tuple[str | bytes, str, str]] = {
    "empty": ("", "line 1", "empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00", "byte", "UTF-8"),
    "no_table": ("[I] hello\n", "=== Profile table", "--dumpProfile"),
    "title_only": ("[I] === Profile (10 iterations ) ===\n", "line 1", "truncated"),
    "unknown_header": ("[I] === Profile (10 iterations ) ===\n[I] Name Ms\n", "line 2",
                       "column header"),
    "truncated_before_total": (TABLE_HEAD + "[I]    conv    1.00    0.1000   100.0\n",
                               "line 1", "no 'Total' row"),
    "garbled_row": (TABLE_HEAD + "[I]    conv    1.00    oops   100.0\n", "line 3",
                    "not a profile row"),
    "negative_time": (TABLE_HEAD + "[I]    conv    -1.00    0.1000   100.0\n"
                      "[I]   Total    -1.00    0.1000   100.0\n", "line 3 (conv)", "negative"),
    "nan_time": (TABLE_HEAD + "[I]    conv    nan    0.1000   100.0\n"
                 "[I]   Total    1.00    0.1000   100.0\n", "line 3 (conv)", "nan"),
    "rows_missing": (TABLE_HEAD + "[I]    conv    1.00    0.1000   10.0\n"
                     "[I]   Total    9.00    0.9000   100.0\n", "line 4", "add up"),
    "two_tables": (TABLE_HEAD + "[I]  a  1.00  0.1000  100.0\n[I]  Total  1.00  0.1000  100.0\n"
                   + TABLE_HEAD + "[I]  a  1.00  0.1000  100.0\n"
                   "[I]  Total  1.00  0.1000  100.0\n", "line 5", "2 profile tables"),
}


@pytest.mark.parametrize("case", sorted(DUMP_CASES))
def test_dump_profile_corpus(tmp_path: Path, case: str) -> None:
    content, entry, phrase = DUMP_CASES[case]
    _one_error(read_dump_profile, _write(tmp_path, f"{case}.log", content), entry, phrase)


SUMMARY_CASES: dict[str, tuple[str, str, str]] = {
    "no_summary": ("[I] Starting inference\n", "GPU Compute Time", "no GPU compute time"),
    "profiler_on": ("[I] The e2e network timing is not reported since it is inaccurate\n",
                    "=== Performance summary", "--separateProfileRun"),
    "negative_mean": ("[I] GPU Compute Time: min = 1 ms, max = 2 ms, mean = -1 ms, median = 1 ms\n",
                      "line 1", "negative"),
    "no_max": ("[I] GPU Compute Time: min = 1 ms, mean = 1 ms\n", "line 1", "without min/max"),
    "trt7_nan": ("[I] GPU Compute\n[I] min: nan ms\n", "line 2", "nan"),
}


@pytest.mark.parametrize("case", sorted(SUMMARY_CASES))
def test_summary_corpus(tmp_path: Path, case: str) -> None:
    content, entry, phrase = SUMMARY_CASES[case]
    _one_error(read_performance_summary, _write(tmp_path, f"{case}.log", content), entry,
               phrase)


LAYER_INFO_CASES: dict[str, tuple[str | bytes, str, str]] = {
    "empty": ("", "line 1", "empty"),
    "binary": (b"\xff\xd8\xff\xe0JFIF", "byte", "UTF-8"),
    "truncated": ('{"Layers": [{"Name": "a", "LayerType": "Reformat"', "line 1", "not valid JSON"),
    "list_top": ('["a"]', "top level", "'Layers'"),
    "no_layers_key": ('{"Bindings": []}', "top level", "'Layers'"),
    "layers_empty": ('{"Layers": []}', "Layers", "non-empty"),
    "mixed": ('{"Layers": [{"Name": "a"}, "b"]}', "Layers[1]", "mixes"),
    "dict_without_name": ('{"Layers": [{"LayerType": "x"}]}', "Layers[0]", "non-empty string"),
    "metadata_not_string": ('{"Layers": [{"Name": "a", "Metadata": 5}]}', "Layers[0] (a)",
                            "Metadata"),
    "inputs_not_list": ('{"Layers": [{"Name": "a", "Inputs": 5}]}', "Layers[0] (a)", "Inputs"),
    "bindings_not_list": ('{"Layers": ["a"], "Bindings": "x"}', "Bindings", "Bindings"),
}


@pytest.mark.parametrize("case", sorted(LAYER_INFO_CASES))
def test_layer_info_corpus(tmp_path: Path, case: str) -> None:
    content, entry, phrase = LAYER_INFO_CASES[case]
    _one_error(read_layer_info, _write(tmp_path, f"{case}.json", content), entry, phrase)


BUILD_CASES: dict[str, tuple[str | bytes, str, str]] = {
    "empty": ("", "line 1", "empty"),
    "binary": (b"\x00\x01\x02\x03engine", "line 1", "binary"),
    "not_a_log": ("hello world\nnothing here\n", "RUNNING line", "no TensorRT build output"),
    "truncated_listing": ("[I] [TRT] ---------- Layers Running on GPU ----------\n", "line 1",
                          "cut off"),
    "mixed_sections": ("[I] [TRT] ---------- Layers Running on GPU ----------\n"
                       "[I] [TRT] [DlaLayer] {ForeignNode[a]}\n", "line 2", "mixed up"),
}


@pytest.mark.parametrize("case", sorted(BUILD_CASES))
def test_build_log_corpus(tmp_path: Path, case: str) -> None:
    content, entry, phrase = BUILD_CASES[case]
    _one_error(read_build_log, _write(tmp_path, f"{case}.log", content), entry, phrase)


def test_mismatched_layer_names(tmp_path: Path) -> None:
    prof = _write(tmp_path, "p.json", GOOD)
    info = _write(tmp_path, "i.json", '{"Layers": ["conv", "gelu"]}')
    _one_error(lambda p: ingest_trtexec(p, platform="x", layer_info=info), prof, "row 1",
               "different engines")


def test_unreadable_path_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ProfileError) as info:
        read_export_profile(missing)
    assert str(missing) in str(info.value) and "cannot read" in str(info.value)
    with pytest.raises(ProfileError, match="cannot read"):
        read_layer_info(tmp_path)  # a directory


def test_own_fixtures_are_not_in_the_corpus() -> None:
    # guard: the well-formed fixtures next to the corpus really are well-formed
    assert read_export_profile(OWN / "trt8.5_exportProfile_unescaped_quote.json").count == 2460

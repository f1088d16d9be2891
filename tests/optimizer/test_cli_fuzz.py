"""The CLI never shows a traceback for bad input files: junk gives exit 1 and one line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.cli import main

COMMANDS = {
    "check": lambda p: ["check", p],
    "solve": lambda p: ["solve", p, "--time-limit", "5"],
    "ingest": lambda p: ["ingest", p, "--platform", "orin-agx"],
    "simulate": lambda p: ["simulate", p],
    "plot-gantt": lambda p: ["plot", "gantt", p, "-o", str(Path(p).with_suffix(".png"))],
}

junk_bytes = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from([
        b"", b"\x00\x01\x02", b"[", b'[\n  { "count" : 3 }\n', b"{}", b'{"format": 1}',
        b"# model: m\ngroup,gpu_ms\n0,1\n",
        b'{"format": "layerswap.schedule/1", "problem": {}, "schedule": {}}',
        b"group,gpu_ms,dla_ms,gpu_to_dla_ms,dla_to_gpu_ms\n0,-1,,,\n",
    ]),
)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=junk_bytes)
def test_junk_file_is_one_line_error(command, data, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.json"
        path.write_bytes(data)
        code = main(COMMANDS[command](str(path)))
        out, err = capsys.readouterr()
    if code == 0:
        return  # junk that happens to be valid (rare) is fine
    assert code in (1, 3, 4), (code, err)
    if code == 1:
        assert err.startswith("layerswap: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
        assert out == ""


# ---------------------------------------------------------------------- hand-edited schedules
BAD_VALUES: tuple[object, ...] = (None, "x", -1, 10**30, 1e300, [], {}, True, 0.5)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path of a JSON document (strings are leaves)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _mutated(doc: dict, path: tuple, value: object, *, delete: bool) -> dict:
    import copy

    doc = copy.deepcopy(doc)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@pytest.fixture(scope="module")
def saved_schedule(tmp_path_factory) -> dict:
    import json

    folder = tmp_path_factory.mktemp("schedule")
    path = folder / "s.json"
    assert main(["solve", "googlenet_xavier", "alexnet_xavier", "--time-limit", "5",
                 "-o", str(path), "--json"]) == 0
    return json.loads(path.read_text(encoding="utf-8"))


def _assert_clean(code: int, out: str, err: str, path: Path, what: str) -> None:
    assert "Traceback" not in err, what
    assert code in (0, 1, 3), (what, code, err)
    if code == 1:
        assert err.startswith("layerswap: error: ") and err.count("\n") == 1, (what, err)
        assert str(path) in err, (what, err)  # the message names the file
        for leak in ("KeyError(", "TypeError(", "ValueError(", "IndexError"):
            assert leak not in err, (what, err)


def test_every_field_of_a_schedule_file_removed_or_mistyped(saved_schedule, tmp_path,
                                                           capsys):
    """simulate on every single-field corruption of a saved schedule: a clean result or a
    one-line error naming the file, never a traceback or a Python repr."""
    import json

    path = tmp_path / "edited.json"
    for field_path in _paths(saved_schedule):
        if field_path[0] == "result":
            continue  # the stored result summary is informational; simulate recomputes it
        variants = [("removed", None, True)] + [(repr(v), v, False) for v in BAD_VALUES]
        for label, value, delete in variants:
            doc = _mutated(saved_schedule, field_path, value, delete=delete)
            path.write_text(json.dumps(doc), encoding="utf-8")
            what = f"{'/'.join(map(str, field_path))} {label}"
            code = main(["simulate", str(path)])
            out, err = capsys.readouterr()
            _assert_clean(code, out, err, path, what)


@pytest.mark.parametrize("segment_field,value", [
    ("last_group", 12), ("last_group", 99), ("first_group", -1), ("last_group", -3),
    ("device", "DLA7"), ("device", "dla0"), ("first_group", "3"),
])
def test_hand_edited_segment_past_the_table_is_one_line_naming_the_model(
        saved_schedule, tmp_path, capsys, segment_field, value):
    import json

    doc = _mutated(saved_schedule, ("schedule", "segments", 0, -1, segment_field), value,
                   delete=False)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    for argv in (["simulate", str(path)],
                 ["plot", "gantt", str(path), "-o", str(tmp_path / "g.png")]):
        code = main(argv)
        out, err = capsys.readouterr()
        _assert_clean(code, out, err, path, f"{argv[0]} {segment_field}={value!r}")
        if code == 1:
            assert "googlenet" in err, err  # the model by name, not job 0


# ---------------------------------------------------------------------- extreme numbers
def _extreme_table(path: Path, change: str) -> Path:
    """A small valid table (6 groups, bandwidth columns) with one extreme edit, written as
    CSV text (not through `CostTable`, which may refuse to build it)."""
    import csv
    import io

    from profiles.synthetic import synthetic_table

    n = 10_050 if change == "many_groups" else 6
    lines = synthetic_table(min(n, 50), seed=5, model="extreme").to_csv_text().splitlines()
    meta = [ln for ln in lines if ln.startswith("#")]
    rows = list(csv.DictReader([ln for ln in lines if not ln.startswith("#")]))
    if change == "many_groups":  # repeat the 50 groups' timings up to n groups
        last = dict(rows[-1])
        rows = [dict(rows[i % 49], group=str(i)) for i in range(n - 1)]
        rows.append(dict(last, group=str(n - 1)))
    else:
        column, value = change.split("=")
        targets = rows if column == "all_times" else [rows[2]]
        columns = ("gpu_ms", "dla_ms", "gpu_to_dla_ms", "dla_to_gpu_ms") \
            if column == "all_times" else (column,)
        for row in targets:
            for col in columns:
                if row[col] != "":
                    row[col] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text("\n".join(meta) + "\n" + out.getvalue(), encoding="utf-8")
    return path


EXTREMES = ["gpu_ms=1e300", "gpu_ms=1e15", "gpu_ms=1e9", "gpu_ms=1000.0", "dla_ms=1e-12",
            "gpu_to_dla_ms=1e300", "gpu_bw_gbps=1e300", "layers=1000000000000000000000000000",
            "all_times=1e-12", "all_times=1e6", "many_groups"]


@pytest.mark.slow
@pytest.mark.parametrize("change", EXTREMES)
def test_extreme_numbers_in_a_table_never_give_a_traceback(change, tmp_path, capsys):
    """check / solve (every backend) / simulate on a table with an extreme value: a clean
    refusal (one line, exit 1) or a clean result, never a traceback. (Which values are
    refused is the cost table's business; this test only asks for a clean answer.)"""
    path = _extreme_table(tmp_path / "extreme.csv", change)
    other = "googlenet_xavier"
    runs = [["check", str(path)]]
    if change != "many_groups":
        for solver in ("cpsat", "ilp", "sat"):
            out_file = tmp_path / f"{solver}.json"
            runs.append(["solve", str(path), other, "--solver", solver, "--time-limit", "2",
                         "--no-plot", "-o", str(out_file)])
            runs.append(["simulate", str(out_file)])
    for argv in runs:
        if argv[0] == "simulate" and not Path(argv[1]).exists():
            continue  # the solve refused the table or found no schedule
        code = main(argv)
        out, err = capsys.readouterr()
        what = f"{change}: layerswap {' '.join(argv)}"
        assert "Traceback" not in err, what
        assert code in (0, 1, 3, 4), (what, code, err)
        if code == 1:
            assert err.startswith("layerswap: error: ") and err.count("\n") == 1, (what, err)
            assert out == "", what

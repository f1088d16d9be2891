"""Every command and every option of `layerswap`, with extreme and malformed values.

For each command (found by walking the real parser, so a new option is fuzzed the day it
is added) hypothesis picks an option or a positional and a value: paths to folders, files
where folders are expected, read-only places, missing and over-long paths, huge and tiny
numbers, NaN, infinities, negatives, empty strings, separators. The command runs in-process
from a small valid command line; a run that would take long is stopped by a simulated
Ctrl-C after `STOP_AFTER_S` (exit 130, itself a documented outcome). It must end with a
documented exit code (README: 0-6, 130), never a traceback, and a failure must be one
``layerswap: error:`` line (or argparse's usage + one line for exit 2); under --json stdout
holds exactly one JSON object whatever happened.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 130}
STOP_AFTER_S = 2.0
EXAMPLES_PER_COMMAND = int(os.environ.get("LAYERSWAP_FUZZ_EXAMPLES", "5"))  # more: deeper

# a fast, valid command line per command; {name} are files made once per module
BASE: dict[str, list[str]] = {
    "solve": ["solve", "--time-limit", "1", "--no-plot"],
    "simulate": ["simulate", "{schedule}"],
    "compare": ["compare", "--time-limit", "1", "--solvers", "cpsat"],
    "export": ["export", "{schedule}", "--onnx", "r={onnx}", "-o", "exported"],
    "run": ["run", "{manifest}", "--frames", "2", "--threads", "1"],
    "tables": ["tables"],
    "check": ["check", "{table}"],
    "regress": ["regress", "--directory", "{empty_dir}"],
    "ingest": ["ingest", "{profile}", "--platform", "orin-agx"],
    "profile plan": ["profile", "plan", "{onnx}", "-o", "plan"],
    "profile ingest-sweep": ["profile", "ingest-sweep", "{sweep}", "--platform", "orin-agx"],
    "estimate": ["estimate", "{onnx}", "--groups", "4"],
    "calibrate": ["calibrate", "{corun}"],
    "plot gantt": ["plot", "gantt", "{schedule}", "-o", "g.png"],
    "plot pareto": ["plot", "pareto", "--max-transitions", "0", "--time-limit", "1",
                    "-o", "p.png"],
    "plot solve-times": ["plot", "solve-times", "{records}", "-o", "t.png"],
    "dla": ["dla", "{onnx}", "--platform", "orin-agx", "--trt-version", "10.3"],
    "rewrite": ["rewrite", "{onnx}", "-o", "rw.onnx"],
    "example medical": ["example", "medical", "-o", "med", "--ngf", "8", "--yolo-size",
                        "320", "--groups", "8", "--time-limit", "1"],
    "platforms": ["platforms"],
    "sweep": ["sweep", "{sweep_spec}", "-o", "sweep.db", "--workers", "1"],
    "results": ["results", "{sweep_db}"],
}
SKIPPED_OPTIONS = {
    ("regress", "--update"),   # rewrites the repository's expected results
    # a Ray cluster per example (15 s to start): the Ray executor and its bad addresses are
    # tested in tests/optimizer/test_sweep_run.py
    ("sweep", "--executor"), ("sweep", "--address"),
}

# values for an option or a positional ({name}: a path made per example, see `places`)
VALUES = st.sampled_from([
    "", " ", "-", "--", "nan", "NaN", "inf", "-inf", "-1", "0", "1", "3.5", "-0.0",
    "1e308", "1e-320", "99999999999999999999", "-99999999999999999999", "0x10", "1,2,,",
    "a=b", "=", ":", "a:0-1:GPU", "x:9-1:DLA7", "GPU", "ort", "é∂√", "x" * 300,
    "{dir}", "{file}", "{file}/sub/out.x", "{ro}/sub/out.x", "{missing}", "{dir}/new.json",
])


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
              ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(prefix), parser
        return
    for name, sub in subs[0].choices.items():
        yield from _commands(sub, (*prefix, name))


PARSERS = dict(_commands(build_parser()))


def test_every_command_is_fuzzed():
    assert sorted(PARSERS) == sorted(BASE)


def _targets(command: str) -> list[argparse.Action]:
    return [a for a in PARSERS[command]._actions
            if not isinstance(a, argparse._HelpAction)
            and (command, (a.option_strings or [""])[-1]) not in SKIPPED_OPTIONS]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, str]:
    """Valid inputs: a small ONNX model, its table, a schedule, its export. Every module
    of ours (and so every library they use) is imported first: a simulated Ctrl-C inside a
    first import would leave a half-imported library for the next example, which a real
    Ctrl-C, ending the process, never does."""
    import importlib
    import pkgutil

    for package in ("profiles", "solvers", "export", "runtime", "optimizer"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    import matplotlib.pyplot  # noqa: F401  (imported lazily by the plots)

    from export import zoo

    d = tmp_path_factory.mktemp("fuzz_inputs")
    onnx = zoo.save("resnet50", d / "r.onnx", size=64, num_classes=10)
    table, schedule, export = d / "r.csv", d / "s.json", d / "exp"
    assert main(["estimate", str(onnx), "--groups", "4", "--name", "r", "-o", str(table)]) == 0
    assert main(["solve", str(table), "-o", str(schedule), "--time-limit", "5",
                 "--json"]) == 0
    assert main(["export", str(schedule), "--onnx", f"r={onnx}", "-o", str(export),
                 "--json"]) == 0
    (d / "empty").mkdir()
    spec = d / "sweep.toml"
    spec.write_text(f'name = "fuzz"\n[models]\nr = "{table}"\nq = "{table}"\n'
                    '[groups]\nsets = [["r", "q"]]\n[axes]\nplatforms = ["orin-agx"]\n'
                    'objectives = ["latency"]\ntime_limits = [1]\n')
    sweep_db = d / "sweep.db"
    assert main(["sweep", str(spec), "-o", str(sweep_db), "--workers", "1", "--json"]) == 0
    return {"sweep_spec": str(spec), "sweep_db": str(sweep_db), "onnx": str(onnx),
            "table": str(table), "schedule": str(schedule),
            "manifest": str(export / "manifest.json"), "empty_dir": str(d / "empty"),
            "profile": str(ROOT / "tests/fixtures/trtexec/trt8.5.2_orin_dumpProfile_summary.log"),
            "sweep": str(ROOT / "tests/fixtures/sweep_chain/sweep"),
            "corun": str(ROOT / "examples/corun.csv"),
            "records": str(ROOT / "benchmarks/results/solvers.json")}


def _read_only_place(here: Path) -> str:
    if os.geteuid() != 0:
        ro = here / "ro"
        ro.mkdir(exist_ok=True)
        ro.chmod(0o555)
        return str(ro)
    return "/sys"  # root ignores permissions; /sys takes no new files


def places(here: Path) -> dict[str, str]:
    (here / "a_dir").mkdir(exist_ok=True)
    (here / "a_file").write_bytes(b"\x00junk, not what any command reads\n")
    return {"dir": str(here / "a_dir"), "file": str(here / "a_file"),
            "ro": _read_only_place(here), "missing": str(here / "no" / "such" / "thing")}


@contextmanager
def ctrl_c_after(seconds: float) -> Iterator[None]:
    """A simulated Ctrl-C (SIGALRM -> KeyboardInterrupt) if the block runs too long."""
    armed = [True]

    def fire(_signum, _frame):
        if armed[0]:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check(argv: list[str], code: int, out: str, err: str) -> None:
    what = f"layerswap {' '.join(argv)!r}"
    assert code in DOCUMENTED_EXIT_CODES, (what, code, err)
    assert "Traceback" not in err, (what, err)
    lines = err.strip().splitlines()
    if code == 1:
        errors = [x for x in lines if x.startswith("layerswap: error: ")]
        assert len(errors) == 1, (what, err)
        assert all(x.startswith("layerswap: ") for x in lines), (what, err)
    if code == 2:
        assert any(": error: " in x for x in lines), (what, err)
    if code == 130:
        assert "layerswap: interrupted" in lines, (what, err)
    flags = argv[:argv.index("--")] if "--" in argv else argv  # after --: positionals
    if "--json" in flags:
        doc = json.loads(out)  # exactly one object, whatever happened
        assert isinstance(doc, dict), (what, out)
        if code != 0 and "error" in doc:
            assert doc["exit_code"] == code, (what, doc)


def _with(command: str, argv: list[str], action: argparse.Action, value: str) -> list[str]:
    """``argv`` with ``action`` set to ``value`` (a flag added, an option's value or a
    positional replaced)."""
    argv = list(argv)
    if action.option_strings:
        flag = action.option_strings[-1]
        if action.nargs == 0:
            return [*argv, flag]
        if flag in argv:  # replace the base value
            i = argv.index(flag)
            del argv[i:i + 2]
        return [*argv, flag, value]
    positionals = [a for a in PARSERS[command]._actions
                   if not a.option_strings and not isinstance(a, argparse._HelpAction)]
    takes_value = {f for a in PARSERS[command]._actions if a.nargs != 0
                   for f in a.option_strings}
    skip = len(command.split())
    slots = [i for i in range(skip, len(argv))
             if not argv[i].startswith("-") and argv[i - 1] not in takes_value]
    index = positionals.index(action)
    if index < len(slots):
        argv[slots[index]] = value
    else:
        argv.insert(skip, value)
    return argv


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(BASE))
@settings(max_examples=EXAMPLES_PER_COMMAND, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_option_with_any_value_ends_cleanly(command, data, made, tmp_path, capsys):
    paths = {**made, **places(tmp_path)}
    argv = [a.format(**paths) for a in BASE[command]]
    for _ in range(data.draw(st.integers(1, 2), label="options")):
        action = data.draw(st.sampled_from(_targets(command)), label="option")
        value = data.draw(VALUES, label="value").format(**paths)
        argv = _with(command, argv, action, value)
    if "--json" not in argv and data.draw(st.booleans(), label="--json"):
        argv.append("--json")
    with ctrl_c_after(STOP_AFTER_S):
        code = main(argv)
    out, err = capsys.readouterr()
    _check(argv, code, out, err)

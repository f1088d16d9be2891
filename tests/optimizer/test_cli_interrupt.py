"""Ctrl-C (SIGINT) during or after a CP-SAT solve ends `layerswap` with one line and exit 130.

OR-Tools CP-SAT, left to its defaults, installs its own C-level SIGINT handler for a solve
(Ctrl-C then only stops the search: the command carried on and exited 0) and resets SIGINT
to the C default on return (a later Ctrl-C killed the process outright). These tests send a
real SIGINT to a real `layerswap` process; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXIT_INTERRUPTED = 130
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# four models, throughput, three frames per round, no contention: CP-SAT alone, and it does
# not prove optimality within seconds (the Ctrl-C lands inside the native solve)
LONG_COMPARE = ["compare", "a=examples/detector.csv", "b=examples/segmenter.csv",
                "c=examples/detector.csv", "d=examples/segmenter.csv", "--platform", "orin-agx",
                "--objective", "throughput", "--frames-per-round", "3", "--contention", "none",
                "--solvers", "cpsat", "--workers", "1", "--time-limit", "120"]


def _start(argv: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_line(proc: subprocess.Popen[str], marker: str, timeout_s: float) -> list[str]:
    """stderr lines up to and including the first containing ``marker``; a watchdog kills
    the child after ``timeout_s`` (its stderr then ends), so the wait is bounded."""
    assert proc.stderr is not None
    lines: list[str] = []
    watchdog = threading.Timer(timeout_s, proc.kill)
    watchdog.start()
    try:
        for line in proc.stderr:
            lines.append(line)
            if marker in line:
                return lines
    finally:
        watchdog.cancel()
    proc.kill()
    pytest.fail(f"{marker!r} never appeared on stderr within {timeout_s} s; "
                f"got {''.join(lines)!r}")


def _interrupt(proc: subprocess.Popen[str], seen: list[str]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"no exit within 60 s of SIGINT; stderr {(''.join(seen) + err)!r}")
    return proc.returncode, out, "".join(seen) + err


def test_ctrl_c_during_a_cpsat_solve_exits_130_with_one_line():
    proc = _start(["-m", "optimizer.cli", *LONG_COMPARE])
    try:
        seen = _wait_for_line(proc, "solving with cpsat", timeout_s=120)
        time.sleep(2.0)  # past the model build: inside the native CP-SAT search
        code, out, err = _interrupt(proc, seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == EXIT_INTERRUPTED, (code, err)
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "layerswap: interrupted"
    assert err.count("layerswap: interrupted") == 1
    assert out == ""  # no table of a search cut short, as if it had finished


DRIVER = """
import sys, time
from optimizer.cli import main
code = main(["solve", "--solver", "cpsat", "--no-plot", "--json"])  # the default pair
try:  # entered before the marker: the signal may come as soon as the marker is out
    print(f"solved: exit {code}", file=sys.stderr, flush=True)
    time.sleep(60)
except KeyboardInterrupt:
    print("KeyboardInterrupt after the solve", file=sys.stderr, flush=True)
    sys.exit(130)
print("no interrupt", file=sys.stderr, flush=True)
"""


def test_ctrl_c_after_a_cpsat_solve_is_still_a_keyboard_interrupt():
    """The process's SIGINT handler survives a solve (what `run_command` relies on to print
    `layerswap: interrupted`): before the fix the same signal killed the process (-2)."""
    proc = _start(["-c", DRIVER])
    try:
        seen = _wait_for_line(proc, "solved: exit 0", timeout_s=120)
        code, _, err = _interrupt(proc, seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == EXIT_INTERRUPTED, (code, err)
    assert "KeyboardInterrupt after the solve" in err
    assert "Traceback" not in err


def _stopped(proc: subprocess.Popen[str], seen: list[str], within_s: float
             ) -> tuple[int, str, str]:
    """SIGINT, then the exit code, stdout and stderr; fails unless the process ends within
    ``within_s`` (far below the command's own time limit: it stopped, it did not finish)."""
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=within_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running {within_s} s after SIGINT; stderr {(''.join(seen) + err)!r}")
    return proc.returncode, out, "".join(seen) + err


def _assert_interrupted(code: int, out: str, err: str, *, json_flag: bool) -> None:
    assert code == EXIT_INTERRUPTED, (code, err)
    assert "Traceback" not in err
    assert err.count("layerswap: interrupted") == 1
    if json_flag:
        assert json.loads(out) == {"error": "interrupted", "exit_code": EXIT_INTERRUPTED}
    else:
        assert out == ""


# the default pair for throughput, two frames per round: HiGHS does not prove it optimal
# within two minutes (30 s: feasible, at the limit)
LONG_ILP = ["--objective", "throughput", "--frames-per-round", "2", "--time-limit", "120"]


def test_ctrl_c_inside_highs_stops_compare_at_once():
    """HiGHS through MathOpt ignores interrupters and held Ctrl-C until its time limit (exit
    0 after 46.7 s): it now runs in a child process that Ctrl-C kills."""
    proc = _start(["-m", "optimizer.cli", "compare", *LONG_ILP, "--solvers", "ilp"])
    try:
        seen = _wait_for_line(proc, "solving with ilp", timeout_s=120)
        time.sleep(8.0)  # past the greedy start and the model build: inside HiGHS
        code, out, err = _stopped(proc, seen, within_s=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _assert_interrupted(code, out, err, json_flag=False)
    assert err.strip().splitlines()[-1] == "layerswap: interrupted"


# problems neither backend finishes within two minutes
LONG_SOLVES = {"ilp": [*LONG_ILP, "--no-plot"],
               "cpsat": [*LONG_COMPARE[1:13], "--time-limit", "120"]}


@pytest.mark.parametrize("solver", sorted(LONG_SOLVES))
def test_ctrl_c_during_solve_json_prints_the_one_error_object(solver):
    proc = _start(["-m", "optimizer.cli", "solve", *LONG_SOLVES[solver], "--solver", solver,
                   "--json", "-o", "never.json"])
    try:
        time.sleep(10.0)  # the solve is under way (ilp: inside HiGHS)
        assert proc.poll() is None, proc.communicate()
        code, out, err = _stopped(proc, [], within_s=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _assert_interrupted(code, out, err, json_flag=True)
    assert not (ROOT / "never.json").exists()  # no schedule of a search cut short


def test_ctrl_c_during_example_medical_leaves_nothing_and_says_so(tmp_path):
    target = tmp_path / "med"
    proc = _start(["-m", "optimizer.cli", "example", "medical", "-o", str(target), "--ngf",
                   "8", "--yolo-size", "320", "--groups", "12", "--progress", "--json"])
    try:
        seen = _wait_for_line(proc, "[3/8]", timeout_s=120)   # models written, rewriting
        code, out, err = _stopped(proc, seen, within_s=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _assert_interrupted(code, out, err, json_flag=True)
    assert err.strip().splitlines()[-1] == (f"layerswap: nothing written to {target} (the "
                                            "unfinished files of the medical example were "
                                            "removed)")
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_a_library_turned_into_its_own_error_is_still_an_interrupt(capsys):
    """Ctrl-C while an extension module initialises surfaces as "ImportError:
    initialization failed" (seen during `compare`); it is an interrupt, not a bug."""
    import argparse

    from optimizer.cli.common import run_command

    def command(_args: argparse.Namespace) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ImportError("initialization failed") from None

    def bug(_args: argparse.Namespace) -> int:
        raise ImportError("initialization failed")

    code = run_command(argparse.Namespace(func=command, json=True))
    out, err = capsys.readouterr()
    assert code == EXIT_INTERRUPTED and err == "layerswap: interrupted\n"
    assert json.loads(out) == {"error": "interrupted", "exit_code": EXIT_INTERRUPTED}
    with pytest.raises(ImportError):  # without a Ctrl-C behind it, a bug keeps its traceback
        run_command(argparse.Namespace(func=bug, json=True))

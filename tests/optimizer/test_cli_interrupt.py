"""Ctrl-C (SIGINT) during or after a CP-SAT solve ends `layerswap` with one line and exit 130.

OR-Tools CP-SAT, left to its defaults, installs its own C-level SIGINT handler for a solve
(Ctrl-C then only stops the search: the command carried on and exited 0) and resets SIGINT
to the C default on return (a later Ctrl-C killed the process outright). These tests send a
real SIGINT to a real `layerswap` process; every wait is bounded.
"""

from __future__ import annotations

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

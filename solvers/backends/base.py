"""What every solver backend receives and returns, plus the integer view of a problem.

A backend is a function ``(problem, options) -> BackendAnswer``. `solvers.solve.solve`
dispatches to it, then re-judges the answer with the simulator: the backend's own
objective is kept only for consistency checks (``stats``), never reported as the result.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from solvers.errors import UnsupportedFeatureError
from solvers.model.problem import Device, Objective, Problem
from solvers.model.schedule import Schedule, SolveStatus

MAX_WORKERS = 64
"""Most search workers (CP-SAT threads) `solvers.solve.solve` and the CLI accept: each holds
its own copy of the model, and past the machine's cores they only share them."""
NS_PER_MS = 1_000_000
"""Integer backends count time in nanoseconds (docs/model.md section 6)..."""
FINE_UNITS_PER_MS = 10_000_000
"""... or in 100 ps units where rounding accumulates (CP-SAT with contention)."""


T = TypeVar("T")


def run_interruptibly(work: Callable[[], T], stop: Callable[[], None], name: str) -> T:
    """``work()`` (a native solve) such that Ctrl-C stops it within a fraction of a second.

    Python delivers signals to the main thread, and only between bytecodes: a solve in C++
    on the main thread holds Ctrl-C until it ends (HiGHS ran on 50 s after a SIGINT). Here,
    on the main thread, ``work`` runs in a helper thread named ``name`` while the main thread
    waits in short slices; on KeyboardInterrupt ``stop()`` asks the solver to end (CP-SAT's
    ``stop_search``, MathOpt's ``SolveInterrupter.interrupt``), the helper is awaited, and
    the KeyboardInterrupt re-raised (the CLI prints one line and exits 130). Off the main
    thread ``work`` simply runs (no signal can arrive there)."""
    if threading.current_thread() is not threading.main_thread():
        return work()
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name=name, daemon=True).start()
    try:
        while not done.wait(0.25):
            pass
    except KeyboardInterrupt:
        stop()
        done.wait()  # returns promptly after stop(); a second Ctrl-C still interrupts
        raise
    if failure:
        raise failure[0]
    return outcome[0]


class SolverTimeout(Exception):
    """A solver process killed at its deadline (`run_killably`): no answer, only the time."""


def run_killably(work: Callable[[], bytes], name: str, *,
                 deadline: float | None = None) -> bytes:
    """``work()`` in a forked child process, its bytes returned through a pipe, so that
    Ctrl-C ends it at once (the child is killed) even when the native solver offers no way to
    stop it: HiGHS through OR-Tools MathOpt ignores MathOpt's ``SolveInterrupter`` (it ran on
    50 s after a SIGINT). An exception in ``work`` is raised here. Without ``os.fork``, or
    off the main thread (where no Ctrl-C arrives), ``work`` runs in this process. Past
    ``deadline`` (a `time.perf_counter()` value) the child is killed and `SolverTimeout`
    raised: a native solver that overruns its own time limit cannot overrun the caller's."""
    if not hasattr(os, "fork") or threading.current_thread() is not threading.main_thread():
        return work()
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into the caller
        status = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides
            os.close(read_fd)
            try:
                payload = b"\x00" + work()
            except BaseException as exc:
                payload = b"\x01" + _pickled(exc)
            with os.fdopen(write_fd, "wb") as sink:
                sink.write(payload)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    chunks: list[bytes] = []
    try:
        os.close(write_fd)
        with os.fdopen(read_fd, "rb", buffering=0) as source:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
                if not select.select([source], [], [], wait)[0]:
                    raise SolverTimeout(f"{name} outran its time limit and was stopped")
                chunk = source.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
    except BaseException:  # Ctrl-C, the deadline: the child's work is not wanted
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if not data:
        raise RuntimeError(f"{name}: the solver process ended without an answer (wait status "
                           f"{status})")
    if data[:1] == b"\x01":
        raise pickle.loads(data[1:])
    return data[1:]


def _pickled(exc: BaseException) -> bytes:
    try:
        return pickle.dumps(exc)
    except Exception:  # an exception type that does not pickle: keep its words
        return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))


def to_ns(ms: float) -> int:
    return round(ms * NS_PER_MS)


def to_ms(ns: float) -> float:
    return ns / NS_PER_MS


@dataclass(frozen=True)
class SolveOptions:
    time_limit: float | None = 10.0   # seconds; None = no limit
    workers: int = 2
    seed: int = 0
    hint: Schedule | None = None      # a starting schedule (e.g. the greedy baseline)
    log: bool = False                 # let the backend print its own search log
    progress: Callable[[str], None] | None = None  # one-line progress messages


@dataclass(frozen=True)
class BackendAnswer:
    status: SolveStatus
    schedule: Schedule | None
    objective_ms: float | None = None   # the backend's own objective value
    bound_ms: float | None = None       # a proven lower bound (ms), if any
    stats: dict[str, Any] = field(default_factory=dict)
    message: str = ""


Backend = Callable[[Problem, SolveOptions], BackendAnswer]


def contention_ignored(problem: Problem) -> bool:
    """Throughput with contention: every backend solves it contention-free (model.md
    section 4 allows it); see `contention_free`."""
    return problem.contention.enabled and problem.objective is Objective.THROUGHPUT


def contention_free(answer: BackendAnswer) -> BackendAnswer:
    """The answer of a contention-free solve of a `contention_ignored` problem: only
    `feasible`, no backend objective (the simulator's period is the answer; the backend's
    stays in ``stats["contention_free_period_ms"]``), and the contention-free bound, which
    holds with contention too."""
    stats = {**answer.stats, "contention_free_period_ms": answer.objective_ms}
    return replace(answer, status=SolveStatus.FEASIBLE, objective_ms=None, stats=stats,
                   message="throughput with contention: placement optimised contention-free "
                           "(its lower bound holds with contention too)")


@dataclass(frozen=True)
class IntegerJob:
    """Prefix sums (ns) of one job: ``prefix[kind][g]`` = cost of groups ``0..g-1``."""

    n_groups: int
    prefix: dict[str, tuple[int, ...]]           # 'gpu' / 'dla' -> G+1 prefix sums
    transition: dict[tuple[str, str], tuple[int | None, ...]]  # (src kind, dst kind) -> per g
    allowed: tuple[frozenset[Device], ...]


def integer_view(problem: Problem, units_per_ms: int = NS_PER_MS) -> tuple[IntegerJob, ...]:
    """Integer costs of every job (ns by default; ``units_per_ms`` sets the unit).
    Ineligible DLA groups get prefix entries computed with 0 cost; use ``allowed`` to
    forbid them, never the prefix values."""

    def units(ms: float) -> int:
        return round(ms * units_per_ms)

    out = []
    for job in problem.jobs:
        table = problem.table(job.index)
        prefix: dict[str, tuple[int, ...]] = {}
        for kind in ("gpu", "dla"):
            acc, sums = 0, [0]
            for row in table.rows:
                cost = row.gpu_ms if kind == "gpu" else row.dla_ms
                acc += units(cost) if cost is not None else 0
                sums.append(acc)
            prefix[kind] = tuple(sums)
        trans: dict[tuple[str, str], tuple[int | None, ...]] = {}
        for pair in (("gpu", "dla"), ("dla", "gpu"), ("dla", "dla")):
            values: list[int | None] = []
            for g, row in enumerate(table.rows):
                if g == table.n_groups - 1:
                    values.append(None)
                    continue
                a = row.gpu_to_dla_ms if pair == ("gpu", "dla") else row.dla_to_gpu_ms
                if pair == ("dla", "dla"):
                    a = None if row.dla_to_gpu_ms is None or row.gpu_to_dla_ms is None \
                        else row.dla_to_gpu_ms + row.gpu_to_dla_ms
                values.append(None if a is None else units(a))
            trans[pair] = tuple(values)
        out.append(IntegerJob(table.n_groups, prefix, trans,
                              tuple(problem.allowed(job.index, g)
                                    for g in range(table.n_groups))))
    return tuple(out)


def refuse_gpu_fallback(problem: Problem, backend: str) -> None:
    """Raise `UnsupportedFeatureError` when ``problem`` asks GPU fallback (docs/model.md
    2.1) of a backend that does not model it."""
    if problem.any_fallback:
        names = ", ".join(m.name for m in problem.models if m.gpu_fallback)
        raise UnsupportedFeatureError(
            f"the {backend} backend does not model GPU fallback (asked for {names}); use "
            "solver='cpsat' (or 'exhaustive' on small problems)")

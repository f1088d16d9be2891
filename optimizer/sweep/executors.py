"""Where the points run: a local process pool (default) or a Ray cluster.

Both hand each finished row to ``on_row`` in the calling thread as soon as it comes back
(the caller writes it to the database at once), keep only a bounded window of tasks in
flight, and on Ctrl-C (KeyboardInterrupt) stop the work still running and re-raise: what
was handed to ``on_row`` before is kept.

- ``local``: `concurrent.futures.ProcessPoolExecutor` with ``spawn`` workers (a fresh
  interpreter: no OR-Tools threads inherited through ``fork``) that ignore SIGINT, so a
  Ctrl-C reaches only the parent, which then terminates them.
- ``ray``: one remote task per point (``num_cpus`` = the task's solver threads), results
  taken with ``ray.wait`` as they finish. Ray is an optional extra, imported here only.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from optimizer.sweep.points import Point
from optimizer.sweep.task import error_row, run_point
from profiles.errors import LayerswapError

OnRow = Callable[[dict[str, Any]], None]
Task = Callable[[Point], dict[str, Any]]
OnTick = Callable[[], None] | None
TICK_S = 2.0
"""How often the wait loops call ``on_tick`` while no task finishes (progress lines)."""
EXECUTORS = ("local", "ray")
WINDOW_PER_WORKER = 4
"""Tasks in flight per worker: enough to keep every core busy, few enough that Ctrl-C
has little to cancel and memory stays flat over thousands of points."""


class ExecutorError(LayerswapError):
    """The executor cannot run (Ray missing, a worker died, the cluster is unreachable)."""


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_points(points: Sequence[Point], on_row: OnRow, *, executor: str = "local",
               workers: int | None = None, address: str | None = None,
               on_tick: OnTick = None) -> None:
    """Run every point, handing each row to ``on_row`` as it finishes (and calling
    ``on_tick`` every `TICK_S` seconds while none does)."""
    if executor == "local":
        run_local(points, on_row, workers or default_workers(), on_tick)
    elif executor == "ray":
        run_ray(points, on_row, workers=workers, address=address, on_tick=on_tick)
    else:
        raise ExecutorError(f"unknown executor {executor!r}; choose {', '.join(EXECUTORS)}")


def _start_worker() -> None:
    """Pool worker start: leave Ctrl-C to the parent, and import the solving stack now so
    that the first task's ``task_seconds`` measures the task, not the imports."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import optimizer.api  # noqa: F401


def run_local(points: Sequence[Point], on_row: OnRow, workers: int,
              on_tick: OnTick = None, task: Task = run_point) -> None:
    """A pool of ``workers`` processes over the points (``task``: what each point runs,
    `run_point`; benchmarks pass a no-op to time the pool itself)."""
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    if not points:
        return
    workers = max(1, min(workers, len(points)))
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                  initializer=_start_worker)
    todo: Iterator[Point] = iter(points)
    running: dict[cf.Future[dict[str, Any]], Point] = {}

    def fill() -> None:
        while len(running) < workers * WINDOW_PER_WORKER:
            point = next(todo, None)
            if point is None:
                return
            running[pool.submit(task, point)] = point

    try:
        fill()
        while running:
            done, _ = cf.wait(running, timeout=TICK_S, return_when=cf.FIRST_COMPLETED)
            if not done and on_tick:
                on_tick()
            for future in done:
                point = running.pop(future)
                try:
                    row = future.result()
                except BrokenProcessPool:
                    raise ExecutorError(
                        "a worker process died (killed, out of memory, or started from a "
                        "script without an `if __name__ == \"__main__\":` guard) while "
                        "solving; the finished points are saved: rerun with --resume, "
                        "perhaps with fewer --workers") from None
                except Exception as exc:  # e.g. a row that cannot be pickled back
                    row = error_row(point, exc)
                on_row(row)
            fill()
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)


def _terminate(pool: Any) -> None:
    """Stop a process pool now: its running tasks are abandoned (Ctrl-C, or an error)."""
    stop = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if stop is not None:
        stop()
        return
    # before 3.14 the pool has no public way to stop running tasks: terminate its own
    # worker processes (its private ``_processes`` map: pid -> Process), then shut it down
    procs = list(getattr(pool, "_processes", {}).values())
    for proc in procs:
        proc.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=5)


def run_ray(points: Sequence[Point], on_row: OnRow, *, workers: int | None = None,
            address: str | None = None, on_tick: OnTick = None,
            task: Task = run_point) -> None:
    """One Ray task per point on the cluster at ``address`` (``auto``, ``HOST:PORT``), or
    on a local Ray instance of ``workers`` CPUs (default: every core) when it is None."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(ray, workers, address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        threads = points[0].threads if points else 1
        remote = ray.remote(num_cpus=threads, max_retries=0)(task)
        todo: Iterator[Point] = iter(points)
        running: dict[Any, Point] = {}

        def fill() -> None:
            while len(running) < max(1, cpus // threads) * WINDOW_PER_WORKER:
                point = next(todo, None)
                if point is None:
                    return
                running[remote.remote(point)] = point

        try:
            fill()
            while running:
                ready, _ = ray.wait(list(running), num_returns=1, timeout=TICK_S)
                if not ready and on_tick:
                    on_tick()
                for ref in ready:
                    point = running.pop(ref)
                    try:
                        row = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the task or its worker died
                        row = error_row(point, exc)
                    on_row(row)
                fill()
        except BaseException:
            for ref in running:
                ray.cancel(ref, force=True)
            raise
    finally:
        if started_here:
            ray.shutdown()


def import_ray() -> Any:
    """The ``ray`` module, or `ExecutorError` naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray: pip install -e \".[ray]\" (or pip "
                            "install \"ray>=2.9\")") from None
    return ray


def _init_ray(ray: Any, workers: int | None, address: str | None) -> None:
    import logging

    # local workers import this package as the driver does (an uninstalled checkout too);
    # on a cluster, every node needs layerswap installed (README: Sweeps on a Ray cluster)
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"),) if p)
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                               "logging_level": logging.ERROR}
    if address is None:
        options["num_cpus"] = workers or default_workers()
        if path:
            options["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ExecutorError(f"cannot start or reach Ray at {address or 'a local instance'}: "
                            f"{' '.join(str(exc).split())}") from None


__all__ = ["EXECUTORS", "ExecutorError", "default_workers", "import_ray", "run_local",
           "run_points", "run_ray"]

"""Speed of the throughput simulator in the loops that call it most (issue 23 item 0).

Three workloads; the first two timed with `solvers.judges.simulator.throughput_objective`
(the oracle's and the local search's fast path):

- ``oracle``: every complete schedule (segments, devices, orders) of small random
  throughput problems with contention (2-3 models of 2-3 groups, Xavier AGX and Orin AGX
  presets, contention strength 0.5 and 1.5): what the exhaustive oracle simulates;
- ``2x30``: random schedules of two 30-group synthetic models on Xavier AGX, what one step
  of the local search simulates;
- ``exhaustive``: the oracle itself (`solvers.judges.oracle.exhaustive`) on the problems of
  the first workload.

Run it on two checkouts (``PYTHONPATH=<checkout> python -P benchmarks/simulator_speed.py``;
``-P``: benchmarks/solvers.py would shadow the package)
to compare them; results in benchmarks/results/simulator_speed.md.
"""

from __future__ import annotations

import argparse
import random
import time

from profiles.synthetic import synthetic_table
from solvers.judges import simulator
from solvers.judges.oracle import (
    _combos,
    _Loss,
    _orders,
    _prepare_combo,
    count_space,
    exhaustive,
    job_options,
)
from solvers.model.problem import Problem


def small_problems(seeds: range) -> list[Problem]:
    out = []
    for seed in seeds:
        rng = random.Random(seed)
        tables = [synthetic_table(rng.randint(2, 3), rng.randint(0, 10_000), model=f"m{j}")
                  for j in range(rng.choice([2, 2, 3]))]
        platform = rng.choice(["xavier-agx", "orin-agx"])
        max_tr = rng.randint(0, 1)
        base = Problem.create(tables, platform, objective="throughput", max_transitions=max_tr)
        problem = Problem.create(tables, platform, objective="throughput",
                                 max_transitions=max_tr,
                                 contention=base.contention.scaled(rng.choice([0.5, 1.5])))
        if count_space(problem) <= 300:
            out.append(problem)
    return out


def time_oracle(problems: list[Problem]) -> tuple[int, float]:
    count, seconds = 0, 0.0
    for problem in problems:
        loss = _Loss(problem)
        options = [job_options(problem, j.index) for j in problem.jobs]
        for combo in _combos(problem, options, True):
            prep = _prepare_combo(problem, combo, loss)
            for order in _orders(prep):
                t0 = time.perf_counter()
                value = simulator.throughput_objective(problem, prep, order)
                seconds += time.perf_counter() - t0
                count += value is not None
    return count, seconds


def time_2x30(n: int) -> tuple[int, float]:
    tables = [synthetic_table(30, seed, model=f"m{seed}") for seed in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", objective="throughput", max_transitions=2)
    rng = random.Random(0)
    options = [job_options(problem, j.index) for j in problem.jobs]
    loss = _Loss(problem)
    count, seconds = 0, 0.0
    while count < n:
        combo = tuple(rng.choice(o) for o in options)
        prep = _prepare_combo(problem, combo, loss)
        order = [list(segs) for segs in prep.on_device]
        for segs in order:
            rng.shuffle(segs)
        t0 = time.perf_counter()
        value = simulator.throughput_objective(problem, prep, order)
        if value is not None:
            seconds += time.perf_counter() - t0
            count += 1
    return count, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--schedules-2x30", type=int, default=200)
    args = parser.parse_args()
    problems = small_problems(range(args.seeds))
    count, seconds = time_oracle(problems)
    print(f"oracle: {len(problems)} problems, {count} schedules, {seconds:.2f} s "
          f"({1000 * seconds / max(1, count):.2f} ms per schedule)")
    count, seconds = time_2x30(args.schedules_2x30)
    print(f"2x30: {count} schedules, {seconds:.2f} s "
          f"({1000 * seconds / max(1, count):.2f} ms per schedule)")
    t0 = time.perf_counter()
    for problem in problems:
        exhaustive(problem)
    print(f"exhaustive: {len(problems)} problems, {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()

"""Benchmark: how long `export.zoo.build` takes per model, and what it builds.

Run: ``python benchmarks/zoo_build.py [--repeat 3]``. For every zoo model at its default
options (plus the small test configurations), times ``build`` (best of N: seeded weights,
shape inference on the light probe, checker) and ``serialize``, and reports node count,
parameter count (initializer elements) and serialized size.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from export import zoo
from export.zoo._builder import serialize

CASES: tuple[tuple[str, dict[str, object]], ...] = (
    ("pix2pix", {}),
    ("pix2pix", {"ngf": 8}),
    ("yolov8n", {}),
    ("yolov8n", {"size": 320}),
    ("googlenet", {}),
    ("resnet50", {}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print(f"{'model':<10} {'options':<12} {'nodes':>5} {'params':>12} {'MB':>8} "
          f"{'build s':>8} {'serialize s':>11}  (best of {args.repeat})")
    for name, opts in CASES:
        best_build = best_ser = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            model = zoo.build(name, **opts)
            t1 = time.perf_counter()
            data = serialize(model)
            t2 = time.perf_counter()
            best_build, best_ser = min(best_build, t1 - t0), min(best_ser, t2 - t1)
        params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
        label = ",".join(f"{k}={v}" for k, v in opts.items()) or "defaults"
        print(f"{name:<10} {label:<12} {len(model.graph.node):>5} {params:>12,} "
              f"{len(data) / 1e6:>8.1f} {best_build:>8.2f} {best_ser:>11.2f}")


if __name__ == "__main__":
    main()

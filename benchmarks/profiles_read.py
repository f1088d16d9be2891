"""Benchmark: read a 10,000-row ``--exportProfile`` file and build its cost table.

Run: ``python benchmarks/profiles_read.py [--rows 10000] [--repeat 5]``. Generates a
deterministic TRT 8.4+-style profile (compute rows with input reformatters, zero-time
NoOp rows, concat copies) in a temp folder, then times (best of N) reading it
(`read_export_profile`) and ingesting it into a `CostTable` (`ingest_trtexec`).
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from pathlib import Path

from profiles.ingest import ingest_trtexec
from profiles.trtexec import ProfileRow, RowKind, format_export_profile, read_export_profile
from profiles.trtexec.names import _parse_cached


def make_rows(n: int, seed: int = 0) -> list[ProfileRow]:
    rng = random.Random(seed)
    rows: list[ProfileRow] = []
    count = 1000
    i = 0
    while len(rows) < n:
        layer = f"/model.{i}/conv/Conv + PWN(PWN(/model.{i}/act/Sigmoid), /model.{i}/act/Mul)"
        r = rng.random()
        if r < 0.3:
            name = f"Reformatting CopyNode for Input Tensor 0 to {layer}"
            avg = 0.0 if rng.random() < 0.5 else rng.uniform(0.005, 0.05)
            rows.append(ProfileRow(name, avg * count, avg, avg, 0.0, RowKind.REFORMAT))
        elif r < 0.35:
            rows.append(ProfileRow(f"/model.{i}/Concat_output_0 copy", 0.01 * count, 0.01, 0.01,
                                   0.0, RowKind.COPY))
        avg = rng.uniform(0.01, 0.5) if rng.random() > 0.05 else 0.0
        rows.append(ProfileRow(layer, avg * count, avg, avg * 0.98, 0.0, RowKind.COMPUTE))
        i += 1
    return rows[:n]


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        _parse_cached.cache_clear()  # time cold name parsing, as in a fresh process
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rows = make_rows(args.rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.profile.json"
        path.write_text(format_export_profile(rows, 1000), encoding="utf-8")
        size = path.stat().st_size
        prof = read_export_profile(path)
        table = ingest_trtexec(prof, platform="bench", model="bench").table
        t_read = best_of(args.repeat, lambda: read_export_profile(path))
        t_ingest = best_of(args.repeat, lambda: ingest_trtexec(prof, platform="bench"))
        t_both = best_of(args.repeat,
                         lambda: ingest_trtexec(path, platform="bench", model="bench"))
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{platform.system()} ({platform.processor() or 'cpu'})")
    print(f"rows={len(prof)} file={size / 1e6:.2f} MB groups={table.n_groups} "
          f"(best of {args.repeat})")
    print(f"read_export_profile      : {t_read * 1e3:8.1f} ms")
    print(f"ingest_trtexec (parsed)  : {t_ingest * 1e3:8.1f} ms")
    print(f"read + ingest (from file): {t_both * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()

"""GPU fallback (docs/model.md 2.1): what TensorRT's build costs and what the partition
recovers, and what fallback costs CP-SAT, on the medical example's models.

Builds the zoo's Pix2Pix generator (`unet_256`-style, 1 -> 1 channels, 256x256, ngf 64:
its padded ConvTranspose layers are refused by the DLA) and YOLOv8n, estimates their
tables (`profiles.estimate`, Xavier AGX, FP16, 16 groups each), and for GAN + YOLO and two
GAN instances (throughput, contention on and off, max transitions 1 and 2) runs
`optimizer.api.fallback_comparison`: the baseline "as TensorRT builds it", CP-SAT's
optimum with fallback allowed and forbidden, each with its status and solve time.

    PYTHONPATH=. python benchmarks/gpu_fallback.py [--time-limit S] [--out FILE.md]

Numbers are estimates (estimated tables, placeholder-free Xavier contention preset), not
measurements.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the repository first (benchmarks/solvers.py would shadow the solvers package)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

from optimizer import api  # noqa: E402
from solvers.model.problem import ModelSpec  # noqa: E402


def _tables() -> dict[str, object]:
    import onnx

    from export import zoo
    from profiles.estimate import estimate

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, name, kwargs in (
                ("gan", "pix2pix", {"in_channels": 1, "out_channels": 1, "ngf": 64,
                                    "size": 256}),
                ("yolo", "yolov8n", {"size": 640})):
            path = Path(tmp) / f"{key}.onnx"
            onnx.save(zoo.build(name, seed=0, **kwargs), str(path))
            out[key] = estimate(path, platform="xavier-agx", precision="fp16", groups=16,
                                trt_version="8.5", max_crossing=8).table
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    tables = _tables()
    refused = [g for g, r in enumerate(tables["gan"].rows) if r.dla_ms is None]
    lines = [f"# GPU fallback: TensorRT's build vs the partition ({datetime.date.today()})",
             "",
             f"Command: `PYTHONPATH=. python benchmarks/gpu_fallback.py --time-limit "
             f"{args.time_limit:g}`; load before: {os.getloadavg()[0]:.2f} (1-min average, "
             f"{os.cpu_count()} cores). GAN groups the DLA refuses: {refused} of "
             f"{tables['gan'].n_groups}. Estimated tables; objective = period per frame (ms).",
             "",
             "| models | contention | T | as TensorRT builds it | optimum, fallback allowed "
             "| optimum, fallback forbidden | partition recovers | CP-SAT s (allowed / "
             "forbidden) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, specs in (("GAN + YOLO", [ModelSpec(tables["gan"], "gan"),
                                         ModelSpec(tables["yolo"], "yolo")]),
                         ("GAN + GAN", [ModelSpec(tables["gan"], "gan1"),
                                        ModelSpec(tables["gan"], "gan2")])):
        for contention in ("none", "auto"):
            for t in (1, 2):
                problem = api.make_problem(specs, "xavier-agx", "throughput", t, contention)
                t0 = time.perf_counter()
                out = api.fallback_comparison(problem, time_limit=args.time_limit)
                base = out["baseline_with_fallback"]
                allowed, forbidden = (out["optimum_with_fallback"],
                                      out["optimum_without_fallback"])
                recover = (base.objective - min(allowed.objective, forbidden.objective)) \
                    / base.objective * 100
                lines.append(
                    f"| {label} | {contention} | {t} | {base.objective:.4f} | "
                    f"{allowed.objective:.4f} ({allowed.status.value}) | "
                    f"{forbidden.objective:.4f} ({forbidden.status.value}) | "
                    f"{recover:.1f} % | {allowed.solve_seconds:.1f} / "
                    f"{forbidden.solve_seconds:.1f} |")
                print(lines[-1], f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    lines += ["", f"Load after: {os.getloadavg()[0]:.2f}."]
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

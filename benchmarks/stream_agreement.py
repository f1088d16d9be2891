"""Benchmark: does the runtime run the stream the way the model says? (issue 21, item 6)

Run: ``python benchmarks/stream_agreement.py [--frames 200] [--repeat 3] [--ngf 8]
[--yolo-size 160] [--out benchmarks/results/stream_agreement.md]``.

For each schedule and 1, 2 and 3 rounds in flight, ``--repeat`` runs of ``--frames`` frames
on the CPU backend (`runtime.api.run_manifest`, ONNX Runtime, one intra-op thread per device
worker), and for each run `optimizer.replay.replay`: the simulator's stream fed with the
run's own segment times (mean execution + mean dispatch delay per segment over rounds 1 and
later; the run's device orders and rounds in flight). Recorded per schedule and rounds in
flight, over the repeats (median, and the range): the measured and simulated period and
their relative error, the same for the frame latency per model (mean, p50, worst), the
period simulated from the execution times alone (what the runtime's own dispatch cost adds),
and the error of a replay with no bound on the rounds in flight (the solvers' model): where
the admission rule matters, that one misses.

Schedules:

- ``chain + tail``: the test's (tests/runtime/test_stream_agreement.py): a skip net's head on
  the GPU worker, its tail on DLA0, then a second, smaller skip net on DLA0; 32 channels,
  64 x 64.
- ``3 workers, F=2``: the runtime tests' throughput placement (tests/runtime/runtime_kit.py
  THROUGHPUT: two instances per model partitioned differently over GPU, DLA0 and DLA1) of
  two skip nets, 32 channels, 64 x 64.
- ``medical gan+yolo`` and ``medical gan2``: the throughput manifests `layerswap example
  medical --ngf 8 --yolo-size 160` exports (Pix2Pix + YOLOv8n, two Pix2Pix instances).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "runtime")]

import runtime_kit as kit  # noqa: E402

from optimizer.replay import replay  # noqa: E402
from runtime.api import load_plan, make_backend, run_manifest  # noqa: E402


def skip_exports(folder: Path) -> dict[str, Path]:
    big = {"a": kit.skip_net(seed=0, channels=32, size=64),
           "b": kit.skip_net(seed=1, channels=32, size=64)}
    chain = kit.write_export(
        folder / "chain", {"a": big["a"], "b": kit.skip_net(seed=1, channels=8, size=64)},
        {("a", 0): [(4, "GPU"), (8, "DLA0")], ("b", 0): [(8, "DLA0")]},
        objective="throughput", device_order={"GPU": ["a#0/0"], "DLA0": ["a#0/1", "b#0/0"]})
    three = kit.write_export(folder / "three", big, kit.THROUGHPUT, objective="throughput",
                             frames_per_round=2)
    return {"chain + tail": chain, "3 workers, F=2": three}


def medical_exports(folder: Path, ngf: int, yolo_size: int) -> dict[str, Path]:
    out = folder / "medical"
    cmd = [sys.executable, "-m", "optimizer.cli", "example", "medical", "-o", str(out),
           "--ngf", str(ngf), "--yolo-size", str(yolo_size), "--time-limit", "5",
           "--frames", "2"]
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {f"medical {name}": out / "schedules" / f"rewritten-{name}-throughput" /
            "manifest.json" for name in ("gan_yolo", "gan2")}


def measure(path: Path, k: int, frames: int) -> dict:
    plan = load_plan(path)
    threads = len(plan.devices)  # one intra-op thread per device worker
    result = run_manifest(plan, frames=frames, rounds_in_flight=k,
                          backend=make_backend("ort", plan, threads=threads))
    doc = replay(result)
    doc["unbounded_period_error"] = replay(result, rounds_in_flight=None)["period_ms"]["error"]
    st = result.stats
    doc["per_segment"] = {s.id: (s.device, st.steady[s.id].mean / 1e6,
                                 st.dispatch[s.id].mean / 1e6,
                                 "model inputs only" if not any(b.segment for b in s.inputs) else
                                 "hand-offs") for s in plan.segments}
    return doc


def med(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}"


def pct(values: list[float]) -> str:
    mid = 100 * statistics.median(values)
    if len(values) == 1:
        return f"{mid:+.1f} %"
    return f"{mid:+.1f} % ({100 * min(values):+.1f} .. {100 * max(values):+.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ngf", type=int, default=8)
    parser.add_argument("--yolo-size", type=int, default=160)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "stream_agreement.md")
    args = parser.parse_args()
    started = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()
    rows: list[str] = []
    latency_rows: list[str] = []
    dispatch_rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        exports = {**skip_exports(Path(tmp)),
                   **medical_exports(Path(tmp), args.ngf, args.yolo_size)}
        for name, path in exports.items():
            for k in (1, 2, 3):
                docs = [measure(path, k, args.frames) for _ in range(args.repeat)]
                period = [d["period_ms"] for d in docs]
                rows.append(
                    f"| {name} | {k} | {med([p['measured'] for p in period])} | "
                    f"{med([p['simulated'] for p in period])} | "
                    f"{pct([p['error'] for p in period])} | "
                    f"{med([d['period_ms_execution_only'] for d in docs])} | "
                    f"{pct([d['unbounded_period_error'] for d in docs])} |")
                for model in docs[0]["latency"]:
                    cells = []
                    for key in ("mean_ms", "p50_ms", "worst_ms"):
                        pairs = [d["latency"][model][key] for d in docs]
                        cells.append(f"{med([p['measured'] for p in pairs])} / "
                                     f"{med([p['simulated'] for p in pairs])} / "
                                     f"{pct([p['error'] for p in pairs])}")
                    latency_rows.append(f"| {name} | {k} | {model} | " + " | ".join(cells) + " |")
                if k == 2:  # where the dispatch delay goes, per segment (first run)
                    for seg, (dev, run_ms, wait_ms, kind) in docs[0]["per_segment"].items():
                        dispatch_rows.append(f"| {name} | {seg} | {dev} | {kind} | "
                                             f"{run_ms:.3f} | {wait_ms:.3f} |")
                print(rows[-1], flush=True)
    load_after = os.getloadavg()
    command = ("python benchmarks/stream_agreement.py " + " ".join(sys.argv[1:])).strip()
    lines = [
        "# Stream agreement: the runtime against the simulator fed with its own segment times",
        "",
        "Issue 21, item 6: the runtime measures the period and the per-frame latency of the "
        "stream; the simulator (docs/model.md 4.2), given each segment's measured mean "
        "execution time plus its mean dispatch delay (`optimizer.replay`, docs/runtime.md), "
        "the run's device orders and rounds in flight, predicts them. This checks the "
        "structure (order, admission, pipelining) against the real executor; the cost "
        "model's error is a separate question (the run report's per-segment ratios).",
        "",
        f"- Command: `{command}` (`benchmarks/stream_agreement.py`)",
        f"- Machine: {os.cpu_count()}-core {platform.machine()} {platform.system()}, "
        f"Python {platform.python_version()}, ONNX Runtime CPU backend, one intra-op thread "
        "per device worker",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; load average (1, 5, 15 min) before "
        f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after "
        f"{load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} (other processes "
        "shared the cores)",
        f"- {args.frames} frames per model per run, {args.repeat} runs per line: medians, "
        "and the range of the errors in brackets; error = (simulated - measured) / measured",
        "",
        "## Period per frame (ms)",
        "",
        "| schedule | rounds in flight | measured | simulated | error | simulated, execution "
        "times only | error of an unbounded replay |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## Frame latency per model (ms): measured / simulated / error",
        "",
        "| schedule | rounds in flight | model | mean | p50 | worst |",
        "|---|---|---|---|---|---|",
        *latency_rows,
        "",
        "## Where the dispatch delay goes (2 rounds in flight, first run of each line)",
        "",
        "A segment that reads the frame's model inputs first draws them (seeded random "
        "tensors, `runtime.io.random_inputs`) in its own worker; one fed by another "
        "segment's outputs waits for a wake-up and gathers them; a device's first segment of "
        "a round also wakes from the admission wait.",
        "",
        "| schedule | segment | device | reads | mean execution ms | mean dispatch ms |",
        "|---|---|---|---|---|---|",
        *dispatch_rows,
        "",
        "## Reading",
        "",
        "- What agreement means here. Each segment is fed its lane time: from when the plan "
        "let it start (device free, round admitted, producers ended) to its end, i.e. its "
        "execution plus the runtime's dispatch delay. So wherever the bottleneck device never "
        "waits (one chain of rounds at 1 round in flight, or a saturated device), its lane "
        "times add up to the measured period by construction, and the period agrees to "
        "0.0 %: what is checked there is that the simulator finds the same critical path "
        "under the same admission rule (the unbounded replay, fed the same times, misses by "
        "20-40 % where admission binds). The figures that are not sums of lane times are the "
        "period of a pipeline whose devices wait on each other and the frame latency (waits "
        "for a busy device): those are the structural test.",
        "- The simulated period runs every segment at its mean time. A max-plus stream whose "
        "times vary has a longer period than the one of its mean times (a round waiting for "
        "the slower of two racing paths pays the mean of the maximum, not the maximum of the "
        "means), so simulated <= measured is the expected direction, the gap growing with "
        "the variance of the times (a loaded CPU) and the number of racing paths (here about "
        "-3.5 % for the three workers with two instances per round). An honest consequence: "
        "a runtime that started work late (a slow wake-up) would put that delay into the "
        "dispatch delay and the replay would reproduce it; such a cost is visible in the "
        "execution-only column and per segment in the run report's `dispatch ms`, not as a "
        "disagreement.",
        "- The dispatch delay (execution only vs simulated) is the runtime's own cost on "
        "this CPU: drawing the random input frames in the worker that reads them (a first "
        "segment's dispatch, that drawing and the admission wake-up, was about 1-3 ms for "
        "the 32 x 64 x 64, 1 x 256 x 256 and 3 x 160 x 160 inputs here), waking workers, "
        "the GIL; on "
        "a loaded 2-core machine it is a large share of the period. A hand-off's wake-up is "
        "0.07 ms where a core is free and up to about 2 ms where three workers and other "
        "processes share the 2 cores (consistent with a woken thread waiting for a core; "
        "not separated further here). Real input sources (`--inputs`, a camera) cost what "
        "they cost; the replay takes whatever the run measured.",
        "- Frame latency: the mean is the figure that follows from mean times; the p50 of a "
        "skewed time (a loaded CPU) sits below its mean, so the simulated p50 can be above "
        "the measured one. The measured worst adds every outlier (a preempted execution); "
        "the simulated worst is the slowest frame of the stream of mean times, a structural "
        "worst the run shows too: measured >= simulated is expected, and reported, not "
        "claimed to agree.",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

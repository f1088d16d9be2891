"""Benchmark: the runtime executing a manifest vs ONNX Runtime running the unsplit model.

Run: ``python benchmarks/runtime.py [--frames 200] [--repeat 5] [--threads 2] [--channels 16]
[--size 64] [--blocks 4]``. Builds a conv net with skip connections (onnx.helper, seeded
weights), writes manifests with the runtime tests' kit (tests/runtime/runtime_kit.py: the
same splitter and manifest writer the tests use, validated by `runtime.manifest`), and
times, median of ``--repeat`` runs of ``--frames`` frames each:

- ``unsplit ORT``: one InferenceSession (the runtime's own `session_options`, ``--threads``
  intra-op threads), frames run back to back: the reference.
- ``ORT, 3 sub-models back to back``: the 3-segment split run by plain ONNX Runtime in one
  thread: what splitting itself costs, without the runtime.
- ``runtime, 1 segment``: the whole model as one GPU segment: the hand-off-free frame path
  (worker thread, input source, output checks, in-order sink). Overhead = its time per frame
  over the reference's; target <= 5 %.
- ``runtime, 3 segments, 1 round in flight``: GPU -> DLA0 -> GPU with both cuts across a
  skip connection, no pipelining; each worker gets ``--threads`` (only one runs at a time),
  so the difference with the 1-segment line is the cost of two hand-offs per frame.
- ``runtime, 3 segments, pipelined``: the same with 2 rounds in flight and the thread
  budget shared by the workers (`split_threads`): what pipelining gives on this CPU.
- ``runtime, throughput F=2``: two instances partitioned differently, 2 rounds in flight.

All runs use the same inputs (`runtime.io.random_inputs`, seed 0, drawn up front); loading
and one warm-up run per session are excluded. Wall time and process CPU time are both
reported: on a shared machine the wall time swings with other load, the CPU time much less.

Soak (``--soak [--soak-frames 100000]``): memory over a long stream. A small manifest
(skip_chain, 1 block, 4 channels, 8x8; throughput, F = 2, three segments on GPU, DLA0 and
DLA1) runs ``--soak-frames`` frames per model through `runtime.api.run_manifest` exactly as
``layerswap run --trace T --save-outputs D`` does (random inputs drawn per frame, the trace
and the outputs written as the run goes). The process's resident set size (VmRSS) is
sampled every 1000 frames; the figure is its growth from the end of the warm-up (the first
10 % of the frames) to the largest sample after it. Target: < 10 MB.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
# this script is called runtime.py: drop its folder from the path so `runtime` is the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "runtime")]

import runtime_kit as kit  # noqa: E402

from runtime.api import load_plan, make_backend  # noqa: E402
from runtime.backends.ort import OrtCpuBackend, session_options  # noqa: E402
from runtime.executor import Executor, close_runners, load_runners  # noqa: E402
from runtime.io import random_inputs  # noqa: E402


def skip_chain(blocks: int, channels: int, size: int, seed: int = 0) -> onnx.ModelProto:
    """x -> stem -> [conv, relu, conv, add(skip), relu] x blocks -> head -> y."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []

    def conv(name: str, x: str, y: str) -> None:
        w = numpy_helper.from_array((rng.standard_normal((channels, channels, 3, 3))
                                     / (3 * np.sqrt(channels))).astype(np.float32), name + ".w")
        b = numpy_helper.from_array(np.zeros(channels, np.float32), name + ".b")
        inits.extend([w, b])
        nodes.append(helper.make_node("Conv", [x, w.name, b.name], [y], name=name,
                                      pads=[1, 1, 1, 1]))

    conv("stem", "x", "h0")
    prev = "h0"
    for i in range(blocks):
        conv(f"b{i}.c1", prev, f"b{i}.t1")
        nodes.append(helper.make_node("Relu", [f"b{i}.t1"], [f"b{i}.r1"], name=f"b{i}.relu1"))
        conv(f"b{i}.c2", f"b{i}.r1", f"b{i}.t2")
        nodes.append(helper.make_node("Add", [f"b{i}.t2", prev], [f"b{i}.s"], name=f"b{i}.add"))
        nodes.append(helper.make_node("Relu", [f"b{i}.s"], [f"b{i}.o"], name=f"b{i}.relu2"))
        prev = f"b{i}.o"
    conv("head", prev, "y")
    shape = [1, channels, size, size]
    graph = helper.make_graph(nodes, "skip_chain",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model, strict_mode=True)


def node_index(model: onnx.ModelProto, name: str) -> int:
    return [n.name for n in model.graph.node].index(name)


def time_unsplit(model: onnx.ModelProto, frames: int, threads: int, source) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``frames`` back-to-back runs of the model."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), sess_options=session_options(threads),
                                providers=["CPUExecutionProvider"])
    inputs = [source("m", f) for f in range(frames)]
    sess.run(["y"], inputs[0])  # warm-up, like the runtime's load
    c0, t0 = time.process_time(), time.perf_counter()
    for feed in inputs:
        sess.run(["y"], feed)
    return time.perf_counter() - t0, time.process_time() - c0


def time_sub_models(model: onnx.ModelProto, cuts: list[int], frames: int, threads: int,
                    source) -> tuple[float, float]:
    """The split sub-models run back to back in one thread by plain ONNX Runtime: what
    splitting itself costs (lost fusions, more kernel calls), without the runtime."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(p.SerializeToString(), sess_options=session_options(threads),
                                     providers=["CPUExecutionProvider"])
                for p in kit.split(model, cuts)]
    io = [([i.name for i in s.get_inputs()], [o.name for o in s.get_outputs()])
          for s in sessions]
    inputs = [source("m", f) for f in range(frames)]

    def one(feed: dict) -> None:
        env = dict(feed)
        for sess, (names_in, names_out) in zip(sessions, io, strict=True):
            env.update(zip(names_out, sess.run(names_out, {k: env[k] for k in names_in}),
                           strict=True))

    one(inputs[0])
    c0, t0 = time.process_time(), time.perf_counter()
    for feed in inputs:
        one(feed)
    return time.perf_counter() - t0, time.process_time() - c0


def pregenerated(source, frames: int):
    """The input source with every frame drawn up front (the reference does the same)."""
    cache = {f: source("m", f) for f in range(frames)}
    return lambda model, frame: cache[frame]


def time_runtime(path: Path, frames: int, source, *, threads: int, rounds_in_flight: int,
                 per_worker: bool = False) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of `Executor.run` (loading excluded); records the
    run's time outside sub-model calls in BOOKKEEPING."""
    plan = load_plan(path)
    backend = (OrtCpuBackend({d: threads for d in plan.devices}) if per_worker
               else make_backend("ort", plan, threads=threads))
    runners = load_runners(plan, backend)
    try:
        for seg in plan.segments:  # warm-up, like the reference
            feeds = {b.spec.name: np.zeros(b.spec.shape, b.spec.numpy_dtype) for b in seg.inputs}
            runners[seg.id].run(feeds)
        c0 = time.process_time()
        result = Executor(plan, runners, rounds_in_flight=rounds_in_flight).run(frames, source)
        cpu = time.process_time() - c0
    finally:
        close_runners(runners)
    busy = sum(result.stats.busy_ns.values()) / 1e9
    BOOKKEEPING.setdefault(path.parent.name, []).append(result.seconds - busy)
    return result.seconds, cpu


# seconds of each runtime run spent outside the sub-model calls (wall time - summed segment
# execution): the runtime's own cost, measured inside one run, so less exposed to other load
BOOKKEEPING: dict[str, list[float]] = {}


def rss_mb() -> float:
    """This process's resident set size (VmRSS, Linux), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (the soak needs Linux)")


def soak(frames: int, threads: int) -> None:
    """RSS over a long stream of a small manifest (module docstring)."""
    from runtime.api import run_manifest

    model = skip_chain(1, 4, 8)
    last = len(model.graph.node) - 1
    cut = node_index(model, "b0.relu1")
    samples: list[tuple[int, float]] = []
    every = 1000
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        path = kit.write_export(tmp_path / "soak", {"m": model}, {
            ("m", 0): [(cut, "GPU"), (last, "DLA0")],
            ("m", 1): [(last, "DLA1")]}, objective="throughput", frames_per_round=2)

        def progress(done: int, _total: int | None) -> None:
            if done % every == 0:
                samples.append((done, rss_mb()))

        c0, t0 = time.process_time(), time.perf_counter()
        result = run_manifest(path, frames=frames, threads=threads, progress=progress,
                              trace=tmp_path / "trace.json", save_outputs=tmp_path / "out")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        trace_mb = (tmp_path / "trace.json").stat().st_size / 2**20
        out_mb = (tmp_path / "out" / "m.npz").stat().st_size / 2**20
    warm = frames // 10
    after = [mb for done, mb in samples if done >= warm]
    base = after[0]
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{datetime.date.today().isoformat()}")
    print(f"soak: skip_chain blocks=1 channels=4 size=8, throughput F=2, 3 segments "
          f"(GPU, DLA0, DLA1); {frames} frames, threads={threads}, trace + saved outputs")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s; throughput (steady state) "
          f"{result.stats.period_ms and 1000 / result.stats.period_ms:.0f} frames/s; "
          f"trace {trace_mb:.0f} MB, outputs {out_mb:.1f} MB on disk")
    print("frames done  RSS MB")
    step = max(1, len(samples) // 10)
    shown = samples[::step]
    if shown[-1] != samples[-1]:
        shown.append(samples[-1])
    for done, mb in shown:
        print(f"{done:11d}  {mb:6.1f}")
    print(f"RSS after warm-up ({warm} frames): {base:.1f} MB; largest after it "
          f"{max(after):.1f} MB; final {after[-1]:.1f} MB; growth after warm-up "
          f"{max(after) - base:+.1f} MB (target < 10 MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--soak", action="store_true",
                    help="measure RSS over a long stream instead (see the docstring)")
    ap.add_argument("--soak-frames", type=int, default=100_000)
    args = ap.parse_args()
    if args.soak:
        soak(args.soak_frames, args.threads)
        return

    model = skip_chain(args.blocks, args.channels, args.size)
    last = len(model.graph.node) - 1
    # cuts after the first add of blocks 1 and 2: the skip (and the block output) cross them
    cut1, cut2 = node_index(model, "b0.relu2"), node_index(model, "b2.c1")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        single = kit.write_export(tmp_path / "single", {"m": model}, {("m", 0): [(last, "GPU")]})
        split = kit.write_export(tmp_path / "split", {"m": model}, {
            ("m", 0): [(cut1, "GPU"), (cut2, "DLA0"), (last, "GPU")]})
        thr = kit.write_export(tmp_path / "thr", {"m": model}, {
            ("m", 0): [(cut1, "GPU"), (last, "DLA0")],
            ("m", 1): [(cut2, "DLA0"), (last, "GPU")]},
            objective="throughput", frames_per_round=2)
        source = pregenerated(random_inputs(load_plan(single), 0), args.frames)
        cases = {
            "unsplit ORT": lambda: time_unsplit(model, args.frames, args.threads, source),
            "ORT, 3 sub-models back to back": lambda: time_sub_models(
                model, [cut1, cut2], args.frames, args.threads, source),
            "runtime, 1 segment": lambda: time_runtime(
                single, args.frames, source, threads=args.threads, rounds_in_flight=1),
            "runtime, 3 segments, 1 round in flight": lambda: time_runtime(
                split, args.frames, source, threads=args.threads, rounds_in_flight=1,
                per_worker=True),
            "runtime, 3 segments, pipelined": lambda: time_runtime(
                split, args.frames, source, threads=args.threads, rounds_in_flight=2),
            "runtime, throughput F=2": lambda: time_runtime(
                thr, args.frames, source, threads=args.threads, rounds_in_flight=2),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):  # interleaved, so load changes hit every case alike
            for name, fn in cases.items():
                wall, used = fn()
                times[name].append(wall)
                cpu[name].append(used)

    n = args.frames
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{datetime.date.today().isoformat()}")
    print(f"model: skip_chain blocks={args.blocks} channels={args.channels} size={args.size} "
          f"({len(model.graph.node)} nodes); frames={n}, threads={args.threads}, "
          f"median of {args.repeat} (interleaved)")
    print(f"{'case':<40} {'wall ms/frame':>13} {'best':>8} {'fps':>7} {'vs unsplit':>10}"
          f" {'CPU ms/frame':>13} {'vs unsplit':>10}")
    ref = statistics.median(times["unsplit ORT"]) / n * 1e3
    ref_cpu = statistics.median(cpu["unsplit ORT"]) / n * 1e3
    for name in cases:
        per = statistics.median(times[name]) / n * 1e3
        best = min(times[name]) / n * 1e3
        per_cpu = statistics.median(cpu[name]) / n * 1e3
        print(f"{name:<40} {per:13.3f} {best:8.3f} {1e3 / per:7.1f} {100 * (per / ref - 1):+9.1f}%"
              f" {per_cpu:13.3f} {100 * (per_cpu / ref_cpu - 1):+9.1f}%")
    one_cpu = statistics.median(cpu["runtime, 1 segment"]) / n * 1e3
    print(f"hand-off-free frame path overhead (CPU time per frame): "
          f"{100 * (one_cpu / ref_cpu - 1):+.1f} % (target <= 5 %)")
    for key, label in (("single", "1 segment"), ("split", "3 segments")):
        per_frame = sorted(b / n * 1e6 for b in BOOKKEEPING[key])
        print(f"wall time outside sub-model calls, {label}: median "
              f"{statistics.median(per_frame):.0f} us/frame, best {per_frame[0]:.0f} us/frame")
    lat_cpu = statistics.median(cpu["runtime, 3 segments, 1 round in flight"]) / n * 1e3
    sub_cpu = statistics.median(cpu["ORT, 3 sub-models back to back"]) / n * 1e3
    print(f"CPU per frame of splitting itself (3 sub-models in plain ORT vs unsplit): "
          f"{(sub_cpu - ref_cpu) * 1e3:+.0f} us; of the runtime's two hand-offs on top "
          f"(3 segments, 1 round in flight, vs the plain-ORT sub-models): "
          f"{(lat_cpu - sub_cpu) * 1e3:+.0f} us")


if __name__ == "__main__":
    main()

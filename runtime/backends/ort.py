"""ONNX Runtime on the CPU: the default backend, and the reference the tests compare with.

Each device worker gets its own `InferenceSession` per segment with its own intra-op thread
budget (`split_threads` shares the run's total among the workers), so the GPU, DLA0 and DLA1
workers run concurrently on the host's cores the way the devices would on a Jetson.
Spinning thread pools are turned off: several pools share the cores, and spinning workers
would steal them from each other.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from runtime.backends.base import Backend
from runtime.plan import SegmentPlan


def session_options(threads: int, *, spinning: bool = False, optimize: bool = True):
    """The SessionOptions every CPU session of the runtime (and the benchmark's unsplit
    reference) uses: ``threads`` intra-op threads, one inter-op thread, sequential
    execution, full graph optimisation, or none with ``optimize=False`` (the same kernels
    for a whole model and its split: `runtime.agreement.SAME_KERNELS`)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                     else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return opts


class OrtRunner:
    """One InferenceSession; `run` feeds named arrays and returns every graph output."""

    def __init__(self, session) -> None:
        self.session = session
        self.output_names = [o.name for o in session.get_outputs()]

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(self.output_names, dict(inputs))
        return dict(zip(self.output_names, values, strict=True))

    def close(self) -> None:
        self.session = None


class OrtCpuBackend(Backend):
    """ONNX Runtime, CPU execution provider, ``threads[device]`` intra-op threads per worker;
    ``optimize=False`` turns graph optimisations off (outputs comparable with
    `runtime.agreement.SAME_KERNELS`, at some cost in speed)."""

    name = "ort"

    def __init__(self, threads: Mapping[str, int], *, spinning: bool = False,
                 optimize: bool = True) -> None:
        self.threads = dict(threads)
        self.spinning = spinning
        self.optimize = optimize

    def load(self, segment: SegmentPlan) -> OrtRunner:
        import onnxruntime as ort

        opts = session_options(self.threads.get(segment.device, 1), spinning=self.spinning,
                               optimize=self.optimize)
        session = ort.InferenceSession(str(segment.file), sess_options=opts,
                                       providers=["CPUExecutionProvider"])
        return OrtRunner(session)

    def describe(self, segment: SegmentPlan) -> dict[str, object]:
        return {**super().describe(segment), "provider": "CPUExecutionProvider",
                "intra_op_threads": self.threads.get(segment.device, 1),
                "graph_optimization": "all" if self.optimize else "off"}

"""Execute an exported manifest with ONNX Runtime exactly as the manifest says (test helper).

Each device is a worker that runs its ``device_order`` list in order; a segment runs when
all its inputs (model inputs, or outputs of the producing segment of the same instance)
are there. A round that cannot progress is a deadlock (AssertionError). Only manifest
information is used, so this checks the manifest, not the exporter's internals. Sessions run
with graph optimisations off (`runtime.agreement.reference_session_options`): compare with a
whole model run the same way, under `runtime.agreement.SAME_KERNELS`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnxruntime as ort

from runtime.agreement import reference_session_options
from runtime.manifest import Manifest


def run_manifest(manifest: Manifest, feeds: Mapping[str, Mapping[str, np.ndarray]]
                 ) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """Outputs per (model, instance); ``feeds[model]`` are the model's inputs (same frame
    for every instance)."""
    values: dict[str, dict[str, np.ndarray]] = {}   # segment id -> its outputs
    results: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    cursors = dict.fromkeys(manifest.device_order, 0)
    sessions: dict[str, ort.InferenceSession] = {}
    while any(cursors[d] < len(ids) for d, ids in manifest.device_order.items()):
        progressed = False
        for dev, ids in manifest.device_order.items():
            if cursors[dev] >= len(ids):
                continue
            seg = manifest.segment(ids[cursors[dev]])
            if any(i.source.segment is not None and i.source.segment not in values
                   for i in seg.inputs):
                continue
            args = {i.name: feeds[seg.model][i.source.model_input]
                    if i.source.model_input is not None
                    else values[str(i.source.segment)][str(i.source.output)]
                    for i in seg.inputs}
            if seg.file not in sessions:
                sessions[seg.file] = ort.InferenceSession(
                    str(manifest.path(seg.file)), reference_session_options(),
                    providers=["CPUExecutionProvider"])
            sess = sessions[seg.file]
            names = [o.name for o in seg.outputs]
            outs = dict(zip(names, sess.run(names, args), strict=True))
            values[seg.id] = outs
            for o in seg.outputs:
                if o.model_output:
                    results.setdefault((seg.model, seg.instance), {})[o.name] = outs[o.name]
            cursors[dev] += 1
            progressed = True
        assert progressed, f"deadlock at {cursors}"
    return results

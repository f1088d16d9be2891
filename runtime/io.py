"""Frame inputs and saved outputs.

Inputs: `random_inputs` draws seeded tensors of the manifest's shapes, one frame at a time
(the same seed gives the same frames, whatever the thread timing); `npz_inputs` reads one
.npz keyed ``MODEL/INPUT_NAME`` whose arrays have a leading frames axis.

Outputs: `OutputWriter` receives complete frames in order (the executor's ``on_frame``)
and writes ``DIR/MODEL.npz`` keyed by output name with a leading frames axis. Frames are
appended to raw scratch files as they arrive (memory stays bounded however long the run, and
nothing is sized up front, so a run until Ctrl-C can save too); `close` packs the frames
every output of a model holds into the .npz (written to a temporary name, then renamed) and
removes the scratch files, so a run that stops early still leaves every completed frame,
intact. A write that fails part-way (disk full, a file-size limit) stops the run; `close`
then saves what it can and names what it could not (`OutputWriter.failed`), leaving no
partial .npz and no scratch behind. The .npz is byte-identical for identical outputs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from runtime.errors import RuntimeExecutionError
from runtime.manifest import ModelEntry, TensorSpec
from runtime.plan import Plan

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def random_inputs(plan: Plan, seed: int = 0):
    """An input source drawing frame ``f`` of model ``m`` from a generator seeded by
    (seed, model index, f): floats uniform in [-1, 1), integers in [0, 10)."""
    index = {m.name: i for i, m in enumerate(plan.models)}

    def source(model: str, frame: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([seed, index[model], frame])
        out = {}
        for spec in plan.model(model).inputs:
            dtype = spec.numpy_dtype
            if np.issubdtype(dtype, np.floating):
                # drawn in float32 where it suffices: a float64 draw and a cast cost ~2x
                # the time, and the draw is part of each first segment's dispatch delay
                draw = np.float64 if dtype == np.float64 else np.float32
                value = rng.random(spec.shape, dtype=draw)
                value *= 2.0
                value -= 1.0
                out[spec.name] = value.astype(dtype, copy=False)
            elif dtype == np.bool_:
                out[spec.name] = rng.integers(0, 2, spec.shape).astype(dtype)
            else:
                out[spec.name] = rng.integers(0, 10, spec.shape).astype(dtype)
        return out

    return source


def npz_inputs(plan: Plan, path: str | Path, frames: int | None = None):
    """(source, frames): an input source over an .npz keyed ``MODEL/INPUT_NAME`` with a
    leading frames axis, and the number of frames to run (``frames`` or what the file holds).
    Raises `RuntimeExecutionError` naming the file and key when a key is missing, a shape or
    dtype differs from the manifest, or the file holds fewer frames than asked."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RuntimeExecutionError(f"{path}: cannot read the inputs .npz ({exc})") from exc
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for model in plan.models:
            for spec in model.inputs:
                key = f"{model.name}/{spec.name}"
                if key not in archive.files:
                    raise RuntimeExecutionError(
                        f"{path}: no array {key!r} (keys must be MODEL/INPUT_NAME; the file "
                        f"has {sorted(archive.files)})")
                value = archive[key]
                if value.shape[1:] != spec.shape or value.dtype != spec.numpy_dtype:
                    raise RuntimeExecutionError(
                        f"{path}: {key!r} is {list(value.shape)} {value.dtype}; expected "
                        f"[frames, {', '.join(map(str, spec.shape))}] {spec.dtype}")
                arrays[key] = value
    available = min(a.shape[0] for a in arrays.values()) if arrays else 0
    wanted = available if frames is None else frames
    if wanted > available or wanted < 1:
        raise RuntimeExecutionError(
            f"{path}: holds {available} frames, {wanted} asked (pass --frames <= {available})")

    def source(model: str, frame: int) -> dict[str, np.ndarray]:
        return {spec.name: arrays[f"{model}/{spec.name}"][frame]
                for spec in plan.model(model).inputs}

    return source, wanted


class OutputWriter:
    """Collects complete frames (in order) into ``directory/MODEL.npz``; see module doc.

    Opening it checks that ``directory`` can be made and written (a file in its place, a
    read-only parent): a `RuntimeExecutionError` naming the path before any frame runs."""

    def __init__(self, plan: Plan, directory: str | Path) -> None:
        self.plan = plan
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._scratch = Path(tempfile.mkdtemp(prefix=".layerswap-outputs-",
                                                  dir=self.directory))
        except OSError as exc:
            raise RuntimeExecutionError(
                f"{self.directory}: cannot write outputs there ({exc.strerror or exc}); "
                "pass --save-outputs a folder you can write") from exc
        self._files: dict[str, dict[str, BinaryIO]] = {}
        self.count = {m.name: 0 for m in plan.models}
        self.failed: dict[str, str] = {}  # model -> why its .npz was not written
        try:
            for model in plan.models:
                self._files[model.name] = {}
                for i, spec in enumerate(model.outputs):
                    self._files[model.name][spec.name] = open(  # noqa: SIM115 (closed in close)
                        self._scratch / f"{model.name}.{i}.raw", "wb")
        except OSError as exc:
            self._discard()
            raise RuntimeExecutionError(
                f"{self.directory}: cannot write outputs there ({exc.strerror or exc})") from exc

    def __call__(self, model: str, frame: int, outputs: Mapping[str, np.ndarray]) -> None:
        if frame != self.count[model]:
            raise ValueError(f"{model}: frame {frame} arrived, frame {self.count[model]} expected")
        for name, fh in self._files[model].items():
            fh.write(np.ascontiguousarray(outputs[name]).tobytes())
        self.count[model] = frame + 1  # only once every output of the frame is written

    def close(self) -> dict[str, Path]:
        """Write every model's completed frames; returns the written paths. A model whose
        .npz cannot be written is left out (no partial file) and named in `failed`."""
        written = {}
        try:
            self._close_files()
            for model in self.plan.models:
                path = self.directory / f"{model.name}.npz"
                frames = self._complete(model)
                try:
                    _write_npz(path, {spec.name: self._frames(model.name, i, spec, frames)
                                      for i, spec in enumerate(model.outputs)})
                except OSError as exc:
                    self.failed[model.name] = f"{path}: {exc.strerror or exc}"
                    continue
                self.count[model.name] = frames
                written[model.name] = path
        finally:
            self._discard()
        return written

    def _close_files(self) -> None:
        for fhs in self._files.values():
            for fh in fhs.values():
                with contextlib.suppress(OSError):  # a failed write: the frames on disk stand
                    fh.close()

    def _discard(self) -> None:
        """Drop the scratch files (an output folder that could not be opened)."""
        self._close_files()
        self._files = {}
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _complete(self, model: ModelEntry) -> int:
        """Frames of ``model`` whose every output reached its scratch file (a buffered write
        that failed part-way leaves fewer on disk than were handed in)."""
        frames = self.count[model.name]
        for i, spec in enumerate(model.outputs):
            size = (self._scratch / f"{model.name}.{i}.raw").stat().st_size
            per_frame = int(np.prod(spec.shape, dtype=np.int64)) * spec.numpy_dtype.itemsize
            if per_frame:
                frames = min(frames, size // per_frame)
        return frames

    def _frames(self, model: str, index: int, spec: TensorSpec, frames: int) -> np.ndarray:
        """The first ``frames`` frames of one output, mapped from its scratch file."""
        shape = (frames, *spec.shape)
        if shape[0] == 0:
            return np.zeros(shape, spec.numpy_dtype)
        return np.memmap(self._scratch / f"{model}.{index}.raw", dtype=spec.numpy_dtype,
                         mode="r", shape=shape)


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """An uncompressed .npz (what np.savez writes) with fixed timestamps, written to a
    temporary file and renamed, copying each array in slices (bounded memory)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name in sorted(arrays):
                array = arrays[name]
                info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as fh:
                    header = {"descr": np.lib.format.dtype_to_descr(array.dtype),
                              "fortran_order": False, "shape": tuple(array.shape)}
                    np.lib.format.write_array_header_1_0(fh, header)
                    step = max(1, (1 << 24) // max(1, array[0:1].nbytes))
                    for i in range(0, array.shape[0], step):
                        fh.write(np.ascontiguousarray(array[i:i + step]).tobytes())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""The steps of the medical example (`optimizer.medical.run_medical`), one method each.

Every method calls the library piece that does the work and returns plain values for the
report; the calls into pieces whose signatures are young (zoo, DLA checker, rewrite and
verify, estimator, exporter, runtime) sit in small ``_lib_*`` helpers at the bottom, so
that an API change touches one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer import medical_paper
from optimizer.medical_setup import (
    OBJECTIVES,
    SCENARIOS,
    VARIANTS,
    MedicalError,
    MedicalOptions,
    Progress,
    ct_phantom,
    gan_inputs,
    key_name,
    yolo_inputs,
)
from runtime.agreement import SAME_KERNELS, agreement, reference_session_options

if TYPE_CHECKING:
    import pandas as pd

    from solvers.model.problem import Problem
    from solvers.model.schedule import Result

GAN_SIZE = 256
"""Pix2Pix's U-Net with 8 down-sampling blocks needs 256 x 256 (the zoo's contract)."""
VERIFY_SAMPLES = 2
"""Seeded inputs on which the rewrite is verified against the original."""


@dataclass
class Solved:
    """One solve of the example: the problem, the solver's result, baselines, compare rows."""

    variant: str
    scenario: str
    objective: str
    problem: Problem
    result: Result               # the exact solver's
    baselines: dict[str, Result]  # baseline name -> its result
    compare: pd.DataFrame        # optimizer.api.compare: baselines and the solver, one row each
    onnx: dict[str, Path]        # problem model name -> ONNX file
    setup: str = "default"       # "paper" or "default" (medical_paper.SETUPS)

    @property
    def name(self) -> str:
        return key_name(self.variant, self.scenario, self.objective, self.setup)


class Steps:
    """The example's steps on one output folder (see `optimizer.medical`)."""

    def __init__(self, opts: MedicalOptions, out: Path, say: Progress) -> None:
        self.opts = opts
        self.out = out
        self.say = say
        self.paths: dict[str, Path] = {}
        self.tables: dict[str, Any] = {}
        self.solved: list[Solved] = []
        self.exported: dict[str, Path] = {}

    @property
    def variants(self) -> tuple[str, ...]:
        """The generator variants: the original first, then the rewritten ones."""
        return medical_paper.PAPER_VARIANTS if self.opts.paper else VARIANTS

    @property
    def gan_keys(self) -> list[str]:
        return [f"gan_{v}" for v in self.variants]

    # ------------------------------------------------------------------ 1. build
    def build_models(self) -> dict[str, dict[str, Any]]:
        o = self.opts
        folder = self.out / "models"
        folder.mkdir(parents=True, exist_ok=True)
        built: dict[str, dict[str, Any]] = {}
        channels = o.gan_channels
        for key, name, kwargs in (
                ("gan_original", o.generator, {"in_channels": channels,
                                               "out_channels": channels,
                                               "ngf": o.ngf, "size": GAN_SIZE}),
                ("yolo", "yolov8n", {"size": o.yolo_size})):
            model = _lib_build(name, seed=o.seed, **kwargs)
            path = folder / f"{key}.onnx"
            _save_onnx(model, path)
            self.paths[key] = path
            built[key] = {"zoo": name, "options": kwargs, "file": _rel(path, self.out),
                          **_model_stats(model)}
        return built

    # ------------------------------------------------------------------ 2. DLA report
    def dla_reports(self) -> dict[str, Any]:
        return {key: self._check(key) for key in ("gan_original", "yolo")}

    def _check(self, key: str) -> Any:
        o = self.opts
        return _lib_check(self.paths[key], platform=o.platform, trt_version=o.trt_version,
                          precision=o.precision)

    # ------------------------------------------------------------------ 3. rewrite
    def rewrite_generator(self) -> dict[str, dict[str, Any]]:
        """Each rewritten variant: the default exact passes (``rewritten``), or in the
        paper's setup the pass of each paper variant (`medical_paper.VARIANT_PASSES`);
        verified against the original. Returns variant -> what was done."""
        out: dict[str, dict[str, Any]] = {}
        for variant in self.variants[1:]:
            key = f"gan_{variant}"
            path = self.out / "models" / f"{key}.onnx"
            passes = medical_paper.VARIANT_PASSES.get(variant) if self.opts.paper else None
            rewritten, applied = _lib_rewrite(self.paths["gan_original"], passes)
            _save_onnx(rewritten, path)
            self.paths[key] = path
            metrics = _lib_verify(self.paths["gan_original"], path, seed=self.opts.seed,
                                  samples=VERIFY_SAMPLES)
            if not metrics["passed"]:
                raise MedicalError(
                    f"medical example: the {variant} generator differs from the original "
                    f"(max abs diff {metrics['max_abs_diff']:.3g} on seeded inputs, beyond "
                    f"{SAME_KERNELS.describe()}); an exact rewrite must not change the "
                    "outputs: report it as a bug of export.rewrite")
            out[variant] = {"file": _rel(path, self.out), "passes": passes,
                            "changes": applied, "verify": metrics, "dla": self._check(key),
                            **_model_stats(rewritten)}
        return out

    # ------------------------------------------------------------------ 4. estimate
    def estimate_tables(self) -> dict[str, Any]:
        o = self.opts
        folder = self.out / "tables"
        folder.mkdir(parents=True, exist_ok=True)
        out: dict[str, Any] = {}
        for key, groups in ([(k, o.gan_groups) for k in self.gan_keys]
                            + [("yolo", o.yolo_groups)]):
            table = _lib_estimate(self.paths[key], platform=o.platform,
                                  precision=o.precision, groups=groups,
                                  trt_version=o.trt_version, max_crossing=o.max_crossing)
            path = folder / f"{key}.csv"
            table.to_csv(path)
            self.tables[key] = table
            out[key] = {"file": _rel(path, self.out), "table": table}
        return out

    # ------------------------------------------------------------------ 5. solve
    def solve_all(self) -> list[Solved]:
        if self.opts.paper:
            return self._solve_paper()
        from optimizer import api
        from solvers.model.problem import ModelSpec

        o = self.opts
        for scenario in SCENARIOS:
            for objective in OBJECTIVES:
                for variant in VARIANTS:
                    gan_key = f"gan_{variant}"
                    gan = self.tables[gan_key]
                    frames = 1
                    if scenario == "gan2" and objective == "latency":
                        specs = [ModelSpec(gan, "gan1"), ModelSpec(gan, "gan2")]
                        onnx = {"gan1": self.paths[gan_key], "gan2": self.paths[gan_key]}
                    elif scenario == "gan2":
                        specs = [ModelSpec(gan, "gan")]
                        onnx = {"gan": self.paths[gan_key]}
                        frames = 2
                    else:
                        specs = [ModelSpec(gan, "gan"), ModelSpec(self.tables["yolo"], "yolo")]
                        onnx = {"gan": self.paths[gan_key], "yolo": self.paths["yolo"]}
                    problem = api.make_problem(specs, o.platform, objective, o.max_transitions,
                                               o.contention, frames_per_round=frames)
                    self._solve(problem, variant, scenario, objective, onnx)
        return self.solved

    def _solve_paper(self) -> list[Solved]:
        """The paper's generator variants x both scenarios, throughput, in the paper's setup
        and in the default setup (`optimizer.medical_paper.problem`)."""
        for scenario in SCENARIOS:
            for setup in medical_paper.SETUPS:
                for variant in self.variants:
                    problem, keys = medical_paper.problem(self.tables, variant, scenario,
                                                          setup, self.opts)
                    onnx = {model: self.paths[key] for model, key in keys.items()}
                    self._solve(problem, variant, scenario, "throughput", onnx, setup)
        return self.solved

    def _solve(self, problem: Problem, variant: str, scenario: str, objective: str,
               onnx: dict[str, Path], setup: str = "default") -> None:
        from optimizer import api

        o = self.opts
        name = key_name(variant, scenario, objective, setup)
        self.say(f"      solving {name}")
        results: dict[str, Any] = {}
        # with GPU fallback (the paper setup's original generator) the comparison adds
        # TensorRT's own build and the optimum with fallback forbidden (api.FALLBACK_ROWS)
        frame = api.compare(problem, (o.solver,), time_limit=o.time_limit,
                            workers=o.workers, results=results, fallback=problem.any_fallback)
        result = results.get(o.solver)
        if result is None or result.schedule is None:
            raise MedicalError(
                f"medical example: {o.solver} found no schedule for {name} "
                f"({'' if result is None else result.status.value}); raise "
                "--time-limit or choose another solver")
        baselines = {k: v for k, v in results.items() if k != o.solver}
        self.solved.append(Solved(variant, scenario, objective, problem, result, baselines,
                                  frame, onnx, setup))

    # ------------------------------------------------------------------ 6. export
    def export_all(self) -> dict[str, Path]:
        for s in self.solved:
            folder = self.out / "schedules" / s.name
            self.exported[s.name] = _lib_export(s.problem, s.result, s.onnx, folder,
                                                trt_version=self.opts.trt_version,
                                                precision=self.opts.precision)
        return self.exported

    # ------------------------------------------------------------------ 7. run
    def run_all(self) -> dict[str, Any]:
        o = self.opts
        phantom = ct_phantom(GAN_SIZE, frames=o.frames, seed=o.seed, noise=o.noise)
        frames = {"gan": gan_inputs(phantom, o.gan_channels),
                  "yolo": yolo_inputs(phantom, o.yolo_size)}
        reference: dict[str, dict[str, np.ndarray]] = {}
        for key in [*self.gan_keys, "yolo"]:
            reference[key] = _run_whole(self.paths[key], frames["yolo" if key == "yolo"
                                                                  else "gan"])
        out: dict[str, Any] = {"frames": o.frames, "comparison": SAME_KERNELS.to_dict(),
                               "manifests": {},
                               "rewrite_on_phantom": {
                                   v: _image_metrics(reference["gan_original"],
                                                     reference[f"gan_{v}"], o.frames)
                                   for v in self.variants[1:]}}
        for s in self.solved:
            manifest = self.exported[s.name]
            inputs: dict[str, np.ndarray] = {}
            refs: dict[str, dict[str, np.ndarray]] = {}
            for model, path in s.onnx.items():
                kind = "yolo" if model == "yolo" else "gan"
                for name in _input_names(path):
                    inputs[f"{model}/{name}"] = frames[kind]
                refs[model] = reference["yolo" if kind == "yolo" else f"gan_{s.variant}"]
            outputs = _lib_run(manifest, inputs, o.frames)
            checks = [agreement(f"{model}/{name}", value, outputs.get(model, {}).get(name),
                                SAME_KERNELS)
                      for model, ref in refs.items() for name, value in ref.items()]
            diffs = {c.name: c.max_abs_diff for c in checks}
            out["manifests"][s.name] = {
                "max_abs_diff": diffs, "allowed": {c.name: c.allowed for c in checks},
                "worst": max(diffs.values()) if diffs else float("inf"),
                "ok": bool(checks) and all(c.ok for c in checks)}
        return out


# --------------------------------------------------------------------------- helpers
def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _save_onnx(model: Any, path: Path) -> None:
    from profiles.fileio import atomic_write_bytes

    atomic_write_bytes(path, model.SerializeToString())


def _model_stats(model: Any) -> dict[str, Any]:
    """Node count, parameter count (float weights: the paper's Table II for its generator)
    and op histogram of an ONNX model."""
    from export.zoo import parameter_count

    params = parameter_count(model)   # float weights, as Keras and torch count them
    ops: dict[str, int] = {}
    for node in model.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {"nodes": len(model.graph.node), "parameters": params,
            "ops": dict(sorted(ops.items()))}


def _image_metrics(original: dict[str, np.ndarray], rewritten: dict[str, np.ndarray],
                   frames: int) -> dict[str, Any]:
    """The rewritten generator against the original on the phantom frames (scikit-image's
    PSNR and SSIM over the Tanh output range [-1, 1]); PSNR None when identical."""
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    (name,) = original
    # every output plane (frame x channel) is one image
    a = original[name].astype(np.float64).reshape(-1, *original[name].shape[-2:])
    b = rewritten[name].astype(np.float64).reshape(-1, *rewritten[name].shape[-2:])
    mse = float(mean_squared_error(a, b))
    return {"output": name, "frames": frames,
            "max_abs_diff": agreement(name, a, b).max_abs_diff, "mse": mse,
            "psnr_db": None if mse == 0 else float(peak_signal_noise_ratio(a, b,
                                                                            data_range=2.0)),
            "ssim": float(np.mean([structural_similarity(x, y, data_range=2.0)
                                   for x, y in zip(a, b, strict=True)]))}


def _input_names(path: Path) -> list[str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    inits = {t.name for t in model.graph.initializer}
    return [vi.name for vi in model.graph.input if vi.name not in inits]


def _run_whole(path: Path, frames: np.ndarray) -> dict[str, np.ndarray]:
    """The unsplit model run by ONNX Runtime frame by frame, graph optimisations off (the
    runtime's kernels in `_lib_run`): output name -> (F, ...)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), reference_session_options(2),
                                providers=["CPUExecutionProvider"])
    (inp,) = [i.name for i in sess.get_inputs()]
    names = [o.name for o in sess.get_outputs()]
    per: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for frame in frames:
        for n, v in zip(names, sess.run(names, {inp: frame}), strict=True):
            per[n].append(v)
    return {n: np.stack(v) for n, v in per.items()}


# --------------------------------------------------------------------------- library calls
def _lib_build(name: str, *, seed: int, **kwargs: Any) -> Any:
    from export import zoo

    return zoo.build(name, seed=seed, **kwargs)


def _lib_check(path: Path, *, platform: str, trt_version: str, precision: str) -> Any:
    from profiles.dla import check_model

    return check_model(path, platform=platform, trt_version=trt_version, precision=precision)


def _lib_rewrite(path: Path, passes: str | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """`export.rewrite.rewrite` with ``passes`` (None: every default pass; a named pass must
    change something, else one line says why); returns the model and the changes the passes
    applied (pass, node, detail)."""
    import onnx

    from export.rewrite import rewrite

    result = rewrite(onnx.load(str(path)), passes, strict=passes is not None)
    return result.model, [c.to_dict() for c in result.applied]


def _lib_verify(original: Path, rewritten: Path, *, seed: int, samples: int
                ) -> dict[str, Any]:
    """`export.verify.verify` on seeded inputs: max abs diff, MSE, PSNR, SSIM per output."""
    import onnx

    from export.verify import verify

    report = verify(onnx.load(str(original)), onnx.load(str(rewritten)), seed=seed,
                    samples=samples)
    return report.to_dict()


def _lib_estimate(path: Path, *, platform: str, precision: str, groups: int,
                  trt_version: str, max_crossing: int) -> Any:
    from profiles.estimate import estimate

    return estimate(path, platform=platform, precision=precision, groups=groups,
                    trt_version=trt_version, max_crossing=max_crossing).table


def _lib_export(problem: Any, result: Any, onnx: dict[str, Path], folder: Path, *,
                trt_version: str, precision: str) -> Path:
    """`export.exporter.export_schedule`: sub-models, build script, summary, manifest."""
    from export.exporter import export_schedule

    export_schedule(problem, result.schedule, onnx, folder, result=result,
                    trt_version=trt_version, precision=precision)
    return folder / "manifest.json"


def _lib_run(manifest: Path, inputs: dict[str, np.ndarray], frames: int
             ) -> dict[str, dict[str, np.ndarray]]:
    """Run ``frames`` frames of every model of the manifest with the runtime's ONNX Runtime
    CPU backend, graph optimisations off (the kernels of the unsplit reference, so the check
    holds on any CPU: `runtime.agreement.SAME_KERNELS`); ``inputs`` is keyed ``MODEL/INPUT``
    with a leading frames axis. Returns model -> output name -> (frames, ...) in frame order;
    the runtime also saves them next to the manifest (``outputs/MODEL.npz``) so anyone can
    check them again."""
    from runtime.api import load_plan, make_backend, run_manifest

    def source(model: str, frame: int) -> dict[str, np.ndarray]:
        prefix = f"{model}/"
        return {k[len(prefix):]: v[frame] for k, v in inputs.items() if k.startswith(prefix)}

    got: dict[str, dict[int, dict[str, np.ndarray]]] = {}

    def sink(model: str, frame: int, outputs: dict[str, np.ndarray]) -> None:
        got.setdefault(model, {})[frame] = {k: np.array(v) for k, v in outputs.items()}

    plan = load_plan(manifest)
    run_manifest(plan, frames=frames, backend=make_backend("ort", plan, threads=2,
                                                           optimize=False),
                 inputs=source, on_frame=sink, save_outputs=Path(manifest).parent / "outputs")
    out: dict[str, dict[str, np.ndarray]] = {}
    for model, per_frame in got.items():
        names = sorted({n for f in per_frame.values() for n in f})
        out[model] = {n: np.stack([per_frame[f][n] for f in sorted(per_frame)])
                      for n in names}
    return out

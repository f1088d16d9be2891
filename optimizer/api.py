"""The notebook façade: load tables, build a problem, solve, compare, sweep, plot.

A thin layer over `profiles` and `solvers` (design.md: the optimizer holds no algorithm
of its own): every number here comes from `solvers.solve.solve`, the baselines or the
simulator. What it adds is the plumbing a notebook would otherwise repeat: names or paths
instead of `CostTable` objects, a contention strength knob, and results as pandas
DataFrames ready to print or plot. The CLI's ``compare`` and ``plot pareto`` call the
functions below, so the table they print is built in exactly one place.

    from optimizer import api
    problem = api.make_problem(["googlenet_xavier", "alexnet_xavier"], max_transitions=2)
    result = api.solve(problem, time_limit=5)
    api.compare(problem)                   # baselines vs backends, gain over best baseline
    api.gantt(problem, result)             # a matplotlib Figure
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from optimizer.defaults import COMPARE_SOLVERS, MAX_TRANSITIONS_SWEEP, TIME_LIMIT
from optimizer.plots import pareto_mask, plot_gantt, plot_pareto, plot_solve_times, save_figure
from profiles.costtable import CostTable, load_published, published_names, replace_rows
from profiles.errors import ProfileError
from solvers.errors import ProblemError, UnsupportedFeatureError
from solvers.heuristics.baselines import (
    BASELINE_TITLES,
    TENSORRT_BASELINE,
    run_baselines,
    tensorrt_fallback,
)
from solvers.judges.simulator import simulate
from solvers.model.contention import ContentionModel
from solvers.model.problem import ModelSpec, Objective, Pin, Problem, get_platform
from solvers.model.render import render_text
from solvers.model.schedule import Result, Schedule, Segment, SolveStatus, Timeline
from solvers.solve import SOLVERS, solve

TableRef = str | os.PathLike[str] | CostTable | ModelSpec
"""A stored table's name (``googlenet_xavier``), a CSV path, a `CostTable` or a `ModelSpec`."""

COMPARE_COLUMNS = ("name", "kind", "status", "objective", "gain_pct", "lower_bound", "gap",
                   "solve_seconds", "message")
"""Columns of `compare`: ``objective`` in ms (makespan for latency, period per frame for
throughput); ``gain_pct`` = how much lower than the best baseline, in percent."""


# --------------------------------------------------------------------------- tables
def stored_tables() -> list[str]:
    """Names of the cost tables shipped in ``profiles/data`` (for `load_table`)."""
    return published_names()


def load_table(ref: TableRef) -> CostTable:
    """A stored table by name, or a cost table CSV by path (`ProfileError` if neither)."""
    if isinstance(ref, CostTable):
        return ref
    if isinstance(ref, ModelSpec):
        return ref.table
    text = os.fspath(ref)
    if text in published_names():
        return load_published(text)
    path = Path(text)
    if path.is_file():
        return CostTable.from_csv(path)
    raise ProfileError(f"{text!r} is neither a stored table ({', '.join(published_names())}) "
                       "nor an existing CSV file; pass a stored name or a path",
                       source=text)


def assume_bandwidth(table: TableRef, gpu_gbps: float, dla_gbps: float, *,
                     note: str = "") -> CostTable:
    """A copy of ``table`` with constant ``gpu_bw_gbps``/``dla_bw_gbps`` columns.

    For tables measured without bandwidth (the stored HaX-CoNN figures) so that the
    contention model can be explored. The values are an *assumption*, recorded in the
    table's metadata (``bandwidth_assumption``) so it is never mistaken for a measurement.
    """
    base = load_table(table)
    for name, value in (("gpu_gbps", gpu_gbps), ("dla_gbps", dla_gbps)):
        if not (isinstance(value, (int, float)) and value > 0):
            raise ProfileError(f"assume_bandwidth: {name} must be a number > 0 GB/s, "
                               f"got {value!r}", source=base.origin)
    rows = [replace(r, gpu_bw_gbps=float(gpu_gbps),
                    dla_bw_gbps=float(dla_gbps) if r.dla_ms is not None else None)
            for r in base.rows]
    out = replace_rows(base, rows)
    return out.with_metadata(bandwidth_assumption=(
        f"constant gpu_bw_gbps={gpu_gbps:g}, dla_bw_gbps={dla_gbps:g} (assumed, not "
        f"measured){': ' + note if note else ''}"))


def _specs(tables: TableRef | Sequence[TableRef]) -> list[CostTable | ModelSpec]:
    if isinstance(tables, (str, os.PathLike, CostTable, ModelSpec)):
        tables = [tables]
    out: list[CostTable | ModelSpec] = []
    for t in tables:
        out.append(t if isinstance(t, ModelSpec) else load_table(t))
    if not out:
        raise ProblemError("no tables given; pass stored names (see stored_tables()) or paths")
    return out


# --------------------------------------------------------------------------- problems
def make_problem(
    tables: TableRef | Sequence[TableRef],
    platform: str = "xavier-agx",
    objective: Objective | str = "latency",
    max_transitions: int = 2,
    contention: ContentionModel | str | None = "auto",
    strength: float | None = None,
    *,
    frames_per_round: int = 1,
    loadable_limit: int | None = None,
    pins: Sequence[Pin] = (),
    weights: Mapping[str, float] | None = None,
    deadlines: Mapping[str, float] | None = None,
    gpu_fallback: str | Iterable[str] | None = None,
) -> Problem:
    """`Problem.create` with tables by name or path and a contention ``strength`` knob.
    ``gpu_fallback``: ``"all"`` or model names built with TensorRT's GPU fallback
    (docs/model.md 2.1).

    ``strength`` scales the contention model (0 = off, 1 = the platform preset, 2 = twice
    the loss rates, capped at the model's ``k_max``); it needs bandwidth columns in every
    table (see `assume_bandwidth`), else `ProblemError` says so.
    """
    specs = _specs(tables)
    if strength is not None and contention in ("auto", None, "none", "off"):
        # an explicit strength asks for contention: demand the preset
        contention = "preset" if strength > 0 else "none"
    problem = Problem.create(specs, platform, objective=objective,
                             max_transitions=max_transitions, loadable_limit=loadable_limit,
                             pins=pins, contention=contention,
                             frames_per_round=frames_per_round, weights=weights,
                             deadlines=deadlines, gpu_fallback=gpu_fallback)
    if strength is not None and strength > 0:
        problem = replace(problem, contention=problem.contention.scaled(strength))
    return problem


def render(problem: Problem, what: Result | Timeline | Schedule) -> str:
    """The text rendering of a result or schedule (`solvers.model.render.render_text`)."""
    return render_text(problem, what)


def timeline_of(problem: Problem, what: Result | Timeline | Schedule) -> Timeline:
    """The simulator's timeline of a result, schedule or timeline."""
    if isinstance(what, Timeline):
        return what
    if isinstance(what, Schedule):
        return simulate(problem, what)
    if what.timeline is not None:
        return what.timeline
    if what.schedule is not None:
        return simulate(problem, what.schedule)
    raise ProblemError(f"{what.solver} found no schedule ({what.status.value}"
                       f"{': ' + what.message if what.message else ''}); nothing to draw")


def gantt(problem: Problem, what: Result | Timeline | Schedule,
          path: str | os.PathLike[str] | None = None, *, title: str | None = None,
          segment_label: Callable[[int, Segment], str] | None = None) -> Figure:
    """Gantt chart (one row per device) of a result, schedule or timeline; saved as PNG +
    SVG when ``path`` is given. ``segment_label(job index, segment)`` names a box's
    layers (default: its groups, ``g3-7``)."""
    return plot_gantt(problem, timeline_of(problem, what), path, title=title,
                      segment_label=segment_label)


# --------------------------------------------------------------------------- rounding
COMPARE_DECIMALS = {"objective": 6, "lower_bound": 6, "gap": 6, "gain_pct": 2,
                    "solve_seconds": 3}
"""Decimals kept in `compare`'s columns: times to the nanosecond (ms), gaps to 1e-6 (a
fraction: 0.000001 = 0.0001 %), percentages to 0.01, seconds to the millisecond. Float
noise such as a gap of 1.8e-16 (objective == bound up to rounding) shows as 0."""

SWEEP_DECIMALS = {"latency_ms": 6, "period_ms": 6, "throughput_fps": 3, "latency_gap": 6,
                  "throughput_gap": 6, "aware_ms": 6, "blind_ms": 6, "baseline_ms": 6,
                  "contention_ms": 6, "blind_penalty_pct": 2, "gain_vs_baseline_pct": 2}


def _rounded(frame: pd.DataFrame, decimals: Mapping[str, int]) -> pd.DataFrame:
    """``frame`` with its float columns rounded as ``decimals`` says (and -0.0 as 0.0)."""
    cols = {c: d for c, d in decimals.items() if c in frame.columns}
    out = frame.round(cols)
    for c in cols:
        out[c] = out[c] + 0.0
    return out


# --------------------------------------------------------------------------- compare
def compare(
    problem: Problem,
    solvers: Iterable[str] = COMPARE_SOLVERS,
    *,
    baselines: bool = True,
    time_limit: float | str | None = TIME_LIMIT,
    workers: int = 2,
    progress: Callable[[str], None] | None = None,
    results: dict[str, Result] | None = None,
    fallback: bool = False,
) -> pd.DataFrame:
    """One row per baseline and per backend (columns `COMPARE_COLUMNS`); by default the
    backends `layerswap compare` runs (`optimizer.defaults.COMPARE_SOLVERS`).

    ``fallback=True`` (what `layerswap compare` passes when `fallback_matters`): three more
    rows, TensorRT's GPU fallback (docs/model.md 2.1) against the partition: the baseline
    "as TensorRT builds it" (`FALLBACK_ROWS`; a baseline row) and CP-SAT's optimum with
    fallback allowed and forbidden for every model (solver rows; `fallback_comparison`).

    ``gain_pct`` is ``(best_baseline - objective) / best_baseline * 100``: positive when
    the row beats every baseline. A backend that cannot express this problem
    (`UnsupportedFeatureError`) gets status ``unsupported`` and its message instead of
    a number. Pass a dict as ``results`` to receive the `Result` objects by row name.
    """
    names = list(solvers)
    unknown = [s for s in names if s not in SOLVERS]
    if unknown:
        raise ProblemError(f"unknown solver(s) {', '.join(unknown)}; choose from "
                           f"{', '.join(SOLVERS)}")
    rows: list[dict[str, Any]] = []
    got: dict[str, Result] = {}
    if baselines:
        if progress:
            progress("running baselines")
        for name, res in run_baselines(problem).items():
            got[name] = res
            rows.append(_row(name, "baseline", res))
    for name in names:
        if progress:
            progress(f"solving with {name}")
        try:
            res = solve(problem, name, time_limit=time_limit, workers=workers,
                        progress=progress)
        except UnsupportedFeatureError as exc:
            rows.append({"name": name, "kind": "solver", "status": "unsupported",
                         "objective": None, "lower_bound": None, "gap": None,
                         "solve_seconds": None, "message": str(exc)})
            continue
        got[name] = res
        rows.append(_row(name, "solver", res))
    if fallback:
        if progress:
            progress("running baselines: as TensorRT builds it (GPU fallback)")
        known = {key: got["cpsat"] for key, on in (("optimum_with_fallback", True),
                                                   ("optimum_without_fallback", False))
                 if "cpsat" in got and problem.with_gpu_fallback(on) == problem}
        side = fallback_comparison(problem, time_limit=time_limit, workers=workers,
                                   progress=progress, known=known,
                                   baselines=baselines)
        for key, res in side.items():
            name = FALLBACK_ROWS[key]
            got[name] = res
            rows.append(_row(name, "baseline" if key.startswith("baseline") else "solver",
                             res))
    best = min((r["objective"] for r in rows
                if r["kind"] == "baseline" and r["objective"] is not None), default=None)
    for r in rows:
        r["gain_pct"] = (None if best is None or r["objective"] is None or best <= 0
                         else (best - r["objective"]) / best * 100.0)
    if results is not None:
        results.update(got)
    frame = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS)).astype(
        {"objective": "float64", "gain_pct": "float64", "lower_bound": "float64",
         "gap": "float64", "solve_seconds": "float64"})
    frame = _rounded(frame, COMPARE_DECIMALS)
    frame.attrs["disagreement"] = disagreements(
        {n: r for n, r in got.items() if n in names})
    return frame


FALLBACK_ROWS = {"baseline_with_fallback": BASELINE_TITLES[TENSORRT_BASELINE],
                 "optimum_with_fallback": "cpsat, GPU fallback allowed",
                 "optimum_without_fallback": "cpsat, GPU fallback forbidden"}
"""`compare`'s row names for the keys of `fallback_comparison`."""


def fallback_matters(problem: Problem) -> bool:
    """Whether TensorRT's GPU fallback can change anything: some model has DLA costs and a
    group no DLA core runs, on a platform with DLA cores."""
    if not problem.platform.dla_cores:
        return False
    return any(any(r.dla_ms is not None for r in problem.table(j.index).rows)
               and any(problem.refused(j.index, g) for g in range(problem.n_groups(j.index)))
               for j in problem.jobs)


def fallback_comparison(
    problem: Problem,
    solver: str = "cpsat",
    *,
    time_limit: float | str | None = TIME_LIMIT,
    workers: int = 2,
    progress: Callable[[str], None] | None = None,
    known: Mapping[str, Result] | None = None,
    baselines: bool = True,
) -> dict[str, Result]:
    """How much the partition alone recovers from TensorRT's GPU fallback (docs/model.md
    2.1): ``{"baseline_with_fallback": ..., "optimum_with_fallback": ...,
    "optimum_without_fallback": ...}``, results of `tensorrt_fallback` ("as TensorRT builds
    it": one switch per model, the DLA part with fallback) and of ``solver`` on
    ``problem.with_gpu_fallback(True)`` and ``problem.with_gpu_fallback(False)`` (render or
    draw each with that problem). ``known`` supplies results already computed (same keys);
    ``baselines=False`` leaves the baseline out."""
    out: dict[str, Result] = {}
    baseline = tensorrt_fallback(problem)
    if baselines:
        out["baseline_with_fallback"] = baseline
    key = "optimum_without_fallback"
    if known and key in known:
        out[key] = known[key]
    else:
        if progress:
            progress(f"solving with {solver}, GPU fallback forbidden")
        out[key] = solve(problem.with_gpu_fallback(False), solver, time_limit=time_limit,
                         workers=workers, progress=progress)
    key = "optimum_with_fallback"
    if known and key in known:
        out[key] = known[key]
    else:
        # TensorRT's build and the optimum without fallback are both schedules of the
        # problem with fallback (its baseline uses at most one switch): the better one
        # is the hint, and a search stopped by the time limit never reports worse
        allowed = problem.with_gpu_fallback(True)
        starts = [r for r in (baseline, out["optimum_without_fallback"])
                  if r.schedule is not None and r.objective is not None
                  and r.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
                  and _fits(allowed, r.schedule)]
        best = min(starts, key=lambda r: r.objective, default=None)
        if progress:
            progress(f"solving with {solver}, GPU fallback allowed")
        res = solve(allowed, solver, time_limit=time_limit, workers=workers,
                    progress=progress, hint="greedy" if best is None else best.schedule)
        if best is not None and (res.objective is None
                                 or res.objective > best.objective * (1 + 1e-9)):
            res = Result(SolveStatus.FEASIBLE, res.solver, best.schedule,
                         simulate(allowed, best.schedule), best.objective, res.lower_bound,
                         res.solve_seconds, {**res.stats, "kept_hint": best.solver},
                         f"{solver} found nothing better than its hint ({best.solver}) "
                         "within the time limit")
        out[key] = res
    order = ("baseline_with_fallback", "optimum_with_fallback", "optimum_without_fallback")
    return {key: out[key] for key in order if key in out}


def _fits(problem: Problem, schedule: Schedule) -> bool:
    try:
        schedule.validate(problem)
    except ProblemError:
        return False
    return True


DISAGREEMENT_REL_TOL = 1e-6
"""Two backends that both claim ``optimal`` must agree on the objective to this relative
tolerance; beyond it one of them is wrong (`disagreements`)."""


def disagreements(results: Mapping[str, Result], rel_tol: float = DISAGREEMENT_REL_TOL
                  ) -> list[dict[str, Any]]:
    """Pairs of backends that both claim ``optimal`` but whose objectives differ by more
    than ``rel_tol`` (relative to the larger): ``{"solvers": [a, b], "objectives": [x, y],
    "relative_difference": r}``. An optimum is unique, so any entry means a backend's
    proof is wrong (`compare` records them in ``frame.attrs["disagreement"]``)."""
    optimal = [(n, float(r.objective)) for n, r in results.items()
               if r.status is SolveStatus.OPTIMAL and r.objective is not None]
    out = []
    for i, (a, x) in enumerate(optimal):
        for b, y in optimal[i + 1:]:
            scale = max(abs(x), abs(y))
            diff = abs(x - y) / scale if scale > 0 else 0.0
            if diff > rel_tol:
                out.append({"solvers": [a, b], "objectives": [round(x, 9), round(y, 9)],
                            "relative_difference": round(diff, 9)})
    return out


def _row(name: str, kind: str, res: Result) -> dict[str, Any]:
    ok = res.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    return {"name": name, "kind": kind, "status": res.status.value,
            "objective": res.objective if ok else None,
            "lower_bound": res.lower_bound, "gap": res.gap,
            "solve_seconds": res.solve_seconds, "message": res.message}


# --------------------------------------------------------------------------- sweeps
def sweep_max_transitions(
    tables: TableRef | Sequence[TableRef] | Problem,
    max_transitions: Iterable[int] = MAX_TRANSITIONS_SWEEP,
    *,
    platform: str = "xavier-agx",
    solver: str = "cpsat",
    time_limit: float | str | None = TIME_LIMIT,
    workers: int = 2,
    contention: ContentionModel | str | None = "auto",
    strength: float | None = None,
    frames_per_round: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Latency and throughput optima for each max transitions value T (for `plot_pareto`).

    ``tables``: tables (then ``platform``, ``contention``, ``strength`` build the problem)
    or a `Problem`, whose every other setting (pins, weights, deadlines, loadable limit,
    contention) is kept; only its objective and max transitions vary. Throughput uses
    ``frames_per_round`` (default: the problem's, else 1).

    One row per T: ``max_transitions``, ``latency_ms`` / ``latency_status`` /
    ``latency_gap`` (makespan of one concurrent inference), ``period_ms`` /
    ``throughput_fps`` / ``throughput_status`` / ``throughput_gap`` (steady-state stream).
    With an exact solver that proves optimality, more transitions are never worse: every
    schedule allowed with T is also allowed with T + 1.
    """
    if isinstance(tables, Problem):
        base = tables
        frames = frames_per_round or base.frames_per_round

        def problem_for(objective: str, t: int) -> Problem:
            return replace(base, objective=Objective(objective), max_transitions=t,
                           frames_per_round=frames if objective == "throughput" else 1,
                           warnings=())
    else:
        specs = _specs(tables)
        frames = frames_per_round or 1

        def problem_for(objective: str, t: int) -> Problem:
            return make_problem(specs, platform, objective, t, contention, strength,
                                frames_per_round=frames if objective == "throughput" else 1)

    rows = []
    for value in max_transitions:
        t = int(value)
        row: dict[str, Any] = {"max_transitions": t}
        for key in ("latency", "throughput"):
            problem = problem_for(key, t)
            if progress:
                progress(f"max transitions {t}: {key}")
            res = solve(problem, solver, time_limit=time_limit, workers=workers)
            ok = res.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
            value_ms = res.objective if ok else None
            if key == "latency":
                row["latency_ms"] = value_ms
            else:
                row["period_ms"] = value_ms
                row["throughput_fps"] = None if value_ms is None else 1000.0 / value_ms
            row[f"{key}_status"] = res.status.value
            row[f"{key}_gap"] = res.gap
        rows.append(row)
    return pd.DataFrame(rows, columns=["max_transitions", "latency_ms", "latency_status",
                                       "latency_gap", "period_ms", "throughput_fps",
                                       "throughput_status", "throughput_gap"]).astype(
        {"latency_ms": "float64", "period_ms": "float64", "throughput_fps": "float64",
         "latency_gap": "float64", "throughput_gap": "float64"}).pipe(_rounded, SWEEP_DECIMALS)


def sweep_switch_budget(tables: TableRef | Sequence[TableRef] | Problem,
                        budgets: Iterable[int] = MAX_TRANSITIONS_SWEEP, **options: Any
                        ) -> pd.DataFrame:
    """Deprecated name of `sweep_max_transitions` (``budgets`` = its ``max_transitions``)."""
    return sweep_max_transitions(tables, budgets, **options)


def sweep_contention(
    tables: TableRef | Sequence[TableRef],
    strengths: Iterable[float] = (0.0, 0.5, 1.0, 1.5, 2.0),
    *,
    objective: Objective | str = "latency",
    max_transitions: int = 2,
    platform: str = "xavier-agx",
    solver: str = "cpsat",
    time_limit: float | str | None = TIME_LIMIT,
    workers: int = 2,
    frames_per_round: int = 1,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """How much contention costs, and what knowing about it is worth, per strength.

    For each strength: ``aware_ms`` is the solver's objective on the problem with that
    contention; ``blind_ms`` is the contention-free optimum's schedule judged by the
    simulator *with* that contention (what a contention-blind optimizer delivers);
    ``best_baseline`` / ``baseline_ms`` the best baseline there; ``blind_penalty_pct`` =
    ``(blind - aware) / aware * 100``. Tables need bandwidth columns (`assume_bandwidth`).
    """
    specs = _specs(tables)

    def problem_at(strength: float) -> Problem:
        return make_problem(specs, platform, objective, max_transitions, "none",
                            strength, frames_per_round=frames_per_round)

    blind = solve(problem_at(0.0), solver, time_limit=time_limit, workers=workers)
    rows = []
    for strength in strengths:
        if progress:
            progress(f"contention strength {strength:g}")
        problem = problem_at(float(strength))
        res = solve(problem, solver, time_limit=time_limit, workers=workers)
        ok = res.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
        aware = res.objective if ok else None
        blind_ms = (simulate(problem, blind.schedule).objective_ms
                    if blind.schedule is not None else None)
        base = [(r.objective, n) for n, r in run_baselines(problem).items()
                if r.objective is not None and r.status is SolveStatus.FEASIBLE]
        base_ms, base_name = min(base) if base else (None, None)
        rows.append({
            "strength": float(strength), "aware_ms": aware, "aware_status": res.status.value,
            "blind_ms": blind_ms, "best_baseline": base_name, "baseline_ms": base_ms,
            "contention_ms": None if res.timeline is None else
            sum(t.contention_ms for t in res.timeline.segments),
            "blind_penalty_pct": None if aware is None or blind_ms is None or aware <= 0
            else (blind_ms - aware) / aware * 100.0,
            "gain_vs_baseline_pct": None if aware is None or base_ms is None or base_ms <= 0
            else (base_ms - aware) / base_ms * 100.0,
        })
    return pd.DataFrame(rows).astype(
        {c: "float64" for c in ("aware_ms", "blind_ms", "baseline_ms", "contention_ms",
                                "blind_penalty_pct", "gain_vs_baseline_pct")}).pipe(
        _rounded, SWEEP_DECIMALS)


def pareto_front(df: pd.DataFrame, x: str = "latency_ms", y: str = "throughput_fps"
                 ) -> pd.DataFrame:
    """The rows of ``df`` that no other row beats (lower ``x`` and higher ``y``), by ``x``."""
    mask = pareto_mask([_num(v) for v in df[x]], [_num(v) for v in df[y]])
    return df[mask].sort_values([x, y]).reset_index(drop=True)


def _num(v: Any) -> float:
    return float("nan") if v is None or pd.isna(v) else float(v)


def platforms() -> list[str]:
    """Platform preset names for `make_problem`."""
    from solvers.model.problem import PLATFORMS

    return list(PLATFORMS)


__all__ = [
    "COMPARE_COLUMNS",
    "FALLBACK_ROWS",
    "SOLVERS",
    "assume_bandwidth",
    "compare",
    "disagreements",
    "fallback_comparison",
    "fallback_matters",
    "gantt",
    "get_platform",
    "load_table",
    "make_problem",
    "pareto_front",
    "platforms",
    "plot_gantt",
    "plot_pareto",
    "plot_solve_times",
    "render",
    "save_figure",
    "simulate",
    "solve",
    "stored_tables",
    "sweep_contention",
    "sweep_max_transitions",
    "timeline_of",
]


"""Reading a results database: the best configuration per model set, a summary per
platform, and three figures (gain heatmap per pair, latency/FPS Pareto fronts across
platforms, solve-time scaling). Everything takes the DataFrame of `db.read_frame`, so a
notebook can filter it first with pandas.

Which rows compete: a row with a schedule (status optimal or feasible) competes with the
rows of the same model set, objective, precision and contention setting; the platform,
max transitions, variant and solver are the choices being compared. (Contention on and off
are two models of the same board, and a precision changes accuracy: neither is a free
choice, so each gets its own winner.)
"""

from __future__ import annotations

import math
import os
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from optimizer.plots import STATUS_MARKERS, pareto_mask, save_figure
from optimizer.sweep.db import ResultsError

FOUND = ("optimal", "feasible")
COMPETE_KEY = ["models", "objective", "precision", "contention"]
BEST_BY = ("pair", "platform")
PLOTS = ("heatmap", "pareto", "scaling")
MAX_PANELS = 9
PAIR_COLUMNS = ["models", "objective", "precision", "contention", "platform",
                "max_transitions", "variant", "solver", "status", "objective_ms", "fps",
                "gain_pct", "best_baseline", "runner_up", "margin_pct", "point_id"]


def found(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with a schedule (optimal or feasible) and an objective."""
    return frame[frame["status"].isin(FOUND) & frame["objective_ms"].notna()]


def best_by_pair(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model set (and objective, precision, contention): the configuration
    with the lowest objective, the best platform other than its own (``runner_up``) and
    how much lower the winner is than that platform's best (``margin_pct``)."""
    rows = []
    for key, group in found(frame).groupby(COMPETE_KEY, sort=True):
        ranked = group.sort_values(["objective_ms", "platform", "max_transitions",
                                    "variant", "solver"], kind="stable")
        best = ranked.iloc[0]
        others = ranked[ranked["platform"] != best["platform"]]
        row = {c: best[c] for c in PAIR_COLUMNS if c in best.index}
        row.update(dict(zip(COMPETE_KEY, key, strict=True)))
        if len(others):
            other = others.iloc[0]
            row["runner_up"] = other["platform"]
            row["margin_pct"] = round((other["objective_ms"] - best["objective_ms"])
                                      / other["objective_ms"] * 100.0, 2)
        else:
            row["runner_up"], row["margin_pct"] = None, None
        rows.append(row)
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def best_by_platform(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per platform and objective: how many points, how many proven optimal, how
    many failed, the median and best gain over the baselines (with the model set of the
    best), and for how many model sets it is the best platform (`best_by_pair`)."""
    wins = best_by_pair(frame).groupby(["platform", "objective"]).size()
    rows = []
    for (platform, objective), group in frame.groupby(["platform", "objective"], sort=True):
        ok = found(group)
        gains = ok["gain_pct"].dropna()
        top = ok.loc[gains.idxmax()] if len(gains) else None
        rows.append({
            "platform": platform, "objective": objective, "points": len(group),
            "optimal": int((group["status"] == "optimal").sum()),
            "errors": int((group["status"] == "error").sum()),
            "median_gain_pct": None if gains.empty else round(float(gains.median()), 2),
            "best_gain_pct": None if top is None else round(float(top["gain_pct"]), 2),
            "best_gain_models": None if top is None else top["models"],
            "best_for_sets": int(wins.get((platform, objective), 0)),
        })
    return pd.DataFrame(rows)


def best_by(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """`best_by_pair` or `best_by_platform`."""
    if by not in BEST_BY:
        raise ResultsError(f"--best-by must be one of {', '.join(BEST_BY)}, not {by!r}")
    return best_by_pair(frame) if by == "pair" else best_by_platform(frame)


def overview(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts: points, statuses, sweeps, model sets, platforms."""
    return {"points": len(frame),
            "statuses": {str(k): int(v) for k, v in
                         frame["status"].value_counts().sort_index().items()},
            "sweeps": sorted(frame["sweep"].dropna().unique().tolist()),
            "model_sets": int(frame["models"].nunique()),
            "platforms": sorted(frame["platform"].dropna().unique().tolist())}


# ---------------------------------------------------------------------- figures
def plot(frame: pd.DataFrame, kind: str) -> Figure:
    """Draw ``kind``: heatmap | pareto | scaling (`write_plot` saves it)."""
    makers = {"heatmap": plot_heatmap, "pareto": plot_pareto_platforms,
              "scaling": plot_scaling}
    if kind not in makers:
        raise ResultsError(f"--plot must be one of {', '.join(PLOTS)}, not {kind!r}")
    return makers[kind](frame)


def _grid(n: int, width: float = 4.2, height: float = 3.6) -> tuple[Figure, list[Any]]:
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows), dpi=120, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def plot_heatmap(frame: pd.DataFrame) -> Figure:
    """Gain over the best baseline (%) of each pair, one panel per platform and objective:
    the best gain over the other axes (max transitions, variant, solver, ...)."""
    pairs = found(frame[frame["n_models"] == 2])
    if pairs.empty:
        raise ResultsError("the heatmap needs pairs (groups.size = 2) with a schedule; "
                           "none in these results")
    panels = sorted(pairs.groupby(["platform", "objective"]).groups)[:MAX_PANELS]
    fig, axes = _grid(len(panels))
    for ax, (platform, objective) in zip(axes, panels, strict=True):
        part = pairs[(pairs["platform"] == platform) & (pairs["objective"] == objective)]
        names = sorted({m for s in part["models"] for m in s.split("+")})
        index = {n: i for i, n in enumerate(names)}
        grid = [[math.nan] * len(names) for _ in names]
        for models, gain in part.groupby("models")["gain_pct"].max().items():
            a, b = str(models).split("+")
            grid[index[a]][index[b]] = grid[index[b]][index[a]] = float(gain)
        image = ax.imshow(grid, cmap="viridis", vmin=0)
        for i in range(len(names)):
            for j in range(len(names)):
                if not math.isnan(grid[i][j]):
                    ax.text(j, i, f"{grid[i][j]:.0f}", ha="center", va="center",
                            fontsize=7, color="white" if grid[i][j] < 10 else "black")
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_title(f"{platform}, {objective}", fontsize=9)
        fig.colorbar(image, ax=ax, shrink=0.8, label="gain over best baseline (%)")
    fig.suptitle("gain of the solver's schedule over the best baseline, per pair")
    return fig


def plot_pareto_platforms(frame: pd.DataFrame) -> Figure:
    """Latency (ms, from the latency points) against FPS (from the throughput points of
    the same configuration) for each model set, coloured by platform; the Pareto front
    (lower latency, higher FPS) of each set is joined."""
    join = ["models", "platform", "precision", "max_transitions", "contention", "variant",
            "solver", "time_limit_s"]
    ok = found(frame)
    lat = ok[ok["objective"] == "latency"][[*join, "objective_ms"]]
    thr = ok[ok["objective"] == "throughput"][[*join, "fps"]]
    both = lat.merge(thr, on=join).rename(columns={"objective_ms": "latency_ms"})
    if both.empty:
        raise ResultsError("the Pareto plot needs latency and throughput points of the same "
                           "configurations (axes.objectives = [\"latency\", \"throughput\"])")
    sets = both["models"].value_counts().sort_index(kind="stable")
    chosen = sorted(sets.sort_values(ascending=False, kind="stable").index[:MAX_PANELS])
    platforms = sorted(both["platform"].unique())
    colors = dict(zip(platforms, ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3",
                                  "#937860", "#DA8BC3"), strict=False))
    fig, axes = _grid(len(chosen))
    for ax, models in zip(axes, chosen, strict=True):
        part = both[both["models"] == models]
        for platform in platforms:
            mine = part[part["platform"] == platform]
            ax.scatter(mine["latency_ms"], mine["fps"], s=22, alpha=0.8,
                       color=colors.get(platform, "#8C8C8C"), label=platform)
        mask = pareto_mask(part["latency_ms"].tolist(), part["fps"].tolist())
        front = part[mask].sort_values(["latency_ms", "fps"])
        ax.plot(front["latency_ms"], front["fps"], color="black", linewidth=1, zorder=1)
        ax.set_title(str(models), fontsize=9)
        ax.set_xlabel("latency (ms)", fontsize=8)
        ax.set_ylabel("throughput (FPS)", fontsize=8)
        ax.grid(linewidth=0.3, alpha=0.6)
        ax.legend(fontsize=7)
    more = len(sets) - len(chosen)
    fig.suptitle("latency vs throughput across platforms" + (
        f" ({len(chosen)} of {len(sets)} model sets)" if more else ""))
    return fig


def plot_scaling(frame: pd.DataFrame) -> Figure:
    """Solve seconds against the problem's size (layer groups over all models), by solver
    and status; dotted lines mark the time limits."""
    ok = frame[frame["solve_seconds"].notna()]
    if ok.empty:
        raise ResultsError("no solved points (solve_seconds) to draw")
    fig = Figure(figsize=(6.4, 4.4), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    palette = ("#4C72B0", "#DD8452", "#55A868", "#C44E52")
    for i, solver in enumerate(sorted(ok["solver"].unique())):
        for status in sorted(ok["status"].unique()):
            part = ok[(ok["solver"] == solver) & (ok["status"] == status)]
            if part.empty:
                continue
            ax.scatter(part["groups_total"], part["solve_seconds"], s=18, alpha=0.7,
                       marker=STATUS_MARKERS.get(status, "o"), color=palette[i % 4],
                       label=f"{solver}: {status}")
    for limit in sorted(ok["time_limit_s"].dropna().unique()):
        ax.axhline(limit, linestyle=":", color="#8C8C8C", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("layer groups over all models of the point")
    ax.set_ylabel("solve time (s)")
    ax.grid(linewidth=0.3, alpha=0.6)
    ax.legend(fontsize=7)
    ax.set_title("solve time against problem size")
    return fig


def write_plot(frame: pd.DataFrame, kind: str, path: str | os.PathLike[str]) -> list[str]:
    """`plot` to ``path``; returns the files written (PNG and SVG)."""
    return [str(p) for p in save_figure(plot(frame, kind), path)]


__all__ = ["BEST_BY", "PLOTS", "best_by", "best_by_pair", "best_by_platform", "found",
           "overview", "plot", "plot_heatmap", "plot_pareto_platforms", "plot_scaling",
           "write_plot"]

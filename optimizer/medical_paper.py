"""The seed paper's setup (`layerswap example medical --paper`) and its tables in the paper's
form, with the paper's measured numbers beside ours.

The paper (Majeed, Meribout, Sali; domain.md section 4) ran, on a Jetson with DeepStream:

- its generator, the TensorFlow Pix2Pix tutorial's U-Net (`export.zoo` ``pix2pix_tf``,
  3 -> 3 channels, 256 x 256), in three variants: *original* (padded ConvTranspose, which
  the DLA refuses: TensorRT built it with GPU fallback), *cropping* (unpadded
  ConvTranspose + crop, our exact ``convtranspose_pad_to_crop``) and *convolution*
  (unpadded ConvTranspose + 3x3 valid convolution, ``convtranspose_pad_to_conv``: exact
  here because the new kernel starts as a per-channel identity; the paper retrained it);
- one DLA core, at most one device switch per instance;
- two GANs: one instance starting on the DLA, the other on the GPU; or one GAN + YOLO.

`problem` builds that setup (``setup="paper"``) or, for the side-by-side, today's richer
default setup on the same models (``setup="default"``: both DLA cores,
``opts.max_transitions`` switches, no pins). Both are throughput problems in which a round
processes one frame of every instance (each instance is its own model: the pins can tell
the two GANs apart).

GPU fallback: see the marked hook (`fallback_options`), the one place where ``--paper``
switches it on for the original generator once the scheduling model has it (issue 21
items 1-2). Until then the original generator's rows are the solver's partition *around*
the DLA-refused layers, and the report says so.

`PAPER_MEASURED` holds the paper's measured Tables III-VI; `section` renders them beside our
estimates, with the ratio, the rewrite gain and whether ours move in the paper's direction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from optimizer.medical_setup import (
    BALANCE_TOLERANCE,
    MedicalOptions,
    fmt_num,
    fmt_share,
)
from optimizer.text import signed_pct

PAPER_VARIANTS = ("original", "cropping", "convolution")
"""The paper's generator variants (its Table II)."""
VARIANT_PASSES = {"cropping": "convtranspose_pad_to_crop",
                  "convolution": "convtranspose_pad_to_conv"}
"""The `export.rewrite` pass that makes each rewritten variant from the original."""
SETUPS = ("paper", "default")
"""The paper's setup, and today's richer default setup on the same models."""
PAPER_MAX_TRANSITIONS = 1
PAPER_SCENARIO_TITLES = {"gan2": "two GANs", "gan_yolo": "GAN + YOLO"}
PAPER_SOURCE = ("the seed paper (Majeed, Meribout, Sali), Tables III-VI: measured on a "
                "Jetson with DeepStream, one DLA core, one switch per instance")


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Tables III-VI: switch layers and per-instance frame rates."""

    dla_to_gpu: int
    gpu_to_dla: int
    gpu_fps: float   # the instance that starts on the GPU
    dla_fps: float   # the instance that starts on the DLA


PAPER_MEASURED: Mapping[tuple[str, str], PaperRow] = {
    ("gan2", "original"): PaperRow(4, 14, 172.59, 86.94),
    ("gan2", "cropping"): PaperRow(4, 53, 161.84, 147.66),
    ("gan2", "convolution"): PaperRow(4, 48, 155.64, 144.06),
    ("gan_yolo", "original"): PaperRow(2, 12, 160.00, 141.87),
    ("gan_yolo", "cropping"): PaperRow(9, 50, 156.26, 156.08),
    ("gan_yolo", "convolution"): PaperRow(6, 46, 152.65, 151.85),
}
"""(scenario, variant) -> the paper's measured row ({PAPER_SOURCE}); for GAN + YOLO with
the original generator the switch layers are the GAN's."""

TRT_BASELINE = "as TensorRT builds it"
"""The name of the baseline that builds the original generator as TensorRT does (GPU
fallback, HaX-CoNN-style cuts: what the paper ran), once the scheduling model has it."""


# GPU fallback (docs/model.md 2.1): in the paper setup the original generator is built as
# TensorRT builds it, with --allowGPUFallback: its DLA segments may span the refused
# ConvTranspose layers, which then run on the GPU.
def fallback_options(specs: Sequence[Any], models: Sequence[str]) -> list[Any]:
    """``specs`` with GPU fallback allowed for the models named ``models``."""
    return [replace(s, gpu_fallback=True) if s.name in models else s for s in specs]


def fallback_models(variant: str, setup: str, gan_models: Sequence[str]) -> list[str]:
    """The models built with GPU fallback: the original generator's, in the paper setup."""
    return list(gan_models) if setup == "paper" and variant == "original" else []


def problem(tables: Mapping[str, Any], variant: str, scenario: str, setup: str,
            opts: MedicalOptions) -> tuple[Any, dict[str, str]]:
    """The throughput problem of one (variant, scenario, setup) and, per model, the key of
    its table (``gan_<variant>`` or ``yolo``)."""
    from optimizer import api
    from solvers.model.problem import Device, ModelSpec, Pin

    gan_key = f"gan_{variant}"
    keys = ({"gan_dla": gan_key, "gan_gpu": gan_key} if scenario == "gan2"
            else {"gan": gan_key, "yolo": "yolo"})
    specs = [ModelSpec(tables[key], name) for name, key in keys.items()]
    pins: list[Pin] = []
    transitions = opts.max_transitions
    if setup == "paper":
        transitions = PAPER_MAX_TRANSITIONS
        one_core = frozenset({Device.GPU, Device.DLA0})
        pins += [Pin(s.name, 0, s.table.n_groups - 1, one_core) for s in specs]
        if scenario == "gan2":
            pins += [Pin("gan_dla", 0, 0, frozenset({Device.DLA0})),
                     Pin("gan_gpu", 0, 0, frozenset({Device.GPU}))]
    gan_models = [n for n in keys if n.startswith("gan")]
    specs = fallback_options(specs, fallback_models(variant, setup, gan_models))
    made = api.make_problem(specs, opts.platform, "throughput", transitions, opts.contention,
                            pins=pins)
    return made, keys


# --------------------------------------------------------------------------- report rows
def _ratio(ours: float | None, paper: float | None) -> str:
    if ours is None or paper is None or not paper:
        return "–"
    return f"{ours / paper:.2f}"


def _imbalance(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or max(a, b) <= 0:
        return None
    return abs(a - b) / max(a, b)


def instance_rows(solve: Mapping[str, Any]) -> dict[str, Any]:
    """The paper-form row of one solve entry (`medical_report`): switch layers by direction,
    the frame rate of the instance starting on the GPU / on a DLA, their imbalance, and the
    device load imbalance."""
    period = solve["round_period_ms"]
    per_instance = 1000.0 / period if period else None   # one frame per instance per round
    by_start: dict[str, list[str]] = {"GPU": [], "DLA": []}
    switches: dict[str, list[dict[str, Any]]] = {"DLA->GPU": [], "GPU->DLA": [],
                                                 "DLA->DLA": []}
    for job in solve["jobs"]:
        first = job["segments"][0]["device"]
        by_start["GPU" if first == "GPU" else "DLA"].append(job["job"])
        for cut in job["cuts"]:
            kind = ("DLA" if cut["from"] != "GPU" else "GPU") + "->" + \
                ("DLA" if cut["to"] != "GPU" else "GPU")
            switches[kind].append({"job": job["job"], "layer": cut["after_layer"],
                                   "index": cut["after_layer_index"]})
    gpu_fps = per_instance if by_start["GPU"] else None
    dla_fps = per_instance if by_start["DLA"] else None
    total = per_instance * len(solve["jobs"]) if per_instance else None
    trt = next((r for r in solve["compare"] if r["name"] == TRT_BASELINE), None)
    trt_period = None if trt is None else trt["objective"]
    return {"starts_on_gpu": by_start["GPU"], "starts_on_dla": by_start["DLA"],
            "switches": switches, "gpu_fps": gpu_fps, "dla_fps": dla_fps,
            # per instance: one frame of each per round, period per frame = the round's
            "trt_baseline_fps": 1000.0 / trt_period if trt_period else None,
            "instance_imbalance": _imbalance(gpu_fps, dla_fps), "total_fps": total,
            "load_imbalance": solve["balance"]["imbalance"]}


def entries(solves: Sequence[Mapping[str, Any]], tables: Mapping[str, Mapping[str, Any]]
            ) -> dict[str, Any]:
    """The JSON of the paper section: one row per (setup, scenario, variant) with the
    paper's measured row beside it where the paper has one, the rewrite gains, and each
    generator variant's standalone GPU and DLA time per frame (``tables``: the report's
    table entries, for the explanation of a miss)."""
    rows = []
    for s in solves:
        row = {"setup": s["setup"], "scenario": s["scenario"], "variant": s["variant"],
               "name": s["name"], **instance_rows(s)}
        paper = PAPER_MEASURED.get((s["scenario"], s["variant"]))
        row["paper"] = None if paper is None else {
            "dla_to_gpu": paper.dla_to_gpu, "gpu_to_dla": paper.gpu_to_dla,
            "gpu_fps": paper.gpu_fps, "dla_fps": paper.dla_fps,
            "instance_imbalance": _imbalance(paper.gpu_fps, paper.dla_fps),
            "total_fps": paper.gpu_fps + paper.dla_fps}
        rows.append(row)
    gains = []
    for setup in SETUPS:
        for scenario in PAPER_SCENARIO_TITLES:
            base = _row(rows, setup, scenario, "original")
            for variant in PAPER_VARIANTS[1:]:
                new = _row(rows, setup, scenario, variant)
                if base is None or new is None:
                    continue
                ours = _gain(base["total_fps"], new["total_fps"])
                paper = _gain(base["paper"]["total_fps"], new["paper"]["total_fps"]) \
                    if base["paper"] and new["paper"] else None
                ours_imb = (base["load_imbalance"], new["load_imbalance"])
                paper_imb = ((base["paper"]["instance_imbalance"],
                              new["paper"]["instance_imbalance"])
                             if base["paper"] and new["paper"] else (None, None))
                gains.append({
                    "setup": setup, "scenario": scenario, "variant": variant,
                    "total_fps_gain_pct": ours, "paper_total_fps_gain_pct": paper,
                    "same_direction": None if ours is None or paper is None
                    else (ours > 0) == (paper > 0),
                    "load_imbalance": list(ours_imb), "paper_instance_imbalance":
                    list(paper_imb),
                    "imbalance_falls": None if None in ours_imb else ours_imb[1] < ours_imb[0]})
    standalone = {v: {"gpu_ms": tables[f"gan_{v}"]["gpu_ms_total"],
                      "dla_ms": tables[f"gan_{v}"]["dla_ms_total"]}
                  for v in PAPER_VARIANTS if f"gan_{v}" in tables}
    return {"source": PAPER_SOURCE,
            "rows": rows, "gains": gains, "standalone": standalone}


def _row(rows: Sequence[Mapping[str, Any]], setup: str, scenario: str, variant: str
         ) -> Mapping[str, Any] | None:
    for r in rows:
        if (r["setup"], r["scenario"], r["variant"]) == (setup, scenario, variant):
            return r
    return None


def _gain(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or not before:
        return None
    return (after - before) / before * 100.0


def _switch_text(items: Sequence[Mapping[str, Any]], with_job: bool) -> str:
    if not items:
        return "none"
    parts = []
    for s in items:
        where = f"{s['index']} `{s['layer']}`" if s["index"] is not None else f"`{s['layer']}`"
        parts.append(f"{s['job']}: {where}" if with_job else where)
    return "; ".join(parts)


# --------------------------------------------------------------------------- markdown
def section(paper: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """The paper-form section of report.md (Tables III-VI, the gain row, the direction)."""
    lines = [
        "## The paper's tables: ours (estimated) beside the paper's (measured)", "",
        f"Paper: {paper['source']}. Ours: **estimated** cost tables for {options['platform']}"
        " (no Jetson measured anything here), solved by layerswap.", "",
        "Setups: *paper* = one DLA core, at most one switch per instance, two GANs pinned "
        "so that one instance starts on the DLA (`gan_dla`) and the other on the GPU "
        "(`gan_gpu`); *default* = today's richer setup on the same models (both DLA cores, "
        f"up to {options['max_transitions']} switches, no pins).", "",
    ]
    lines += ["GPU fallback as TensorRT runs it (docs/model.md 2.1): in the paper setup the "
              "original generator's DLA segments may span its DLA-refused ConvTranspose "
              "layers, which then run on the GPU (cross-hatched on the GPU lane of the Gantt "
              "charts); each hop pays the table's transition costs and each DLA run is a "
              f"loadable. The baseline \"{TRT_BASELINE}\" is TensorRT's one-switch build "
              "with fallback (what the paper ran); beside it, the optimum with fallback "
              "allowed and forbidden.", ""]
    lines += [
        "The convolution variant's 3x3 kernels start as a per-channel identity here (the "
        "same function as the original, verified); the paper retrained them. Its timing "
        "does not depend on the weights.", "",
        "GPU FPS / DLA FPS as the paper defines them: the frame rate of the instance that "
        "starts on that device. In our throughput model a round processes one frame of "
        "every instance (docs/model.md section 4), so every instance runs at the round's "
        "rate: our GPU FPS and DLA FPS are equal by construction, and the instance "
        "imbalance the paper measured between free-running DeepStream pipelines cannot "
        "appear. What does show is the *device load imbalance* (GPU vs DLA busy time per "
        "round), which is what keeps a coupled stream from going faster.", "",
        "Switch layers: ONNX node index (position in `LayerGraph.order`, 0-based) and "
        "name of the last layer before the switch; the paper's are its own layer "
        "numbering (Keras/TensorRT layers), so compare them loosely.", "",
        "| setup | scenario | generator | DLA->GPU (ours) | GPU->DLA (ours) | DLA0<->DLA1 "
        "(ours) | paper DLA->GPU / GPU->DLA |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in paper["rows"]:
        p = r["paper"]
        lines.append(f"| {r['setup']} | {PAPER_SCENARIO_TITLES[r['scenario']]} | "
                     f"{r['variant']} | {_switch_text(r['switches']['DLA->GPU'], True)} | "
                     f"{_switch_text(r['switches']['GPU->DLA'], True)} | "
                     f"{_switch_text(r['switches']['DLA->DLA'], True)} | "
                     + ("–" if p is None else f"{p['dla_to_gpu']} / {p['gpu_to_dla']}") + " |")
    lines += [
        "", "| setup | scenario | generator | GPU FPS ours / paper (ratio) | DLA FPS ours / "
        "paper (ratio) | instance imbalance ours / paper | device load imbalance (ours) | "
        "total FPS ours / paper |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in paper["rows"]:
        p = r["paper"] or {}
        ii = r["instance_imbalance"]
        pi = p.get("instance_imbalance")
        li = r["load_imbalance"]
        lines.append(
            f"| {r['setup']} | {PAPER_SCENARIO_TITLES[r['scenario']]} | {r['variant']} | "
            f"{fmt_num(r['gpu_fps'], 1)} / {fmt_num(p.get('gpu_fps'), 1)} "
            f"({_ratio(r['gpu_fps'], p.get('gpu_fps'))}) | "
            f"{fmt_num(r['dla_fps'], 1)} / {fmt_num(p.get('dla_fps'), 1)} "
            f"({_ratio(r['dla_fps'], p.get('dla_fps'))}) | "
            f"{fmt_share(ii)} / {fmt_share(pi)} | {fmt_share(li)}"
            f"{'' if li is None else (' (balanced)' if li <= BALANCE_TOLERANCE else '')} | "
            f"{fmt_num(r['total_fps'], 1)} / {fmt_num(p.get('total_fps'), 1)} |")
    trt = [r for r in paper["rows"] if r["trt_baseline_fps"] is not None]
    if trt:
        lines += ["", f"The baseline \"{TRT_BASELINE}\" (per-instance FPS, estimated): "
                  + ", ".join(f"{r['setup']} {PAPER_SCENARIO_TITLES[r['scenario']]} "
                              f"{r['variant']} {fmt_num(r['trt_baseline_fps'], 1)}" for r in trt)
                  + "."]
    lines += ["", "Original -> rewritten (total FPS of both instances; imbalance: ours the "
              "device load, the paper's the instance FPS):", "",
              "| setup | scenario | rewrite | total FPS gain ours | paper | same direction | "
              "imbalance ours (original -> rewritten) | paper |",
              "|---|---|---|---|---|---|---|---|"]
    for g in paper["gains"]:
        oi, pi = g["load_imbalance"], g["paper_instance_imbalance"]
        same = {True: "yes", False: "**no**", None: "–"}[g["same_direction"]]
        lines.append(
            f"| {g['setup']} | {PAPER_SCENARIO_TITLES[g['scenario']]} | original -> "
            f"{g['variant']} | {signed_pct(g['total_fps_gain_pct'])} | "
            f"{signed_pct(g['paper_total_fps_gain_pct'])} | {same} | "
            f"{fmt_share(oi[0])} -> {fmt_share(oi[1])} | "
            f"{fmt_share(pi[0])} -> {fmt_share(pi[1])} |")
    lines += ["", *direction_text(paper), ""]
    return lines


def direction_text(paper: Mapping[str, Any]) -> list[str]:
    """Plain sentences: do our numbers move in the paper's direction, and if not, why."""
    gains = [g for g in paper["gains"] if g["setup"] == "paper"]
    if not gains:
        return []
    same = [g for g in gains if g["same_direction"]]
    opposite = [g for g in gains if g["same_direction"] is False]
    out = [f"**Direction (paper setup).** In {len(same)} of {len(gains)} original -> "
           "rewritten comparisons our estimated total FPS moves the way the paper's measured "
           "one does" + (": " + ", ".join(
               f"{PAPER_SCENARIO_TITLES[g['scenario']]} {g['variant']} "
               f"{signed_pct(g['total_fps_gain_pct'])} "
               f"(paper {signed_pct(g['paper_total_fps_gain_pct'])})"
               for g in gains) + ".")]
    falls = [g for g in gains if g["imbalance_falls"]]
    paper_falls = [g for g in gains if None not in g["paper_instance_imbalance"]
                   and g["paper_instance_imbalance"][1] < g["paper_instance_imbalance"][0]]
    out.append(f"Our device load imbalance falls with the rewrite in {len(falls)} of "
               f"{len(gains)} (the paper's instance imbalance in {len(paper_falls)} of "
               f"{len(gains)}).")
    why = []
    alone = paper.get("standalone", {})
    base = alone.get("original", {}).get("gpu_ms")
    for variant in PAPER_VARIANTS[1:]:
        v = alone.get(variant, {})
        if base and v.get("gpu_ms") and v["gpu_ms"] > base:
            why.append(f"our estimate charges the {variant} generator more GPU time than the "
                       f"original ({v['gpu_ms']:.3f} vs {base:.3f} ms per frame alone, "
                       f"{(v['gpu_ms'] / base - 1) * 100:+.0f} %): the node added after every "
                       "ConvTranspose is one more kernel with its own DRAM traffic and "
                       "launch overhead")
        if v.get("gpu_ms") and v.get("dla_ms"):
            why.append(f"the {variant} generator is estimated {v['dla_ms'] / v['gpu_ms']:.1f}x "
                       "slower on the DLA than on the GPU, so the DLA it can now use "
                       "takes only a small share of the work")
    why.append("our instances are coupled in rounds (one frame each per round), so the "
               "paper's per-instance FPS gap cannot appear; the gain compares total FPS")
    why.append("every time is estimated from the ONNX graph (profiles.estimate), not measured")
    if opposite:
        out.append("Where ours move against the paper's: " + "; ".join(why) + ".")
    else:
        out.append("Caveats: " + "; ".join(why) + ".")
    return out


__all__ = ["PAPER_MAX_TRANSITIONS", "PAPER_MEASURED", "PAPER_SOURCE", "PAPER_VARIANTS",
           "SETUPS", "TRT_BASELINE", "VARIANT_PASSES", "PaperRow", "direction_text",
           "entries", "fallback_options", "instance_rows", "problem",
           "section"]

"""Expected error of estimated times: `error_band` (read from ``error_bands.toml``).

``profiles/estimate/error_bands.toml`` holds, per module, device kind and precision, the
held-out relative error of the estimator on published measurements, written by
``python benchmarks/estimator.py --write-params`` (benchmarks/results/estimator.md). A
module or precision without published data has no band: `error_band` returns None and
the tables say "not measured" instead of inventing one.

`band_metadata` is what `profiles.estimate.estimate` writes into an estimated table
(``# error_band_gpu:`` / ``# error_band_dla:`` JSON lines), so that solvers and the CLI
read the band from the table (`profiles.costtable.error_band_of`) without this module.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

from profiles.estimate.specs import resolve_platform_name
from profiles.estimate.work import EstimateError

BANDS_FORMAT = "layerswap.error-bands/1"
_WHERE = "profiles/estimate/error_bands.toml"


@dataclass(frozen=True)
class ErrorBand:
    """Held-out relative error of estimated times on one module, device and precision."""

    module: str
    device: str          # "gpu" | "dla"
    precision: str
    mean_abs: float      # mean |predicted - published| / published
    max_abs: float
    points: int
    networks: int
    scheme: str
    source: str


@cache
def _bands() -> dict:
    try:
        data = tomllib.loads(resources.files("profiles.estimate").joinpath(
            "error_bands.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EstimateError(f"cannot read the error bands ({exc}); regenerate them with "
                            "python benchmarks/estimator.py --write-params",
                            source=_WHERE) from exc
    if data.get("format") != BANDS_FORMAT:
        raise EstimateError(f"format must be {BANDS_FORMAT!r}", source=_WHERE, entry="format")
    return data.get("bands", {})


def error_band(platform: str, precision: str, device: str) -> ErrorBand | None:
    """The recorded held-out error for ``platform`` (a module or alias: ``orin-agx`` is
    ``orin-agx-64``), ``precision`` and ``device`` (``gpu``/``dla``; ``DLA0``/``DLA1``
    count as ``dla``); None where no published measurement checks the estimator."""
    module = resolve_platform_name(platform)
    kind = "gpu" if device.lower() == "gpu" else "dla"
    node = _bands().get(module, {}).get(kind, {}).get(precision)
    if node is None:
        return None
    try:
        return ErrorBand(module=module, device=kind, precision=precision,
                         mean_abs=float(node["mean_abs"]), max_abs=float(node["max_abs"]),
                         points=int(node["points"]), networks=int(node["networks"]),
                         scheme=str(node["scheme"]), source=str(node["source"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EstimateError(f"incomplete band ({exc})", source=_WHERE,
                            entry=f"bands.{module}.{kind}.{precision}") from exc


def band_metadata(module: str, precision: str, *, custom_params: str | None = None
                  ) -> dict[str, str]:
    """``error_band_gpu`` / ``error_band_dla`` metadata values (JSON) for a table.
    ``custom_params``: the parameter file when it is not the shipped one (the recorded
    bands belong to the shipped fit, so such a table's band is not measured)."""
    out = {}
    for kind in ("gpu", "dla"):
        band = None if custom_params else error_band(module, precision, kind)
        if custom_params:
            value = {"measured": False,
                     "why": f"estimated with the parameter file {custom_params}; the "
                            "recorded error bands belong to the shipped params.toml"}
        elif band is None:
            value = {"measured": False,
                     "why": f"no published {kind.upper()} {precision} measurement checks the "
                            f"estimator on {module} (benchmarks/results/estimator.md)"}
        else:
            value = {"measured": True, **{k: v for k, v in asdict(band).items()
                                         if k not in ("device", "precision")}}
        out[f"error_band_{kind}"] = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return out


__all__ = ["ErrorBand", "band_metadata", "error_band"]

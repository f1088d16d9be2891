"""The published calibration measurements (``profiles/data/calibration/measurements.csv``).

`load_measurements` reads and validates the file: every row has an id, a kind
(``measurement`` or ``expectation``), a source and a positive value; a condition the
source does not state is the word ``unknown`` (kept, never replaced by a guess).
`Measurement.device_ms` turns a row into the time of one inference of its batch on one
device of its kind, the quantity the estimator predicts.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from profiles.estimate.work import EstimateError

CALIBRATION_FORMAT = "layerswap.calibration/1"
COLUMNS = ("id", "kind", "board", "memory_gb", "jetpack", "tensorrt", "power_mode", "model",
           "zoo_model", "precision", "batch", "input", "devices", "metric", "value", "unit",
           "time_kind", "source", "verified", "notes")
KINDS = ("measurement", "expectation")


@dataclass(frozen=True)
class Measurement:
    """One published figure with its conditions (strings as published)."""

    id: str
    kind: str
    board: str
    memory_gb: str
    jetpack: str
    tensorrt: str
    power_mode: str
    model: str
    zoo_model: str
    precision: str
    batch: str
    input: str
    devices: str
    metric: str
    value: float
    unit: str
    time_kind: str
    source: str
    verified: str
    notes: str

    @property
    def batch_size(self) -> int | None:
        return int(self.batch) if self.batch.isdigit() else None

    def device_ms(self) -> float:
        """Milliseconds for one batch on one device: a latency as published; a throughput
        of ``2xDLA`` as ``2 cores x batch / images_per_s`` (two identical, independent
        cores, the assumption the calibration states)."""
        if self.unit in ("ms", "ms/image"):
            return self.value
        if self.unit in ("images/s", "samples/s"):
            cores = 2 if self.devices == "2xDLA" else 1
            batch = self.batch_size
            if batch is None:
                raise EstimateError("a throughput needs a numeric batch to become a time",
                                    source=_WHERE, entry=self.id)
            return 1e3 * cores * batch / self.value
        raise EstimateError(f"unit {self.unit!r} cannot become a time", source=_WHERE,
                            entry=self.id)


_WHERE = "profiles/data/calibration/measurements.csv"


def load_measurements(path: str | Path | None = None) -> tuple[Measurement, ...]:
    """Every row of the calibration file (default: the one shipped in profiles/data)."""
    where = str(path) if path is not None else _WHERE
    if path is None:
        text = resources.files("profiles.data").joinpath(
            "calibration/measurements.csv").read_text(encoding="utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise EstimateError(f"cannot read ({exc.strerror})", source=where) from exc
    lines = text.splitlines()
    if not lines or lines[0].strip() != f"# format: {CALIBRATION_FORMAT}":
        raise EstimateError(f"the first line must be '# format: {CALIBRATION_FORMAT}'",
                            source=where)
    body = "\n".join(line for line in lines if not line.startswith("#"))
    reader = csv.DictReader(io.StringIO(body))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise EstimateError(f"columns must be {', '.join(COLUMNS)}", source=where)
    out: list[Measurement] = []
    seen: set[str] = set()
    for n, row in enumerate(reader, start=2):
        entry = f"row {n} ({row.get('id') or 'no id'})"
        for key in ("id", "kind", "source", "value", "unit", "board", "precision"):
            if not (row.get(key) or "").strip():
                raise EstimateError(f"empty {key}: every figure needs it ('unknown' where "
                                    "the source does not say)", source=where, entry=entry)
        if row["id"] in seen:
            raise EstimateError("duplicate id", source=where, entry=entry)
        seen.add(row["id"])
        if row["kind"] not in KINDS:
            raise EstimateError(f"kind must be one of {', '.join(KINDS)}", source=where,
                                entry=entry)
        try:
            value = float(row["value"])
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise EstimateError(f"value must be a number > 0, got {row['value']!r}",
                                source=where, entry=entry)
        out.append(Measurement(**{**{k: (row[k] or "").strip() for k in COLUMNS},
                                  "value": value}))
    return tuple(out)


def select(rows: Sequence[Measurement], **conditions: str) -> list[Measurement]:
    """Rows whose fields equal every ``conditions`` value (e.g. ``devices="GPU"``)."""
    return [r for r in rows if all(getattr(r, k) == v for k, v in conditions.items())]


__all__ = ["CALIBRATION_FORMAT", "Measurement", "load_measurements", "select"]

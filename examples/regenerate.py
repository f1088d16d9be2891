"""Rewrite the sample inputs in this folder (deterministic: same files every time).

    python examples/regenerate.py

- ``detector.csv``, ``segmenter.csv``: two small synthetic cost tables (Orin AGX, with
  bandwidth columns so memory contention applies). Their numbers are illustrative, not
  measurements: the tables say ``source: synthetic``.
- ``corun.csv``: synthetic co-run samples for ``layerswap calibrate``, drawn around the
  Orin AGX placeholder contention curve with 2 % noise (a stand-in for measurements).
"""

from __future__ import annotations

import random
from pathlib import Path

from profiles.fileio import atomic_write_text
from profiles.synthetic import synthetic_table
from solvers.model.contention import orin_preset

HERE = Path(__file__).resolve().parent


def main() -> None:
    synthetic_table(12, seed=11, model="detector", platform="orin-agx").to_csv(
        HERE / "detector.csv")
    synthetic_table(10, seed=12, model="segmenter", platform="orin-agx",
                    ineligible_fraction=0.2).to_csv(HERE / "segmenter.csv")
    rng = random.Random("layerswap-example-corun")
    curve = orin_preset("orin-agx")
    lines = ["# synthetic co-run samples (examples/regenerate.py): a stand-in for measurements",
             "# around the orin-agx placeholder curve with 2 % noise",
             "victim,standalone_ms,corun_ms,corunner_bw_gbps"]
    for victim in ("gpu", "dla"):
        for _ in range(12):
            bw = round(rng.uniform(5, 120), 1)
            alone = round(rng.uniform(0.2, 3.0), 4)
            k = curve.loss_rate(victim, bw)
            corun = alone / (1 - k) * (1 + rng.gauss(0, 0.02))
            lines.append(f"{victim},{alone},{max(corun, alone):.4f},{bw}")
    atomic_write_text(HERE / "corun.csv", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

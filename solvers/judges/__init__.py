"""The judges: the event simulator every answer is measured by (`simulator`), the
group-level reference it is checked against (`reference_sim`) and the exhaustive oracle
(`oracle`, also the `exhaustive` backend)."""

"""CI regression on stored profiles: recorded objective and schedule of every stored pair.

For every unordered pair of stored tables (`profiles/data`) on the same platform and for
both objectives, the default solver's status, objective and schedule are recorded in a
JSON file. `check_expectations` re-solves and reports every difference; updating the
records is one explicit command: ``layerswap regress --update``.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from profiles.costtable import load_published, published_names
from profiles.fileio import atomic_write_text
from solvers.errors import ProblemError

RELATIVE_TOLERANCE = 1e-6
TIME_LIMIT_S = 60.0


def default_directory() -> Path:
    return Path(__file__).resolve().parents[1] / "tests" / "expected"


def cases() -> list[dict[str, Any]]:
    """Every stored pair on one platform x both objectives, in a fixed order."""
    tables = {name: load_published(name) for name in published_names()}
    out = []
    for a, b in itertools.combinations(sorted(tables), 2):
        if tables[a].platform != tables[b].platform:
            continue
        for objective in ("latency", "throughput"):
            out.append({"id": f"{a}+{b}-{objective}", "tables": [a, b],
                        "platform": tables[a].platform, "objective": objective,
                        "max_transitions": 2, "solver": "cpsat"})
    return out


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    from solvers.model.problem import Problem
    from solvers.solve import solve

    problem = Problem.create([load_published(t) for t in case["tables"]], case["platform"],
                             objective=case["objective"],
                             max_transitions=case["max_transitions"])
    # the default options: parallel search, made deterministic by its canonical phase
    result = solve(problem, case["solver"], time_limit=TIME_LIMIT_S)
    schedule = None if result.schedule is None else result.schedule.to_dict()["segments"]
    return {**case, "status": result.status.value,
            "objective_ms": None if result.objective is None else round(result.objective, 9),
            "segments": schedule}


def _path(directory: Path, case: dict[str, Any]) -> Path:
    return directory / f"{case['id']}.json"


def update_expectations(directory: str | Path | None = None) -> list[Path]:
    folder = Path(directory) if directory else default_directory()
    paths = []
    for case in cases():
        record = run_case(case)
        paths.append(atomic_write_text(_path(folder, case),
                                       json.dumps(record, indent=2, sort_keys=True) + "\n"))
    return paths


def check_expectations(directory: str | Path | None = None) -> list[str]:
    """Human-readable differences between the records and a fresh solve (empty = pass)."""
    folder = Path(directory) if directory else default_directory()
    failures: list[str] = []
    for case in cases():
        path = _path(folder, case)
        if not path.exists():
            failures.append(f"{case['id']}: no record at {path}; run `layerswap regress "
                            "--update` and commit the file")
            continue
        try:
            expected = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ProblemError(f"{path}: not valid JSON ({exc}); regenerate it with "
                               "`layerswap regress --update`") from exc
        got = run_case(case)
        if got["status"] != expected.get("status"):
            failures.append(f"{case['id']}: status {expected.get('status')} -> {got['status']}")
        e_obj, g_obj = expected.get("objective_ms"), got["objective_ms"]
        if (e_obj is None) != (g_obj is None) or (
                e_obj is not None and not math.isclose(e_obj, g_obj,
                                                       rel_tol=RELATIVE_TOLERANCE)):
            failures.append(f"{case['id']}: objective {e_obj} ms -> {g_obj} ms")
        if got["segments"] != expected.get("segments"):
            failures.append(f"{case['id']}: schedule changed: {expected.get('segments')} -> "
                            f"{got['segments']}")
    return failures

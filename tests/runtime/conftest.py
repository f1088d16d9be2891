"""Fixtures for the runtime tests: a latency and a throughput export of two tiny skip nets."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import runtime_kit as kit

# Cuts after node 2 (crossing r1 and the model input x, after the early output) and after
# node 4 (crossing r2, r1 and x): every hand-off carries a skip connection.
LATENCY = {("a", 0): [(2, "GPU"), (4, "DLA0"), (8, "GPU")],
           ("b", 0): [(5, "DLA1"), (8, "GPU")]}
# Two instances per model, partitioned differently (frame f -> instance f % 2).
THROUGHPUT = {("a", 0): [(2, "GPU"), (4, "DLA0"), (8, "GPU")],
              ("a", 1): [(4, "DLA1"), (8, "GPU")],
              ("b", 0): [(8, "DLA0")],
              ("b", 1): [(3, "GPU"), (6, "DLA1"), (8, "DLA0")]}


def models() -> dict:
    return {"a": kit.skip_net(seed=0), "b": kit.skip_net(seed=1, channels=3, size=6)}


@pytest.fixture(scope="session")
def tiny_models() -> dict:
    return models()


@pytest.fixture
def latency_export(tmp_path: Path, tiny_models) -> Path:
    return kit.write_export(tmp_path / "lat", tiny_models, LATENCY)


@pytest.fixture
def throughput_export(tmp_path: Path, tiny_models) -> Path:
    return kit.write_export(tmp_path / "thr", tiny_models, THROUGHPUT, objective="throughput",
                            frames_per_round=2)


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    """Every runtime test ends with no layerswap worker thread alive."""
    yield
    alive = [t.name for t in threading.enumerate() if t.name.startswith("layerswap-")]
    assert not alive, f"threads left behind: {alive}"

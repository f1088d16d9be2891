"""Fixtures for the runtime tests: a latency and a throughput export of two tiny skip nets."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import runtime_kit as kit

LATENCY = kit.LATENCY
THROUGHPUT = kit.THROUGHPUT


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

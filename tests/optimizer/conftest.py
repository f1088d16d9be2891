"""Every optimizer test runs in a scratch folder: commands such as the default
`layerswap solve` write files (out/default_gantt.*) relative to the working directory."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

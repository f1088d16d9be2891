"""The published calibration data set: readable, sourced, conditions never guessed."""

from __future__ import annotations

import pytest

from export import zoo
from profiles.estimate.dataset import load_measurements, select
from profiles.estimate.work import EstimateError


def test_every_row_is_sourced_and_checked() -> None:
    rows = load_measurements()
    assert len(rows) >= 50
    for r in rows:
        assert r.source and r.verified.startswith("yes"), r.id
        # a source is a repository@commit:path or a page address
        assert "@" in r.source or r.source.startswith("https://"), r.id
        if r.zoo_model:
            assert r.zoo_model in zoo.names(), r.id


def test_expectations_are_not_measurements() -> None:
    rows = load_measurements()
    expected = select(rows, kind="expectation")
    assert {r.id for r in expected} == {"mlperf30-resnet50-offline-gpu-expected",
                                        "mlperf30-resnet50-offline-dla-expected",
                                        "mlperf30-resnet50-offline-all-expected"}
    assert all("not a measurement" in r.time_kind for r in expected)


def test_unknown_conditions_stay_unknown() -> None:
    rows = {r.id: r for r in load_measurements()}
    corun = rows["t2745-corun2-gpu"]
    assert (corun.jetpack, corun.tensorrt, corun.power_mode, corun.batch) == \
        ("unknown",) * 4
    assert rows["ultralytics-yolo11n-int8"].power_mode.startswith("unknown")
    assert rows["mlperf31-resnet50-singlestream"].power_mode.startswith("unknown")


def test_published_figures_as_device_times() -> None:
    rows = {r.id: r for r in load_measurements()}
    # 2037 images/s on both cores at batch 2: one core runs a batch in 2 x 2 / 2037 s
    assert rows["dlasw-resnet50-maxn"].device_ms() == pytest.approx(1.9637, abs=1e-4)
    assert rows["mlperf31-resnet50-singlestream"].device_ms() == pytest.approx(0.636375)
    assert rows["ultralytics-yolo11x-fp16"].device_ms() == 13.66


def test_bad_file_names_the_row(tmp_path) -> None:
    from importlib import resources

    shipped = resources.files("profiles.data").joinpath("calibration/measurements.csv")
    text = "\n".join(shipped.read_text(encoding="utf-8").splitlines()[:4])  # 1 data row
    good = tmp_path / "m.csv"
    good.write_text(text + "\n")
    assert len(load_measurements(good)) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text(text.replace(",2037,", ",-1,") + "\n")
    with pytest.raises(EstimateError, match="dlasw-resnet50-maxn"):
        load_measurements(bad)
    nosource = tmp_path / "nosource.csv"
    nosource.write_text(text.replace("NVIDIA/Deep-Learning-Accelerator-SW@1da860ccb9b93f31a"
                                     "15a0325ff78b3938eccd5f9:README.md", "") + "\n")
    with pytest.raises(EstimateError, match="empty source"):
        load_measurements(nosource)

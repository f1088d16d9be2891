"""Error bands: recorded held-out errors, carried by estimated tables, read without the
estimator (profiles.costtable)."""

from __future__ import annotations

import json
import tomllib
from importlib import resources

import pytest

from export.zoo import build
from profiles.costtable import (
    band_range,
    band_text,
    error_band_of,
    load_published,
    table_error_bands,
)
from profiles.estimate import error_band, estimate


def _file() -> dict:
    return tomllib.loads(resources.files("profiles.estimate").joinpath(
        "error_bands.toml").read_text())


def test_accessor_reads_the_recorded_held_out_errors() -> None:
    recorded = _file()["bands"]["orin-agx-64"]["dla"]["int8"]
    band = error_band("orin-agx", "int8", "DLA0")        # alias and core name accepted
    assert band is not None and band.module == "orin-agx-64" and band.device == "dla"
    assert band.mean_abs == recorded["mean_abs"] and band.max_abs == recorded["max_abs"]
    assert "leave one model out" in band.scheme
    assert error_band("xavier-agx", "fp16", "gpu").scheme.startswith("leave one group out")


def test_no_band_where_no_published_figure_checks_the_estimator() -> None:
    assert error_band("orin-nx-16", "int8", "gpu") is None      # AGX fit transferred
    assert error_band("orin-agx", "fp16", "dla") is None        # no DLA FP16 data


def test_estimated_tables_carry_their_band_and_published_ones_none() -> None:
    model = build("ssd_mobilenet_v1")
    table = estimate(model, platform="orin-agx", precision="int8", groups=4).table
    bands = table_error_bands(table)
    assert bands["dla"]["measured"] and bands["dla"]["mean_abs"] == \
        error_band("orin-agx", "int8", "dla").mean_abs
    # the band survives the CSV round trip (it is ordinary '# key: value' metadata)
    again = type(table).from_csv_text(table.to_csv_text())
    assert table_error_bands(again) == bands
    assert table_error_bands(load_published("googlenet_xavier")) is None
    nx = estimate(model, platform="orin-nx-16", precision="int8", groups=4).table
    assert table_error_bands(nx)["gpu"]["measured"] is False
    assert "orin-nx-16" in table_error_bands(nx)["gpu"]["why"]


def test_combined_band_is_the_widest_and_ranges_bracket_the_value() -> None:
    model = build("ssd_mobilenet_v1")
    est = estimate(model, platform="orin-agx", precision="int8", groups=4).table
    band = error_band_of([est, load_published("alexnet_xavier")])
    assert band["estimated_tables"] == [est.model] and band["measured"]
    widest = max(json.loads(est.metadata[k])["mean_abs"]
                 for k in ("error_band_gpu", "error_band_dla"))
    assert band["mean_abs"] == widest
    lo, hi = band_range(10.0, band)
    assert lo < 10.0 < hi and hi - 10.0 == pytest.approx(10.0 * widest)
    flo, fhi = band_range(100.0, band, inverse=True)
    assert flo < 100.0 < fhi
    assert "\u00b1" in band_text(band)
    assert error_band_of([load_published("alexnet_xavier")]) is None
    assert band_range(1.0, None) is None


def test_an_old_estimated_table_without_bands_says_not_measured() -> None:
    model = build("ssd_mobilenet_v1")
    est = estimate(model, platform="orin-agx", precision="int8", groups=4).table
    meta = {k: v for k, v in est.metadata.items() if not k.startswith("error_band")}
    old = type(est).build([r.__dict__ for r in est.rows], meta, origin="old")
    band = error_band_of([old])
    assert band["measured"] is False and "re-run layerswap estimate" in band["basis"]
    assert band_range(1.0, band) is None


def test_a_custom_parameter_file_has_no_recorded_band(tmp_path) -> None:
    from importlib import resources

    own = tmp_path / "params.toml"
    own.write_bytes(resources.files("profiles.estimate").joinpath("params.toml").read_bytes())
    table = estimate(build("ssd_mobilenet_v1"), platform="orin-agx", precision="int8",
                     groups=4, params=own).table
    bands = table_error_bands(table)
    assert bands["dla"]["measured"] is False and str(own) in bands["dla"]["why"]

"""GCJ-02 ↔ WGS-84 conversion and coordinate validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cityops.errors import Invalid
from cityops.kit.coords import (
    check_crs,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    validate_lonlat,
    validate_lonlat_arrays,
    wgs84_to_gcj02,
)

# A vertex of the GCJ-02 Gongshu outline (DataV file).
GCJ_POINT = (120.205246, 30.352005)


def test_gcj02_shift_in_gongshu_matches_published_offset() -> None:
    lon, lat = gcj02_to_wgs84(*GCJ_POINT)
    assert isinstance(lon, float) and isinstance(lat, float)
    # README: GCJ-02 → WGS-84 moves Gongshu points by about −0.0047° lon and +0.0023° lat.
    assert lon - GCJ_POINT[0] == pytest.approx(-0.0047, abs=0.0003)
    assert lat - GCJ_POINT[1] == pytest.approx(0.0023, abs=0.0003)


def test_round_trip_is_sub_centimetre_on_many_points() -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(73.5, 135.0, 100_000)
    lat = rng.uniform(18.0, 53.5, 100_000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    back_lon, back_lat = gcj02_to_wgs84(glon, glat)
    # 1e-7° is about 1 cm; the iteration reaches far below it.
    assert np.max(np.abs(back_lon - lon)) < 1e-9
    assert np.max(np.abs(back_lat - lat)) < 1e-9
    # And the shift itself is real (hundreds of metres), so the test is not vacuous.
    assert np.median(np.hypot(glon - lon, glat - lat)) > 0.002


def test_outside_china_is_unchanged_and_nan_stays_nan() -> None:
    assert bool(out_of_china(2.35, 48.85))
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)
    lon, _lat = gcj02_to_wgs84(np.array([np.nan, 120.2]), np.array([30.0, 30.3]))
    assert math.isnan(lon[0]) and math.isfinite(lon[1])


def test_to_wgs84_and_crs_names() -> None:
    assert to_wgs84(120.1, 30.3, "wgs84") == (120.1, 30.3)
    assert to_wgs84(*GCJ_POINT, "GCJ-02") == gcj02_to_wgs84(*GCJ_POINT)
    assert check_crs("EPSG:4326") == "wgs84"
    with pytest.raises(Invalid) as err:
        check_crs("bd09")
    assert err.value.code == "invalid_crs" and "bd09" in err.value.message


@pytest.mark.parametrize(
    ("lon", "lat", "field"),
    [
        ("abc", 30.0, "lon"),
        (120.0, None, "lat"),
        (float("nan"), 30.0, "lon"),
        (120.0, float("inf"), "lat"),
        (True, 30.0, "lon"),
        (180.5, 30.0, "lon"),
        (120.0, -90.01, "lat"),
    ],
)
def test_validate_lonlat_rejects_bad_input(lon: object, lat: object, field: str) -> None:
    with pytest.raises(Invalid) as err:
        validate_lonlat(lon, lat)
    assert err.value.status == 422
    assert err.value.details["field"] == field
    assert " / " in err.value.message  # bilingual


def test_validate_lonlat_accepts_numbers_and_numeric_strings() -> None:
    assert validate_lonlat("120.15", 30.3) == (120.15, 30.3)
    assert validate_lonlat(-180, 90) == (-180.0, 90.0)


def test_swapped_coordinates_get_a_hint() -> None:
    with pytest.raises(Invalid) as err:
        validate_lonlat(30.3, 120.15)
    assert "swapped" in err.value.message


def test_validate_arrays_names_the_first_bad_index() -> None:
    x, _y = validate_lonlat_arrays([120.0, 121.0], [30.0, 31.0])
    assert x.dtype == np.float64
    with pytest.raises(Invalid) as err:
        validate_lonlat_arrays([120.0, 200.0, np.nan], [30.0, 31.0, 30.0])
    assert err.value.details["index"] == 1

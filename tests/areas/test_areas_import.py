"""GeoJSON import: validation errors name the feature, nothing is half-written, GCJ-02 lands right."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas import service
from cityops.areas.models import Area
from cityops.errors import Invalid, NotFound
from cityops.kit.coords import gcj02_to_wgs84, wgs84_to_gcj02


def _square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _fc(*features: tuple[str, str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": c, "name": n, **extra}, "geometry": g}
            for c, n, g in features
        ],
    }


def _tree(session: Session) -> None:
    """District 330105 → street 330105005 → community 330105005001 → two grids."""
    service.import_geojson(session, _fc(("330105", "拱墅区", _square(120.10, 30.30, 0.04))), level="district")
    service.import_geojson(
        session, _fc(("330105005", "拱宸桥街道", _square(120.11, 30.31, 0.02))), level="street"
    )
    service.import_geojson(
        session, _fc(("330105005001", "桥西社区", _square(120.11, 30.31, 0.02))), level="community"
    )
    grids = _fc(
        ("330105005001001", "桥西01", _square(120.11, 30.31, 0.01)),
        ("330105005001002", "桥西02", _square(120.12, 30.31, 0.01)),
        grade="a",
    )
    service.import_geojson(session, grids, level="grid")


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Area)) or 0


def test_import_builds_the_tree_and_locates(areas_session: Session) -> None:
    _tree(areas_session)
    assert _count(areas_session) == 5
    loc = service.locate(areas_session, 120.115, 30.315)
    assert loc.grid_code == "330105005001001"
    assert (loc.community_code, loc.street_code, loc.district_code) == ("330105005001", "330105005", "330105")
    assert loc.grade == "A"  # lower-case input normalised
    assert [a.code for a in service.children(areas_session, "330105005001")] == [
        "330105005001001",
        "330105005001002",
    ]
    grid = service.get_area(areas_session, "330105005001002")
    assert grid.centroid_lon == pytest.approx(120.125) and grid.area_km2 == pytest.approx(1.03, rel=0.05)


def test_outside_point_raises_outside_district(areas_session: Session) -> None:
    _tree(areas_session)
    with pytest.raises(Invalid) as err:
        service.locate(areas_session, 121.0, 31.0)
    assert err.value.code == "outside_district" and "该位置不在本区任何网格内" in err.value.message
    with pytest.raises(Invalid) as err:
        service.locate(areas_session, "x", 31.0)
    assert err.value.details["field"] == "lon"
    assert service.try_locate(areas_session, 121.0, 31.0) is None
    assert service.try_locate(areas_session, 120.115, 30.315) is not None
    with pytest.raises(Invalid):
        service.try_locate(areas_session, 121.0, 95.0)


def test_reimport_updates_and_invalidates_the_index(areas_session: Session) -> None:
    _tree(areas_session)
    assert service.locate(areas_session, 120.115, 30.315).grade == "A"
    moved = _fc(("330105005001001", "桥西01", _square(120.11, 30.31, 0.01)), grade="C")
    result = service.import_geojson(areas_session, moved, level="grid")
    assert (result.created, result.updated) == (0, 1)
    assert service.locate(areas_session, 120.115, 30.315).grade == "C"


@pytest.mark.parametrize(
    ("code", "level", "needle"),
    [
        ("33010500", "street", "9"),  # wrong length
        ("33010500A", "street", "9"),  # not digits
        ("330106005", "street", "330106"),  # unknown parent (another district)
        ("330105005001", "street", "9"),  # community code given as a street
    ],
)
def test_bad_codes_are_rejected_and_nothing_written(
    areas_session: Session, code: str, level: str, needle: str
) -> None:
    service.import_geojson(areas_session, _fc(("330105", "拱墅区", _square(120.1, 30.3))), level="district")
    good = ("330105001", "米市巷街道", _square(120.1, 30.3, 0.005))
    with pytest.raises(Invalid) as err:
        service.import_geojson(areas_session, _fc(good, (code, "坏", _square(120.1, 30.3))), level=level)
    assert "feature #2" in err.value.message and needle in err.value.message
    assert err.value.details["feature_index"] == 1
    assert _count(areas_session) == 1  # the good first feature was not written either


def test_parent_mismatch_and_wrong_parent_level(areas_session: Session) -> None:
    _tree(areas_session)
    fc = _fc(("330105005002", "新社区", _square(120.1, 30.3)), parent_code="330105001")
    with pytest.raises(Invalid, match="prefix"):
        service.import_geojson(areas_session, fc, level="community")
    with pytest.raises(Invalid, match="15 digits"):
        service.import_geojson(areas_session, _fc(("330105", "拱墅区", _square(120.1, 30.3))), level="grid")
    orphan = _fc(("330105005009001", "孤儿网格", _square(120.1, 30.3)))
    with pytest.raises(Invalid, match="330105005009 does not exist"):
        service.import_geojson(areas_session, orphan, level="grid")


@pytest.mark.parametrize(
    ("geometry", "needle"),
    [
        ({"type": "Point", "coordinates": [120.1, 30.3]}, "Polygon"),
        ({"type": "Polygon", "coordinates": [[[120, 30], [121, 30]]]}, "malformed"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[30.3, 120.1], [30.4, 120.1], [30.4, 120.2], [30.3, 120.1]]],
            },
            "swapped",
        ),
        (
            {"type": "Polygon", "coordinates": [[[120, 30], [121, 30], [122, 30], [120, 30]]]},
            "cannot be fixed",
        ),
        (None, "Polygon"),
    ],
)
def test_bad_geometries_are_rejected(areas_session: Session, geometry: Any, needle: str) -> None:
    with pytest.raises(Invalid) as err:
        service.import_geojson(areas_session, _fc(("330105", "拱墅区", geometry)), level="district")
    assert needle in err.value.message
    assert _count(areas_session) == 0


def test_self_intersecting_polygon_is_repaired(areas_session: Session) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[120.1, 30.3], [120.2, 30.4], [120.2, 30.3], [120.1, 30.4], [120.1, 30.3]]],
    }
    service.import_geojson(areas_session, _fc(("330105", "拱墅区", bowtie)), level="district")
    geom = shape(json.loads(service.get_area(areas_session, "330105").geometry or "{}"))
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and geom.area == pytest.approx(0.005)


def test_invalid_crs_level_and_document(areas_session: Session) -> None:
    fc = _fc(("330105", "拱墅区", _square(120.1, 30.3)))
    with pytest.raises(Invalid) as err:
        service.import_geojson(areas_session, fc, level="district", crs="bd09")
    assert err.value.code == "invalid_crs"
    with pytest.raises(Invalid) as err:
        service.import_geojson(areas_session, fc, level="county")
    assert err.value.code == "invalid_level"
    with pytest.raises(Invalid):
        service.import_geojson(areas_session, {"type": "Feature"}, level="district")
    with pytest.raises(Invalid):
        service.import_geojson(areas_session, {"type": "FeatureCollection", "features": []}, level="district")
    dup = _fc(("330105", "a", _square(120.1, 30.3)), ("330105", "b", _square(120.1, 30.3)))
    with pytest.raises(Invalid, match="duplicate"):
        service.import_geojson(areas_session, dup, level="district")


def test_gcj02_import_lands_at_the_wgs84_place(areas_session: Session) -> None:
    # A true WGS-84 square, given to the importer in GCJ-02 as a Chinese web map would.
    wgs = _square(120.13, 30.32, 0.002)
    ring = wgs["coordinates"][0]
    glon, glat = wgs84_to_gcj02([p[0] for p in ring], [p[1] for p in ring])
    gcj = {"type": "Polygon", "coordinates": [[[x, y] for x, y in zip(glon, glat, strict=True)]]}
    service.import_geojson(areas_session, _fc(("330105", "拱墅区", gcj)), level="district", crs="gcj02")
    stored = shape(json.loads(service.get_area(areas_session, "330105").geometry or "{}"))
    assert stored.equals_exact(shape(wgs), tolerance=1e-7)
    # And the shift was real: the GCJ-02 polygon sits ~500 m away from the stored one.
    assert shape(gcj).centroid.distance(stored.centroid) > 0.004


def test_locate_accepts_gcj02_points(areas_session: Session) -> None:
    _tree(areas_session)
    glon, glat = wgs84_to_gcj02(120.1250, 30.3150)
    loc = service.locate(areas_session, glon, glat, crs="gcj02")
    assert loc.grid_code == "330105005001002"
    assert (loc.lon, loc.lat) == pytest.approx(gcj02_to_wgs84(glon, glat))


def test_export_round_trip(areas_session: Session) -> None:
    _tree(areas_session)
    fc = service.export_geojson(areas_session)
    assert len(fc["features"]) == 5
    # The export imports again unchanged (as updates) into the same database.
    result = service.import_geojson(areas_session, copy.deepcopy(fc))
    assert (result.created, result.updated) == (0, 5)
    with pytest.raises(NotFound):
        service.get_area(areas_session, "330105999")

"""The shipped demo tree: 18 real streets, ~1,500 grids that tile their communities, lookups."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from shapely.ops import unary_union
from sqlalchemy.orm import Session

from cityops.areas import service
from cityops.areas.demo_geo import generate
from cityops.areas.models import Area
from cityops.errors import Invalid

STREETS = {
    "330105001": "米市巷街道", "330105002": "湖墅街道", "330105003": "小河街道", "330105004": "和睦街道",
    "330105005": "拱宸桥街道", "330105007": "大关街道", "330105008": "上塘街道", "330105009": "祥符街道",
    "330105010": "康桥街道", "330105011": "半山街道", "330105012": "天水街道", "330105013": "武林街道",
    "330105014": "长庆街道", "330105015": "潮鸣街道", "330105016": "朝晖街道", "330105017": "文晖街道",
    "330105018": "东新街道", "330105019": "石桥街道",
}  # fmt: skip


def _areas(session: Session, level: str) -> list[Area]:
    return service.list_areas(session, level=level)


def test_demo_tree_shape(demo_session: Session) -> None:
    streets = _areas(demo_session, "street")
    assert {a.code: a.name for a in streets} == STREETS
    communities = _areas(demo_session, "community")
    per_street = Counter(a.parent_code for a in communities)
    assert (
        set(per_street) == set(STREETS) and min(per_street.values()) >= 6 and max(per_street.values()) <= 12
    )
    grids = _areas(demo_session, "grid")
    assert 1400 <= len(grids) <= 1600
    assert all(len(g.code) == 15 and g.code.startswith("330105") and g.code.isdigit() for g in grids)
    assert all(g.code.startswith(g.parent_code or "-") for g in grids + communities)
    assert {g.grade for g in grids} == {"A", "B", "C"}
    assert all(c.name.endswith("社区") for c in communities)
    assert any(c.name == "桥西社区" and c.parent_code == "330105005" for c in communities)


def test_streets_tile_the_district_and_grids_tile_their_community(demo_session: Session) -> None:
    district = shape(json.loads(service.get_area(demo_session, "330105").geometry or "{}"))
    streets = [shape(json.loads(a.geometry or "{}")) for a in _areas(demo_session, "street")]
    assert sum(s.area for s in streets) == pytest.approx(district.area, rel=1e-4)
    assert unary_union(streets).symmetric_difference(district).area < 1e-4 * district.area
    grids_by_community: dict[str, list] = {}
    for g in _areas(demo_session, "grid"):
        grids_by_community.setdefault(g.parent_code or "", []).append(shape(json.loads(g.geometry or "{}")))
    for c in _areas(demo_session, "community"):
        community = shape(json.loads(c.geometry or "{}"))
        parts = grids_by_community[c.code]
        assert all(p.is_valid for p in parts)
        # Rounding to 6 decimals leaves slivers of ~1e-6° at most: compare areas tightly.
        assert sum(p.area for p in parts) == pytest.approx(community.area, rel=1e-3), c.code
        outside = unary_union(parts).difference(community).area
        assert outside < 1e-3 * community.area, c.code


def test_every_grid_locates_to_itself_and_grades_follow_geography(demo_session: Session) -> None:
    for g in _areas(demo_session, "grid")[::7]:
        p = shape(json.loads(g.geometry or "{}")).representative_point()
        loc = service.locate(demo_session, p.x, p.y)
        assert loc.grid_code == g.code and loc.grade == g.grade
        assert loc.street_code == g.code[:9] and loc.district_code == "330105"
    grades = {a.code: a.grade for a in _areas(demo_session, "grid")}
    assert Counter(grades[c] for c in grades if c.startswith("330105013"))["A"] > 0  # 武林 is core
    assert set(grades[c] for c in grades if c.startswith("330105011")) == {"C"}  # 半山 outskirts


def test_index_is_exact_against_shapely_on_100k_points(demo_session: Session) -> None:
    index = service.get_index(demo_session)
    assert service.get_index(demo_session) is index  # cached
    rng = np.random.default_rng(42)
    x = rng.uniform(120.07, 120.23, 100_000)
    y = rng.uniform(30.25, 30.41, 100_000)
    tree = shapely.STRtree(index.geoms)
    pi, gi = tree.query(shapely.points(x, y), predicate="within")
    # Rounding to 6 decimals leaves hairline overlaps between neighbouring grids; there the
    # index answers the first grid (lowest code), so the reference does the same.
    ref = np.full(x.size, len(index))
    np.minimum.at(ref, pi, gi)
    ref[ref == len(index)] = -1
    assert (index.locate_many(x, y) == ref).all()
    assert [index.locate_index(a, b) for a, b in zip(x[:3000], y[:3000], strict=True)] == ref[:3000].tolist()
    with pytest.raises(Invalid) as err:
        service.locate(demo_session, 120.30, 30.30)  # east of the district (余杭/临平 side)
    assert err.value.code == "outside_district"


def test_hand_drawn_gongchenqiao_point_resolves_to_its_street(
    demo_session: Session, shared_data: Path
) -> None:
    old = json.loads((shared_data / "geo" / "gongshu_old10_streets_2017_wgs84.geojson").read_text("utf-8"))
    feat = next(f for f in old["features"] if f["properties"]["name"] == "拱宸桥街道")
    p = shapely.make_valid(shape(feat["geometry"])).representative_point()
    assert service.locate(demo_session, p.x, p.y).street_code == "330105005"


def test_generator_is_deterministic_and_matches_the_shipped_file(shared_data: Path) -> None:
    shipped = Path(service.__file__).with_name("data") / "gongshu_demo_areas.geojson"
    generated = json.dumps(generate(shared_data), ensure_ascii=False, separators=(",", ":")) + "\n"
    assert generated == shipped.read_text(encoding="utf-8")
    assert shipped.stat().st_size < 3_000_000


def test_load_demo_twice_updates_in_place(areas_session: Session) -> None:
    n = service.load_demo_areas(areas_session)
    assert service.load_demo_areas(areas_session) == n
    assert len(service.list_areas(areas_session)) == n

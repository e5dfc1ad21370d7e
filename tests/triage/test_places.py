"""Place extraction: area names, short forms, intersections, buildings and placeholders."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.triage.gazetteer import AreaRecord, build_index, load_seed, trie_regex
from cityops.triage.models import GazetteerEntry
from cityops.triage.places import extract_places, mask_placeholders, resolve_place

AREAS = [
    AreaRecord("330105", "拱墅区", "district", None),
    AreaRecord("330105005", "拱宸桥街道", "street", "330105"),
    AreaRecord("330105007", "大关街道", "street", "330105"),
    AreaRecord("330105002", "湖墅街道", "street", "330105"),
    AreaRecord("330105005001", "桥西社区", "community", "330105005"),
    AreaRecord("330105002009", "桥西社区", "community", "330105002"),
    AreaRecord("330105007003", "西一社区", "community", "330105007"),
]


@pytest.fixture(scope="module")
def index():
    return build_index(AREAS, load_seed())


def test_trie_regex_prefers_longest_name():
    import re

    pattern = re.compile(trie_regex(["大关", "大关小区", "大关路"]))
    assert [m.group(0) for m in pattern.finditer("大关小区和大关路还有大关")] == [
        "大关小区",
        "大关路",
        "大关",
    ]


def test_street_and_community_resolve_to_the_community_of_that_street(index):
    best = extract_places("拱宸桥街道桥西社区门口垃圾堆了三天没人清理", index)[0]
    assert best.kind == "community"
    assert best.area_code == "330105005001"
    assert best.street_code == "330105005"
    assert best.confidence >= 0.9
    # The same community name under another street follows that street.
    other = extract_places("湖墅街道桥西社区", index)[0]
    assert other.area_code == "330105002009"


def test_ambiguous_community_alone_has_lower_confidence(index):
    alone = extract_places("桥西社区路灯不亮", index)[0]
    assert alone.kind == "community"
    assert alone.confidence < 0.8


def test_short_street_name_and_landmark(index):
    best = extract_places("拱宸桥附近有人乱扔垃圾", index)[0]
    assert best.street_code == "330105005"
    assert best.text == "拱宸桥"


def test_intersection_resolves_to_a_point_between_the_roads(index):
    best = extract_places("湖墅南路与德胜路交叉口红绿灯坏了", index)[0]
    assert best.kind == "intersection"
    assert best.text == "湖墅南路与德胜路交叉口"
    assert best.lon is not None and best.lat is not None
    assert 120.13 < best.lon < 120.16 and 30.28 < best.lat < 30.30
    assert best.street_code is not None and best.street_code.startswith("330105")


def test_roads_that_never_meet_are_not_an_intersection(index):
    matches = extract_places("石祥路与体育场路交叉口", index)
    assert all(m.kind != "intersection" for m in matches)


def test_building_number_extends_a_compound(index):
    best = extract_places("大关小区12幢楼下污水外溢", index)[0]
    assert best.kind == "building"
    assert best.text == "大关小区12幢"
    assert best.street_code == "330105007"


def test_placeholders_are_not_places(index):
    assert mask_placeholders("A市A3区联丰路") == "     联丰路"
    assert extract_places("A市A3区联丰路米兰春天G2栋320，A7县春华镇", index) == []


def test_text_without_places(index):
    assert extract_places("今天天气很好", index) == []
    assert extract_places("", index) == []


def test_resolve_place_reads_the_area_tree_and_the_gazetteer(db_engine_session: Session):
    session = db_engine_session
    for a in AREAS:
        session.add(Area(code=a.code, name=a.name, level=a.level, parent_code=a.parent_code))
    session.flush()
    # Empty gazetteer → the shipped seed is used.
    assert resolve_place(session, "莫干山路上有个坑").kind == "road"
    session.add(
        GazetteerEntry(name="星光大厦", kind="building", area_code="330105007003", lon=120.15, lat=30.31)
    )
    session.flush()
    found = resolve_place(session, "星光大厦门口占道经营")
    assert found is not None and found.area_code == "330105007003"
    assert found.street_code == "330105007"
    assert resolve_place(session, "没有地点的文字") is None

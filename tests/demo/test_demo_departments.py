"""The demo responsibility rule: every category gets a known department; utilities by name."""

from __future__ import annotations

import pytest

from cityops.catalog.limits import directory
from cityops.demo import departments as depts
from cityops.demo import people, texts

STREETS = [("330105001", "米市巷街道"), ("330105005", "拱宸桥街道")]


def test_every_directory_entry_maps_to_a_demo_department() -> None:
    known = {d.code for d in depts.DISTRICT_DEPARTMENTS}
    for e in directory():
        assert depts.district_department(e.kind, e.major_code, e.name) in known, e.name


@pytest.mark.parametrize(
    ("kind", "major", "name", "code"),
    [
        ("component", "01", "供水井盖", "GS-SWJT"),
        ("event", "01", "燃气井盖异常", "GS-RQJT"),
        ("event", "01", "电力井盖异常", "GS-GDGS"),
        ("component", "01", "通信井盖", "GS-DX"),
        ("event", "01", "污水井盖异常", "GS-SZZX"),
        ("event", "01", "路灯异常", "GS-SZZX"),
        ("event", "02", "交通信号灯异常", "GS-JJDD"),
        ("event", "06", "暴露垃圾", "GS-HWZX"),
        ("event", "04", "行道树异常", "GS-YLZX"),
        ("event", "09", "占用消防通道", "GS-XFJY"),
    ],
)
def test_named_owners(kind: str, major: str, name: str, code: str) -> None:
    assert depts.district_department(kind, major, name) == code


def test_street_matters_get_one_row_per_street() -> None:
    cats = [("09006", "event", "09", "占道经营"), ("06013", "event", "06", "道路破损")]
    rows = depts.responsibility_rows(cats, "330105", [c for c, _ in STREETS])
    assert ("09006", "330105", "GS-ZFJ") in rows
    assert ("09006", "330105005", "GS-JD005") in rows
    assert [r for r in rows if r[0] == "06013"] == [("06013", "330105", "GS-SZZX")]


def test_departments_are_about_forty_plus_offices() -> None:
    all_depts = depts.all_departments(STREETS)
    assert len({d.code for d in all_depts}) == len(all_depts) == len(depts.DISTRICT_DEPARTMENTS) + 2
    assert all(d.phone.startswith("0571-0000") for d in all_depts)


def test_accounts_and_texts() -> None:
    rows = people.account_rows([("GS-CGJ", "拱墅区城市管理局")], STREETS)
    names = {r["username"] for r in rows}
    assert {
        "operator",
        "dispatcher",
        "inspector",
        "leader",
        "admin",
        "handler-GS-CGJ",
        "street-330105005",
        "citizen5",
    } <= names
    assert all(r["is_demo"] for r in rows)
    assert texts.facility_of("路灯异常") == "路灯"
    assert texts.templates_for("暴露垃圾") == texts.BY_NAME["暴露垃圾"]

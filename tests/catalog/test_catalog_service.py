"""The directory, time limits and the responsibility list against a real SQLite database."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.catalog import limits, service
from cityops.catalog.models import Category, CategoryTimeLimit
from cityops.errors import Conflict, Invalid, NotFound


def test_directory_loads_403_categories_once(session: Session) -> None:
    assert service.load_directory(session) == 403
    assert service.load_directory(session) == 0  # idempotent
    count = dict(session.execute(select(Category.kind, func.count()).group_by(Category.kind)).all())
    assert count == {"component": 153, "event": 250}
    assert session.scalar(select(func.count()).where(Category.local.is_(True))) == 0
    # Components and matters share the 5-digit space; components carry the C prefix.
    assert service.get_category(session, "01001").name == "供水井盖异常"
    component = service.get_category(session, "C01001")
    assert (component.name, component.kind, component.std_code) == ("供水井盖", "component", "01001")


def test_load_keeps_admin_edits(loaded: Session) -> None:
    service.update_category(loaded, "06010", filing_criterion="本区自定立案标准")
    service.set_time_limits(loaded, "06010", ("working_hours", 3.0), {"A": None}, replace=True)
    assert service.load_directory(loaded) == 0
    assert service.get_category(loaded, "06010").filing_criterion == "本区自定立案标准"
    assert service.time_limit_for(loaded, "06010", "A") == ("working_hours", 3.0)


def test_published_limit_for_exposed_garbage(loaded: Session) -> None:
    assert service.time_limit_for(loaded, "06010", None) == ("working_hours", 4.0)
    category = service.get_category(loaded, "06010")
    assert category.name == "暴露垃圾"
    assert "生活垃圾" in category.filing_criterion
    assert category.closing_criterion == "彻底清理"


def test_multi_stage_limit_takes_first_stage_and_keeps_the_rest(loaded: Session) -> None:
    assert service.time_limit_for(loaded, "06001", None) == ("working_hours", 4.0)
    closing = service.get_category(loaded, "06001").closing_criterion
    assert closing.startswith("停工") and "彻底拆除" in closing


def test_rule_defaults(loaded: Session) -> None:
    # A missing manhole cover is a fall hazard: continuous clock.
    assert service.time_limit_for(loaded, "01003", None) == ("emergency", 2.0)
    assert service.get_category(loaded, "01003").emergency is True
    assert service.time_limit_for(loaded, "C01037", None) == ("working_hours", 16.0)  # 路灯
    assert service.time_limit_for(loaded, "08016", None) == ("working_days", 5.0)  # 无证建设
    assert service.time_limit_for(loaded, "09006", None) == ("working_hours", 2.0)  # 占道经营
    every = select(func.count(func.distinct(CategoryTimeLimit.category_code))).where(
        CategoryTimeLimit.grade.is_(None)
    )
    assert loaded.scalar(every) == 403


def test_grade_override_wins(loaded: Session) -> None:
    assert service.time_limit_for(loaded, "06010", "A") == ("working_hours", 3.0)
    assert service.time_limit_for(loaded, "06010", "B") == ("working_hours", 4.0)
    assert service.time_limit_for(loaded, "06010", "c") == ("working_hours", 6.0)
    # Emergencies never get looser in grade C areas.
    assert service.time_limit_for(loaded, "01003", "C") == ("emergency", 2.0)
    service.set_time_limits(loaded, "06010", None, {"B": ("working_days", 1.0)})
    assert service.time_limit_for(loaded, "06010", "B") == ("working_days", 1.0)


def test_unknown_category_and_bad_grade(loaded: Session) -> None:
    with pytest.raises(NotFound):
        service.time_limit_for(loaded, "99999", None)
    with pytest.raises(NotFound):
        service.get_category(loaded, "nope")
    with pytest.raises(Invalid):
        service.time_limit_for(loaded, "06010", "D")


def test_local_category(loaded: Session) -> None:
    cat = service.create_local_category(
        loaded,
        code="GS0601001",
        name="沿街晾晒被褥",
        kind="event",
        time_limit=("working_hours", 2.0),
        grade_limits={"A": ("working_hours", 1.0)},
    )
    assert cat.local is True
    assert service.time_limit_for(loaded, "GS0601001", "A") == ("working_hours", 1.0)
    with pytest.raises(Conflict):
        service.create_local_category(
            loaded, code="GS0601001", name="x", kind="event", time_limit=("working_hours", 2.0)
        )
    for bad in ("06099", "C01099", "has space"):
        with pytest.raises(Invalid):
            service.create_local_category(
                loaded, code=bad, name="x", kind="event", time_limit=("working_hours", 2.0)
            )
    with pytest.raises(Invalid):
        service.create_local_category(loaded, code="GS1", name="x", kind="event", time_limit=("hours", 2.0))
    with pytest.raises(Invalid):
        service.create_local_category(
            loaded, code="GS2", name="x", kind="event", time_limit=("working_hours", 0)
        )


def test_responsibility_most_specific_wins(loaded: Session) -> None:
    grid, community, street, district = "330105001001001", "330105001001", "330105001", "330105"
    service.upsert_responsibilities(
        loaded,
        [
            ("06010", district, "CGJ"),
            ("06010", street, "MZQ"),
            ("06010", grid, "HWC"),
        ],
    )
    assert service.responsible_department(loaded, "06010", [grid, community, street, district]) == "HWC"
    other_grid = "330105001001002"
    assert service.responsible_department(loaded, "06010", [other_grid, community, street, district]) == "MZQ"
    assert (
        service.responsible_department(loaded, "06010", ["330105002001001", "330105002", district]) == "CGJ"
    )
    # Upsert replaces the department of an existing (category, area) row.
    service.upsert_responsibilities(loaded, [("06010", street, "CGJ")])
    assert service.responsible_department(loaded, "06010", [other_grid, street, district]) == "CGJ"


def test_no_responsible_department(loaded: Session) -> None:
    with pytest.raises(Invalid) as err:
        service.responsible_department(loaded, "06010", ["330105001", "330105"])
    assert err.value.code == "no_responsible_department"
    assert "06010" in err.value.message and "330105001" in err.value.message
    with pytest.raises(NotFound):
        service.responsible_department(loaded, "99999", ["330105"])


def test_responsibility_rows_checked_before_writing(loaded: Session) -> None:
    with pytest.raises(Invalid) as err:
        service.upsert_responsibilities(
            loaded,
            [
                ("06010", "330105", "CGJ"),
                ("99999", "330105", "CGJ"),
                ("06010", "330105001", "NOPE"),
            ],
        )
    rows = [e["row"] for e in err.value.details["errors"]]
    assert rows == [1, 2]
    assert service.list_responsibilities(loaded)[1] == 0


def test_departments(loaded: Session) -> None:
    dept = service.create_department(loaded, code="SWJ", name="区水务局")
    assert dept.kind == "department"
    with pytest.raises(Conflict):
        service.create_department(loaded, code="SWJ", name="x")
    with pytest.raises(Invalid):
        service.create_department(loaded, code="X1", name="x", kind="bureau")
    service.update_department(loaded, "SWJ", name="区林业水利局", area_code="330105")
    assert service.get_department(loaded, "SWJ").area_code == "330105"
    service.update_department(loaded, "SWJ", area_code=None)
    assert service.get_department(loaded, "SWJ").area_code is None
    assert [d.code for d in service.list_departments(loaded, kind="street")] == ["MZQ"]
    with pytest.raises(NotFound):
        service.get_department(loaded, "NONE")


def test_shipped_directory_matches_shared(standards_dir: Path) -> None:
    shipped = limits.parse_directory_csv(
        (standards_dir / "gb47678_5_category_directory.csv").read_text(encoding="utf-8-sig")
    )
    assert shipped == list(limits.directory())


def test_published_limits_match_the_source_table(standards_dir: Path) -> None:
    """Every shipped published limit is the first row of its name in the cities' table."""
    with (standards_dir / "time_limit_examples.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    names = {e.code: e.name for e in limits.directory()}
    for code, lim in limits.published_limits().items():
        assert code in names
        source = next(r for r in rows if lim.source.endswith(r["legacy_code"]) and r["source"] in lim.source)
        assert (source["limit_kind"], float(source["limit_value"])) == (lim.kind, lim.value)
    # The README's legacy-code rule (AA-BB → (AA+5)0BB) on the example it gives.
    assert names["06010"] == "暴露垃圾"

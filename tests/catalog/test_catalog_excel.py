"""Excel export and import of the whole catalog."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.accounts.models import Department
from cityops.catalog import excel, service
from cityops.catalog.models import Category, CategoryTimeLimit, Responsibility
from cityops.db import unit_of_work
from cityops.errors import Invalid


def _snapshot(session: Session) -> tuple[list[tuple], list[tuple], list[tuple]]:
    cats = [
        (
            c.code,
            c.name,
            c.kind,
            c.major_code,
            c.major_name,
            c.std_code,
            c.filing_criterion,
            c.closing_criterion,
            c.local,
            c.active,
            c.emergency,
        )
        for c in session.scalars(select(Category).order_by(Category.code))
    ]
    lims = sorted(
        (t.category_code, t.grade or "", t.kind, t.value) for t in session.scalars(select(CategoryTimeLimit))
    )
    resp = sorted(
        (r.category_code, r.area_code, r.department_code) for r in session.scalars(select(Responsibility))
    )
    return cats, lims, resp


def _seed(session: Session) -> None:
    service.create_local_category(
        session,
        code="GS-0001",
        name="共享单车堆积",
        kind="event",
        time_limit=("working_hours", 1.5),
        grade_limits={"C": ("working_hours", 3.0)},
        filing_criterion="堆积超过 10 辆",
    )
    service.update_category(session, "06010", active=False, closing_criterion="彻底清理，拍照回传")
    service.upsert_responsibilities(
        session,
        [
            ("06010", "330105", "CGJ"),
            ("06010", "330105001", "MZQ"),
            ("GS-0001", "330105", "CGJ"),
        ],
    )


def test_round_trip_is_identical(loaded: Session, factory: sessionmaker[Session]) -> None:
    _seed(loaded)
    loaded.commit()
    before = _snapshot(loaded)
    data = excel.export_workbook(loaded)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["类别", "时限", "权责清单"]
    assert [c.value for c in wb["类别"][1]][:3] == ["类别代码", "名称", "类型"]
    assert wb["类别"].max_row == 405 and wb["权责清单"].max_row == 4

    # Into an empty database (departments exist there too): the same catalog comes out.
    loaded.execute(Responsibility.__table__.delete())
    loaded.execute(CategoryTimeLimit.__table__.delete())
    loaded.execute(Category.__table__.delete())
    loaded.commit()
    with unit_of_work(factory) as s:
        counts = excel.import_workbook(s, data)
    assert counts == {"categories": 404, "time_limits": len(before[1]), "responsibilities": 3}
    with unit_of_work(factory) as s:
        assert _snapshot(s) == before
        # And importing once more over itself changes nothing.
        excel.import_workbook(s, data)
        s.flush()
        assert _snapshot(s) == before
        assert excel.export_workbook(s) is not None


def _workbook(categories: list[list], limits_rows: list[list], resp: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "类别"
    ws.append(excel.CATEGORY_HEADERS)
    for r in categories:
        ws.append(r)
    ws = wb.create_sheet("时限")
    ws.append(excel.LIMIT_HEADERS)
    for r in limits_rows:
        ws.append(r)
    ws = wb.create_sheet("权责清单")
    ws.append(excel.RESPONSIBILITY_HEADERS)
    for r in resp:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_bad_rows_are_all_reported_and_nothing_written(loaded: Session) -> None:
    loaded.commit()
    before = _snapshot(loaded)
    data = _workbook(
        [
            ["GS-0002", "新类别", "事件", "", "", "", "", "", "是", "是", "否"],  # fine
            ["06010", "暴露垃圾（改）", "事件"],  # fine: an edit of a standard category
            ["", "无代码", "事件"],  # row 4: empty code
            ["06999", "冒充标准", "事件"],  # row 5: standard-shaped local code
            ["GS-0003", "类型错", "问题"],  # row 6: bad kind
        ],
        [
            ["GS-0002", "", "工作时", 2],  # fine
            ["06010", "D", "工作时", 2],  # row 3: bad grade
            ["06010", "A", "小时", 2],  # row 4: bad kind
            ["06010", "B", "工作日", -1],  # row 5: bad value
            ["99998", "", "工作日", 1],  # row 6: unknown category
        ],
        [
            ["06010", "330105", "CGJ"],  # fine
            ["06010", "330105", "HWC"],  # row 3: duplicate
            ["06010", "330105002", "NOPE"],  # row 4: unknown department
        ],
    )
    with pytest.raises(Invalid) as err:
        excel.import_workbook(loaded, data)
    assert err.value.status == 422 and err.value.code == "invalid_workbook"
    found = {(e["sheet"], e["row"], e["column"]) for e in err.value.details["errors"]}
    assert found == {
        ("类别", 4, "类别代码"),
        ("类别", 5, "类别代码"),
        ("类别", 6, "类型"),
        ("时限", 3, "等级"),
        ("时限", 4, "时限类型"),
        ("时限", 5, "时限值"),
        ("时限", 6, "类别代码"),
        ("权责清单", 3, "区域代码"),
        ("权责清单", 4, "责任部门代码"),
    }
    assert all(" / " in e["message"] for e in err.value.details["errors"])
    loaded.rollback()
    assert _snapshot(loaded) == before


def test_new_category_needs_a_default_limit_and_numbers_keep_codes(loaded: Session) -> None:
    with pytest.raises(Invalid) as err:
        excel.import_workbook(loaded, _workbook([["GS-0009", "无时限", "事件"]], [], []))
    assert [(e["sheet"], e["row"]) for e in err.value.details["errors"]] == [("类别", 2)]
    # A code typed as a number lost its leading zero in Excel; it is padded back.
    counts = excel.import_workbook(loaded, _workbook([], [[6010, "A", "工作时", 2.5]], []))
    assert counts["time_limits"] == 1
    assert service.time_limit_for(loaded, "06010", "A") == ("working_hours", 2.5)


def test_not_a_workbook(loaded: Session) -> None:
    with pytest.raises(Invalid) as err:
        excel.import_workbook(loaded, b"not an xlsx")
    assert err.value.code == "invalid_workbook"


def test_directory_csv_import(session: Session) -> None:
    text = "kind,major_code,major_name,code5,name\n管理事项,06,市容环境类,06010,暴露垃圾\n"
    assert excel.import_directory_csv(session, text) == 1
    assert service.time_limit_for(session, "06010", None) == ("working_hours", 4.0)
    with pytest.raises(Invalid):
        excel.import_directory_csv(session, "kind,code5\nx,1\n")
    assert session.get(Department, "CGJ") is None


def test_export_survives_control_characters_in_names(loaded: Session) -> None:
    # Found by schemathesis: a name with a control character made openpyxl refuse the export.
    category = loaded.get(Category, "06010")
    assert category is not None
    category.name = "暴露\x07垃圾\x1b"
    loaded.flush()
    book = load_workbook(io.BytesIO(excel.export_workbook(loaded)))
    names = {row[0]: row[1] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert names["06010"] == "暴露垃圾"

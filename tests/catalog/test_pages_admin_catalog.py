"""The administrator's catalog pages: categories with search, a category's edit form, its time
limits, the responsibility list (filters, totals, add/edit/delete, Excel export and an import
whose row errors are listed with nothing written)."""

from __future__ import annotations

import io
import re

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy.engine import Engine
from tests.pages.conftest import app_client, csrf_of, demo_engine, demo_settings, new_client, sign_in

from cityops.catalog import service
from cityops.db import make_sessionmaker, unit_of_work

__all__ = ["app_client", "demo_engine", "demo_settings", "new_client"]  # fixtures

CATEGORY = "06010"  # 暴露垃圾
DEPT = "GS-CGJ"
STREET = "330105005"


def _admin(client: TestClient, path: str = "/admin/categories") -> str:
    sign_in(client, "admin")
    return csrf_of(client.get(path).text)


def _workbook(*rows: tuple[str, str, str]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "权责清单"
    ws.append(["类别代码", "区域代码", "责任部门代码", "责任部门名称"])
    for row in rows:
        ws.append(list(row))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_categories_list_search_and_detail(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    page = new_client.get("/admin/categories")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert re.search(r'data-total="\d+"', page.text)
    found = new_client.get("/admin/categories", params={"q": "暴露垃圾"})
    assert f'data-code="{CATEGORY}"' in found.text
    by_code = new_client.get("/admin/categories", params={"q": CATEGORY, "kind": "event", "active": "1"})
    assert f'data-code="{CATEGORY}"' in by_code.text
    assert new_client.get("/admin/categories", params={"kind": "planet"}).status_code == 422
    assert new_client.get("/admin/categories", params={"offset": "-1"}).status_code == 422
    detail = new_client.get(f"/admin/categories/{CATEGORY}")
    assert detail.status_code == 200 and "暴露垃圾" in detail.text and 'name="csrf_token"' in detail.text
    assert new_client.get("/admin/categories/NOPE").status_code == 404


def test_edit_a_category_keeps_input_on_error(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client, f"/admin/categories/{CATEGORY}")
    bad = new_client.post(
        f"/admin/categories/{CATEGORY}", data={"csrf_token": token, "name": "", "filing_criterion": "保留"}
    )
    assert bad.status_code == 422 and 'id="name-error"' in bad.text and "保留" in bad.text
    ok = new_client.post(
        f"/admin/categories/{CATEGORY}",
        data={"csrf_token": token, "name": "暴露垃圾", "filing_criterion": "新的立案标准", "active": "1"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert service.get_category(session, CATEGORY).filing_criterion == "新的立案标准"


def test_time_limits_form(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client, f"/admin/categories/{CATEGORY}/limits")
    form = new_client.get(f"/admin/categories/{CATEGORY}/limits")
    assert (
        form.status_code == 200 and 'name="value_A"' in form.text and 'name="verify_limit_hours"' in form.text
    )
    bad = new_client.post(
        f"/admin/categories/{CATEGORY}/limits",
        data={
            "csrf_token": token,
            "kind": "working_hours",
            "value": "-3",
            "kind_A": "working_hours",
            "value_A": "",
        },
    )
    assert bad.status_code == 422 and 'id="value-error"' in bad.text and 'id="value_A-error"' in bad.text
    assert 'value="-3"' in bad.text  # what was typed stays
    weird = new_client.post(
        f"/admin/categories/{CATEGORY}/limits",
        data={"csrf_token": token, "kind": "lunar", "value": "abc", "verify_limit_hours": "1e999"},
    )
    assert (
        weird.status_code == 422
        and 'id="kind-error"' in weird.text
        and 'id="verify_limit_hours-error"' in weird.text
    )
    ok = new_client.post(
        f"/admin/categories/{CATEGORY}/limits",
        data={
            "csrf_token": token,
            "kind": "working_hours",
            "value": "6",
            "kind_A": "working_hours",
            "value_A": "3",
            "verify_limit_hours": "2",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        limits = service.category_limits(session, CATEGORY)
        assert limits[None] == ("working_hours", 6.0) and limits["A"] == ("working_hours", 3.0)
        assert "B" not in limits and "C" not in limits
        assert service.stage_limits(session, CATEGORY)["verify_limit_hours"] == 2.0


def test_responsibility_list_add_edit_delete(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client, "/admin/responsibilities")
    page = new_client.get("/admin/responsibilities", params={"category_code": CATEGORY})
    assert page.status_code == 200 and "全部" in page.text and 'data-total="' in page.text
    by_dept = new_client.get("/admin/responsibilities", params={"department_code": DEPT})
    assert by_dept.status_code == 200
    bad = new_client.post(
        "/admin/responsibilities",
        data={
            "csrf_token": token,
            "category_code": "NOPE",
            "area_code": STREET + "001",
            "department_code": "XX",
        },
    )
    assert (
        bad.status_code == 422
        and 'id="category_code-error"' in bad.text
        and 'id="department_code-error"' in bad.text
    )
    assert 'value="NOPE"' in bad.text
    area = STREET + "001"
    ok = new_client.post(
        "/admin/responsibilities",
        data={"csrf_token": token, "category_code": CATEGORY, "area_code": area, "department_code": DEPT},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        rows, total = service.list_responsibilities(session, category_code=CATEGORY, area_code=area)
        assert total == 1
        row_id = rows[0].id
    edit = new_client.get(f"/admin/responsibilities/{row_id}")
    assert edit.status_code == 200 and f'value="{area}"' in edit.text
    moved = new_client.post(
        f"/admin/responsibilities/{row_id}",
        data={
            "csrf_token": token,
            "category_code": CATEGORY,
            "area_code": STREET + "002",
            "department_code": DEPT,
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert service.list_responsibilities(session, category_code=CATEGORY, area_code=area)[1] == 0
        rows, _ = service.list_responsibilities(session, category_code=CATEGORY, area_code=STREET + "002")
        row_id = rows[0].id
    gone = new_client.post(
        f"/admin/responsibilities/{row_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert (
        new_client.post(f"/admin/responsibilities/{row_id}/delete", data={"csrf_token": token}).status_code
        == 404
    )
    assert new_client.get("/admin/responsibilities/abc").status_code == 422


def test_excel_export_and_import_with_row_errors(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client, "/admin/responsibilities")
    exported = new_client.get("/admin/responsibilities/export.xlsx")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    assert "权责清单" in load_workbook(io.BytesIO(exported.content)).sheetnames
    area = STREET + "003"
    wrong = _workbook(
        (CATEGORY, area, DEPT, ""), ("99999", area, DEPT, ""), (CATEGORY, STREET + "004", "NO-SUCH", "")
    )
    refused = new_client.post(
        "/admin/responsibilities/import",
        data={"csrf_token": token},
        files={"file": ("list.xlsx", wrong, "application/octet-stream")},
    )
    assert refused.status_code == 422
    assert 'id="import-errors"' in refused.text and "未导入任何数据" in refused.text
    assert refused.text.count('class="row-error"') == 2
    assert '<td class="num">3</td><td>类别代码</td>' in refused.text
    assert '<td class="num">4</td><td>责任部门代码</td>' in refused.text
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert service.list_responsibilities(session, area_code=area)[1] == 0  # nothing written
    fixed = _workbook((CATEGORY, area, DEPT, ""))
    done = new_client.post(
        "/admin/responsibilities/import",
        data={"csrf_token": token},
        files={"file": ("list.xlsx", fixed, "application/octet-stream")},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert service.list_responsibilities(session, area_code=area)[1] == 1
    for name, body in (("x.xlsx", b"not a workbook"), ("y.xlsx", b"")):
        page = new_client.post(
            "/admin/responsibilities/import",
            data={"csrf_token": token},
            files={"file": (name, body, "application/octet-stream")},
        )
        assert page.status_code == 422 and 'id="file-error"' in page.text


def test_csrf_roles_and_english(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    assert new_client.post(f"/admin/categories/{CATEGORY}", data={"name": "x"}).status_code == 403
    assert new_client.post("/admin/responsibilities", data={"category_code": "x"}).status_code == 403
    token = csrf_of(new_client.get("/admin/categories").text)
    new_client.post("/lang", data={"csrf_token": token, "lang": "en", "next": "/"})
    english = new_client.get(f"/admin/categories/{CATEGORY}/limits")
    assert '<html lang="en">' in english.text and "Default limit" in english.text
    new_client.cookies.clear()
    sign_in(new_client, "operator")
    for path in (
        "/admin/categories",
        f"/admin/categories/{CATEGORY}",
        "/admin/responsibilities",
        "/admin/responsibilities/export.xlsx",
    ):
        assert new_client.get(path).status_code == 403, path

"""The indicator catalog's admin pages: the tree with search, create / edit with the service's
errors next to the field (zh and en), delete, Excel export and all-or-nothing import with row and
column errors, compute now; CSRF refused, other roles 403, bad input 4xx (never 500)."""

from __future__ import annotations

import html
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.pages.conftest import BROWSER, csrf_of, sign_in

from cityops.config import Settings
from cityops.indicators import service
from cityops.indicators.models import Indicator
from cityops.web.app import create_app

NEW = {
    "code": "T.page_overdue",
    "name": "页面测试超期数",
    "domain": "基层治理",
    "theme": "页面测试",
    "unit": "件",
    "period": "month",
    "owner": "区城运中心",
    "direction": "lower_better",
    "kind": "expression",
    "definition": "overdue + 0",
    "yellow": "1",
    "red": "100000",
    "description": "",
    "active": "1",
}


@pytest.fixture()
def client(demo_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp_path)
    with TestClient(
        create_app(settings, engine=demo_engine), raise_server_exceptions=False, headers=BROWSER
    ) as c:
        yield c


def _admin(client: TestClient) -> str:
    sign_in(client, "admin")
    page = client.get("/admin/indicators")
    assert page.status_code == 200
    return csrf_of(page.text)


def _count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Indicator)) or 0)


def test_catalog_tree_search_and_links(client: TestClient) -> None:
    _admin(client)
    page = client.get("/admin/indicators")
    assert '<html lang="zh-CN">' in page.text and "指标目录" in page.text
    assert "基层治理" in page.text and "市容环境" in page.text
    assert 'href="/cockpit/indicators/GOV.closure_rate"' in page.text
    assert 'action="/admin/indicators/GOV.closure_rate/compute"' in page.text
    found = client.get("/admin/indicators", params={"q": "closure_rate"})
    assert found.status_code == 200
    assert 'id="ind-GOV.closure_rate"' in found.text and 'id="ind-CITY.exposed_garbage"' not in found.text
    none = client.get("/admin/indicators", params={"q": "没有这个指标zzz"})
    assert none.status_code == 200 and "没有符合条件的指标" in none.text
    by_domain = client.get("/admin/indicators", params={"domain": "生态环境"})
    assert "基层治理</summary>" not in by_domain.text
    assert client.get("/admin/indicators/new").status_code == 200
    edit = client.get("/admin/indicators/GOV.closure_rate/edit")
    assert edit.status_code == 200 and "closed / due * 100" in edit.text and csrf_of(edit.text)


def test_create_edit_compute_delete(client: TestClient, demo_engine: Engine) -> None:
    token = _admin(client)
    r = client.post("/admin/indicators/new", data={**NEW, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    listed = client.get(r.headers["location"])
    assert 'id="ind-T.page_overdue"' in listed.text and "已保存 T.page_overdue" in listed.text
    # Yellow from 1: the district has overdue cases, so the level shows yellow.
    assert "level-yellow" in listed.text.split('id="ind-T.page_overdue"')[1].split("</tr>")[0]
    edited = client.post(
        "/admin/indicators/T.page_overdue/edit",
        data={**NEW, "yellow": "100000", "red": "200000", "csrf_token": token},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    row = client.get(edited.headers["location"]).text.split('id="ind-T.page_overdue"')[1].split("</tr>")[0]
    assert "level-normal" in row and "黄色 100000" in row
    computed = client.post(
        "/admin/indicators/T.page_overdue/compute",
        data={"csrf_token": token, "next": "/admin/indicators?q=T.page"},
        follow_redirects=False,
    )
    assert computed.status_code == 303 and computed.headers["location"] == "/admin/indicators?q=T.page"
    assert "已计算 T.page_overdue" in client.get(computed.headers["location"]).text
    before = _count(demo_engine)
    gone = client.post(
        "/admin/indicators/T.page_overdue/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert gone.status_code == 303 and _count(demo_engine) == before - 1
    assert client.get("/admin/indicators/T.page_overdue/edit").status_code == 404
    assert (
        client.post("/admin/indicators/T.page_overdue/delete", data={"csrf_token": token}).status_code == 404
    )


@pytest.mark.parametrize(
    ("change", "field", "zh", "en"),
    [
        ({"definition": "closed / duee"}, "definition", "未知字段 'duee'", "unknown field 'duee'"),
        ({"definition": "closed / 0"}, "definition", "除数为零", "division by zero"),
        ({"yellow": "5", "red": "2"}, "red", "阈值顺序不对", "thresholds out of order"),
        ({"yellow": "many"}, "yellow", "阈值 yellow 必须是数字", "threshold yellow must be a number"),
        (
            {"kind": "aggregate", "definition": "nope"},
            "definition",
            "未知的命名聚合",
            "unknown named aggregate",
        ),
        ({"code": "1bad"}, "code", "指标编码须以字母开头", "code must start with a letter"),
        ({"code": "GOV.closure_rate"}, "code", "已存在", "exists already"),
        ({"name": ""}, "name", "不能为空", "must not be empty"),
        ({"period": "decade"}, "period", "period 必须是", "period must be one of"),
    ],
)
def test_form_errors_next_to_the_field_in_both_languages(
    client: TestClient, demo_engine: Engine, change: dict[str, str], field: str, zh: str, en: str
) -> None:
    token = _admin(client)
    before = _count(demo_engine)
    data = {**NEW, "code": "T.page_bad", **change, "csrf_token": token}
    r = client.post("/admin/indicators/new", data=data)
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert f'id="{field}-error"' in text and zh in text.split(f'id="{field}-error"')[1][:300]
    typed = change.get("definition") or change.get("yellow")
    if typed:
        assert typed in text  # what was typed is kept
    client.cookies.set("cityops_lang", "en")
    r = client.post("/admin/indicators/new", data=data)
    text = html.unescape(r.text)
    assert r.status_code == 422 and en in text.split(f'id="{field}-error"')[1][:300]
    client.cookies.delete("cityops_lang")
    assert _count(demo_engine) == before


def test_edit_errors_keep_the_indicator(client: TestClient, demo_session: Session) -> None:
    token = _admin(client)
    old = service.get_indicator(demo_session, "GOV.closure_rate").thresholds
    data = {
        **{k: v for k, v in NEW.items() if k != "code"},
        "direction": "higher_better",
        "definition": "closed / due * 100",
        "yellow": "50",
        "red": "80",
        "csrf_token": token,
    }
    r = client.post("/admin/indicators/GOV.closure_rate/edit", data=data)
    assert r.status_code == 422 and 'id="red-error"' in r.text and "递减" in r.text
    demo_session.expire_all()
    assert service.get_indicator(demo_session, "GOV.closure_rate").thresholds == old
    assert client.post("/admin/indicators/NOPE/edit", data=data).status_code == 404


def test_export_and_all_or_nothing_import(client: TestClient, demo_engine: Engine) -> None:
    token = _admin(client)
    exported = client.get("/admin/indicators/export.xlsx")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith(
        "application/vnd.openxmlformats"
    )
    wb = load_workbook(io.BytesIO(exported.content))
    ws = wb.active
    assert ws is not None
    first_bad = ws.max_row + 1
    ws.append(
        ["T.imp_ok", "导入好", "基层治理", "导入", "", "month", "", "lower_better", "expression", "filed"]
    )
    ws.append(
        [
            "T.imp_bad",
            "坏公式",
            "基层治理",
            "导入",
            "",
            "month",
            "",
            "lower_better",
            "expression",
            "filed / nope",
        ]
    )
    ws.append(
        [
            "T.imp_ord",
            "坏阈值",
            "基层治理",
            "导入",
            "",
            "month",
            "",
            "lower_better",
            "expression",
            "filed",
            5,
            1,
        ]
    )
    bad = io.BytesIO()
    wb.save(bad)
    before = _count(demo_engine)
    files = {"file": ("catalog.xlsx", bad.getvalue(), "application/octet-stream")}
    r = client.post("/admin/indicators/import", data={"csrf_token": token}, files=files)
    assert r.status_code == 422
    table = r.text.split('id="import-errors"')[1].split("</table>")[0]
    assert f"<td>{first_bad + 1}</td><td>J</td>" in table and "nope" in table
    assert f"<td>{first_bad + 2}</td><td>L</td>" in table and "阈值顺序不对" in table
    assert "未导入任何指标" in r.text
    assert _count(demo_engine) == before  # nothing half-imported
    ws.delete_rows(first_bad + 1, 2)
    good = io.BytesIO()
    wb.save(good)
    files = {"file": ("catalog.xlsx", good.getvalue(), "application/octet-stream")}
    ok = client.post(
        "/admin/indicators/import", data={"csrf_token": token}, files=files, follow_redirects=False
    )
    assert ok.status_code == 303 and _count(demo_engine) == before + 1
    assert "已导入" in client.get("/admin/indicators").text
    client.post("/admin/indicators/T.imp_ok/delete", data={"csrf_token": token})
    ws.delete_cols(3)
    wrong = io.BytesIO()
    wb.save(wrong)
    files = {"file": ("wrong.xlsx", wrong.getvalue(), "application/octet-stream")}
    r = client.post("/admin/indicators/import", data={"csrf_token": token}, files=files)
    assert r.status_code == 422 and "第 1 行表头不对：第 C 列" in r.text
    files = {"file": ("notes.xlsx", b"not a workbook", "application/octet-stream")}
    r = client.post("/admin/indicators/import", data={"csrf_token": token}, files=files)
    assert r.status_code == 422 and "文件不是 Excel 工作簿" in r.text
    r = client.post("/admin/indicators/import", data={"csrf_token": token})
    assert r.status_code == 422 and "请选择要导入的 Excel 文件" in r.text


def test_csrf_and_roles(client: TestClient, demo_engine: Engine) -> None:
    _admin(client)
    before = _count(demo_engine)
    r = client.post("/admin/indicators/new", data=NEW)
    assert r.status_code == 403 and "安全令牌" in r.text
    r = client.post("/admin/indicators/GOV.filed/delete", data={"csrf_token": "x" * 40})
    assert r.status_code == 403
    assert client.post("/admin/indicators/GOV.filed/compute").status_code == 403
    assert _count(demo_engine) == before
    for user in ("leader", "dispatcher", "handler-GS-HWZX", "citizen1"):
        client.cookies.clear()
        sign_in(client, user)
        assert client.get("/admin/indicators").status_code == 403, user
        assert client.get("/admin/indicators/export.xlsx").status_code == 403
        assert client.get("/admin/indicators/GOV.filed/edit").status_code == 403
        page = client.get("/home")
        token = csrf_of(page.text)
        assert (
            client.post("/admin/indicators/GOV.filed/delete", data={"csrf_token": token}).status_code == 403
        )
    client.cookies.clear()
    assert client.get("/admin/indicators", follow_redirects=False).status_code == 303  # sign in first
    assert _count(demo_engine) == before

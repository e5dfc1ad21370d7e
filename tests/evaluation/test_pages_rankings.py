"""The rankings page (/evaluation, 亮榜晒绩): per period with the movement since the last period,
the units' key tasks beside them, Excel export; a bad period is a 4xx naming the accepted forms;
scoping like the API (a street account its street, a handler its department, citizens 403)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from tests.pages.conftest import BROWSER, sign_in

from cityops.config import Settings
from cityops.web.app import create_app

PERIOD = "2026-10"  # a month of the demo's history with closed cases and a month before it


@pytest.fixture()
def client(demo_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp_path)
    app = create_app(settings, engine=demo_engine)
    with TestClient(app, raise_server_exceptions=False, headers=BROWSER) as c:
        yield c


def _api_rows(client: TestClient, **params: str) -> list[dict[str, object]]:
    r = client.get("/api/v1/evaluation", params=params, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return list(r.json()["rows"])


def _rows(page: str) -> list[str]:
    body = page.split('id="ranking"')[1].split("</tbody>")[0]
    return body.split("<tr data-code=")[1:]


def test_leader_sees_the_ranking_with_movement(client: TestClient) -> None:
    sign_in(client, "leader")
    page = client.get("/evaluation", params={"by": "street", "period": PERIOD})
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text and "亮榜晒绩" in page.text
    rows = _rows(page.text)
    expected = _api_rows(client, by="street", period=PERIOD)
    assert len(rows) == len(expected) > 5
    assert [r.split('"')[1] for r in rows] == [e["code"] for e in expected]  # the API's order
    assert any(mark in page.text for mark in ("↑", "↓", "－"))
    assert 'class="move' in rows[0] and "揭榜任务" in page.text
    assert f"/evaluation/export.xlsx?by=street&amp;period={PERIOD}" in page.text
    assert "2026-09" in page.text  # compared with the month before
    for by in ("department", "community", "grid", "inspector"):
        assert client.get("/evaluation", params={"by": by, "period": PERIOD}).status_code == 200, by
    for period in ("2026-W40", "2026-Q3", "2026"):
        assert client.get("/evaluation", params={"by": "department", "period": period}).status_code == 200
    assert client.get("/evaluation").status_code == 200  # this month, the default dimension


def test_export_matches_the_page(client: TestClient) -> None:
    sign_in(client, "leader")
    r = client.get("/evaluation/export.xlsx", params={"by": "street", "period": PERIOD})
    assert r.status_code == 200 and "evaluation-street-2026-10.xlsx" in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None and ws.max_row == 2 + len(_api_rows(client, by="street", period=PERIOD))
    assert ws.cell(2, 1).value == "名次 rank" and ws.cell(3, 1).value == 1


@pytest.mark.parametrize("period", ["2026-13", "last month", "2099-01", "1999"])
def test_bad_periods_are_4xx_with_the_accepted_forms(client: TestClient, period: str) -> None:
    sign_in(client, "leader")
    page = client.get("/evaluation", params={"by": "street", "period": period})
    assert page.status_code == 422
    assert 'id="period-error"' in page.text and "YYYY-MM" in page.text.split('id="period-error"')[1][:400]
    assert client.get("/evaluation/export.xlsx", params={"period": period}).status_code == 422
    client.cookies.set("cityops_lang", "en")
    page = client.get("/evaluation", params={"by": "street", "period": period})
    assert page.status_code == 422 and "accepted forms" in page.text
    client.cookies.delete("cityops_lang")


def test_bad_dimension_and_empty_period(client: TestClient) -> None:
    sign_in(client, "leader")
    page = client.get("/evaluation", params={"by": "planet", "period": PERIOD})
    assert page.status_code == 422 and 'id="by-error"' in page.text
    empty = client.get("/evaluation", params={"by": "street", "period": "2015-01"})
    assert empty.status_code == 200 and "本期暂无数据" in empty.text


def test_scoping_like_the_api(client: TestClient) -> None:
    sign_in(client, "street-330105005")
    assert client.get("/evaluation").status_code == 200  # communities of the street by default
    page = client.get("/evaluation", params={"by": "grid", "period": "2026"})
    rows = _rows(page.text)
    assert len(rows) == len(_api_rows(client, by="grid", period="2026")) > 0
    assert all(r.startswith('"330105005') for r in rows)
    assert client.get("/evaluation", params={"by": "department", "period": PERIOD}).status_code == 403
    client.cookies.clear()
    sign_in(client, "handler-GS-HWZX")
    page = client.get("/evaluation", params={"period": PERIOD})
    assert page.status_code == 200 and [r.split('"')[1] for r in _rows(page.text)] in (["GS-HWZX"], [])
    assert client.get("/evaluation", params={"by": "street"}).status_code == 403
    client.cookies.clear()
    sign_in(client, "citizen1")
    assert client.get("/evaluation").status_code == 403
    assert client.get("/evaluation/export.xlsx").status_code == 403

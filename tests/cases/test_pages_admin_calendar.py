"""The administrator's working-calendar page: a month, the year's overrides, add and remove one
(audited), a year's schedule imported all or nothing, the calendar's status."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.pages.conftest import app_client, csrf_of, demo_engine, demo_settings, new_client, sign_in

from cityops.cases import calendar
from cityops.db import make_sessionmaker, unit_of_work

__all__ = ["app_client", "demo_engine", "demo_settings", "new_client"]  # fixtures


def _admin(client: TestClient) -> str:
    sign_in(client, "admin")
    return csrf_of(client.get("/admin/calendar").text)


def _overrides(engine: Engine, year: int) -> dict[date, bool]:
    with unit_of_work(make_sessionmaker(engine)) as session:
        return {o.day: o.is_workday for o in calendar.list_overrides(session, year)}


def test_month_view_and_status(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    page = new_client.get("/admin/calendar", params={"month": "2026-10"})
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert 'data-day="2026-10-01" data-workday="0"' in page.text  # 国庆节
    assert 'data-day="2026-10-12" data-workday="1"' in page.text
    assert 'id="calendar-status"' in page.text and "节假日数据包已知至" in page.text
    for bad in ("2026-13", "26-1", "2026-10-01", "abcd-ef"):
        assert new_client.get("/admin/calendar", params={"month": bad}).status_code == 422, bad
    assert new_client.get("/admin/calendar", params={"month": "1999-01"}).status_code == 422


def test_add_and_remove_an_override(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client)
    bad = new_client.post(
        "/admin/calendar/overrides",
        data={"csrf_token": token, "day": "2026-02-30", "kind": "holiday", "note": "留着"},
    )
    assert bad.status_code == 422 and 'id="day-error"' in bad.text and "留着" in bad.text
    no_kind = new_client.post(
        "/admin/calendar/overrides", data={"csrf_token": token, "day": "2026-11-20", "kind": "x"}
    )
    assert no_kind.status_code == 422 and 'id="kind-error"' in no_kind.text
    ok = new_client.post(
        "/admin/calendar/overrides",
        data={"csrf_token": token, "day": "2026-11-20", "kind": "holiday", "note": "台风停工"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/calendar?month=2026-11"
    assert _overrides(demo_engine, 2026)[date(2026, 11, 20)] is False
    month = new_client.get("/admin/calendar", params={"month": "2026-11"})
    assert 'data-day="2026-11-20" data-workday="0"' in month.text and "台风停工" in month.text
    audit = new_client.get(
        "/admin/audit", params={"action": "calendar.override_set", "subject_id": "2026-11-20"}
    )
    assert 'data-action="calendar.override_set"' in audit.text
    gone = new_client.post(
        "/admin/calendar/overrides/2026-11-20/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert gone.status_code == 303 and date(2026, 11, 20) not in _overrides(demo_engine, 2026)
    again = new_client.post("/admin/calendar/overrides/2026-11-20/delete", data={"csrf_token": token})
    assert again.status_code == 404
    assert (
        new_client.post("/admin/calendar/overrides/tomorrow/delete", data={"csrf_token": token}).status_code
        == 422
    )


def test_import_a_year_all_or_nothing(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client)
    wrong = "date,kind,name\n2031-01-01,holiday,元旦\n2031-02-30,holiday,春节\n"
    refused = new_client.post(
        "/admin/calendar/import",
        data={"csrf_token": token, "source": "测试"},
        files={"file": ("2031.csv", wrong.encode(), "text/csv")},
    )
    assert refused.status_code == 422 and 'id="file-error"' in refused.text and "第 2 行" in refused.text
    assert _overrides(demo_engine, 2031) == {}
    for name, body in (("x.csv", b"day,what\n"), ("x.json", b"{"), ("x.csv", b"\xff\xfe\x00")):
        page = new_client.post(
            "/admin/calendar/import", data={"csrf_token": token}, files={"file": (name, body, "text/csv")}
        )
        assert page.status_code == 422 and 'id="file-error"' in page.text, name
    assert new_client.post("/admin/calendar/import", data={"csrf_token": token}).status_code == 422
    good = "date,kind,name\n2031-01-01,holiday,元旦\n2031-01-04,workday,调休\n"
    done = new_client.post(
        "/admin/calendar/import",
        data={"csrf_token": token, "source": "测试通知"},
        files={"file": ("2031.csv", good.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/calendar?month=2031-01"
    assert _overrides(demo_engine, 2031) == {date(2031, 1, 1): False, date(2031, 1, 4): True}
    assert "2031" in new_client.get("/admin/calendar").text


def test_csrf_and_roles(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    refused = new_client.post("/admin/calendar/overrides", data={"day": "2026-11-21", "kind": "holiday"})
    assert refused.status_code == 403
    new_client.cookies.clear()
    sign_in(new_client, "dispatcher")
    assert new_client.get("/admin/calendar").status_code == 403

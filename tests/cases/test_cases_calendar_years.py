"""The calendar beyond the years ``chinese_calendar`` knows (issue 8 item 20): the fallback,
the warning when a deadline may land in an unknown year, and importing a year's official
schedule (国务院办公厅 holiday notice) as overrides through the service, the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import calendar, service
from cityops.cases.models import Case
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.errors import Invalid
from cityops.kit.workcal import WorkCalendar, package_last_year

from .conftest import GARBAGE, IN_B, as_header

MakePrincipal = Callable[..., Principal]
LAST = max(d.year for d in (*chinese_calendar.constants.holidays, *chinese_calendar.constants.workdays))
UNKNOWN = LAST + 1


def _first_weekday(year: int, month: int, day: int, weekday: int) -> date:
    d = date(year, month, day)
    while d.weekday() != weekday:
        d += timedelta(days=1)
    return d


def test_the_package_year_range_is_read_from_the_package() -> None:
    assert package_last_year() == LAST


def test_unknown_year_falls_back_to_weekends_off_plus_overrides() -> None:
    monday = _first_weekday(UNKNOWN, 1, 1, 0)
    saturday = _first_weekday(UNKNOWN, 1, 1, 5)
    cal = WorkCalendar()
    assert cal.is_workday(monday) and not cal.is_workday(saturday)
    assert not cal.is_known_year(UNKNOWN) and cal.is_known_year(LAST)
    cal = WorkCalendar({monday: False, saturday: True}, known_years={UNKNOWN})
    assert not cal.is_workday(monday) and cal.is_workday(saturday) and cal.is_known_year(UNKNOWN)


def test_a_deadline_in_an_unknown_year_raises_a_warning(
    session: Session, make_principal: MakePrincipal
) -> None:
    now = datetime(LAST, 6, 1, 2, 0, tzinfo=UTC)
    assert calendar.calendar_warnings(session, now) == []  # nothing runs past this year yet
    case = service.create_case(
        session,
        make_principal("citizen"),
        CaseCreate(description="x", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE),
    )
    service.perform_action(session, make_principal("operator"), case.id, "file", ActionInput(), now=now)
    service.perform_action(session, make_principal("dispatcher"), case.id, "dispatch", ActionInput(), now=now)
    session.execute(
        update(Case).where(Case.id == case.id).values(deadline=datetime(UNKNOWN, 1, 5, 2, tzinfo=UTC))
    )
    (warning,) = calendar.calendar_warnings(session, now)
    assert warning["code"] == "calendar_year_unknown" and warning["year"] == UNKNOWN
    assert str(UNKNOWN) in warning["message"] and " / " in warning["message"]
    # Late in the last known year the look-ahead alone is enough to warn.
    assert calendar.calendar_warnings(session, datetime(LAST, 12, 20, tzinfo=UTC))[0]["year"] == UNKNOWN


def _schedule(year: int) -> list[dict[str, str]]:
    return [
        {"date": f"{year}-01-01", "kind": "holiday", "name": "元旦"},
        {"date": _first_weekday(year, 2, 1, 5).isoformat(), "kind": "workday", "name": "春节调休上班"},
        {"date": f"{year}-10-01", "kind": "holiday", "name": "国庆节"},
    ]


def test_importing_a_year_clears_the_warning(session: Session, make_principal: MakePrincipal) -> None:
    admin = make_principal("admin")
    result = calendar.import_schedule(
        session, admin, calendar.parse_schedule(_schedule(UNKNOWN)), source="国办发明电"
    )
    assert result == {"days": 3, "years": [UNKNOWN]}
    cal = calendar.working_calendar(session)
    assert not cal.is_workday(date(UNKNOWN, 1, 1)) or date(UNKNOWN, 1, 1).weekday() >= 5
    assert not cal.is_workday(date(UNKNOWN, 10, 1))
    assert cal.is_workday(_first_weekday(UNKNOWN, 2, 1, 5)) and cal.is_known_year(UNKNOWN)
    assert calendar.calendar_warnings(session, datetime(LAST, 12, 20, tzinfo=UTC)) == []


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        ([{"date": "2031-02-30", "kind": "holiday", "name": "x"}], "date"),
        ([{"date": "2031-01-01", "kind": "vacation", "name": "x"}], "kind"),
        ([{"date": "2031-01-01", "kind": "holiday"}, {"date": "2031-01-01", "kind": "workday"}], "date"),
        ([], "days"),
    ],
)
def test_a_bad_schedule_is_refused_whole(rows: list[dict[str, str]], field: str) -> None:
    with pytest.raises(Invalid) as err:
        calendar.parse_schedule(rows)
    assert err.value.details["field"] == field


def test_csv_schedule_is_parsed() -> None:
    text = "date,kind,name\n2031-01-01,holiday,元旦\n2031-01-26,workday,调休\n"
    assert calendar.parse_schedule_text(text, "schedule.csv") == [
        (date(2031, 1, 1), False, "元旦"),
        (date(2031, 1, 26), True, "调休"),
    ]
    with pytest.raises(Invalid):
        calendar.parse_schedule_text("day,type\n2031-01-01,holiday\n", "bad.csv")


def test_calendar_status_and_import_api(
    client: TestClient, session: Session, make_principal: MakePrincipal
) -> None:
    admin, operator = make_principal("admin"), make_principal("operator")
    status = client.get("/api/v1/calendar/status", headers=as_header(admin)).json()
    assert status["package_last_year"] == LAST and status["imported_years"] == []
    body = {"source": "国办发明电〔2030〕7号", "days": _schedule(UNKNOWN)}
    assert client.post("/api/v1/calendar/import", json=body, headers=as_header(operator)).status_code == 403
    r = client.post("/api/v1/calendar/import", json=body, headers=as_header(admin))
    assert r.status_code == 200 and r.json() == {"days": 3, "years": [UNKNOWN]}
    bad = client.post(
        "/api/v1/calendar/import", json={"days": [{"date": "x", "kind": "holiday"}]}, headers=as_header(admin)
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"]["row"] == 1
    status = client.get("/api/v1/calendar/status", headers=as_header(admin)).json()
    assert status["imported_years"] == [{"year": UNKNOWN, "source": "国办发明电〔2030〕7号", "days": 3}]
    overrides = client.get(f"/api/v1/calendar/overrides?year={UNKNOWN}", headers=as_header(admin)).json()
    assert [o["note"] for o in overrides] == ["元旦", "春节调休上班", "国庆节"]


def test_import_calendar_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cityops.cli import app
    from cityops.config import get_settings
    from cityops.db import make_engine, make_sessionmaker
    from cityops.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'cal.db'}"
    engine = make_engine(url)
    upgrade(engine)
    path = tmp_path / "2031.json"
    path.write_text(json.dumps(_schedule(UNKNOWN), ensure_ascii=False), encoding="utf-8")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            ["import-calendar", str(path), "--source", "国办发明电"],
            env={"CITYOPS_DATABASE_URL": url, "CITYOPS_WORKER_IN_PROCESS": "false"},
        )
        bad = tmp_path / "bad.csv"
        bad.write_text("date,kind\n2031-01-01,party\n", encoding="utf-8")
        refused = CliRunner().invoke(app, ["import-calendar", str(bad)], env={"CITYOPS_DATABASE_URL": url})
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "3" in result.output and str(UNKNOWN) in result.output
    assert refused.exit_code == 1 and "kind" in refused.output
    with make_sessionmaker(engine)() as s:
        assert calendar.working_calendar(s).is_known_year(UNKNOWN)
    engine.dispose()
    calendar.invalidate()

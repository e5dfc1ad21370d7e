"""Case codes and the working-calendar override table (service and admin API)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import calendar, service
from cityops.cases.codes import looks_like_code, next_code
from cityops.cases.schemas import ActionInput, CaseCreate

from .conftest import GARBAGE, IN_B, as_header, sh

MakePrincipal = Callable[..., Principal]


def test_codes_follow_the_shanghai_day(session: Session) -> None:
    # 23:30 UTC on the 25th is already the 26th in Shanghai.
    late = sh(2026, 11, 26, 7, 30)
    assert next_code(session, late) == "GS20261126-00001"
    assert next_code(session, late) == "GS20261126-00002"
    assert next_code(session, sh(2026, 11, 27, 0, 1)) == "GS20261127-00001"
    assert looks_like_code("GS20261126-00042") and not looks_like_code("GS2026-1")


def test_override_changes_deadlines_and_the_cache_follows(
    session: Session, make_principal: MakePrincipal
) -> None:
    admin = make_principal("admin")
    before = calendar.working_calendar(session)
    assert before.is_workday(date(2026, 11, 27))  # a Friday
    calendar.set_override(session, admin, date(2026, 11, 27), False, "临时停工")
    cal = calendar.working_calendar(session)
    assert cal is not before and not cal.is_workday(date(2026, 11, 27))
    assert calendar.working_calendar(session) is cal  # unchanged table → cached

    case = service.create_case(
        session,
        make_principal("citizen"),
        CaseCreate(description="x", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE),
    )
    t0 = sh(2026, 11, 26, 17, 0)  # Thursday 17:00: 1 h today, Friday off → 3 h on Monday
    service.perform_action(session, make_principal("operator"), case.id, "file", ActionInput(), now=t0)
    service.perform_action(session, make_principal("dispatcher"), case.id, "dispatch", ActionInput(), now=t0)
    assert case.deadline == sh(2026, 11, 30, 11, 0)

    calendar.delete_override(session, admin, date(2026, 11, 27))
    assert calendar.working_calendar(session).is_workday(date(2026, 11, 27))


def test_calendar_override_api(client: TestClient, make_principal: MakePrincipal) -> None:
    admin = as_header(make_principal("admin"))
    dispatcher = as_header(make_principal("dispatcher"))
    r = client.put(
        "/api/v1/calendar/overrides/2026-12-05", json={"is_workday": True, "note": "调休上班"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["is_workday"] is True
    assert (
        client.put(
            "/api/v1/calendar/overrides/2026-12-06", json={"is_workday": True}, headers=dispatcher
        ).status_code
        == 403
    )
    listed = client.get("/api/v1/calendar/overrides", params={"year": 2026}, headers=dispatcher).json()
    assert [(o["day"], o["note"]) for o in listed] == [("2026-12-05", "调休上班")]
    assert client.get("/api/v1/calendar/overrides", params={"year": 2025}, headers=admin).json() == []
    assert (
        client.put(
            "/api/v1/calendar/overrides/2026-13-01", json={"is_workday": True}, headers=admin
        ).status_code
        == 422
    )
    assert client.delete("/api/v1/calendar/overrides/2026-12-05", headers=admin).status_code == 204
    missing = client.delete("/api/v1/calendar/overrides/2026-12-05", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "override_not_found"

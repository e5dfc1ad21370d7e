"""The clocks after handling (issue 8 items 15–17): verification has its own limit, rework has a
deadline of its own with extension and parking, extensions have a ceiling and show what was
granted, and a re-dispatch after a return never goes silently back to the returning department."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case
from cityops.cases.queries import log_of
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.cases.tasks import sweep_deadlines
from cityops.catalog import service as catalog
from cityops.errors import Invalid
from cityops.outbox.models import OutboxMessage

from .conftest import COVER, GARBAGE, IN_B, as_header, sh

MakePrincipal = Callable[..., Principal]
T0 = sh(2026, 11, 26, 9, 0)  # Thursday; GARBAGE in grid B: 4 working hours → Thu 15:00


class Actors:
    def __init__(self, make: MakePrincipal) -> None:
        self.citizen = make("citizen")
        self.operator = make("operator")
        self.dispatcher = make("dispatcher")
        self.handler = make("handler", department_code="CGJ")
        self.inspector = make("inspector")


@pytest.fixture
def actors(make_principal: MakePrincipal) -> Actors:
    return Actors(make_principal)


def act(session: Session, who: Principal, case: Case, action: str, at: object = None, **body: object) -> Case:
    return service.perform_action(session, who, case.id, action, ActionInput(**body), now=at)  # type: ignore[arg-type]


def dispatched(session: Session, actors: Actors, category: str = GARBAGE, at: object = T0) -> Case:
    data = CaseCreate(description="路边有一堆垃圾", lon=IN_B[0], lat=IN_B[1], category_code=category)
    case = service.create_case(session, actors.citizen, data)
    act(session, actors.operator, case, "file", at)
    act(session, actors.dispatcher, case, "dispatch", at, department_code="CGJ")
    return case


def handled(session: Session, actors: Actors, at: object, category: str = GARBAGE) -> Case:
    case = dispatched(session, actors, category)
    act(session, actors.handler, case, "accept", T0)
    act(session, actors.handler, case, "handle", at, note="已清理")
    return case


# -- 15: verification and rework clocks ---------------------------------------------------------


def test_verification_has_its_own_deadline_and_the_department_clock_stops(
    session: Session, actors: Actors
) -> None:
    case = handled(session, actors, sh(2026, 11, 26, 10, 0))
    assert case.deadline == sh(2026, 11, 26, 15, 0)  # the department's deadline, met
    assert case.verify_deadline == sh(2026, 11, 26, 12, 0)  # 2 working hours by default
    handle_row = log_of(session, case.id)[-1]
    assert handle_row.data["on_time"] is True
    assert handle_row.data["verify_deadline"] == case.verify_deadline.isoformat()
    # Nobody verifies: the verification is late, the department is not.
    counts = sweep_deadlines(session, sh(2026, 11, 26, 16, 0))
    assert counts["verify_overdue"] == 1 and counts["overdue"] == 0
    session.refresh(case)
    assert case.verify_overdue and not case.overdue
    assert [r.action for r in log_of(session, case.id)][-1] == "verify_overdue"
    msg = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.verify_overdue")).one()
    assert "role:dispatcher" in msg.recipients
    assert sweep_deadlines(session, sh(2026, 11, 26, 17, 0))["verify_overdue"] == 0  # once


def test_verification_limit_is_a_category_setting(session: Session, actors: Actors) -> None:
    catalog.set_stage_limits(session, GARBAGE, {"verify_limit_hours": 1})
    case = handled(session, actors, sh(2026, 11, 26, 10, 0))
    assert case.verify_deadline == sh(2026, 11, 26, 11, 0)
    # Emergency categories verify on a continuous clock (1 hour by default).
    cover = handled(session, actors, sh(2026, 11, 26, 19, 0), category=COVER)
    assert cover.verify_deadline == sh(2026, 11, 26, 20, 0)


def test_rework_gets_a_deadline_of_its_own(session: Session, actors: Actors) -> None:
    case = handled(session, actors, sh(2026, 11, 26, 10, 0))
    # Verified only the next morning: that wait is not the department's time.
    fail_at = sh(2026, 11, 27, 10, 0)
    act(session, actors.inspector, case, "verify", fail_at, passed=False, note="仍有垃圾")
    assert case.state == "rework" and case.rework_count == 1
    assert case.deadline == sh(2026, 11, 27, 16, 0)  # Fri 10:00 + 4 working hours, not Thu 15:00
    assert case.verify_deadline is None and not case.overdue
    row = log_of(session, case.id)[-1]
    assert row.data["old_deadline"] == sh(2026, 11, 26, 15, 0).isoformat()
    assert row.data["deadline"] == case.deadline.isoformat()
    assert sweep_deadlines(session, sh(2026, 11, 27, 11, 0))["overdue"] == 0


def test_rework_limit_is_a_category_setting(session: Session, actors: Actors) -> None:
    catalog.set_stage_limits(session, GARBAGE, {"rework_limit_value": 2})
    case = handled(session, actors, sh(2026, 11, 26, 10, 0))
    act(session, actors.inspector, case, "verify", sh(2026, 11, 27, 9, 0), passed=False)
    assert case.deadline == sh(2026, 11, 27, 11, 0)


def test_extension_and_parking_are_allowed_in_rework(session: Session, actors: Actors) -> None:
    case = handled(session, actors, sh(2026, 11, 26, 10, 0))
    at = sh(2026, 11, 27, 9, 0)
    act(session, actors.inspector, case, "verify", at, passed=False)
    assert case.deadline == sh(2026, 11, 27, 15, 0)
    act(session, actors.handler, case, "request-extension", at, extra_hours=1, reason="需要吊车")
    act(session, actors.dispatcher, case, "approve-extension", at)
    assert case.deadline == sh(2026, 11, 27, 16, 0)
    act(session, actors.handler, case, "park", at, reason="等待施工许可")
    act(session, actors.dispatcher, case, "approve-park", at)
    assert case.state == "parked"
    act(session, actors.dispatcher, case, "unpark", sh(2026, 11, 30, 9, 0))  # Monday
    assert case.state == "rework" and case.deadline == sh(2026, 11, 30, 16, 0)
    act(session, actors.handler, case, "handle", sh(2026, 11, 30, 10, 0), note="再次清理")
    assert case.state == "handled"


# -- 16: the extension ceiling -------------------------------------------------------------------


def test_extension_above_the_ceiling_is_refused(session: Session, actors: Actors) -> None:
    case = dispatched(session, actors)
    with pytest.raises(Invalid) as err:  # 8,760 hours used to be approved
        act(session, actors.handler, case, "request-extension", T0, extra_hours=8760, reason="一年后")
    assert err.value.code == "extension_above_limit"
    assert err.value.details["max_hours"] == 4.0  # default: the category's own limit
    assert "最多可延长 4 小时" in err.value.message and "at most 4 hours" in err.value.message
    assert not case.extension_requested


def test_the_case_shows_the_granted_hours(session: Session, actors: Actors) -> None:
    case = dispatched(session, actors)
    act(session, actors.handler, case, "request-extension", T0, extra_hours=3, reason="需要协调")
    act(session, actors.dispatcher, case, "approve-extension", T0, extra_hours=2)  # grants fewer
    assert case.extension_hours == 2 and case.extended_hours == 2
    assert case.deadline == sh(2026, 11, 26, 17, 0)
    row = log_of(session, case.id)[-1]
    assert row.data["extra_hours"] == 2 and row.data["requested_hours"] == 3
    # 2 of 4 hours are used: 3 more are refused, the approval may not grant above the ceiling.
    with pytest.raises(Invalid) as err:
        act(session, actors.handler, case, "request-extension", T0, extra_hours=3, reason="还要")
    assert err.value.details["remaining_hours"] == 2.0
    act(session, actors.handler, case, "request-extension", T0, extra_hours=1, reason="还要")
    with pytest.raises(Invalid):
        act(session, actors.dispatcher, case, "approve-extension", T0, extra_hours=5)
    act(session, actors.dispatcher, case, "approve-extension", T0)
    assert case.extension_hours == 1 and case.extended_hours == 3


def test_extension_ceiling_is_a_category_setting(session: Session, actors: Actors) -> None:
    catalog.set_stage_limits(session, GARBAGE, {"max_extension_hours": 40})
    case = dispatched(session, actors)
    act(session, actors.handler, case, "request-extension", T0, extra_hours=40, reason="材料未到")
    act(session, actors.dispatcher, case, "approve-extension", T0)
    assert case.extended_hours == 40
    with pytest.raises(Invalid):
        catalog.set_stage_limits(session, GARBAGE, {"max_extension_hours": -1})


def test_extension_over_http(client: TestClient, session: Session, actors: Actors) -> None:
    case = dispatched(session, actors)
    session.commit()
    url = f"/api/v1/cases/{case.id}"
    r = client.post(
        f"{url}/request-extension",
        json={"extra_hours": 8760, "reason": "x"},
        headers=as_header(actors.handler),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "extension_above_limit"
    assert (
        "延期超过上限" in r.json()["error"]["message"] and "above the limit" in r.json()["error"]["message"]
    )
    client.post(
        f"{url}/request-extension", json={"extra_hours": 3, "reason": "x"}, headers=as_header(actors.handler)
    ).raise_for_status()
    r = client.post(
        f"{url}/approve-extension", json={"extra_hours": 1.5}, headers=as_header(actors.dispatcher)
    )
    assert r.status_code == 200
    body = r.json()
    assert (
        body["extension_hours"] == 1.5 and body["extended_hours"] == 1.5 and body["extensions_granted"] == 1
    )


# -- 17: re-dispatch after a return --------------------------------------------------------------


def test_redispatch_after_a_return_needs_another_department(session: Session, actors: Actors) -> None:
    case = dispatched(session, actors)
    act(session, actors.handler, case, "return", T0, reason="不属于本部门职责", misrouted=True)
    with pytest.raises(Invalid) as err:
        act(session, actors.dispatcher, case, "dispatch", T0)
    assert err.value.code == "department_required"
    assert err.value.details["returned_by"] == "CGJ"
    assert case.state == "returned"
    # Named explicitly, even the same department is the dispatcher's decision (and logged).
    act(session, actors.dispatcher, case, "dispatch", T0, department_code="CGJ")
    assert case.department_code == "CGJ"
    assert log_of(session, case.id)[-1].data["same_as_returned"] is True


def test_redispatch_takes_the_new_suggestion_after_recategorising(session: Session, actors: Actors) -> None:
    case = dispatched(session, actors)
    act(session, actors.handler, case, "return", T0, reason="是井盖问题", misrouted=True)
    act(session, actors.dispatcher, case, "recategorize", T0, category_code=COVER)
    assert case.department_code == "SW"  # the responsibility list's department for the new category
    act(session, actors.dispatcher, case, "dispatch", T0 + timedelta(minutes=5))
    assert case.state == "dispatched" and case.department_code == "SW"

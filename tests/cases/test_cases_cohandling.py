"""Co-handling: assisting departments work on their own tasks; the lead handles after them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case, CaseTask
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.errors import Conflict, Forbidden
from cityops.outbox.models import OutboxMessage

from .conftest import GARBAGE, IN_B

MakePrincipal = Callable[..., Principal]


def act(session: Session, who: Principal, case: Case, action: str, **body: object) -> Case:
    return service.perform_action(session, who, case.id, action, ActionInput(**body))


@pytest.fixture
def cohandled(session: Session, make_principal: MakePrincipal) -> Case:
    case = service.create_case(
        session,
        make_principal("citizen"),
        CaseCreate(description="道路积水", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE),
    )
    act(session, make_principal("operator"), case, "file")
    act(
        session,
        make_principal("dispatcher"),
        case,
        "dispatch",
        assist_department_codes=["JT", "HWC", "CGJ", "JT"],  # the lead and duplicates are dropped
    )
    return case


def tasks(session: Session, case: Case) -> dict[str, tuple[str, str]]:
    rows = session.scalars(select(CaseTask).where(CaseTask.case_id == case.id))
    return {t.department_code: (t.role, t.state) for t in rows if t.state != "cancelled"}


def test_dispatch_creates_lead_and_assist_tasks(session: Session, cohandled: Case) -> None:
    assert tasks(session, cohandled) == {
        "CGJ": ("lead", "dispatched"),
        "JT": ("assist", "dispatched"),
        "HWC": ("assist", "dispatched"),
    }
    recipients = sorted(
        r
        for m in session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.dispatched"))
        for r in m.recipients
    )
    assert recipients == ["department:CGJ", "department:HWC", "department:JT"]


def test_lead_handles_only_after_assists(
    session: Session, cohandled: Case, make_principal: MakePrincipal
) -> None:
    lead = make_principal("handler", department_code="CGJ")
    jt = make_principal("handler", department_code="JT")
    hwc = make_principal("handler", department_code="HWC")
    act(session, lead, cohandled, "accept")
    with pytest.raises(Conflict) as err:
        act(session, lead, cohandled, "handle", note="主办完成")
    assert err.value.code == "assist_tasks_open"
    assert sorted(err.value.details["pending_departments"]) == ["HWC", "JT"]

    with pytest.raises(Forbidden):  # an assisting department cannot act as the lead
        act(session, jt, cohandled, "handle", note="x")
    with pytest.raises(Conflict) as err:  # a task must be accepted before it is handled
        act(session, jt, cohandled, "handle_task", note="x")
    assert err.value.code == "task_transition_not_allowed"
    act(session, jt, cohandled, "accept_task")
    act(session, jt, cohandled, "handle_task", note="交通疏导完成")
    act(session, hwc, cohandled, "accept-task")
    act(session, hwc, cohandled, "handle-task", note="清理完成")
    assert tasks(session, cohandled)["JT"] == ("assist", "handled")

    act(session, lead, cohandled, "handle", note="全部完成")
    assert cohandled.state == "handled"
    assert tasks(session, cohandled)["CGJ"] == ("lead", "handled")
    assert "case.assist_handled" in set(session.scalars(select(OutboxMessage.topic)))


def test_department_without_task_cannot_act_on_tasks(
    session: Session, cohandled: Case, make_principal: MakePrincipal
) -> None:
    with pytest.raises(Forbidden) as err:
        act(session, make_principal("handler", department_code="CGJ"), cohandled, "accept_task")
    assert err.value.code == "no_task"


def test_redispatch_cancels_old_tasks(
    session: Session, cohandled: Case, make_principal: MakePrincipal
) -> None:
    act(session, make_principal("handler", department_code="CGJ"), cohandled, "return", reason="非本部门")
    assert tasks(session, cohandled) == {}
    act(session, make_principal("dispatcher"), cohandled, "dispatch", department_code="HWC")
    assert tasks(session, cohandled) == {"HWC": ("lead", "dispatched")}

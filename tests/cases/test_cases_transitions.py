"""Every transition of the table: each allowed one succeeds for its role, each other action in
each state answers 409 naming the state and listing the allowed actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case, CaseTask
from cityops.cases.queries import log_of
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.cases.transitions import ACTIONS, STATES, TRANSITIONS, allowed_actions, next_state
from cityops.db import utcnow
from cityops.errors import Conflict

from .conftest import COVER, GARBAGE, IN_B, as_header

MakePrincipal = Callable[..., Principal]
CLOCKED = {"dispatched", "accepted", "rework", "parked", "handled", "verified"}


def put_in_state(session: Session, reporter: Principal, state: str, **fields: Any) -> Case:
    """A case forced into ``state`` with the fields that state implies (not via the actions)."""
    data = CaseCreate(description="测试", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE)
    case = service.create_case(session, reporter, data)
    now = utcnow()
    case.state = state
    if state in CLOCKED:
        case.dispatched_at = now
        case.limit_kind, case.limit_value = "working_hours", 4.0
        case.deadline, case.warn_at = now + timedelta(days=2), now + timedelta(days=1)
    if state == "parked":
        case.parked_at, case.parked_from_state = now, "accepted"
    if state == "closed":
        case.closed_at = now
    for name, value in fields.items():
        setattr(case, name, value)
    session.flush()
    return case


BODIES: dict[str, dict[str, Any]] = {
    "reject": {"reason": "重复"},
    "return": {"reason": "非本部门", "misrouted": True},
    "handle": {"note": "已处理"},
    "verify": {"passed": True},
    "request_extension": {"extra_hours": 2, "reason": "需要协调"},
    "park": {"reason": "等待许可"},
    "handle_task": {"note": "协办完成"},
    "reopen": {"note": "问题复发"},
    "recategorize": {"category_code": COVER},
    "rate": {"satisfaction": "satisfied"},
    "callback": {"reached": True, "satisfaction": "basically_satisfied", "note": "电话回访"},
}
FLAGS: dict[str, dict[str, Any]] = {
    "approve_extension": {"extension_requested": True, "extension_hours": 2.0},
    "deny_extension": {"extension_requested": True, "extension_hours": 2.0},
    "approve_park": {"park_requested": True},
    "deny_park": {"park_requested": True},
}
ALLOWED = sorted((t.action, s) for t in TRANSITIONS for s in t.sources)


def actor(action: str, make: MakePrincipal, reporter: Principal) -> Principal:
    if action in ("file", "reject"):
        return make("operator")
    if action in ("accept", "return", "handle", "request_extension", "park"):
        return make("handler", department_code="CGJ")
    if action in ("accept_task", "handle_task"):
        return make("handler", department_code="JT")
    if action == "verify":
        return make("inspector")
    if action == "escalate":
        return make("leader")
    if action in ("reopen", "rate"):
        return reporter
    return make("dispatcher")


@pytest.mark.parametrize(("action", "state"), ALLOWED, ids=[f"{s}-{a}" for a, s in ALLOWED])
def test_allowed_transition(session: Session, make_principal: MakePrincipal, action: str, state: str) -> None:
    reporter = make_principal("citizen")
    case = put_in_state(session, reporter, state, **FLAGS.get(action, {}))
    if action in ("accept_task", "handle_task"):
        task_state = "dispatched" if action == "accept_task" else "accepted"
        session.add(CaseTask(case_id=case.id, department_code="JT", role="assist", state=task_state))
        session.flush()
    t = next(t for t in TRANSITIONS if t.action == action)
    expected = next_state(t, case, passed=True)
    before = len(log_of(session, case.id))
    who = actor(action, make_principal, reporter)
    service.perform_action(session, who, case.id, action, ActionInput(**BODIES.get(action, {})))
    assert case.state == expected
    log = log_of(session, case.id)
    assert len(log) == before + 1
    assert (log[-1].action, log[-1].from_state, log[-1].to_state) == (action, state, expected)
    assert log[-1].actor_id == who.id


def _allowed_with_default_flags(state: str) -> list[str]:
    case = SimpleNamespace(state=state, extension_requested=False, park_requested=False, satisfaction=None)
    return allowed_actions(case)


FORBIDDEN = [(s, a) for s in STATES for a in ACTIONS if a not in _allowed_with_default_flags(s)]


@pytest.mark.parametrize(("state", "action"), FORBIDDEN, ids=[f"{s}-{a}" for s, a in FORBIDDEN])
def test_forbidden_transition_is_409(
    session: Session, make_principal: MakePrincipal, state: str, action: str
) -> None:
    case = put_in_state(session, make_principal("citizen"), state)
    allowed = allowed_actions(case)
    assert action not in allowed
    admin = make_principal("admin")
    with pytest.raises(Conflict) as err:
        service.perform_action(session, admin, case.id, action, ActionInput())
    assert err.value.status == 409 and err.value.code == "transition_not_allowed"
    # Spelled as the endpoints spell them (request-extension).
    spelled = [a.replace("_", "-") for a in allowed]
    expected = {"state": state, "action": action.replace("_", "-"), "allowed_actions": spelled}
    assert err.value.details == expected
    assert state in err.value.message
    assert case.state == state and len(log_of(session, case.id)) == 1


def test_guarded_actions_are_409_without_their_request(
    session: Session, make_principal: MakePrincipal
) -> None:
    case = put_in_state(session, make_principal("citizen"), "accepted")
    for action in ("approve_extension", "deny_extension", "approve_park", "deny_park"):
        assert action not in allowed_actions(case)
    case.extension_requested = True
    assert "request_extension" not in allowed_actions(case)
    assert "approve_extension" in allowed_actions(case)


def test_409_over_http_names_state_and_allowed_actions(
    client: TestClient, session: Session, make_principal: MakePrincipal
) -> None:
    case = put_in_state(session, make_principal("citizen"), "reported")
    session.commit()
    r = client.post(
        f"/api/v1/cases/{case.id}/close", json={}, headers=as_header(make_principal("dispatcher"))
    )
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "transition_not_allowed"
    assert err["details"]["state"] == "reported"
    assert err["details"]["allowed_actions"] == ["file", "reject", "escalate", "recategorize"]
    assert "已上报" in err["message"] and "'reported'" in err["message"]

"""``allowed_actions`` lists exactly what this caller may do now (issue 8 item 19).

Generated from the action table: for cases in every state (and with the flags that change what
is possible), and for every kind of caller, each action of :data:`ACTIONS` is tried in a
savepoint that is rolled back. A listed action must succeed; an unlisted one must be refused
(403 or 409). The names are spelled as the endpoints spell them (``request-extension``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service, views
from cityops.cases.models import Case
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.cases.transitions import ACTIONS
from cityops.db import utcnow
from cityops.errors import Conflict, Forbidden

from .conftest import GARBAGE, IN_B, NORESP, STREET, STREET2, as_header

MakePrincipal = Callable[..., Principal]

# A complete, valid body for every action, so a refusal can only come from state or permission.
BODIES: dict[str, dict[str, Any]] = {
    "reject": {"reason": "重复上报"},
    "dispatch": {"department_code": "CGJ", "assist_department_codes": ["HWC"]},
    "return": {"reason": "不属于本部门", "misrouted": True},
    "handle": {"note": "已处置"},
    "verify": {"passed": True},
    "request_extension": {"extra_hours": 1, "reason": "需要协调"},
    "park": {"reason": "等待许可"},
    "reopen": {"note": "市民来电：问题仍在"},
    "handle_task": {"note": "协办完成"},
    "recategorize": {"category_code": NORESP},
    "escalate": {"note": "请加快"},
    "rate": {"satisfaction": "satisfied", "note": "很好"},
    "callback": {"reached": True, "note": "电话回访，市民未评价"},
}


class World:
    def __init__(self, make: MakePrincipal) -> None:
        self.reporter = make("citizen")
        self.callers: dict[str, Principal] = {
            "reporter": self.reporter,
            "operator": make("operator"),
            "street_operator": make("operator", area_code=STREET),
            "other_street_operator": make("operator", area_code=STREET2),
            "dispatcher": make("dispatcher"),
            "leader": make("leader"),
            "inspector": make("inspector"),
            "admin": make("admin"),
            "lead_handler": make("handler", department_code="CGJ"),
            "assist_handler": make("handler", department_code="HWC"),
        }


def _do(session: Session, who: Principal, case: Case, action: str, at: Any = None, **body: Any) -> None:
    service.perform_action(session, who, case.id, action, ActionInput(**body), now=at)


def _situations(session: Session, w: World) -> dict[str, Case]:
    c = w.callers
    steps: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        "reported": [],
        "rejected": [("operator", "reject", BODIES["reject"])],
        "filed": [("operator", "file", {})],
        "dispatched": [("operator", "file", {}), ("dispatcher", "dispatch", BODIES["dispatch"])],
        "dispatched_assist_accepted": [
            ("operator", "file", {}),
            ("dispatcher", "dispatch", BODIES["dispatch"]),
            ("assist_handler", "accept_task", {}),
        ],
        "accepted_assists_done": [
            ("operator", "file", {}),
            ("dispatcher", "dispatch", BODIES["dispatch"]),
            ("lead_handler", "accept", {}),
            ("assist_handler", "accept_task", {}),
            ("assist_handler", "handle_task", {"note": "好了"}),
        ],
        "extension_requested": [
            ("operator", "file", {}),
            ("dispatcher", "dispatch", {}),
            ("lead_handler", "request_extension", BODIES["request_extension"]),
        ],
        "park_requested": [
            ("operator", "file", {}),
            ("dispatcher", "dispatch", {}),
            ("lead_handler", "park", BODIES["park"]),
        ],
        "parked": [
            ("operator", "file", {}),
            ("dispatcher", "dispatch", {}),
            ("lead_handler", "park", BODIES["park"]),
            ("dispatcher", "approve_park", {}),
        ],
        "returned": [
            ("operator", "file", {}),
            ("dispatcher", "dispatch", {}),
            ("lead_handler", "return", BODIES["return"]),
        ],
    }
    handled = [
        ("operator", "file", {}),
        ("dispatcher", "dispatch", {}),
        ("lead_handler", "accept", {}),
        ("lead_handler", "handle", {"note": "好了"}),
    ]
    steps["handled"] = handled
    steps["rework"] = [*handled, ("inspector", "verify", {"passed": False})]
    steps["verified"] = [*handled, ("inspector", "verify", {"passed": True})]
    steps["closed"] = [*steps["verified"], ("dispatcher", "close", {})]
    cases: dict[str, Case] = {}
    for name, todo in steps.items():
        data = CaseCreate(description="路边有一堆垃圾", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE)
        case = service.create_case(session, w.reporter, data)
        for who, action, body in todo:
            _do(session, c[who], case, action, **body)
        cases[name] = case
    # Closed long ago: the reopen window has passed.
    old = service.create_case(
        session,
        w.reporter,
        CaseCreate(description="很久以前的问题", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE),
    )
    long_ago = utcnow() - timedelta(days=30)
    for who, action, body in steps["closed"]:
        _do(session, c[who], old, action, long_ago, **body)
    cases["closed_long_ago"] = old
    session.flush()
    return cases


def _attempt(session: Session, who: Principal, case: Case, action: str) -> Exception | None:
    savepoint = session.begin_nested()
    try:
        _do(session, who, case, action.replace("-", "_"), **BODIES.get(action.replace("-", "_"), {}))
    except (Forbidden, Conflict) as exc:
        return exc
    finally:
        savepoint.rollback()
    return None


def test_allowed_actions_are_exactly_what_succeeds(session: Session, make_principal: MakePrincipal) -> None:
    world = World(make_principal)
    cases = _situations(session, world)
    checked_listed = checked_unlisted = 0
    for situation, case in cases.items():
        for caller, who in world.callers.items():
            try:
                shown = views.view_case(session, who, service.get_case(session, who, case.id))
            except Exception:  # not visible to this caller (404): nothing to list
                continue
            listed = shown.allowed_actions
            # The list page gives the same answer as the detail view.
            assert views.view_cases(session, who, [case])[0].allowed_actions == listed, (situation, caller)
            for action in ACTIONS:
                spelled = action.replace("_", "-")
                refusal = _attempt(session, who, case, spelled)
                if spelled in listed:
                    assert refusal is None, f"{situation}: {caller} was offered {spelled} but got {refusal}"
                    checked_listed += 1
                else:
                    assert refusal is not None, f"{situation}: {caller} may {spelled} but it is not listed"
                    checked_unlisted += 1
            assert all("_" not in a for a in listed)
    assert checked_listed > 60 and checked_unlisted > 1000


def test_lead_and_assisting_departments_see_their_own_actions(
    client: TestClient, session: Session, make_principal: MakePrincipal
) -> None:
    world = World(make_principal)
    case = _situations(session, world)["dispatched"]
    session.commit()

    def allowed(caller: str) -> list[str]:
        r = client.get(f"/api/v1/cases/{case.id}", headers=as_header(world.callers[caller]))
        assert r.status_code == 200
        return list(r.json()["allowed_actions"])

    assert allowed("lead_handler") == ["accept", "return", "request-extension", "park"]
    assert allowed("assist_handler") == ["accept-task"]
    assert "approve-extension" not in allowed("dispatcher") and "dispatch" not in allowed("dispatcher")


@pytest.mark.parametrize("action", ["accept", "request-extension"])
def test_an_assisting_department_is_refused_what_it_is_not_offered(
    client: TestClient, session: Session, make_principal: MakePrincipal, action: str
) -> None:
    world = World(make_principal)
    case = _situations(session, world)["dispatched"]
    session.commit()
    r = client.post(
        f"/api/v1/cases/{case.id}/{action}",
        json=BODIES.get(action.replace("-", "_"), {}),
        headers=as_header(world.callers["assist_handler"]),
    )
    assert r.status_code == 403

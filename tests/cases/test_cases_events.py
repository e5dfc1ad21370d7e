"""Case events reach their subscribers in the action's transaction; a failing subscriber is
either the action's failure ("fail") or logged and queued for the admins ("record") — never silent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops import events
from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.events import CaseHandled, CaseRecategorised
from cityops.cases.models import Case
from cityops.cases.queries import log_of
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.outbox.models import OutboxMessage
from cityops.wiring import wire

from .conftest import COVER, GARBAGE, IN_B

MakePrincipal = Callable[..., Principal]


@pytest.fixture
def bare_registry() -> Iterator[None]:
    """No subscribers during the test; the app's wiring again afterwards."""
    saved = {t: events.subscribers(t) for t in (CaseHandled, CaseRecategorised)}
    events.clear()
    yield
    events.clear()
    wire()
    assert {t: events.subscribers(t) for t in saved} == saved


def _handled(session: Session, make: MakePrincipal) -> Case:
    citizen, dispatcher = make("citizen"), make("dispatcher")
    handler = make("handler", department_code="CGJ")
    data = CaseCreate(description="路边有一堆垃圾没人清理", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE)
    case = service.create_case(session, citizen, data)
    for who, action in ((dispatcher, "file"), (dispatcher, "dispatch"), (handler, "accept")):
        service.perform_action(session, who, case.id, action)
    return service.perform_action(
        session, handler, case.id, "handle", ActionInput(note="已清理完毕，现场恢复整洁")
    )


def test_handled_case_is_scored_by_the_wired_subscriber(
    session: Session, make_principal: MakePrincipal
) -> None:
    case = _handled(session, make_principal)
    assert case.reply_score is not None
    last = log_of(session, case.id)[-1]
    assert last.action == "handle"
    assert last.data["reply_score"]["overall"] == pytest.approx(case.reply_score)


def test_recategorisation_event_carries_the_decision(
    session: Session, make_principal: MakePrincipal, bare_registry: None
) -> None:
    seen: list[CaseRecategorised] = []
    events.subscribe(CaseRecategorised, lambda s, e: seen.append(e), name="test-listener")
    citizen, dispatcher = make_principal("citizen"), make_principal("dispatcher")
    data = CaseCreate(description="井盖不见了", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE)
    case = service.create_case(session, citizen, data)
    service.perform_action(session, dispatcher, case.id, "recategorize", ActionInput(category_code=COVER))
    assert [(e.case_id, e.from_category_code, e.to_category_code, e.source) for e in seen] == [
        (case.id, GARBAGE, COVER, "recategorized")
    ]


def test_without_subscribers_cases_still_work(
    session: Session, make_principal: MakePrincipal, bare_registry: None
) -> None:
    case = _handled(session, make_principal)
    assert case.state == "handled" and case.reply_score is None


def test_a_failing_fail_subscriber_fails_the_action(
    session: Session, make_principal: MakePrincipal, bare_registry: None
) -> None:
    def broken(s: Session, e: Any) -> None:
        raise RuntimeError("subscriber bug")

    events.subscribe(CaseRecategorised, broken, name="broken", on_error="fail")
    citizen, dispatcher = make_principal("citizen"), make_principal("dispatcher")
    data = CaseCreate(description="井盖不见了", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE)
    case = service.create_case(session, citizen, data)
    with pytest.raises(RuntimeError, match="subscriber bug"):
        service.perform_action(session, dispatcher, case.id, "recategorize", ActionInput(category_code=COVER))


def test_a_failing_record_subscriber_is_logged_queued_and_rolled_back(
    session: Session, make_principal: MakePrincipal, bare_registry: None, caplog: pytest.LogCaptureFixture
) -> None:
    def half_then_broken(s: Session, e: CaseHandled) -> None:
        service.record_reply_score(s, e.case_id, e.log_seq, {"overall": 0.99})
        s.flush()
        raise RuntimeError("scorer bug")

    events.subscribe(CaseHandled, half_then_broken, name="half-then-broken", on_error="record")
    case = _handled(session, make_principal)
    session.refresh(case)
    assert case.state == "handled"
    assert case.reply_score is None  # the subscriber's half-written score went with its savepoint
    failures = session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "system.subscriber_failed")
    ).all()
    assert [m.payload["subscriber"] for m in failures] == ["half-then-broken"]
    assert failures[0].recipients == ["role:admin"]
    assert "scorer bug" in caplog.text


def test_subscribing_twice_is_one_subscription(bare_registry: None) -> None:
    def listener(s: Session, e: Any) -> None:
        pass

    events.subscribe(CaseHandled, listener)
    events.subscribe(CaseHandled, listener)
    assert len(events.subscribers(CaseHandled)) == 1


def test_no_failure_messages_in_the_normal_path(session: Session, make_principal: MakePrincipal) -> None:
    _handled(session, make_principal)
    count = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.topic == "system.subscriber_failed")
    )
    assert count == 0

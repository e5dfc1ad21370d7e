"""The SLA sweep: warnings and overdue marks, once each, with supervision and notifications."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case, CaseLog, Supervision
from cityops.cases.queries import log_of
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.cases.tasks import BATCH, sweep_deadlines
from cityops.outbox.models import OutboxMessage

from .conftest import GARBAGE, IN_B, sh

MakePrincipal = Callable[..., Principal]
T0 = sh(2026, 11, 26, 9, 0)  # dispatch time; grade B garbage → warn 14:12, deadline 15:00


def dispatched(session: Session, make: MakePrincipal, at: datetime = T0) -> Case:
    data = CaseCreate(description="垃圾", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE)
    case = service.create_case(session, make("citizen"), data)
    service.perform_action(session, make("operator"), case.id, "file", ActionInput(), now=at)
    service.perform_action(session, make("dispatcher"), case.id, "dispatch", ActionInput(), now=at)
    return case


def messages(session: Session, topic: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)))


def counts(overdue: int = 0, warned: int = 0, verify_overdue: int = 0) -> dict[str, int]:
    return {"overdue": overdue, "warned": warned, "verify_overdue": verify_overdue}


def test_warning_then_overdue_once_each(session: Session, make_principal: MakePrincipal) -> None:
    case = dispatched(session, make_principal)
    assert sweep_deadlines(session, sh(2026, 11, 26, 14, 0)) == counts(0, 0, 0)

    assert sweep_deadlines(session, sh(2026, 11, 26, 14, 30)) == counts(0, 1, 0)
    session.refresh(case)
    assert case.warned and not case.overdue
    warning = messages(session, "case.warning")
    assert len(warning) == 1 and warning[0].recipients == ["role:dispatcher", "department:CGJ"]
    assert sweep_deadlines(session, sh(2026, 11, 26, 14, 40)) == counts(0, 0, 0)

    now = sh(2026, 11, 26, 15, 1)
    assert sweep_deadlines(session, now) == counts(1, 0, 0)
    session.refresh(case)
    assert case.overdue and case.overdue_at == now and case.state == "dispatched"
    overdue = messages(session, "case.overdue")
    assert len(overdue) == 1 and overdue[0].recipients == ["role:dispatcher", "department:CGJ"]
    assert overdue[0].payload["code"] == case.code
    kinds = sorted(session.scalars(select(Supervision.kind).where(Supervision.case_id == case.id)))
    assert kinds == ["overdue", "warning"]
    log = log_of(session, case.id)
    assert [r.action for r in log[-2:]] == ["warning", "overdue"]
    assert [r.seq for r in log] == list(range(1, len(log) + 1))
    assert sweep_deadlines(session, now + timedelta(hours=5)) == counts(0, 0, 0)


def test_an_action_after_the_sweep_still_works(session: Session, make_principal: MakePrincipal) -> None:
    case = dispatched(session, make_principal)
    sweep_deadlines(session, sh(2026, 11, 27, 9, 0))
    session.refresh(case)  # the sweep bumped the version; a fresh read acts normally
    service.perform_action(
        session, make_principal("handler", department_code="CGJ"), case.id, "accept", ActionInput()
    )
    assert case.state == "accepted" and case.overdue
    assert log_of(session, case.id)[-1].seq == case.last_seq


def test_parked_closed_and_handled_cases_are_skipped(session: Session, make_principal: MakePrincipal) -> None:
    parked = dispatched(session, make_principal)
    handler = make_principal("handler", department_code="CGJ")
    dispatcher = make_principal("dispatcher")
    service.perform_action(session, handler, parked.id, "park", ActionInput(reason="等待"), now=T0)
    service.perform_action(session, dispatcher, parked.id, "approve_park", ActionInput(), now=T0)
    handled = dispatched(session, make_principal)
    service.perform_action(session, handler, handled.id, "accept", ActionInput(), now=T0)
    service.perform_action(session, handler, handled.id, "handle", ActionInput(note="好了"), now=T0)
    reported = service.create_case(
        session,
        make_principal("citizen"),
        CaseCreate(description="x", lon=IN_B[0], lat=IN_B[1], category_code=GARBAGE),
    )
    assert reported.deadline is None
    # The handled case is late only for its verifiers (their own clock), never for the department.
    assert sweep_deadlines(session, T0 + timedelta(days=30)) == counts(0, 0, 1)


def test_sweep_is_set_based_over_many_cases(session: Session, make_principal: MakePrincipal) -> None:
    template = dispatched(session, make_principal)
    session.flush()
    n = BATCH + 250  # more than one batch
    cols = {c.key: getattr(template, c.key) for c in Case.__table__.columns if c.key not in ("id", "code")}
    session.execute(
        Case.__table__.insert(),  # type: ignore[attr-defined]
        [{**cols, "id": __import__("uuid").uuid4(), "code": f"GS20261126-{i + 10:05d}"} for i in range(n)],
    )
    session.execute(update(Case).values(deadline=T0 + timedelta(hours=1), warn_at=T0))
    result = sweep_deadlines(session, T0 + timedelta(days=1))
    assert result == {"overdue": n + 1, "warned": 0, "verify_overdue": 0}
    assert session.scalar(select(func.count()).select_from(Case).where(Case.overdue.is_(True))) == n + 1
    assert (
        session.scalar(select(func.count()).select_from(CaseLog).where(CaseLog.action == "overdue")) == n + 1
    )
    assert len(messages(session, "case.overdue")) == n + 1

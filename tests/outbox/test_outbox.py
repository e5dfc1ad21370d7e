"""The outbox delivers what committed, retries what failed, and reaches the right people."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.outbox import service
from cityops.outbox.models import Notification, OutboxMessage


def _handler() -> Principal:
    return Principal(id=uuid.uuid4(), username="h", role="handler", department_code="D01")


def test_delivery_turns_messages_into_notifications_for_each_recipient(db_session: Session) -> None:
    service.enqueue(db_session, "case.dispatched", {"code": "GS1"}, ["department:D01", "role:dispatcher"])
    db_session.flush()
    assert service.deliver_pending(db_session) == 1
    rows = db_session.scalars(select(Notification).order_by(Notification.recipient)).all()
    assert [r.recipient for r in rows] == ["department:D01", "role:dispatcher"]
    assert rows[0].title.startswith("新案卷待处置")
    # delivered once only
    assert service.deliver_pending(db_session) == 0


def test_handler_sees_department_notifications_and_marks_them_read(db_session: Session) -> None:
    principal = _handler()
    service.enqueue(db_session, "case.dispatched", {"code": "GS2"}, ["department:D01"])
    service.enqueue(db_session, "case.dispatched", {"code": "GS3"}, ["department:D99"])
    db_session.flush()
    service.deliver_pending(db_session)
    mine = service.list_notifications(db_session, principal)
    assert [n.payload["code"] for n in mine] == ["GS2"]
    assert service.mark_read(db_session, principal, [mine[0].id]) == 1
    assert service.list_notifications(db_session, principal, unread_only=True) == []


def test_failing_transport_is_retried_later_and_does_not_block(db_session: Session) -> None:
    service.enqueue(db_session, "case.closed", {"code": "bad"}, ["user:x"])
    service.enqueue(db_session, "case.closed", {"code": "good"}, ["user:y"])
    db_session.flush()

    def flaky(session: Session, message: OutboxMessage) -> None:
        if message.payload["code"] == "bad":
            raise ConnectionError("SMS gateway down")

    now = utcnow()
    assert service.deliver_pending(db_session, now, transport=flaky) == 1
    failed = db_session.scalar(select(OutboxMessage).where(OutboxMessage.delivered_at.is_(None)))
    assert failed is not None and failed.attempts == 1 and "SMS gateway down" in (failed.last_error or "")
    assert failed.available_at > now
    # not due yet, then due after the backoff
    assert service.deliver_pending(db_session, now, transport=flaky) == 0
    assert service.deliver_pending(db_session, now + timedelta(hours=1)) == 1
    assert (
        db_session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.delivered_at.is_(None))
        )
        == 0
    )

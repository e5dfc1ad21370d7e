"""Write side effects to the outbox and deliver them.

Enqueueing happens inside the caller's transaction, so a change that rolls back sends nothing
and a change that commits is never lost, even if the process dies before delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.outbox import sms
from cityops.outbox.models import Notification, OutboxMessage

# Title of each topic, Chinese first ("中文 / English"); tests/outbox/test_titles.py checks that
# every topic emitted anywhere in the code has one.
TITLES = {
    "case.dispatched": "新案卷待处置 / New case dispatched to you",
    "case.returned": "案卷被退回 / A case was returned",
    "case.rework": "案卷核查未通过，需返工 / A case failed verification and needs rework",
    "case.closed": "您反映的问题已办结，请评价 / Your report has been closed; please rate the result",
    "case.rated_dissatisfied": "市民对办理结果不满意 / The reporter is dissatisfied with the result",
    "case.extension_requested": "案卷申请延期，待审批 / An extension was requested",
    "case.extension_approved": "延期申请已批准 / Your extension was approved",
    "case.extension_denied": "延期申请未批准 / Your extension was denied",
    "case.park_requested": "案卷申请挂账，待审批 / Parking (挂账) was requested",
    "case.parked": "挂账申请已批准，计时暂停 / The case is parked; its clock is paused",
    "case.park_denied": "挂账申请未批准 / Parking was denied",
    "case.unparked": "案卷已解除挂账，恢复计时 / The case is unparked; its clock runs again",
    "case.escalated": "案卷被督办 / A case is under supervision",
    "case.reopened": "案卷重新办理 / A case was reopened",
    "case.assist_handled": "协办单位已反馈 / An assisting department has reported back",
    "case.warning": "案卷即将超期 / A case is about to be overdue",
    "case.overdue": "案卷已超期 / A case is overdue",
    "case.verify_overdue": "案卷核查已超时 / A case's verification is overdue",
    "merchant.notice": "城市眼提醒：请在时限内自行整改 / Camera notice: please correct it yourself in time",
    "report.outcome": "您反映的问题有了结果 / The case you reported on has an outcome",
    "system.subscriber_failed": "后台处理出错，请查看日志 / A background step failed; see the log",
}
GENERIC_TITLE = "系统通知 / Notification"
MAX_ATTEMPTS = 8
log = logging.getLogger("cityops.outbox")


def enqueue(session: Session, topic: str, payload: dict[str, Any], recipients: list[str]) -> OutboxMessage:
    """Record a side effect in the current transaction."""
    message = OutboxMessage(topic=topic, payload=payload, recipients=list(recipients))
    session.add(message)
    return message


def title_for(topic: str) -> str:
    """The bilingual title of ``topic``; a topic without one gets a generic title, never itself."""
    return TITLES.get(topic, GENERIC_TITLE)


def _to_notifications(session: Session, message: OutboxMessage) -> None:
    """In-app messages per address; ``sms:<phone>`` addresses get a text message instead."""
    title = title_for(message.topic)
    for recipient in message.recipients:
        if recipient.startswith("sms:"):
            text = message.payload.get("sms_text") or message.payload.get("text") or title.split(" / ")[0]
            sms.sender().send(recipient[4:], str(text))
            continue
        session.add(
            Notification(
                outbox_id=message.id,
                recipient=recipient,
                topic=message.topic,
                title=title,
                payload=message.payload,
            )
        )


Transport = Callable[[Session, OutboxMessage], None]


def deliver_pending(
    session: Session,
    now: datetime | None = None,
    *,
    limit: int = 500,
    transport: Transport = _to_notifications,
) -> int:
    """Deliver up to ``limit`` due messages; failures are retried with backoff.

    On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several workers can run.
    """
    now = now or utcnow()
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.available_at <= now)
        .where(OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMessage.created_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    delivered = 0
    for message in session.scalars(query):
        try:
            with session.begin_nested():
                transport(session, message)
        except Exception as exc:  # a failing transport must not block the rest of the queue
            message.attempts += 1
            message.last_error = repr(exc)[:2000]
            message.available_at = now + timedelta(seconds=30 * 2**message.attempts)
            continue
        message.attempts += 1
        message.delivered_at = now
        delivered += 1
    return delivered


def addresses_for(principal: Principal) -> list[str]:
    """Every recipient address a principal reads notifications from."""
    addresses = [f"user:{principal.id}", f"role:{principal.role}"]
    if principal.department_code:
        addresses.append(f"department:{principal.department_code}")
    return addresses


def visible_to(principal: Principal, notification: Notification) -> bool:
    """A notice sent to a whole role ("role:dispatcher") reaches a street-scoped member of that
    role only when it concerns the street (its ``area_code``); notices to the user or its
    department always do."""
    if not notification.recipient.startswith("role:") or principal.area_code is None:
        return True
    area = (notification.payload or {}).get("area_code")
    return isinstance(area, str) and area.startswith(principal.area_code)


def list_notifications(
    session: Session, principal: Principal, *, unread_only: bool = False, limit: int = 50
) -> list[Notification]:
    """The principal's notifications, newest first, within its scope (:func:`visible_to`)."""
    query = select(Notification).where(Notification.recipient.in_(addresses_for(principal)))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    if principal.area_code is None:
        return list(session.scalars(query.limit(limit)))
    out: list[Notification] = []
    offset, page = 0, 500
    while len(out) < limit:
        batch = list(session.scalars(query.limit(page).offset(offset)))
        out += [n for n in batch if visible_to(principal, n)]
        if len(batch) < page:
            break
        offset += page
    return out[:limit]


def mark_read(session: Session, principal: Principal, ids: Iterable[int]) -> int:
    rows = session.scalars(
        select(Notification).where(
            Notification.id.in_(list(ids)),
            or_(*[Notification.recipient == a for a in addresses_for(principal)]),
        )
    )
    count = 0
    now = utcnow()
    for row in rows:
        if row.read_at is None:
            row.read_at = now
            count += 1
    return count

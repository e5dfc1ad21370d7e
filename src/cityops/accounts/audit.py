"""The audit trail: who changed what, and who read unmasked personal data.

``record`` only adds a row to the caller's session, so the event commits or rolls back
together with the change it describes — a rolled-back change leaves no audit row, and a
committed change always has one.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cityops.accounts.models import AuditEvent
from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.errors import Invalid

MAX_PAGE = 200


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any]:
    # UUIDs, datetimes and decimals appear in details all the time; store them as text rather
    # than failing the whole transaction at flush time.
    if not details:
        return {}
    result: dict[str, Any] = json.loads(json.dumps(details, default=str, ensure_ascii=False))
    return result


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    subject_type: str,
    subject_id: str,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Append one audit event to ``session`` (same transaction; never commits).

    ``action`` is a dotted verb such as ``"user.create"`` or ``"personal_data.read"``;
    ``principal=None`` means an anonymous caller (for example a citizen's public report).
    """
    event = AuditEvent(
        at=utcnow(),
        actor_id=principal.id if principal else None,
        actor_name=principal.username if principal else "anonymous",
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=_jsonable(details),
        request_id=request_id,
    )
    session.add(event)
    return event


def list_events(
    session: Session,
    *,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    """Events matching the filters, newest first, and the total count for paging.

    ``actor`` matches the actor's user name or user id; ``since`` is inclusive, ``until``
    exclusive.
    """
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise Invalid(
            f"分页参数无效：limit 须在 1–{MAX_PAGE} 之间，offset 不能为负",
            f"Bad paging: limit must be 1–{MAX_PAGE} and offset not negative",
            details={"limit": limit, "offset": offset},
        )
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Invalid(
                f"{name} 需要带时区的时间（例如 2026-11-26T08:00:00+08:00）",
                f"{name} needs a time with a zone offset, for example 2026-11-26T08:00:00+08:00",
                details={"field": name},
            )
    conditions = []
    if subject_type:
        conditions.append(AuditEvent.subject_type == subject_type)
    if subject_id:
        conditions.append(AuditEvent.subject_id == subject_id)
    if action:
        conditions.append(AuditEvent.action == action)
    if actor:
        try:
            conditions.append(or_(AuditEvent.actor_name == actor, AuditEvent.actor_id == uuid.UUID(actor)))
        except ValueError:
            conditions.append(AuditEvent.actor_name == actor)
    if since is not None:
        conditions.append(AuditEvent.at >= since)
    if until is not None:
        conditions.append(AuditEvent.at < until)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def known_actions(session: Session, limit: int = 200) -> list[str]:
    """The distinct actions in the trail (for a filter's choices), alphabetically."""
    stmt = select(AuditEvent.action).distinct().order_by(AuditEvent.action).limit(limit)
    return [str(a) for a in session.scalars(stmt)]

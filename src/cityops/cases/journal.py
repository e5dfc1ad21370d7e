"""Appending to the case log (and the audit trail) — the only way a case records a change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import external
from cityops.cases.models import Case, CaseLog


def append(
    session: Session,
    case: Case,
    principal: Principal,
    action: str,
    from_state: str | None,
    to_state: str,
    *,
    at: datetime,
    note: str | None = None,
    attachments: list[Any] | None = None,
    data: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> CaseLog:
    """Add one log row for ``case`` and the matching audit record.

    The sequence number comes from the case row (``last_seq``), which is updated in the same
    version-checked UPDATE as the state, so two concurrent actions cannot both append.
    """
    case.last_seq = (case.last_seq or 0) + 1
    case.updated_at = at
    row = CaseLog(
        case_id=case.id,
        seq=case.last_seq,
        at=at,
        actor_id=principal.id,
        actor_name=principal.username,
        actor_role=principal.role,
        action=action,
        from_state=from_state,
        to_state=to_state,
        note=note,
        attachments=list(attachments or []),
        data=dict(data or {}),
    )
    session.add(row)
    details: dict[str, Any] = {"code": case.code, "from": from_state, "to": to_state}
    if data:
        details.update(data)
    external.audit(session, principal, f"case.{action}", str(case.id), details, request_id)
    return row


def insert_first(
    session: Session,
    case: Case,
    principal: Principal,
    action: str,
    to_state: str,
    *,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """The first log row of a new case as one Core INSERT (creation's fast path; seq 1).

    No audit record here: the log row already names who created the case and when, and an
    extra ORM row per creation halves the creation rate. Every later transition is audited.
    """
    session.execute(
        insert(CaseLog.metadata.tables[CaseLog.__tablename__]),
        {
            "case_id": case.id,
            "seq": 1,
            "at": at,
            "actor_id": principal.id,
            "actor_name": principal.username,
            "actor_role": principal.role,
            "action": action,
            "from_state": None,
            "to_state": to_state,
            "note": None,
            "attachments": [],
            "data": dict(data or {}),
        },
    )

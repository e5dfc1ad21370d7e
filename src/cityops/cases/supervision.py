"""Supervision items (督办): raised by hand (escalate), on warning and on overdue by the sweep.

Escalation never changes who owns the case; it flags the case and leaves an item that stays
open until the case is closed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cityops.cases.models import Case, Supervision


def raise_item(
    session: Session, case: Case, kind: str, by: uuid.UUID | None, note: str | None, now: datetime
) -> Supervision:
    """Open a supervision item of ``kind`` ("manual", "warning" or "overdue") on ``case``."""
    item = Supervision(case_id=case.id, kind=kind, raised_at=now, raised_by=by, note=note)
    session.add(item)
    return item


def resolve_open(session: Session, case: Case, now: datetime) -> None:
    """Resolve every open item of ``case`` (on close)."""
    session.execute(
        update(Supervision)
        .where(Supervision.case_id == case.id, Supervision.resolved_at.is_(None))
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )


def open_items(session: Session, case_id: uuid.UUID) -> list[Supervision]:
    """The unresolved items of a case, oldest first."""
    return list(
        session.scalars(
            select(Supervision)
            .where(Supervision.case_id == case_id, Supervision.resolved_at.is_(None))
            .order_by(Supervision.id)
        )
    )

"""Worker job: deliver the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cityops.outbox.service import deliver_pending


def deliver_outbox(session: Session, now: datetime) -> dict[str, int]:
    return {"delivered": deliver_pending(session, now)}

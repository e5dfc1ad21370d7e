"""Writing a reply-quality score back onto a handled case (called by the scoring subscriber)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseLog


def record_reply_score(session: Session, case_id: uuid.UUID, log_seq: int, score: dict[str, Any]) -> None:
    """Store ``score`` (``{"overall", …}``) on the case and on the handling log row ``log_seq``.

    Runs in the transaction that wrote that row, so the row is still being written, not history
    being changed. Both objects are in the session already: no SELECT reaches the database.
    """
    case = session.get(Case, case_id)
    if case is None:
        return
    case.reply_score = float(score["overall"])
    row = session.scalar(select(CaseLog).where(CaseLog.case_id == case_id, CaseLog.seq == log_seq))
    if row is not None:
        row.data = {**(row.data or {}), "reply_score": dict(score)}

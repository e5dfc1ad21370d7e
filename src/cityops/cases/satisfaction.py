"""Callback and satisfaction (回访 · 评价): the reporter rates each closing of a case.

At ``close`` a round is opened (one ``CaseSatisfaction`` row per case and closing) with an
unguessable rating link: the token is 32 random bytes, only its SHA-256 is stored, and it works
for ``CITYOPS_RATING_DAYS``. The link goes out through the outbox (SMS to the reporter's phone,
an in-app message to a reporter with an account). The reporter answers satisfied / basically
satisfied / dissatisfied (满意 / 基本满意 / 不满意) with a comment — through the link, or signed
in (action ``rate``); operators record phone callbacks (action ``callback``), reached or not.
A dissatisfied rating reopens the case when ``CITYOPS_DISSATISFIED_REOPENS`` is on and the
reopen window is open. :func:`satisfaction_counts` is what evaluation (满意度) counts with.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseCallback, CaseSatisfaction
from cityops.config import get_settings
from cityops.errors import Conflict, Invalid, NotFound

RESULTS = ("satisfied", "basically_satisfied", "dissatisfied")
RESULT_NAMES_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}
# The principal name of a rating given through the link (the token proves who it is).
LINK_USERNAME = "rating-link"
LINK_USER_ID = uuid.UUID("00000000-0000-0000-0000-00000000a7e1")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def rating_url(token: str) -> str:
    """The public page where the reporter rates the result."""
    return f"{get_settings().public_base_url.rstrip('/')}/p/rate/{token}"


def open_round(session: Session, case: Case, now: datetime) -> str:
    """Open the rating round of this closing; returns the raw token (sent once, never stored)."""
    token = secrets.token_urlsafe(32)
    row = current_round(session, case)
    if row is None:
        row = CaseSatisfaction(case_id=case.id, round=case.reopened_count or 0)
        session.add(row)
    row.token_hash = _hash(token)
    row.requested_at = now
    row.expires_at = now + timedelta(days=get_settings().rating_days)
    row.department_code = case.department_code
    row.street_code = case.street_code
    row.category_code = case.category_code
    row.result = row.comment = row.channel = None
    row.rated_at = None
    row.recorded_by = None
    return token


def current_round(session: Session, case: Case) -> CaseSatisfaction | None:
    """The round of the case's latest closing, if one was opened."""
    return session.scalars(
        select(CaseSatisfaction).where(
            CaseSatisfaction.case_id == case.id, CaseSatisfaction.round == (case.reopened_count or 0)
        )
    ).first()


def ensure_round(session: Session, case: Case, now: datetime) -> CaseSatisfaction:
    """The current round, opened without a link for a case closed before rounds existed."""
    row = current_round(session, case)
    if row is None:
        closed = case.closed_at or now
        row = CaseSatisfaction(
            case_id=case.id,
            round=case.reopened_count or 0,
            token_hash=None,
            requested_at=closed,
            expires_at=closed + timedelta(days=get_settings().rating_days),
            department_code=case.department_code,
            street_code=case.street_code,
            category_code=case.category_code,
        )
        session.add(row)
    return row


def check_open(row: CaseSatisfaction, now: datetime) -> None:
    """Conflict when the round is rated already or its link has expired."""
    if row.result is not None:
        raise Conflict(
            f"已评价过（{RESULT_NAMES_ZH[row.result]}），不能重复评价",
            f"this closing has already been rated ({row.result})",
            code="already_rated",
            details={"satisfaction": row.result},
        )
    if now > row.expires_at:
        raise Conflict(
            "评价期限已过；如问题仍在，请重新上报",
            "the time to rate this closing has passed; report the problem again if it persists",
            code="rating_expired",
            details={"expires_at": row.expires_at.isoformat()},
        )


def check_result(result: str) -> None:
    """Invalid unless ``result`` is one of :data:`RESULTS`."""
    if result not in RESULTS:
        raise Invalid(
            "满意度必须是 satisfied（满意）、basically_satisfied（基本满意）或 dissatisfied（不满意）",
            "satisfaction must be satisfied, basically_satisfied or dissatisfied",
            details={"field": "satisfaction"},
        )


def record_rating(
    case: Case,
    row: CaseSatisfaction,
    result: str,
    comment: str | None,
    channel: str,
    by: uuid.UUID | None,
    now: datetime,
) -> None:
    """Write the rating on its round and on the case (the case shows the latest)."""
    check_result(result)
    row.result, row.comment, row.channel, row.rated_at, row.recorded_by = result, comment, channel, now, by
    case.satisfaction, case.satisfaction_channel, case.satisfaction_at = result, channel, now


def record_callback(
    session: Session,
    case: Case,
    by: uuid.UUID,
    reached: bool,
    result: str | None,
    comment: str | None,
    now: datetime,
) -> CaseCallback:
    """One phone callback (回访) row."""
    row = CaseCallback(
        case_id=case.id,
        round=case.reopened_count or 0,
        at=now,
        by_user_id=by,
        reached=reached,
        result=result,
        comment=comment,
    )
    session.add(row)
    return row


def find_by_token(session: Session, token: str) -> tuple[CaseSatisfaction, Case]:
    """The round and case of a rating link; NotFound for a token that is not one."""
    row = None
    if 20 <= len(token) <= 100:
        row = session.scalars(
            select(CaseSatisfaction).where(CaseSatisfaction.token_hash == _hash(token))
        ).first()
    case = session.get(Case, row.case_id) if row is not None else None
    if row is None or case is None:
        raise NotFound("评价链接无效", "this rating link is not valid", code="rating_not_found", details={})
    return row, case


def detail(session: Session, case_id: uuid.UUID) -> tuple[list[CaseSatisfaction], list[CaseCallback]]:
    """Every round and every callback of a case, oldest first."""
    rounds = session.scalars(
        select(CaseSatisfaction).where(CaseSatisfaction.case_id == case_id).order_by(CaseSatisfaction.round)
    )
    callbacks = session.scalars(
        select(CaseCallback).where(CaseCallback.case_id == case_id).order_by(CaseCallback.at, CaseCallback.id)
    )
    return list(rounds), list(callbacks)


# -- for evaluation (满意度) ------------------------------------------------------------------

GroupBy = Literal["department", "street", "category", "none"]
_GROUP_COLUMNS = {
    "department": CaseSatisfaction.department_code,
    "street": CaseSatisfaction.street_code,
    "category": CaseSatisfaction.category_code,
}


@dataclass(frozen=True)
class SatisfactionCount:
    """Ratings of one group in a period; ``rate`` = (satisfied + basically satisfied) / rated."""

    key: str | None
    satisfied: int
    basically_satisfied: int
    dissatisfied: int

    @property
    def rated(self) -> int:
        return self.satisfied + self.basically_satisfied + self.dissatisfied

    @property
    def rate(self) -> float | None:
        return (self.satisfied + self.basically_satisfied) / self.rated if self.rated else None


def satisfaction_counts(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    by: GroupBy = "department",
    department_code: str | None = None,
    street_code: str | None = None,
) -> list[SatisfactionCount]:
    """Ratings given in ``[start, end)`` per department, street or category (or in total).

    A rating counts under the department, street and category the case had when it was closed,
    so a case handled by one department and later moved is not counted against another.
    """
    if by not in (*_GROUP_COLUMNS, "none"):
        raise Invalid(
            "by 必须是 department、street、category 或 none",
            "by must be department, street, category or none",
            details={"field": "by"},
        )
    key = _GROUP_COLUMNS.get(by)
    columns = [key] if key is not None else []
    stmt = (
        select(*columns, CaseSatisfaction.result, func.count())
        .where(
            CaseSatisfaction.result.is_not(None),
            CaseSatisfaction.rated_at >= start,
            CaseSatisfaction.rated_at < end,
        )
        .group_by(*columns, CaseSatisfaction.result)
    )
    if department_code is not None:
        stmt = stmt.where(CaseSatisfaction.department_code == department_code)
    if street_code is not None:
        stmt = stmt.where(CaseSatisfaction.street_code == street_code)
    tally: dict[str | None, dict[str, int]] = {}
    for row in session.execute(stmt):
        group = row[0] if key is not None else None
        result, count = str(row[-2]), int(row[-1] or 0)
        tally.setdefault(group, dict.fromkeys(RESULTS, 0))[result] += count
    return [
        SatisfactionCount(group, t["satisfied"], t["basically_satisfied"], t["dissatisfied"])
        for group, t in sorted(tally.items(), key=lambda item: item[0] or "")
    ]

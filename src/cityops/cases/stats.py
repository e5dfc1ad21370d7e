"""Read-only aggregates over cases and the case log, for other capabilities.

Triage (accurate-dispatch rate, hot issues, surge baselines, training data) and later the
evaluation and indicator capabilities need figures that span many cases. They call these
functions through :mod:`cityops.cases.service` instead of querying the cases tables themselves.
Nothing here writes. Aggregates that list cases or their texts take the caller (``principal``)
and apply the same scope as every case read (``queries.scope_condition``); without one they span
the district, for jobs and for services whose own API decides who may see the result.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases.models import Case, CaseLog
from cityops.cases.queries import scope_condition
from cityops.config import get_settings


@dataclass(frozen=True)
class DispatchCount:
    """Per category: distinct cases dispatched in a period and those returned as misrouted."""

    category_code: str
    dispatched: int
    misrouted: int


@dataclass(frozen=True)
class RecentReport:
    """One case as hot-issue clustering needs it."""

    code: str
    description: str
    created_at: datetime
    reporter: str  # the reporting account, else the case code (one report = one reporter)
    street_code: str | None
    community_code: str | None


def dispatch_counts(
    session: Session, since: datetime, until: datetime, *, principal: Principal | None = None
) -> list[DispatchCount]:
    """Cases dispatched in [since, until) and, of those, returned as misrouted — per category.

    A case counts under the category it was dispatched with (the dispatch log row keeps it; older
    rows without it fall back to the case's current category), so a later recategorisation does
    not move the misroute to the corrected category. A case dispatched twice in the period counts
    once per category it was dispatched under.
    """
    stmt = (
        select(CaseLog.case_id, CaseLog.action, CaseLog.data, Case.category_code)
        .join(Case, Case.id == CaseLog.case_id)
        .where(CaseLog.action.in_(("dispatch", "return")), CaseLog.at >= since, CaseLog.at < until)
    )
    if principal is not None:  # a street's dispatcher gets its street's rate
        stmt = stmt.where(scope_condition(principal))
    rows = session.execute(stmt.order_by(CaseLog.case_id, CaseLog.seq)).all()
    dispatched: dict[str, set[uuid.UUID]] = {}
    misrouted: dict[str, set[uuid.UUID]] = {}
    last_category: dict[uuid.UUID, str] = {}
    for case_id, action, data, current in rows:
        data = data or {}
        category = data.get("category_code") or last_category.get(case_id) or current
        if action == "dispatch":
            last_category[case_id] = category
            dispatched.setdefault(category, set()).add(case_id)
        elif data.get("misrouted"):
            misrouted.setdefault(category, set()).add(case_id)
    return [
        DispatchCount(c, len(ids), len(misrouted.get(c, set()) & ids))
        for c, ids in sorted(dispatched.items())
    ]


def recent_reports(
    session: Session,
    since: datetime,
    until: datetime | None = None,
    *,
    limit: int = 200_000,
    principal: Principal | None = None,
) -> list[RecentReport]:
    """Cases created in [since, until), oldest first, at most ``limit`` (the newest kept);
    only those ``principal`` may see when given."""
    stmt = select(
        Case.code,
        Case.description,
        Case.created_at,
        Case.reporter_user_id,
        Case.street_code,
        Case.community_code,
    ).where(Case.created_at >= since)
    if until is not None:
        stmt = stmt.where(Case.created_at < until)
    if principal is not None:
        stmt = stmt.where(scope_condition(principal))
    rows = session.execute(stmt.order_by(Case.created_at.desc()).limit(limit)).all()
    return [
        RecentReport(
            r.code,
            r.description or "",
            r.created_at,
            str(r.reporter_user_id) if r.reporter_user_id else r.code,
            r.street_code,
            r.community_code,
        )
        for r in reversed(rows)
    ]


def counts_by_category_street_day(
    session: Session, since: datetime, until: datetime
) -> dict[tuple[str, str | None, date], int]:
    """Cases created in [since, until) per (category, street, local day in ``Settings.timezone``)."""
    local = get_settings().tz
    out: dict[tuple[str, str | None, date], int] = {}
    rows = session.execute(
        select(Case.category_code, Case.street_code, Case.created_at).where(
            Case.created_at >= since, Case.created_at < until
        )
    )
    for category, street, at in rows:
        key = (category, street, at.astimezone(local).date())
        out[key] = out.get(key, 0) + 1
    return out


def counts_by_category_street(
    session: Session, since: datetime, until: datetime
) -> dict[tuple[str, str | None], int]:
    """Cases created in [since, until) per (category, street) — windows that do not follow days."""
    out: dict[tuple[str, str | None], int] = {}
    rows = session.execute(
        select(Case.category_code, Case.street_code).where(Case.created_at >= since, Case.created_at < until)
    )
    for category, street in rows:
        out[(category, street)] = out.get((category, street), 0) + 1
    return out


def labelled_descriptions(
    session: Session, *, since: datetime | None = None, batch: int = 5000
) -> Iterator[tuple[str, str]]:
    """(description, category_code) of every case (optionally created since ``since``), streamed.

    The category is the case's current one, i.e. after any recategorisation: the best label known.
    """
    stmt = select(Case.description, Case.category_code).order_by(Case.created_at, Case.id)
    if since is not None:
        stmt = stmt.where(Case.created_at >= since)
    for desc, code in session.execute(stmt.execution_options(yield_per=batch)):
        if desc and code:
            yield desc, code


def reply_scores(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Reply-quality scores stored at ``handle`` in [since, until): {case_id, department_code, score}."""
    rows = session.execute(
        select(CaseLog.case_id, CaseLog.data, Case.department_code)
        .join(Case, Case.id == CaseLog.case_id)
        .where(CaseLog.action == "handle", CaseLog.at >= since, CaseLog.at < until)
    ).all()
    out = []
    for case_id, data, department in rows:
        score = (data or {}).get("reply_score")
        if isinstance(score, dict):
            out.append({"case_id": case_id, "department_code": department, "score": score})
    return out

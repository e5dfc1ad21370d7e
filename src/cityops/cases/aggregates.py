"""Read-only views of cases for evaluation, indicators, deadline risk and the cockpit.

Those capabilities may not query the cases tables themselves; they call these functions (also
re-exported by :mod:`cityops.cases.service`). Nothing here writes and nothing applies a caller's
scope: the callers aggregate over the district and their own API decides who sees what.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from cityops.cases.calendar import working_calendar
from cityops.cases.models import Case, CaseLog
from cityops.kit.workcal import WorkCalendar

OPEN_STATES = (
    "reported",
    "filed",
    "dispatched",
    "accepted",
    "returned",
    "handled",
    "rework",
    "verified",
    "parked",
)
# The clock runs (or has run out) in these states; the deadline-risk model scores them.
RUNNING_STATES = ("dispatched", "accepted", "rework")


@dataclass(frozen=True)
class CaseFact:
    """What evaluation needs of one case (its current projection plus one fact from its log)."""

    id: uuid.UUID
    state: str
    source: str
    category_code: str
    street_code: str | None
    community_code: str | None
    grid_code: str | None
    department_code: str | None
    created_by_id: uuid.UUID | None
    filed_at: datetime | None
    dispatched_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    deadline: datetime | None
    paused_seconds: float
    returned_count: int
    reopened_count: int
    reworked: bool  # at least one verification failed (verify → rework in the log)


_REWORKED = exists().where(
    CaseLog.case_id == Case.id, CaseLog.action == "verify", CaseLog.to_state == "rework"
)
_FACT_COLUMNS = (
    Case.id,
    Case.state,
    Case.source,
    Case.category_code,
    Case.street_code,
    Case.community_code,
    Case.grid_code,
    Case.department_code,
    Case.created_by_id,
    Case.filed_at,
    Case.dispatched_at,
    Case.handled_at,
    Case.closed_at,
    Case.deadline,
    Case.paused_seconds,
    Case.returned_count,
    Case.reopened_count,
)


def calendar(session: Session) -> WorkCalendar:
    """The district's working calendar (with the administrator's overrides)."""
    return working_calendar(session)


def last_log_id(session: Session) -> int:
    """The highest case-log id: a watermark for "what changed since"."""
    return int(session.scalar(select(func.max(CaseLog.id))) or 0)


def changed_case_ids(
    session: Session, after_log_id: int, *, limit: int = 50_000
) -> tuple[set[uuid.UUID], int]:
    """Cases with a log row newer than ``after_log_id`` and the newest log id seen.

    Every change of a case writes a log row, so the log's increasing id is an exact change feed
    (it uses the primary key; no index on ``updated_at`` is needed). At most ``limit`` log rows
    per call; the caller continues from the returned watermark.
    """
    rows = session.execute(
        select(CaseLog.id, CaseLog.case_id).where(CaseLog.id > after_log_id).order_by(CaseLog.id).limit(limit)
    ).all()
    if not rows:
        return set(), after_log_id
    return {r.case_id for r in rows}, int(rows[-1].id)


def case_facts(
    session: Session, case_ids: Iterable[uuid.UUID] | None = None, *, batch: int = 5000
) -> Iterator[CaseFact]:
    """The facts of the given cases (or of every case, streamed)."""
    if case_ids is None:
        reworked = set(
            session.scalars(
                select(CaseLog.case_id)
                .where(CaseLog.action == "verify", CaseLog.to_state == "rework")
                .distinct()
            )
        )
        stmt = select(*_FACT_COLUMNS).execution_options(yield_per=batch)
        for row in session.execute(stmt):
            yield CaseFact(*row, reworked=row.id in reworked)  # type: ignore[call-arg]
        return
    ids = list(case_ids)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for row in session.execute(select(*_FACT_COLUMNS, _REWORKED).where(Case.id.in_(chunk))):
            yield CaseFact(*row)  # type: ignore[call-arg]


def open_counts_by_grid(session: Session, area_prefix: str | None = None) -> dict[str, int]:
    """Open cases per unit grid (``area_prefix``: only grids whose code starts with it)."""
    stmt = select(Case.grid_code, func.count()).where(
        Case.state.in_(OPEN_STATES), Case.grid_code.is_not(None)
    )
    if area_prefix:
        stmt = stmt.where(Case.grid_code.startswith(area_prefix))
    return {str(g): int(n) for g, n in session.execute(stmt.group_by(Case.grid_code))}


def open_counts_by_department(session: Session) -> dict[str, int]:
    """Running cases (the clock is on) per lead department: a department's current load."""
    stmt = (
        select(Case.department_code, func.count())
        .where(Case.state.in_(RUNNING_STATES), Case.department_code.is_not(None))
        .group_by(Case.department_code)
    )
    return {str(d): int(n) for d, n in session.execute(stmt)}


@dataclass(frozen=True)
class RiskRow:
    """A case as the deadline-risk model sees it."""

    id: uuid.UUID
    code: str
    state: str
    category_code: str
    department_code: str | None
    street_code: str | None
    grid_code: str | None
    created_at: datetime
    dispatched_at: datetime | None
    deadline: datetime | None
    handled_at: datetime | None
    limit_kind: str | None
    limit_value: float | None
    returned_count: int


_RISK_COLUMNS = (
    Case.id,
    Case.code,
    Case.state,
    Case.category_code,
    Case.department_code,
    Case.street_code,
    Case.grid_code,
    Case.created_at,
    Case.dispatched_at,
    Case.deadline,
    Case.handled_at,
    Case.limit_kind,
    Case.limit_value,
    Case.returned_count,
)


def finished_for_risk(
    session: Session, since: datetime, until: datetime, *, limit: int = 200_000
) -> list[RiskRow]:
    """Cases handled in [since, until) that had a deadline: the model's training history."""
    stmt = (
        select(*_RISK_COLUMNS)
        .where(
            Case.handled_at >= since,
            Case.handled_at < until,
            Case.deadline.is_not(None),
            Case.dispatched_at.is_not(None),
        )
        .order_by(Case.handled_at.desc())
        .limit(limit)
    )
    return [RiskRow(*r) for r in session.execute(stmt)]  # type: ignore[call-arg]


def running_for_risk(
    session: Session, *, area_prefix: str | None = None, department_code: str | None = None
) -> list[RiskRow]:
    """Open cases whose clock runs: the ones deadline risk scores (optionally one area/department)."""
    stmt = select(*_RISK_COLUMNS).where(Case.state.in_(RUNNING_STATES), Case.deadline.is_not(None))
    if area_prefix:
        stmt = stmt.where(Case.grid_code.startswith(area_prefix))
    if department_code:
        stmt = stmt.where(Case.department_code == department_code)
    return [RiskRow(*r) for r in session.execute(stmt)]  # type: ignore[call-arg]

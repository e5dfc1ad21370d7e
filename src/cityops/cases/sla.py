"""The case's SLA clock on the district calendar: start, extend, pause and resume, and the
verification and rework clocks (:mod:`cityops.cases.stages`).

Thin glue between the case row and the pure functions of :mod:`cityops.cases.clock`.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session

from cityops.cases import clock, external, stages
from cityops.cases.calendar import working_calendar
from cityops.cases.models import Case

WARN_FRACTION = 0.8


def start(session: Session, case: Case, now: datetime) -> None:
    """Start a fresh clock at ``now`` from the category's limit for the case's area grade.

    The limit is copied onto the case so later catalog edits do not move running deadlines.
    """
    kind, value = external.time_limit_for(session, case.category_code, case.grade)
    limit = clock.TimeLimit(cast(clock.LimitKind, kind), float(value))
    case.limit_kind, case.limit_value = limit.kind, limit.value
    _run(session, case, limit, now)


def _run(session: Session, case: Case, limit: clock.TimeLimit, now: datetime) -> None:
    # A fresh department clock: deadline and warning from now, marks and extensions reset.
    cal = working_calendar(session)
    case.deadline = clock.deadline(now, limit, cal)
    case.warn_at = clock.warn_at(now, limit, cal, WARN_FRACTION)
    case.warned = False
    case.overdue = False
    case.overdue_at = None
    case.paused_seconds = 0.0
    case.clock_extended_hours = 0.0
    case.verify_deadline = None
    case.verify_overdue = False


def start_verification(session: Session, case: Case, now: datetime) -> None:
    """The department reported back: its clock stops (the deadline stays as the record of
    whether it was met) and verification gets its own deadline."""
    limit = stages.verify_limit(session, case)
    case.verify_deadline = clock.deadline(now, limit, working_calendar(session))
    case.verify_overdue = False


def start_rework(session: Session, case: Case, now: datetime) -> None:
    """Verification failed: the rework gets a deadline of its own (the category's rework limit)."""
    _run(session, case, stages.rework_limit(session, case), now)


def extend(session: Session, case: Case, hours: float, now: datetime) -> None:
    """Move the deadline and the warning by ``hours`` on the case's clock."""
    cal = working_calendar(session)
    # Extra time is given in hours on the case's own clock: wall hours for emergencies,
    # working hours for both working kinds.
    extra = clock.TimeLimit(stages.hours_kind(case), hours)
    if case.deadline is not None:
        case.deadline = clock.deadline(case.deadline, extra, cal)
    if case.warn_at is not None:
        case.warn_at = clock.deadline(case.warn_at, extra, cal)
        if case.warn_at > now:
            case.warned = False  # a new warning is due at the new time


def resume(session: Session, case: Case, now: datetime) -> float:
    """Resume after a park: shift deadline and warning; return the counted seconds paused."""
    assert case.parked_at is not None
    cal = working_calendar(session)
    kind = cast(clock.LimitKind, case.limit_kind or "working_hours")
    paused = clock.elapsed(case.parked_at, now, kind, cal).total_seconds()
    if case.deadline is not None:
        case.deadline = clock.resume_deadline(case.deadline, case.parked_at, now, kind, cal)
    if case.warn_at is not None:
        case.warn_at = clock.resume_deadline(case.warn_at, case.parked_at, now, kind, cal)
        if case.warn_at > now:
            case.warned = False
    case.paused_seconds = (case.paused_seconds or 0.0) + paused
    return paused


def remaining_seconds(session: Session, case: Case, now: datetime) -> float | None:
    """Counted time left until the deadline (negative when overdue; frozen while parked).

    Working seconds for working-time limits, wall seconds for emergencies; None without a
    running clock (not yet dispatched, or finished).
    """
    if case.deadline is None or case.limit_kind is None or case.state in ("handled", "verified", "closed"):
        return None
    cal = working_calendar(session)
    kind = cast(clock.LimitKind, case.limit_kind)
    at = case.parked_at if case.state == "parked" and case.parked_at else now
    if at <= case.deadline:
        return clock.elapsed(at, case.deadline, kind, cal).total_seconds()
    return -clock.elapsed(case.deadline, at, kind, cal).total_seconds()

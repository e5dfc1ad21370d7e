"""The district's working calendar: the override table and the cached WorkCalendar built from it.

Building a WorkCalendar is cheap but its per-year tables are not free, so one calendar is kept
per database and rebuilt only when the cache generation moves (``kit/caches.py``): every edit of
the override table bumps it, so edits in any process are seen everywhere within a second.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import external
from cityops.cases.models import CalendarOverride
from cityops.config import get_settings
from cityops.db import utcnow
from cityops.errors import NotFound
from cityops.kit import caches
from cityops.kit.workcal import WorkCalendar

_CALENDAR: caches.GenerationalValue[WorkCalendar] = caches.GenerationalValue("cases.calendar")


def invalidate(session: Session | None = None) -> None:
    """Forget the cached calendars (tests). Edits need not call it: writing an override bumps the
    cache generation (kit/caches.py), which every process notices within a second."""
    _CALENDAR.clear()


def working_calendar(session: Session) -> WorkCalendar:
    """The WorkCalendar with the current overrides of this database (cached)."""

    def load() -> WorkCalendar:
        rows = session.execute(select(CalendarOverride.day, CalendarOverride.is_workday)).all()
        return WorkCalendar({day: flag for day, flag in rows}, tz=get_settings().tz)

    return _CALENDAR.get(session, load)


def list_overrides(session: Session, year: int | None = None) -> list[CalendarOverride]:
    """The override rows, optionally of one year, by day."""
    stmt = select(CalendarOverride).order_by(CalendarOverride.day)
    if year is not None:
        stmt = stmt.where(
            CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)
        )
    return list(session.scalars(stmt))


def set_override(
    session: Session, principal: Principal, day: date, is_workday: bool, note: str | None = None
) -> CalendarOverride:
    """Create or replace the override for ``day``."""
    row = session.get(CalendarOverride, day)
    if row is None:
        row = CalendarOverride(day=day)
        session.add(row)
    row.is_workday = is_workday
    row.note = note
    row.updated_at = utcnow()
    row.updated_by = principal.id
    session.flush()
    external.audit(
        session,
        principal,
        "calendar.override_set",
        day.isoformat(),
        {"is_workday": is_workday, "note": note},
        subject_type="calendar",
    )
    invalidate()
    return row


def delete_override(session: Session, principal: Principal, day: date) -> None:
    """Remove the override for ``day`` (NotFound when there is none)."""
    row = session.get(CalendarOverride, day)
    if row is None:
        raise NotFound(
            f"{day} 没有日历调整",
            f"there is no calendar override for {day}",
            code="override_not_found",
            details={"day": day.isoformat()},
        )
    session.delete(row)
    session.flush()
    external.audit(session, principal, "calendar.override_deleted", day.isoformat(), subject_type="calendar")
    invalidate()

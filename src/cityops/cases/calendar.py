"""The district's working calendar: the override table and the cached WorkCalendar built from it.

Building a WorkCalendar is cheap but its per-year tables are not free, so one calendar is kept
per database and rebuilt only when the override table changes. "Changed" is detected by a tiny
fingerprint query (row count and latest edit time), which also catches edits made by other
processes; edits in this process drop the cache at once.
"""

from __future__ import annotations

import threading
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import external
from cityops.cases.models import CalendarOverride
from cityops.db import utcnow
from cityops.errors import NotFound
from cityops.kit.workcal import WorkCalendar

_lock = threading.Lock()
_cache: dict[int, tuple[tuple[int, datetime | None], WorkCalendar]] = {}


def invalidate() -> None:
    """Forget the cached calendars (called after every edit of the override table)."""
    with _lock:
        _cache.clear()


def working_calendar(session: Session) -> WorkCalendar:
    """The WorkCalendar with the current overrides of this database (cached)."""
    key = id(session.get_bind())
    count, latest = session.execute(select(func.count(), func.max(CalendarOverride.updated_at))).one()
    stamp = (int(count), latest)
    hit = _cache.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    rows = session.execute(select(CalendarOverride.day, CalendarOverride.is_workday)).all()
    cal = WorkCalendar({day: flag for day, flag in rows})
    with _lock:
        _cache[key] = (stamp, cal)
    return cal


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

"""The district's working calendar: the override table and the cached WorkCalendar built from it,
the years whose official schedule was imported, and the warning when a deadline may fall in a
year nobody has told the calendar about.

Building a WorkCalendar is cheap but its per-year tables are not free, so one calendar is kept
per database and rebuilt only when the cache generation moves (``kit/caches.py``): every edit of
the override table bumps it, so edits in any process are seen everywhere within a second.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import external
from cityops.cases.models import CalendarOverride, CalendarYear, Case
from cityops.cases.transitions import CLOCK_STATES
from cityops.config import get_settings
from cityops.db import utcnow
from cityops.errors import Invalid, NotFound
from cityops.kit import caches
from cityops.kit.workcal import LOCAL_TZ, WorkCalendar, package_last_year

_CALENDAR: caches.GenerationalValue[WorkCalendar] = caches.GenerationalValue("cases.calendar")


def invalidate(session: Session | None = None) -> None:
    """Forget the cached calendars (tests). Edits need not call it: writing an override bumps the
    cache generation (kit/caches.py), which every process notices within a second."""
    _CALENDAR.clear()


def working_calendar(session: Session) -> WorkCalendar:
    """The WorkCalendar with the current overrides of this database (cached)."""

    def load() -> WorkCalendar:
        rows = session.execute(select(CalendarOverride.day, CalendarOverride.is_workday)).all()
        known = session.scalars(select(CalendarYear.year)).all()
        return WorkCalendar({day: flag for day, flag in rows}, tz=get_settings().tz, known_years=known)

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


# -- years beyond the holiday package ----------------------------------------------------------

# How far ahead a new deadline may reach: the longest shipped limit (5 working days) plus the
# largest default extension and a rework, with room to spare.
LOOK_AHEAD = timedelta(days=45)
KINDS = {"holiday": False, "workday": True}
MAX_SCHEDULE_DAYS = 400

ScheduleDay = tuple[date, bool, str | None]


def calendar_warnings(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Years a running or new deadline may fall in whose official schedule is unknown.

    A year is known when ``chinese_calendar`` ships it or an admin imported its schedule
    (:func:`import_schedule`); in any other year weekends are off and nothing else is, so
    the State Council's holidays and adjusted working days would be counted wrong.
    """
    now = now or utcnow()
    cal = working_calendar(session)
    latest = session.execute(
        select(func.max(Case.deadline), func.max(Case.verify_deadline)).where(
            Case.state.in_(sorted(CLOCK_STATES | {"handled"}))
        )
    ).one()
    horizon = max([now + LOOK_AHEAD, *(d for d in latest if d is not None)])
    first, last = now.astimezone(LOCAL_TZ).year, horizon.astimezone(LOCAL_TZ).year
    warnings = []
    for year in range(first, last + 1):
        if cal.is_known_year(year):
            continue
        warnings.append(
            {
                "code": "calendar_year_unknown",
                "year": year,
                "message": f"{year} 年的法定节假日和调休安排未知，期限按周一至周五计算；"
                f"请导入国务院办公厅公布的 {year} 年放假安排 / the official holidays of {year} are unknown "
                f"(chinese_calendar knows up to {package_last_year()}); deadlines count Monday–Friday. "
                f"Import the State Council's {year} schedule (cityops import-calendar or "
                "POST /api/v1/calendar/import)",
            }
        )
    return warnings


def readiness_warnings(engine: Engine) -> list[dict[str, Any]]:
    """:func:`calendar_warnings` for ``/readyz`` on a session of its own (read-only)."""
    with Session(engine) as session:
        return calendar_warnings(session)


def _invalid(zh: str, en: str, row: int | None, field: str) -> Invalid:
    details: dict[str, Any] = {"field": field}
    if row is not None:
        details["row"] = row
    where = f"第 {row} 行：" if row is not None else ""
    return Invalid(
        where + zh, (f"row {row}: " if row is not None else "") + en, code="invalid_schedule", details=details
    )


def parse_schedule(rows: Iterable[Mapping[str, Any]]) -> list[ScheduleDay]:
    """Check a schedule (rows of ``date``, ``kind`` = holiday | workday, ``name``); all or nothing."""
    out: list[ScheduleDay] = []
    seen: set[date] = set()
    for number, row in enumerate(rows, start=1):
        if number > MAX_SCHEDULE_DAYS:
            raise _invalid(f"最多 {MAX_SCHEDULE_DAYS} 天", f"at most {MAX_SCHEDULE_DAYS} days", None, "days")
        try:
            day = date.fromisoformat(str(row.get("date", "")).strip())
        except ValueError:
            raise _invalid("日期必须是 YYYY-MM-DD", "date must be YYYY-MM-DD", number, "date") from None
        kind = str(row.get("kind", "")).strip().lower()
        if kind not in KINDS:
            raise _invalid(
                "kind 必须是 holiday（放假）或 workday（调休上班）",
                "kind must be holiday or workday",
                number,
                "kind",
            )
        if day in seen:
            raise _invalid(f"{day} 出现了两次", f"{day} appears twice", number, "date")
        seen.add(day)
        name = str(row.get("name") or "").strip()[:200] or None
        out.append((day, KINDS[kind], name))
    if not out:
        raise _invalid("放假安排中没有日期", "the schedule has no days", None, "days")
    return out


def parse_schedule_text(text: str, filename: str) -> list[ScheduleDay]:
    """A schedule file: JSON (a list of rows, or ``{"days": [...]}``) or CSV with a header row."""
    if filename.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _invalid("不是有效的 JSON", f"not valid JSON: {exc.msg}", None, "file") from None
        rows = data.get("days") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise _invalid(
                "JSON 必须是日期行的列表", "JSON must be a list of {date, kind, name}", None, "file"
            )
        return parse_schedule(rows)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"date", "kind"} - set(reader.fieldnames or [])
    if missing:
        raise _invalid(
            f"缺少列：{'、'.join(sorted(missing))}（需要 date,kind,name）",
            f"missing columns: {', '.join(sorted(missing))} (need date,kind,name)",
            None,
            "header",
        )
    return parse_schedule(reader)


def import_schedule(
    session: Session,
    principal: Principal,
    days: list[ScheduleDay],
    *,
    source: str | None = None,
) -> dict[str, Any]:
    """Write an official schedule as overrides and mark its years known; one audit record."""
    years = sorted({day.year for day, _, _ in days})
    now = utcnow()
    for day, is_workday, name in days:
        row = session.get(CalendarOverride, day)
        if row is None:
            row = CalendarOverride(day=day)
            session.add(row)
        row.is_workday, row.note, row.updated_at, row.updated_by = is_workday, name, now, principal.id
    for year in years:
        mark = session.get(CalendarYear, year) or CalendarYear(year=year)
        mark.source = (source or "").strip()[:200] or None
        mark.days = sum(1 for day, _, _ in days if day.year == year)
        mark.imported_at, mark.imported_by = now, principal.id
        session.add(mark)
    session.flush()
    external.audit(
        session,
        principal,
        "calendar.schedule_imported",
        ",".join(map(str, years)),
        {"days": len(days), "source": source},
        subject_type="calendar",
    )
    invalidate()
    return {"days": len(days), "years": years}


def imported_years(session: Session) -> list[CalendarYear]:
    return list(session.scalars(select(CalendarYear).order_by(CalendarYear.year)))

"""Evaluation periods: ``YYYY-MM``, ``YYYY-Www`` (ISO week), ``YYYY-Qn``, ``YYYY``; local days."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cityops.errors import Invalid
from cityops.kit.workcal import LOCAL_TZ

FORMS = "YYYY-MM（月 month）、YYYY-Www（周 ISO week）、YYYY-Qn（季度 quarter）、YYYY（年 year）"
_PATTERNS = (
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("week", re.compile(r"^(\d{4})-W(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")),
    ("year", re.compile(r"^(\d{4})$")),
)


@dataclass(frozen=True)
class Period:
    """A half-open range of local days ``[start, end)`` with its label."""

    kind: str
    label: str
    start: date
    end: date

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return _of(self.kind, self.start - timedelta(days=1))

    def days(self) -> int:
        return (self.end - self.start).days


def _bad(value: str, why_zh: str, why_en: str, code: str = "invalid_period") -> Invalid:
    return Invalid(
        f"统计周期 {value!r} {why_zh}；可用格式：{FORMS}",
        f"period {value!r} {why_en}; accepted forms: YYYY-MM, YYYY-Www, YYYY-Qn, YYYY "
        "(e.g. 2026-11, 2026-W47, 2026-Q4, 2026)",
        code=code,
        details={"field": "period", "accepted": ["YYYY-MM", "YYYY-Www", "YYYY-Qn", "YYYY"]},
    )


def containing(kind: str, day: date) -> Period:
    """The period of ``kind`` (day, week, month, quarter, year) containing ``day``."""
    return _of(kind, day)


def _of(kind: str, day: date) -> Period:
    """The period of ``kind`` containing ``day``."""
    if kind == "day":
        return Period(kind, day.isoformat(), day, day + timedelta(days=1))
    if kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return Period(kind, f"{start:%Y-%m}", start, end)
    if kind == "week":
        year, week, weekday = day.isocalendar()
        start = day - timedelta(days=weekday - 1)
        return Period(kind, f"{year}-W{week:02d}", start, start + timedelta(days=7))
    if kind == "quarter":
        q = (day.month - 1) // 3
        start = date(day.year, 3 * q + 1, 1)
        end = date(day.year + 1, 1, 1) if q == 3 else date(day.year, 3 * q + 4, 1)
        return Period(kind, f"{day.year}-Q{q + 1}", start, end)
    return Period("year", f"{day.year}", date(day.year, 1, 1), date(day.year + 1, 1, 1))


def today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def current(kind: str, now: datetime) -> Period:
    return _of(kind, today(now))


def parse(value: str | None, now: datetime) -> Period:
    """The period named by ``value`` (default: the current month); 4xx for malformed or future ones."""
    text = (value or "").strip()
    if not text:
        return current("month", now)
    for kind, pattern in _PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        year = int(m.group(1))
        try:
            if kind == "month":
                first = date(year, int(m.group(2)), 1)
            elif kind == "week":
                first = date.fromisocalendar(year, int(m.group(2)), 1)
            elif kind == "quarter":
                first = date(year, 3 * (int(m.group(2)) - 1) + 1, 1)
            else:
                first = date(year, 1, 1)
        except ValueError:
            raise _bad(text, "不存在", "does not exist") from None
        period = _of(kind, first)
        if period.start > today(now):
            raise _bad(text, "尚未开始", "lies in the future", code="period_in_future")
        if year < 2000:
            raise _bad(text, "早于 2000 年", "is before 2000")
        return period
    raise _bad(text, "格式不对", "is malformed")

"""The working calendar: which instants count as working time in the district.

Working time is 08:00–12:00 and 14:00–18:00 Asia/Shanghai on Chinese working days. A working
day is decided, in order, by:

1. the admin-editable override table (``WorkCalendar(overrides=...)``), for any year;
2. the ``chinese_calendar`` package (public holidays off, adjusted working weekends 调休 on),
   for the years it knows;
3. Monday–Friday, for the years it does not know (it raises ``NotImplementedError``), so
   deadlines after the package's last year never crash.

All arithmetic is done in integer microseconds of Shanghai local time, so adding N seconds and
measuring them back gives exactly N. China has had no daylight saving time since 1991, so a
local day is always 24 hours and local wall-clock arithmetic is safe.

Spans of months are cheap: whole days are never walked. Each year gets a cumulative count of
working days (built once per calendar and year), so "how many working days between" is two
lookups and "the n-th working day after" is a binary search.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import accumulate
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "LOCAL_TZ",
    "WORKING_DAY_SECONDS",
    "WORKING_PERIODS",
    "WorkCalendar",
    "package_last_year",
]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

#: Working periods as (start, end) local times; the end is exclusive.
WORKING_PERIODS: tuple[tuple[time, time], ...] = ((time(8), time(12)), (time(14), time(18)))

_US = 1_000_000  # microseconds per second
_PERIODS_US: tuple[tuple[int, int], ...] = tuple(
    ((s.hour * 3600 + s.minute * 60) * _US, (e.hour * 3600 + e.minute * 60) * _US) for s, e in WORKING_PERIODS
)
_DAY_US = sum(e - s for s, e in _PERIODS_US)

#: One working day is eight working hours.
WORKING_DAY_SECONDS: int = _DAY_US // _US

_MAX_YEAR = 9999


@functools.cache
def _package_years() -> tuple[int, int]:
    """The first and last year ``chinese_calendar`` ships holidays for."""
    years = [d.year for d in (*chinese_calendar.constants.holidays, *chinese_calendar.constants.workdays)]
    return min(years), max(years)


def package_last_year() -> int:
    """The last year whose official holidays ``chinese_calendar`` knows (2026 in 1.11)."""
    return _package_years()[1]


@functools.cache
def _year_known(year: int) -> bool:
    """Whether chinese_calendar has data for ``year`` (it raises NotImplementedError if not)."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@functools.lru_cache(maxsize=16384)
def _base_is_workday(d: date) -> bool:
    """The workday flag without overrides; cached process-wide since it never changes."""
    if _year_known(d.year):
        return bool(chinese_calendar.is_workday(d))
    # chinese_calendar only knows a fixed range of years (2004–2026 in 1.11). Outside it we
    # assume an ordinary Monday–Friday week; admins enter known holidays as overrides.
    return d.weekday() < 5


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} 必须带时区 / {name} must be a timezone-aware datetime")


def _to_local(value: datetime, tz: tzinfo = LOCAL_TZ) -> tuple[date, int]:
    """Split an aware instant into its local date and microseconds since local midnight."""
    local = value.astimezone(tz)
    sod = ((local.hour * 60 + local.minute) * 60 + local.second) * _US + local.microsecond
    return local.date(), sod


def _from_local(day: date, sod_us: int, tz: tzinfo = LOCAL_TZ) -> datetime:
    """The aware UTC instant at ``sod_us`` microseconds after local midnight of ``day``."""
    local = datetime.combine(day, time(), tzinfo=tz) + timedelta(microseconds=sod_us)
    return local.astimezone(UTC)


def _worked_in_day(lo: int, hi: int) -> int:
    """Working microseconds between two times of one working day (``lo <= hi``)."""
    total = 0
    for ps, pe in _PERIODS_US:
        a, b = max(lo, ps), min(hi, pe)
        if b > a:
            total += b - a
    return total


def _consume_in_day(lo: int, amount: int) -> tuple[int | None, int]:
    """Spend ``amount`` working microseconds of one working day from time ``lo``.

    Returns (time of day when the amount is used up, or None; what is still left). The amount
    ends *at* a period end rather than at the next period start, so Fri 17:00 + 1 h is 18:00.
    """
    for ps, pe in _PERIODS_US:
        if lo >= pe:
            continue
        begin = max(lo, ps)
        available = pe - begin
        if amount <= available:
            return begin + amount, 0
        amount -= available
    return None, amount


class WorkCalendar:
    """Working days and working time, with an admin override table.

    ``overrides`` maps a date to True (working day) or False (day off) and wins over everything
    else, for any year. The mapping is copied: build a new calendar when the table changes.

    Safe to share between threads: the only mutable state is a per-year cache that two threads
    may at worst build twice with the same result.
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        tz: tzinfo = LOCAL_TZ,
        *,
        known_years: Iterable[int] = (),
    ) -> None:
        # Working hours are local times of the district's zone (Settings.tz; Asia/Shanghai).
        self._tz = tz
        clean: dict[date, bool] = {}
        for key, flag in (overrides or {}).items():
            # datetime is a subclass of date but would never equal a date key, so the override
            # would be silently ignored; refuse it instead.
            if isinstance(key, datetime) or not isinstance(key, date):
                raise ValueError(f"覆盖表的键必须是日期: {key!r} / override keys must be dates, got {key!r}")
            clean[key] = bool(flag)
        self._overrides = clean
        # Years outside the package whose official schedule was imported as overrides.
        self._imported = frozenset(known_years)
        # year -> cumulative working-day counts: cum[i] = working days among the first i days.
        self._cum: dict[int, list[int]] = {}

    # -- days ---------------------------------------------------------------------------------

    def is_known_year(self, year: int) -> bool:
        """Whether the official schedule of ``year`` is known (the package, or imported).

        For any other year working days are a guess (Monday–Friday plus overrides).
        """
        return year in self._imported or _year_known(year)

    def is_workday(self, d: date) -> bool:
        """Whether ``d`` is a working day (override, then chinese_calendar, then Mon–Fri)."""
        if isinstance(d, datetime):
            d = d.date()
        flag = self._overrides.get(d)
        if flag is not None:
            return flag
        return _base_is_workday(d)

    def _year(self, year: int) -> list[int]:
        cum = self._cum.get(year)
        if cum is None:
            if not 1 <= year <= _MAX_YEAR:
                raise ValueError(f"超出日历范围 (年份 {year}) / beyond the calendar's range (year {year})")
            first = date(year, 1, 1)
            n_days = (date(year, 12, 31) - first).days + 1
            flags = (int(self.is_workday(first + timedelta(days=i))) for i in range(n_days))
            cum = [0, *accumulate(flags)]
            self._cum[year] = cum
        return cum

    def workdays_between(self, a: date, b: date) -> int:
        """The number of working days in the half-open range ``[a, b)`` (0 if ``b <= a``)."""
        if b <= a:
            return 0
        total = 0
        day = a
        while day.year < b.year:
            cum = self._year(day.year)
            total += cum[-1] - cum[day.timetuple().tm_yday - 1]
            day = date(day.year + 1, 1, 1)
        cum = self._year(day.year)
        return total + cum[b.timetuple().tm_yday - 1] - cum[day.timetuple().tm_yday - 1]

    def nth_workday(self, d: date, n: int) -> date:
        """The ``n``-th working day on or after ``d`` (``n >= 1``; n = 1 is d itself if working)."""
        if n < 1:
            raise ValueError("n must be >= 1")
        if n > (date.max - d).days + 1:
            # Cannot fit before the end of the calendar; fail before walking thousands of years.
            raise ValueError("超出日历范围 / beyond the calendar's range")
        year = d.year
        cum = self._year(year)
        target = cum[d.timetuple().tm_yday - 1] + n
        while target > cum[-1]:
            # Not enough working days left this year: carry the rest into the next one.
            target -= cum[-1]
            year += 1
            cum = self._year(year)
        # Smallest j with cum[j] >= target: day j - 1 of the year is the target-th working day.
        j = bisect.bisect_left(cum, target)
        return date(year, 1, 1) + timedelta(days=j - 1)

    # -- instants -----------------------------------------------------------------------------

    def is_working_time(self, at: datetime) -> bool:
        """Whether the aware instant ``at`` falls inside a working period of a working day."""
        _require_aware(at, "at")
        day, sod = _to_local(at, self._tz)
        return self.is_workday(day) and any(ps <= sod < pe for ps, pe in _PERIODS_US)

    def next_working_moment(self, at: datetime) -> datetime:
        """The earliest working instant at or after ``at`` (aware UTC)."""
        return self.add_working_seconds(at, 0)

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant (aware UTC) when ``seconds`` of working time have passed since ``start``.

        A start outside working time begins at the next working moment; ``seconds == 0``
        returns exactly that moment. Fractions of a second are kept to the microsecond.
        """
        _require_aware(start, "start")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"工作秒数必须是非负有限数: {seconds!r} / seconds must be finite and >= 0, got {seconds!r}"
            )
        remaining = round(seconds * _US)
        day, sod = _to_local(start, self._tz)

        if self.is_workday(day):
            if remaining == 0:
                for ps, pe in _PERIODS_US:
                    if sod < pe:
                        return _from_local(day, max(sod, ps), self._tz)
            else:
                at, remaining = _consume_in_day(sod, remaining)
                if at is not None:
                    return _from_local(day, at, self._tz)

        # The rest starts at the beginning of a later working day. Skip whole working days at
        # once: the last (partial or full) day is the (full_days + 1)-th working day after today.
        full_days, last = divmod(remaining, _DAY_US)
        if last == 0 and full_days > 0:
            full_days, last = full_days - 1, _DAY_US
        target = self.nth_workday(day + timedelta(days=1), full_days + 1)
        if last == 0:
            return _from_local(target, _PERIODS_US[0][0], self._tz)
        at, _ = _consume_in_day(0, last)
        assert at is not None  # last <= one working day, so it always fits in one day
        return _from_local(target, at, self._tz)

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds in ``[a, b)``; 0.0 when ``b <= a``."""
        return self.working_microseconds_between(a, b) / _US

    def working_microseconds_between(self, a: datetime, b: datetime) -> int:
        """Exact working time in ``[a, b)`` in integer microseconds; 0 when ``b <= a``."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b <= a:
            return 0
        da, sa = _to_local(a, self._tz)
        db, sb = _to_local(b, self._tz)
        if da == db:
            return _worked_in_day(sa, sb) if self.is_workday(da) else 0
        head = _worked_in_day(sa, 24 * 3600 * _US) if self.is_workday(da) else 0
        middle = self.workdays_between(da + timedelta(days=1), db) * _DAY_US
        tail = _worked_in_day(0, sb) if self.is_workday(db) else 0
        return head + middle + tail

"""The working calendar: working days, working time and their arithmetic.

Expected instants are worked out by hand in the comments (Shanghai local time; the working
periods are 08:00–12:00 and 14:00–18:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from cityops.kit.workcal import WORKING_DAY_SECONDS, WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
H = 3600


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    """A Shanghai local instant, the way people state deadlines."""
    return datetime(y, mo, d, h, mi, s, us, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# -- which days work ---------------------------------------------------------------------------


def test_chinese_calendar_data_used_for_2026(cal: WorkCalendar) -> None:
    # National Day 2026 is 10-01..10-07 (Thu..Wed); 10-10 (Sat) is an adjusted working day.
    assert not any(cal.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_workday(date(2026, 10, 8))
    assert cal.is_workday(date(2026, 10, 10))
    # Spring Festival 2026: 02-15..02-23 off; Sat 02-14 and Sat 02-28 are adjusted working days.
    assert not any(cal.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert cal.is_workday(date(2026, 2, 14)) and cal.is_workday(date(2026, 2, 28))


def test_unknown_year_falls_back_to_monday_to_friday(cal: WorkCalendar) -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))  # the package really stops at 2026
    # 2027-01-01 is a Friday, 01-02 Saturday, 01-04 Monday.
    assert cal.is_workday(date(2027, 1, 1))
    assert not cal.is_workday(date(2027, 1, 2))
    assert cal.is_workday(date(2027, 1, 4))
    assert cal.is_workday(date(2099, 12, 31))  # a Thursday, far beyond any data: no crash


def test_overrides_win_in_any_year() -> None:
    cal = WorkCalendar(
        {
            date(2027, 1, 1): False,  # New Year's Day once the 2027 schedule is published
            date(2027, 1, 2): True,  # an adjusted working Saturday
            date(2026, 10, 8): False,  # overrides beat chinese_calendar too
            date(2026, 10, 3): True,
        }
    )
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 1, 2))
    assert not cal.is_workday(date(2026, 10, 8))
    assert cal.is_workday(date(2026, 10, 3))


def test_override_keys_must_be_dates() -> None:
    with pytest.raises(ValueError, match="override keys must be dates"):
        WorkCalendar({datetime(2027, 1, 1): False})


def test_workdays_between_matches_chinese_calendar(cal: WorkCalendar) -> None:
    for a, b in [(date(2025, 1, 1), date(2026, 12, 31)), (date(2026, 2, 1), date(2026, 3, 1))]:
        expected = len(chinese_calendar.get_workdays(a, b - timedelta(days=1)))
        assert cal.workdays_between(a, b) == expected
    assert cal.workdays_between(date(2026, 3, 1), date(2026, 2, 1)) == 0


def test_nth_workday_crosses_years(cal: WorkCalendar) -> None:
    # Thu 2026-12-31 is the 1st; 2027 falls back to Mon–Fri: Fri 01-01 2nd, Mon 01-04 3rd.
    assert cal.nth_workday(date(2026, 12, 31), 1) == date(2026, 12, 31)
    assert cal.nth_workday(date(2026, 12, 31), 3) == date(2027, 1, 4)
    # Sat 2026-10-03 (holiday): next working days are Thu 10-08, Fri 10-09, Sat 10-10 (adjusted).
    assert cal.nth_workday(date(2026, 10, 3), 3) == date(2026, 10, 10)


# -- adding working time -----------------------------------------------------------------------


def test_across_an_ordinary_weekend(cal: WorkCalendar) -> None:
    # Fri 2026-03-13 17:00 + 2 h: 17–18 (1 h), Sat/Sun off, Mon 08–09 (1 h) -> Mon 09:00.
    assert cal.add_working_seconds(sh(2026, 3, 13, 17), 2 * H) == sh(2026, 3, 16, 9)


def test_result_is_aware_utc(cal: WorkCalendar) -> None:
    result = cal.add_working_seconds(sh(2026, 3, 16, 9), H)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 3, 16, 2, tzinfo=UTC)  # 10:00 Shanghai = 02:00 UTC


def test_ends_at_a_period_end_not_the_next_start(cal: WorkCalendar) -> None:
    # Fri 17:00 + 1 h uses exactly the last working hour: due Fri 18:00, not Mon 08:00.
    assert cal.add_working_seconds(sh(2026, 3, 13, 17), H) == sh(2026, 3, 13, 18)
    assert cal.add_working_seconds(sh(2026, 3, 16, 11), H) == sh(2026, 3, 16, 12)


def test_lunch_break_does_not_count(cal: WorkCalendar) -> None:
    # Mon 11:00 + 2 h: 11–12 (1 h), lunch, 14–15 (1 h) -> 15:00.
    assert cal.add_working_seconds(sh(2026, 3, 16, 11), 2 * H) == sh(2026, 3, 16, 15)
    # Starting during lunch counts from 14:00: 12:30 + 30 min -> 14:30.
    assert cal.add_working_seconds(sh(2026, 3, 16, 12, 30), 1800) == sh(2026, 3, 16, 14, 30)


def test_start_before_eight_and_after_six(cal: WorkCalendar) -> None:
    # Mon 07:00 starts at 08:00; + 1 h -> 09:00.
    assert cal.add_working_seconds(sh(2026, 3, 16, 7), H) == sh(2026, 3, 16, 9)
    # Mon 19:00 starts at Tue 08:00; + 1 h -> Tue 09:00.
    assert cal.add_working_seconds(sh(2026, 3, 16, 19), H) == sh(2026, 3, 17, 9)


def test_zero_seconds_is_the_next_working_moment(cal: WorkCalendar) -> None:
    assert cal.add_working_seconds(sh(2026, 3, 16, 10, 15), 0) == sh(2026, 3, 16, 10, 15)
    assert cal.next_working_moment(sh(2026, 3, 16, 12)) == sh(2026, 3, 16, 14)  # 12:00 is lunch
    assert cal.next_working_moment(sh(2026, 3, 13, 18)) == sh(2026, 3, 16, 8)  # Fri 18:00 -> Mon
    assert cal.next_working_moment(sh(2026, 10, 1, 9)) == sh(2026, 10, 8, 8)  # National Day


def test_national_day_2026(cal: WorkCalendar) -> None:
    # Wed 09-30 17:00 + 2 h: 17–18 (1 h), 10-01..10-07 off, Thu 10-08 08–09 -> 10-08 09:00.
    assert cal.add_working_seconds(sh(2026, 9, 30, 17), 2 * H) == sh(2026, 10, 8, 9)


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    # Fri 02-13 17:00 + 2 h -> Sat 02-14 09:00: that Saturday is an adjusted working day.
    assert cal.add_working_seconds(sh(2026, 2, 13, 17), 2 * H) == sh(2026, 2, 14, 9)
    # Sat 02-14 17:00 + 2 h: 17–18, then 02-15..02-23 off -> Tue 02-24 09:00.
    assert cal.add_working_seconds(sh(2026, 2, 14, 17), 2 * H) == sh(2026, 2, 24, 9)


def test_adjusted_working_sunday(cal: WorkCalendar) -> None:
    # Sat 2026-09-19 is off, Sun 09-20 is an adjusted working day: Sat 10:00 + 1 h -> Sun 09:00.
    assert cal.add_working_seconds(sh(2026, 9, 19, 10), H) == sh(2026, 9, 20, 9)
    # Fri 10-09 17:00 + 2 h -> Sat 10-10 09:00 (adjusted working Saturday after National Day).
    assert cal.add_working_seconds(sh(2026, 10, 9, 17), 2 * H) == sh(2026, 10, 10, 9)


def test_into_2027_and_the_override(cal: WorkCalendar) -> None:
    # Thu 2026-12-31 17:00 + 2 h: 17–18, then Fri 2027-01-01 (Mon–Fri fallback) 08–09.
    assert cal.add_working_seconds(sh(2026, 12, 31, 17), 2 * H) == sh(2027, 1, 1, 9)
    # With 2027-01-01 overridden as a holiday: skip Fri, Sat, Sun -> Mon 01-04 09:00.
    holiday = WorkCalendar({date(2027, 1, 1): False})
    assert holiday.add_working_seconds(sh(2026, 12, 31, 17), 2 * H) == sh(2027, 1, 4, 9)


def test_whole_days_land_at_the_same_time_of_day(cal: WorkCalendar) -> None:
    # Exactly 8 h from Mon 10:00: 10–12 (2), 14–18 (4), Tue 08–10 (2) -> Tue 10:00.
    assert cal.add_working_seconds(sh(2026, 3, 16, 10), 8 * H) == sh(2026, 3, 17, 10)
    # Exactly 2 days from Mon 18:00 (after work): Tue and Wed in full -> Wed 18:00.
    assert cal.add_working_seconds(sh(2026, 3, 16, 18), 2 * WORKING_DAY_SECONDS) == sh(2026, 3, 18, 18)


def test_fractional_seconds_kept_to_the_microsecond(cal: WorkCalendar) -> None:
    assert cal.add_working_seconds(sh(2026, 3, 16, 9), 0.25) == sh(2026, 3, 16, 9, 0, 0, 250000)


def test_long_span_matches_counted_days(cal: WorkCalendar) -> None:
    # 248 working days in 2026 (chinese_calendar), 261 Mon–Fri days in 2027 (fallback).
    days_2026 = len(chinese_calendar.get_workdays(date(2026, 1, 1), date(2026, 12, 31)))
    assert days_2026 == 248
    assert cal.working_seconds_between(sh(2026, 1, 1), sh(2027, 1, 1)) == 248 * WORKING_DAY_SECONDS
    assert cal.working_seconds_between(sh(2027, 1, 1), sh(2028, 1, 1)) == 261 * WORKING_DAY_SECONDS
    # Adding a whole year's working time from New Year's Eve 18:00 ends at the last day's 18:00:
    # the 248th working day of 2026 is Thu 12-31.
    assert cal.add_working_seconds(sh(2025, 12, 31, 18), 248 * WORKING_DAY_SECONDS) == sh(2026, 12, 31, 18)


# -- measuring working time --------------------------------------------------------------------


def test_working_seconds_between_within_a_day(cal: WorkCalendar) -> None:
    # Mon 09:30 -> 15:15: 09:30–12 (2.5 h) + 14–15:15 (1.25 h) = 3.75 h.
    assert cal.working_seconds_between(sh(2026, 3, 16, 9, 30), sh(2026, 3, 16, 15, 15)) == 3.75 * H
    assert cal.working_seconds_between(sh(2026, 3, 16, 12), sh(2026, 3, 16, 14)) == 0  # lunch
    assert cal.working_seconds_between(sh(2026, 3, 16, 15), sh(2026, 3, 16, 9)) == 0  # reversed


def test_working_seconds_between_across_holiday(cal: WorkCalendar) -> None:
    # Wed 09-30 16:00 -> Thu 10-08 10:00: 2 h + nothing for 7 days + 2 h = 4 h.
    assert cal.working_seconds_between(sh(2026, 9, 30, 16), sh(2026, 10, 8, 10)) == 4 * H


def test_is_working_time(cal: WorkCalendar) -> None:
    assert cal.is_working_time(sh(2026, 3, 16, 8))
    assert not cal.is_working_time(sh(2026, 3, 16, 12))
    assert not cal.is_working_time(sh(2026, 3, 14, 10))  # Saturday
    assert cal.is_working_time(sh(2026, 2, 14, 10))  # adjusted working Saturday


def test_rejects_naive_and_negative(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_seconds(datetime(2026, 3, 16, 9), H)
    with pytest.raises(ValueError, match=">= 0"):
        cal.add_working_seconds(sh(2026, 3, 16, 9), -1)
    with pytest.raises(ValueError, match="range"):
        cal.add_working_seconds(sh(2026, 3, 16, 9), 1e13)  # ~4 million working days

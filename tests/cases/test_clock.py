"""The SLA clock: deadlines, warnings, used time and parking (挂账) pauses.

Expected instants are worked out by hand in the comments (Shanghai local time; the working
periods are 08:00–12:00 and 14:00–18:00; one working day is 8 working hours).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.cases.clock import (
    InvalidTimeLimit,
    TimeLimit,
    deadline,
    elapsed,
    resume_deadline,
    used_fraction,
    warn_at,
)
from cityops.errors import Invalid
from cityops.kit.workcal import WorkCalendar

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a dev extra
    given = None  # type: ignore[assignment]

SH = ZoneInfo("Asia/Shanghai")
H = 3600


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# -- TimeLimit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("working_hours", 0, "greater than 0"),
        ("working_days", -1, "greater than 0"),
        ("emergency", float("nan"), "finite number"),
        ("working_hours", float("inf"), "finite number"),
        ("working_hours", True, "must be a number"),
        ("working_hours", "2", "must be a number"),
        ("weekly", 1, "kind must be one of emergency, working_hours, working_days"),
    ],
)
def test_invalid_time_limit(kind: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        TimeLimit(kind, value)  # type: ignore[arg-type]
    # Also a domain error, so the web layer renders it as 422 with a Chinese message.
    assert isinstance(info.value, Invalid)
    assert info.value.status == 422
    assert " / " in info.value.message


def test_time_limit_seconds() -> None:
    assert TimeLimit("working_hours", 0.5).seconds == 1800
    assert TimeLimit("working_days", 1).seconds == 8 * H  # one working day = 8 working hours
    assert TimeLimit("emergency", 2).seconds == 2 * H


# -- deadline ----------------------------------------------------------------------------------


def test_deadline_across_weekend_is_utc(cal: WorkCalendar) -> None:
    # Fri 2026-03-13 17:00 + 2 working hours -> Mon 03-16 09:00 Shanghai = 01:00 UTC.
    due = deadline(sh(2026, 3, 13, 17), TimeLimit("working_hours", 2), cal)
    assert due == datetime(2026, 3, 16, 1, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_deadline_accepts_utc_start(cal: WorkCalendar) -> None:
    # 2026-03-16 02:00 UTC = 10:00 Shanghai; + 0.5 h -> 10:30 Shanghai.
    start = datetime(2026, 3, 16, 2, tzinfo=UTC)
    assert deadline(start, TimeLimit("working_hours", 0.5), cal) == sh(2026, 3, 16, 10, 30)


def test_deadline_starting_after_hours(cal: WorkCalendar) -> None:
    # Dispatched Mon 20:30 -> clock starts Tue 08:00; 4 h -> Tue 12:00.
    assert deadline(sh(2026, 3, 16, 20, 30), TimeLimit("working_hours", 4), cal) == sh(2026, 3, 17, 12)


def test_working_days_limit(cal: WorkCalendar) -> None:
    # 1 working day from Mon 10:00 = 8 h -> Tue 10:00.
    assert deadline(sh(2026, 3, 16, 10), TimeLimit("working_days", 1), cal) == sh(2026, 3, 17, 10)
    # 3 working days from Wed 03-18 10:00: Thu, Fri, (weekend), Mon -> Mon 03-23 10:00.
    assert deadline(sh(2026, 3, 18, 10), TimeLimit("working_days", 3), cal) == sh(2026, 3, 23, 10)
    # Half a working day = 4 h from Mon 10:00: 10–12 (2), 14–16 (2) -> 16:00.
    assert deadline(sh(2026, 3, 16, 10), TimeLimit("working_days", 0.5), cal) == sh(2026, 3, 16, 16)


def test_working_days_over_national_day(cal: WorkCalendar) -> None:
    # 5 working days from Tue 09-29 10:00: Wed 09-30, (10-01..07 off), Thu 10-08, Fri 10-09,
    # Sat 10-10 (adjusted working day), (Sun off), Mon 10-12 -> Mon 10-12 10:00.
    assert deadline(sh(2026, 9, 29, 10), TimeLimit("working_days", 5), cal) == sh(2026, 10, 12, 10)


def test_emergency_runs_through_midnight_and_holidays(cal: WorkCalendar) -> None:
    # National Day 22:00 + 4 continuous hours -> 10-02 02:00, holiday or not.
    assert deadline(sh(2026, 10, 1, 22), TimeLimit("emergency", 4), cal) == sh(2026, 10, 2, 2)
    # An emergency clock does not wait for working time: 0.5 h from Sat 03:10 -> 03:40.
    assert deadline(sh(2026, 3, 14, 3, 10), TimeLimit("emergency", 0.5), cal) == sh(2026, 3, 14, 3, 40)


def test_deadline_into_2027(cal: WorkCalendar) -> None:
    # 2 working days from Thu 2026-12-31 10:00: Fri 2027-01-01 (Mon–Fri fallback), then Mon 01-04.
    limit = TimeLimit("working_days", 2)
    assert deadline(sh(2026, 12, 31, 10), limit, cal) == sh(2027, 1, 4, 10)
    # Once admins mark 2027-01-01 as a holiday, Fri drops out: Mon 01-04, Tue 01-05 -> Tue 10:00.
    holiday = WorkCalendar({date(2027, 1, 1): False})
    assert deadline(sh(2026, 12, 31, 10), limit, holiday) == sh(2027, 1, 5, 10)


def test_deadline_rejects_naive_start(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(datetime(2026, 3, 16, 9), TimeLimit("emergency", 1), cal)


# -- warn_at -----------------------------------------------------------------------------------


def test_warn_at_eighty_percent(cal: WorkCalendar) -> None:
    # 10 working hours from Mon 09:00: 80 % = 8 h -> Mon 09–12 (3), 14–18 (4), Tue 08–09 (1).
    limit = TimeLimit("working_hours", 10)
    assert warn_at(sh(2026, 3, 16, 9), limit, cal) == sh(2026, 3, 17, 9)
    # ... and the deadline is 2 h later: Tue 11:00.
    assert deadline(sh(2026, 3, 16, 9), limit, cal) == sh(2026, 3, 17, 11)
    # Emergency 10 h from 20:00: 80 % = 8 h -> 04:00 next day.
    assert warn_at(sh(2026, 3, 16, 20), TimeLimit("emergency", 10), cal) == sh(2026, 3, 17, 4)
    # A custom fraction: half of 10 h from Mon 09:00 = 5 h -> 09–12 (3), 14–16 (2) -> 16:00.
    assert warn_at(sh(2026, 3, 16, 9), limit, cal, fraction=0.5) == sh(2026, 3, 16, 16)


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_warn_at_rejects_bad_fraction(cal: WorkCalendar, fraction: float) -> None:
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        warn_at(sh(2026, 3, 16, 9), TimeLimit("working_hours", 1), cal, fraction=fraction)


# -- elapsed and used_fraction -----------------------------------------------------------------


def test_elapsed_working_and_emergency(cal: WorkCalendar) -> None:
    # Fri 2026-03-13 16:00 -> Mon 03-16 10:00: Fri 16–18 (2) + Mon 08–10 (2) = 4 working hours.
    a, b = sh(2026, 3, 13, 16), sh(2026, 3, 16, 10)
    assert elapsed(a, b, "working_hours", cal) == timedelta(hours=4)
    assert elapsed(a, b, "working_days", cal) == timedelta(hours=4)  # same clock, other unit
    assert elapsed(a, b, "emergency", cal) == timedelta(hours=66)  # wall time
    assert elapsed(b, a, "working_hours", cal) == timedelta(0)


def test_elapsed_with_paused_intervals(cal: WorkCalendar) -> None:
    # Mon 03-16 09:00 -> Wed 03-18 12:00 is 3 + 4 + 8 + 4 = 19 working hours.
    start, end = sh(2026, 3, 16, 9), sh(2026, 3, 18, 12)
    assert elapsed(start, end, "working_hours", cal) == timedelta(hours=19)
    paused = [
        (sh(2026, 3, 16, 15), sh(2026, 3, 17, 10)),  # Mon 15–18 (3) + Tue 08–10 (2) = 5 h
        (sh(2026, 3, 17, 9), sh(2026, 3, 17, 11)),  # overlaps the first: only Tue 10–11 is new
        (sh(2026, 3, 18, 11), sh(2026, 3, 19, 9)),  # sticks out of the range: only Wed 11–12
        (sh(2026, 3, 20, 9), sh(2026, 3, 20, 10)),  # entirely after end: ignored
    ]
    # Paused working time = 5 + 1 + 1 = 7 h -> 19 - 7 = 12 h.
    assert elapsed(start, end, "working_hours", cal, paused) == timedelta(hours=12)
    # Emergency: wall 51 h; paused wall = Mon 15:00–Tue 11:00 (20 h) + Wed 11–12 (1 h) -> 30 h.
    assert elapsed(start, end, "emergency", cal, paused) == timedelta(hours=30)


def test_used_fraction(cal: WorkCalendar) -> None:
    limit = TimeLimit("working_days", 1)  # 8 h
    start = sh(2026, 3, 16, 9)
    # Mon 09:00 -> 15:00 is 09–12 (3) + 14–15 (1) = 4 h of 8 -> 0.5.
    assert used_fraction(start, sh(2026, 3, 16, 15), limit, cal) == 0.5
    # Parked Mon 14:00–Tue 14:00 (4 + 4 = 8 h paused): at Tue 16:00 used is 3 + 2 = 5 h.
    paused = [(sh(2026, 3, 16, 14), sh(2026, 3, 17, 14))]
    assert used_fraction(start, sh(2026, 3, 17, 16), limit, cal, paused) == 5 / 8
    # Overdue reads above 1: Mon 09:00 -> Wed 09:00 is 7 + 8 + 1 = 16 h -> 2.0.
    assert used_fraction(start, sh(2026, 3, 18, 9), limit, cal) == 2.0


# -- parking and resume_deadline ---------------------------------------------------------------


def test_resume_deadline_working_hours(cal: WorkCalendar) -> None:
    # Dispatched Mon 03-16 09:00 with 16 working hours: Mon 7 h, Tue 8 h, Wed 08–09 -> Wed 09:00.
    start, limit = sh(2026, 3, 16, 9), TimeLimit("working_hours", 16)
    old = deadline(start, limit, cal)
    assert old == sh(2026, 3, 18, 9)
    # Parked Mon 16:00 after 5 h used (09–12, 14–16): 11 h remain.
    # Resumed Thu 03-19 10:00: Thu 10–12 (2), 14–18 (4), Fri 08–12 (4), 14–15 (1) -> Fri 15:00.
    paused_from, resumed_at = sh(2026, 3, 16, 16), sh(2026, 3, 19, 10)
    new = resume_deadline(old, paused_from, resumed_at, "working_hours", cal)
    assert new == sh(2026, 3, 20, 15)
    # Consistency: at the new deadline exactly the whole limit is used, pause excluded.
    assert used_fraction(start, new, limit, cal, [(paused_from, resumed_at)]) == 1.0


def test_resume_deadline_over_a_holiday(cal: WorkCalendar) -> None:
    # Deadline Wed 09-30 17:00, parked Wed 09-30 15:00 (2 h left), resumed Thu 10-01 (holiday)
    # 09:00: the clock restarts Thu 10-08 08:00 -> 10:00.
    new = resume_deadline(sh(2026, 9, 30, 17), sh(2026, 9, 30, 15), sh(2026, 10, 1, 9), "working_days", cal)
    assert new == sh(2026, 10, 8, 10)


def test_resume_deadline_emergency(cal: WorkCalendar) -> None:
    # 4 h emergency from 22:00 is due 02:00; parked at 23:00 (3 h left) until 07:30 -> 10:30.
    new = resume_deadline(sh(2026, 3, 17, 2), sh(2026, 3, 16, 23), sh(2026, 3, 17, 7, 30), "emergency", cal)
    assert new == sh(2026, 3, 17, 10, 30)


def test_resume_deadline_when_already_overdue(cal: WorkCalendar) -> None:
    # Due Mon 10:00, parked Mon 11:00: already late, the deadline stays where it was.
    old = sh(2026, 3, 16, 10)
    assert resume_deadline(old, sh(2026, 3, 16, 11), sh(2026, 3, 18, 9), "working_hours", cal) == old


def test_resume_deadline_validates(cal: WorkCalendar) -> None:
    with pytest.raises(InvalidTimeLimit, match="resumed_at must not be before paused_from"):
        resume_deadline(sh(2026, 3, 18, 9), sh(2026, 3, 17, 9), sh(2026, 3, 16, 9), "working_hours", cal)
    with pytest.raises(ValueError, match="kind must be one of"):
        resume_deadline(sh(2026, 3, 18, 9), sh(2026, 3, 16, 9), sh(2026, 3, 17, 9), "days", cal)  # type: ignore[arg-type]


# -- properties --------------------------------------------------------------------------------

if given is not None:
    _starts = st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    )
    _limits = st.one_of(
        st.builds(TimeLimit, st.just("working_hours"), st.floats(min_value=0.001, max_value=2000)),
        st.builds(TimeLimit, st.just("working_days"), st.integers(min_value=1, max_value=250)),
    )

    @settings(max_examples=300, deadline=None)
    @given(start=_starts, limit=_limits)
    def test_property_deadline_measures_back_to_the_limit(start: datetime, limit: TimeLimit) -> None:
        cal = WorkCalendar({date(2027, 1, 1): False, date(2027, 10, 1): False})
        due = deadline(start, limit, cal)
        normalised = cal.next_working_moment(start)
        assert cal.is_working_time(normalised)
        # Exact to the microsecond: the calendar does integer microsecond arithmetic.
        expected_us = round(limit.seconds * 1_000_000)
        assert cal.working_microseconds_between(normalised, due) == expected_us
        assert cal.working_seconds_between(start, due) == pytest.approx(limit.seconds, abs=1e-6)
        # And the warning comes before the deadline, never after.
        assert normalised <= warn_at(start, limit, cal) <= due

    @settings(max_examples=200, deadline=None)
    @given(
        start=_starts,
        limit=_limits,
        park=st.floats(min_value=0, max_value=1),
        length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
    )
    def test_property_resume_keeps_the_total(
        start: datetime, limit: TimeLimit, park: float, length: timedelta
    ) -> None:
        # Park somewhere before the deadline, resume later: at the new deadline the used time,
        # pause excluded, is exactly the limit again.
        cal = WorkCalendar()
        old = deadline(start, limit, cal)
        paused_from = start + (old - start) * park
        resumed_at = paused_from + length
        new = resume_deadline(old, paused_from, resumed_at, limit.kind, cal)
        assert new >= old or length == timedelta(0) or paused_from >= old
        used = elapsed(start, new, limit.kind, cal, [(paused_from, resumed_at)])
        if paused_from < old:
            assert used == timedelta(microseconds=round(limit.seconds * 1_000_000))

else:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_property_deadline_measures_back_to_the_limit() -> None:
        pass

"""The SLA clock: deadlines, warnings and used time for a case's time limit.

Pure functions over a :class:`~cityops.kit.workcal.WorkCalendar`; no database. A time limit has a
kind:

* ``emergency`` — continuous hours, the clock runs 24/7 including nights and holidays;
* ``working_hours`` — hours of working time (08:00–12:00, 14:00–18:00 on working days);
* ``working_days`` — working days of eight working hours each, counted like working hours.

The clock starts at dispatch and pauses while a case is parked (挂账). Every instant in and out
is an aware datetime; results are aware UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from cityops.errors import Invalid
from cityops.kit.workcal import WORKING_DAY_SECONDS, WorkCalendar

__all__ = [
    "InvalidTimeLimit",
    "LimitKind",
    "TimeLimit",
    "deadline",
    "elapsed",
    "resume_deadline",
    "used_fraction",
    "warn_at",
]

LimitKind = Literal["emergency", "working_hours", "working_days"]
_KINDS: tuple[str, ...] = get_args(LimitKind)
_US = 1_000_000


class InvalidTimeLimit(Invalid, ValueError):
    """A time limit or clock argument is wrong.

    Both an :class:`~cityops.errors.Invalid` (so the web layer answers 422 with the bilingual
    message) and a ``ValueError`` (so plain Python callers can catch what they expect).
    """


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise InvalidTimeLimit(
            f"时限类型必须是 {', '.join(_KINDS)} 之一，收到 {kind!r}",
            f"time limit kind must be one of {', '.join(_KINDS)}, got {kind!r}",
            details={"field": "kind"},
        )


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTimeLimit(
            f"{name} 必须是带时区的时间", f"{name} must be a timezone-aware datetime", details={"field": name}
        )


@dataclass(frozen=True)
class TimeLimit:
    """How long a case may take: ``value`` hours (emergency, working_hours) or working days.

    Hours may be fractional (0.5 = 30 minutes); a working day is eight working hours.
    """

    kind: LimitKind
    value: float

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        # bool is an int subclass; True as "1 hour" is almost certainly a bug upstream.
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise InvalidTimeLimit(
                f"时限值必须是数字，收到 {self.value!r}",
                f"time limit value must be a number, got {self.value!r}",
                details={"field": "value"},
            )
        if not math.isfinite(self.value) or self.value <= 0:
            raise InvalidTimeLimit(
                f"时限值必须是大于 0 的有限数，收到 {self.value!r}",
                f"time limit value must be a finite number greater than 0, got {self.value!r}",
                details={"field": "value"},
            )

    @property
    def seconds(self) -> float:
        """The allowed time in counted seconds (wall seconds for emergency, else working)."""
        if self.kind == "working_days":
            return self.value * WORKING_DAY_SECONDS
        return self.value * 3600.0


def _counted_us(a: datetime, b: datetime, kind: str, cal: WorkCalendar) -> int:
    """Counted microseconds in ``[a, b)`` on the clock of ``kind`` (0 when ``b <= a``)."""
    if b <= a:
        return 0
    if kind == "emergency":
        return (b - a) // timedelta(microseconds=1)
    return cal.working_microseconds_between(a, b)


def _add(start: datetime, seconds: float, kind: str, cal: WorkCalendar) -> datetime:
    """``start`` plus ``seconds`` of counted time on the clock of ``kind`` (aware UTC)."""
    if kind == "emergency":
        return start.astimezone(UTC) + timedelta(microseconds=round(seconds * _US))
    return cal.add_working_seconds(start, seconds)


def deadline(start: datetime, limit: TimeLimit, cal: WorkCalendar) -> datetime:
    """When the time limit runs out for a clock started at ``start`` (aware UTC).

    For working kinds a start outside working time counts from the next working moment; an
    emergency clock runs from ``start`` itself.
    """
    _check_aware(start, "start")
    return _add(start, limit.seconds, limit.kind, cal)


def warn_at(start: datetime, limit: TimeLimit, cal: WorkCalendar, fraction: float = 0.8) -> datetime:
    """The instant when ``fraction`` (default 80 %) of the allowed time is used (aware UTC).

    After a park, shift the warning like the deadline: ``resume_deadline(old_warn_at, ...)``.
    """
    _check_aware(start, "start")
    if not (isinstance(fraction, int | float) and 0 < fraction <= 1):
        raise InvalidTimeLimit(
            f"预警比例必须在 (0, 1] 之间，收到 {fraction!r}",
            f"warning fraction must be in (0, 1], got {fraction!r}",
            details={"field": "fraction"},
        )
    return _add(start, limit.seconds * fraction, limit.kind, cal)


def _merge(
    paused: Sequence[tuple[datetime, datetime]], lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """Paused intervals clipped to ``[lo, hi]``, sorted and merged so none is counted twice."""
    clipped: list[tuple[datetime, datetime]] = []
    for p_from, p_to in paused:
        _check_aware(p_from, "paused_from")
        _check_aware(p_to, "paused_to")
        a, b = max(p_from, lo), min(p_to, hi)
        if b > a:
            clipped.append((a, b))
    clipped.sort()
    merged: list[tuple[datetime, datetime]] = []
    for a, b in clipped:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def elapsed(
    start: datetime,
    end: datetime,
    limit_kind: LimitKind,
    cal: WorkCalendar,
    paused: Sequence[tuple[datetime, datetime]] = (),
) -> timedelta:
    """Counted time between ``start`` and ``end``, minus the ``paused`` (parked) intervals.

    Working seconds for working kinds, wall seconds for emergency; zero when ``end <= start``.
    Paused intervals may overlap or stick out of ``[start, end]``; a case parked right now is
    passed as ``(parked_at, now)``.
    """
    _check_kind(limit_kind)
    _check_aware(start, "start")
    _check_aware(end, "end")
    total = _counted_us(start, end, limit_kind, cal)
    for a, b in _merge(paused, start, end):
        total -= _counted_us(a, b, limit_kind, cal)
    return timedelta(microseconds=total)


def used_fraction(
    start: datetime,
    now: datetime,
    limit: TimeLimit,
    cal: WorkCalendar,
    paused: Sequence[tuple[datetime, datetime]] = (),
) -> float:
    """The share of the allowed time used by ``now`` (1.0 = due; above 1.0 = overdue)."""
    used = elapsed(start, now, limit.kind, cal, paused)
    return used.total_seconds() / limit.seconds


def resume_deadline(
    old_deadline: datetime,
    paused_from: datetime,
    resumed_at: datetime,
    limit_kind: LimitKind,
    cal: WorkCalendar,
) -> datetime:
    """The deadline after a park (挂账) from ``paused_from`` to ``resumed_at`` (aware UTC).

    The counted time that was left when the case was parked (``paused_from`` → ``old_deadline``)
    is given back from ``resumed_at`` on the same clock. A case that was already overdue when
    parked keeps its old deadline: parking does not forgive lateness.
    """
    _check_kind(limit_kind)
    _check_aware(old_deadline, "old_deadline")
    _check_aware(paused_from, "paused_from")
    _check_aware(resumed_at, "resumed_at")
    if resumed_at < paused_from:
        raise InvalidTimeLimit(
            "恢复时间不能早于挂账时间",
            "resumed_at must not be before paused_from",
            details={"field": "resumed_at"},
        )
    if old_deadline <= paused_from:
        return old_deadline.astimezone(UTC)
    remaining_us = _counted_us(paused_from, old_deadline, limit_kind, cal)
    return _add(resumed_at, remaining_us / _US, limit_kind, cal)

"""How fast is a deadline? The calendar's day-skipping arithmetic vs. a minute-stepping baseline.

Prints one JSON line per figure. Run: ``.venv/bin/python benchmarks/bench_clock.py``.
The baseline walks the clock one minute at a time (what a first attempt usually does); it is
measured in the same run on fewer samples so the ratio is fair on this machine.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cityops.cases.clock import TimeLimit, deadline
from cityops.kit.workcal import WorkCalendar

LIMIT = TimeLimit("working_days", 5)
FAST_SAMPLES = 20_000
NAIVE_SAMPLES = 100


def _starts(n: int, seed: int) -> list[datetime]:
    """Random dispatch instants over 2026 (chinese_calendar data) and 2027 (fallback)."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    span = int(timedelta(days=730).total_seconds())
    return [base + timedelta(seconds=rng.randrange(span)) for _ in range(n)]


def naive_deadline(start: datetime, limit: TimeLimit, cal: WorkCalendar) -> datetime:
    """Step one minute at a time, counting the minutes that are working time."""
    needed = round(limit.seconds / 60)
    t = start.replace(second=0, microsecond=0)
    step = timedelta(minutes=1)
    while needed > 0:
        if cal.is_working_time(t):
            needed -= 1
        t += step
    return t


def _rate(
    fn: Callable[[datetime, TimeLimit, WorkCalendar], datetime], starts: list[datetime], cal: WorkCalendar
) -> float:
    t0 = time.perf_counter()
    for s in starts:
        fn(s, LIMIT, cal)
    return len(starts) / (time.perf_counter() - t0)


def main() -> None:
    cal = WorkCalendar()
    # Warm the per-year tables once, as a long-running server would have them.
    cal.working_seconds_between(datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 12, 31, tzinfo=UTC))

    fast_starts = _starts(FAST_SAMPLES, seed=1)
    naive_starts = _starts(NAIVE_SAMPLES, seed=2)
    # Both agree (the baseline works at minute resolution, so use whole-minute starts).
    for s in naive_starts[:20]:
        s = s.replace(second=0, microsecond=0)
        assert naive_deadline(s, LIMIT, cal) == deadline(s, LIMIT, cal), s

    fast = _rate(deadline, fast_starts, cal)
    naive = _rate(naive_deadline, naive_starts, cal)
    common = {"limit": "5 working days", "unit": "deadlines/s"}
    print(
        json.dumps(
            {
                "figure": "deadline_rate",
                "impl": "workcal",
                "samples": FAST_SAMPLES,
                "value": round(fast),
                **common,
            }
        )
    )
    print(
        json.dumps(
            {
                "figure": "deadline_rate",
                "impl": "minute_stepping",
                "samples": NAIVE_SAMPLES,
                "value": round(naive, 1),
                **common,
            }
        )
    )
    print(json.dumps({"figure": "speedup", "value": round(fast / naive, 1), "unit": "x"}))


if __name__ == "__main__":
    main()

"""Times typed by people: a date or a time without a zone means Asia/Shanghai.

Query parameters such as ``created_from=2026-12-01`` come from people and from spreadsheets that
know nothing of time zones. Comparing such a naive value with the aware UTC times in the
database raises, so every time a request carries goes through :data:`LocalDateTime`: a date is
local midnight, a naive time is local time, a time with an offset keeps it, and the result is
always aware UTC. A value that cannot be converted (year 1 minus eight hours) is a 422, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

from cityops.kit.workcal import LOCAL_TZ


def assume_local(value: datetime) -> datetime:
    """``value`` as aware UTC, reading a naive value as Asia/Shanghai local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("time out of range / 时间超出范围") from None


# pydantic already accepts "2026-12-01" (midnight) and "2026-12-01T08:00" for a datetime.
LocalDateTime = Annotated[datetime, AfterValidator(assume_local)]

# For the OpenAPI description of every time query parameter.
TIME_HELP = "a date (2026-12-01) or a time; without an offset it is Asia/Shanghai local time"

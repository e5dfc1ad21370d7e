"""Worker job of indicators: compute the current period's values for the district and its streets."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.config import get_settings
from cityops.evaluation import periods
from cityops.indicators import service


def compute_indicators(session: Session, now: datetime) -> dict[str, Any]:
    """District and street values of every active indicator for the period containing today.

    Communities and grids are computed on demand (the API's ``area=``) and by the demo's
    backfill: a minute-by-minute rewrite of ~2,000 areas × 60 indicators would be waste.
    """
    district = get_settings().district_code
    day = periods.today(now)
    written = service.compute(session, level="district", day=day, district=district, now=now)
    written += service.compute(session, level="street", day=day, district=district, now=now)
    return {"written": written}

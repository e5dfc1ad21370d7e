"""Background jobs of triage: the surge sweep over the case store (counts from the cases service)
and the scheduled retraining of the routing model.

``surge_sweep(session, now)`` is the worker's ``surge_sweep`` job (hourly, see ``cityops.worker``);
``retrain_routing(session, now)`` is ``triage_retrain`` (``CITYOPS_TRIAGE_RETRAIN_INTERVAL_SECONDS``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cityops.safety.service import raise_warning
from cityops.triage.surge import detect

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


def _counts(
    session: Session, since: datetime, until: datetime, district_code: str
) -> dict[tuple[str, str], int]:
    """Cases per (category, street) and per (category, district) created in [since, until)."""
    from cityops.cases import service as cases

    counts: dict[tuple[str, str], int] = {}
    for (category, street), n in cases.counts_by_category_street(session, since, until).items():
        for area in (street, district_code):
            if area:
                counts[(category, area)] = counts.get((category, area), 0) + n
    return counts


def surge_sweep(
    session: Session,
    now: datetime,
    *,
    weeks: int = 8,
    windows: tuple[str, ...] = ("24h", "7d"),
    district_code: str | None = None,
    min_observed: int = 5,
) -> list[dict[str, Any]]:
    """Compare the last 24 h / 7 days with the same windows of the previous ``weeks`` weeks.

    Raises (or refreshes) one warning per window, category, area and local day: the dedup key
    holds the window's end date, so an hourly sweep does not repeat itself.
    """
    if district_code is None:
        from cityops.config import get_settings

        district_code = get_settings().district_code
    raised: list[dict[str, Any]] = []
    for name in windows:
        length = WINDOWS[name]
        current = _counts(session, now - length, now, district_code)
        history: dict[tuple[str, str], list[int]] = {cell: [] for cell in current}
        for w in range(1, weeks + 1):
            past = _counts(
                session, now - length - timedelta(weeks=w), now - timedelta(weeks=w), district_code
            )
            for cell in history:
                history[cell].append(past.get(cell, 0))
        for s in detect(current, history, min_observed=min_observed, window=name):
            s.evidence.update(window_start=(now - length).isoformat(), window_end=now.isoformat())
            title = (
                f"{s.area_code} 类别 {s.category_code} 近{'24小时' if name == '24h' else '7天'}案件激增："
                f"{s.observed} 件（常态 {s.expected:.1f}）"
            )
            warning, created = raise_warning(
                session,
                source="surge",
                kind=f"case_surge_{name}",
                level=s.level,
                title=title,
                dedup_key=f"surge:{name}:{s.category_code}:{s.area_code}:{now.date().isoformat()}",
                category_code=s.category_code,
                area_code=s.area_code,
                observed=s.observed,
                expected=s.expected,
                evidence=s.evidence,
                now=now,
            )
            raised.append({"id": str(warning.id), "created": created, "level": s.level, "window": name})
    return raised


def retrain_routing(session: Session, now: datetime) -> dict[str, Any] | None:
    """Train a routing model version when corrections or the knowledge base changed since the
    live one; it goes live only when it is not worse (``versions.train_version``)."""
    from cityops.triage import versions

    if not versions.retrain_due(session):
        return None
    row = versions.train_version(session, trigger="schedule")
    return {"version": row.version, "status": row.status}

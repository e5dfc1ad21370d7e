"""Worker jobs of intake: self-correction windows, camera re-checks, silent devices, telemetry
retention, telling reporters the outcome. Each takes ``now`` so tests can move time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.intake import merchants, recheck, telemetry
from cityops.intake.duplicates import inform_reporters
from cityops.intake.signals import file_pending

RETENTION_DAYS = 400  # a year of readings plus a margin, for year-on-year indicators


def windows(session: Session, now: datetime) -> dict[str, Any]:
    """Self-correction windows and re-checks (run every few seconds: the demo windows are 2 min)."""
    out: dict[str, Any] = {"cases_filed": file_pending(session, now)}
    out.update(merchants.sweep_windows(session, now))
    out.update(recheck.sweep_rechecks(session, now))
    out["reporters_informed"] = inform_reporters(session, now)
    return out


def sensors(session: Session, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = dict(telemetry.sweep_silence(session, now))
    out["closed"] = telemetry.close_finished(session, now)
    return out


def retention(session: Session, now: datetime) -> int:
    return telemetry.purge_readings(session, now, RETENTION_DAYS)

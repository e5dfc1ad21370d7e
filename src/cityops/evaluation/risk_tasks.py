"""Worker job: retrain the deadline-risk model from the handled history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.evaluation import risk_service


def train_risk_model(session: Session, now: datetime) -> dict[str, Any]:
    return risk_service.train_and_store(session, now)


def score_running_cases(session: Session, now: datetime) -> dict[str, Any]:
    return risk_service.score_all(session, now)

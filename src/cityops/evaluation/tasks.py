"""Worker jobs of evaluation: keep the facts and the daily summary in step with the case log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.cases import aggregates
from cityops.config import get_settings
from cityops.evaluation import summary
from cityops.evaluation.models import EvaluationSetting

WATERMARK = "watermark"


def _state(session: Session) -> EvaluationSetting | None:
    return session.get(EvaluationSetting, WATERMARK)


def refresh_evaluation(session: Session, now: datetime) -> dict[str, Any]:
    """Fold the case log's new rows (and deadlines that passed since the last run) into the summary.

    The first run builds everything from the cases. Later runs read the log after the stored
    watermark (its primary key), so a run costs what changed, not what exists.
    """
    district = get_settings().district_code
    state = _state(session)
    if state is None:
        mark = aggregates.last_log_id(session)
        built = summary.rebuild(session, district, now)
        session.add(
            EvaluationSetting(key=WATERMARK, value={"log_id": mark, "at": now.isoformat()}, updated_at=now)
        )
        return {"rebuilt": True, **built}
    log_id = int(state.value.get("log_id", 0))
    since = datetime.fromisoformat(state.value.get("at", now.isoformat()))
    changed, new_mark = aggregates.changed_case_ids(session, log_id)
    changed |= summary.due_between(session, since, now)
    days = summary.refresh(session, changed, district, now)
    state.value = {"log_id": new_mark, "at": now.isoformat()}
    state.updated_at = now
    return {"cases": len(changed), "days": days}


def rebuild_evaluation(session: Session, now: datetime) -> dict[str, Any]:
    """Throw the summary away and build it again from the cases."""
    state = _state(session)
    if state is not None:
        session.delete(state)
        session.flush()
    return refresh_evaluation(session, now)

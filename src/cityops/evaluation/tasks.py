"""Worker jobs of evaluation: keep the facts and the daily summary in step with the case log."""

from __future__ import annotations

import uuid
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


def summary_generation(session: Session) -> str | None:
    """A token that changes whenever the summary's rows change (a rebuild, or a refresh that
    folded in changed cases); None before the first build. Results computed from the summary
    may be kept under it (``service.evaluate`` does)."""
    state = _state(session)
    if state is None:
        return None
    return str(state.value.get("generation") or "") or None


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
        value = {"log_id": mark, "at": now.isoformat(), "generation": uuid.uuid4().hex}
        session.add(EvaluationSetting(key=WATERMARK, value=value, updated_at=now))
        return {"rebuilt": True, **built}
    log_id = int(state.value.get("log_id", 0))
    since = datetime.fromisoformat(state.value.get("at", now.isoformat()))
    changed, new_mark = aggregates.changed_case_ids(session, log_id)
    changed |= summary.due_between(session, since, now)
    days = summary.refresh(session, changed, district, now)
    # The generation moves only when rows may have changed: an idle run every five seconds must
    # not throw away the results kept under it.
    generation = uuid.uuid4().hex if changed else state.value.get("generation") or uuid.uuid4().hex
    state.value = {"log_id": new_mark, "at": now.isoformat(), "generation": generation}
    state.updated_at = now
    return {"cases": len(changed), "days": days}


def rebuild_evaluation(session: Session, now: datetime) -> dict[str, Any]:
    """Throw the summary away and build it again from the cases."""
    state = _state(session)
    if state is not None:
        session.delete(state)
        session.flush()
    return refresh_evaluation(session, now)

"""Score the running cases with the newest deadline-risk model, scoped to the caller."""

from __future__ import annotations

import pickle
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import DISTRICT_WIDE, Principal
from cityops.cases import aggregates
from cityops.db import utcnow
from cityops.errors import Forbidden
from cityops.evaluation import risk
from cityops.evaluation.models import RiskModelRecord

HISTORY_DAYS = 180
_cache: dict[tuple[str, int], risk.RiskModel] = {}
_lock = threading.Lock()


def train_and_store(session: Session, now: datetime) -> dict[str, Any]:
    """Train on the last 180 days of handled cases and keep the model (older ones are dropped)."""
    rows = aggregates.finished_for_risk(session, now - timedelta(days=HISTORY_DAYS), now)
    model = risk.train(rows, aggregates.calendar(session), now)
    if model is None:
        return {"trained": False, "rows": len(rows)}
    session.execute(delete(RiskModelRecord))
    record = RiskModelRecord(
        trained_at=now,
        n_train=model.n_train,
        base_rate=model.base_rate,
        blob=pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
    )
    session.add(record)
    session.flush()
    return {"trained": True, "rows": model.n_train, "base_rate": round(model.base_rate, 4)}


def current_model(session: Session) -> risk.RiskModel | None:
    """The newest stored model (unpickled once per process); trains one when there is none yet."""
    row = session.execute(select(RiskModelRecord.id).order_by(RiskModelRecord.id.desc()).limit(1)).first()
    if row is None:
        train_and_store(session, utcnow())
        row = session.execute(select(RiskModelRecord.id).order_by(RiskModelRecord.id.desc()).limit(1)).first()
        if row is None:
            return None
    key = (str(session.get_bind().engine.url), int(row.id))
    with _lock:
        if key not in _cache:
            blob = session.scalar(select(RiskModelRecord.blob).where(RiskModelRecord.id == row.id))
            # Only our own worker writes this column: the pickle is as trusted as the code.
            _cache.clear()
            assert blob is not None
            _cache[key] = pickle.loads(blob)
        return _cache[key]


def at_risk(
    session: Session, principal: Principal, *, limit: int = 100, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Running cases the caller may see, highest risk first, each with its reasons."""
    now = now or utcnow()
    if principal.role == "handler":
        if not principal.department_code:
            return []
        rows = aggregates.running_for_risk(session, department_code=principal.department_code)
    elif principal.area_code:
        rows = aggregates.running_for_risk(session, area_prefix=principal.area_code)
    elif principal.role in DISTRICT_WIDE:
        rows = aggregates.running_for_risk(session)
    else:
        raise Forbidden(
            "当前角色无权查看超期风险", "this role may not see deadline risk", code="role_not_allowed"
        )
    if not rows:
        return []
    model = current_model(session)
    cal = aggregates.calendar(session)
    loads = aggregates.open_counts_by_department(session)
    out: list[dict[str, Any]] = []
    pending, feats = [], []
    for r in rows:
        assert r.deadline is not None
        base = {
            "code": r.code,
            "deadline": r.deadline.isoformat(),
            "state": r.state,
            "category_code": r.category_code,
            "department_code": r.department_code,
            "street_code": r.street_code,
            "grid_code": r.grid_code,
        }
        if r.deadline <= now:
            out.append(
                {
                    **base,
                    "risk": 1.0,
                    "remaining_hours": 0.0,
                    "reasons": [{"feature": "overdue", "label": "已超期", "value": True, "weight": None}],
                }
            )
            continue
        x = risk.features(r, now, loads.get(r.department_code or "", 0), cal)
        pending.append(base)
        feats.append(x)
    if feats:
        probs = model.predict(feats) if model is not None else [None] * len(feats)
        for base, x, p in zip(pending, feats, probs, strict=True):
            out.append(
                {
                    **base,
                    "risk": round(float(p), 4) if p is not None else None,
                    "remaining_hours": round(x["_remaining"], 2),
                    "reasons": model.reasons(x) if model is not None else [],
                }
            )
    out.sort(key=lambda d: (-(d["risk"] if d["risk"] is not None else -1), d["deadline"]))
    return out[:limit]

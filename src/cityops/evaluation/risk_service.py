"""Score the running cases with the newest deadline-risk model, scoped to the caller."""

from __future__ import annotations

import pickle
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import DISTRICT_WIDE, Principal
from cityops.cases import aggregates
from cityops.db import utcnow
from cityops.errors import Forbidden
from cityops.evaluation import risk
from cityops.evaluation.models import RiskModelRecord, RiskScore

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


def score_all(session: Session, now: datetime) -> dict[str, Any]:
    """Score every running case and replace the stored scores (the worker does this every two minutes)."""
    rows = aggregates.running_for_risk(session)
    scored = _score(session, rows, now)
    session.execute(delete(RiskScore))
    for start in range(0, len(scored), 2000):
        session.execute(
            insert(RiskScore),
            [
                {
                    **{k: v for k, v in d.items() if k != "deadline"},
                    "deadline": d["deadline_at"],
                    "scored_at": now,
                }
                for d in scored[start : start + 2000]
            ],
        )
    return {"scored": len(scored)}


def _score(session: Session, rows: list[aggregates.RiskRow], now: datetime) -> list[dict[str, Any]]:
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
            "case_id": r.id,
            "code": r.code,
            "deadline_at": r.deadline,
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
    if feats and model is not None:
        probs = model.predict(feats)
        for base, x, p in zip(pending, feats, probs, strict=True):
            out.append(
                {
                    **base,
                    "risk": round(float(p), 4),
                    "remaining_hours": round(x["_remaining"], 2),
                    "reasons": model.reasons(x),
                }
            )
    return out


def _public(d: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in d.items() if k not in ("case_id", "deadline_at", "scored_at")}
    out["deadline"] = d["deadline_at"].isoformat()
    return out


def at_risk(
    session: Session,
    principal: Principal,
    *,
    limit: int = 100,
    now: datetime | None = None,
    upcoming_only: bool = False,
) -> list[dict[str, Any]]:
    """Running cases the caller may see, highest risk first, each with its reasons.

    Reads the worker's stored scores (one indexed query, fast at a million cases); before the
    worker's first scoring run it scores the caller's running cases itself.
    """
    now = now or utcnow()
    scope = _scope(principal)
    stmt = select(RiskScore).order_by(RiskScore.risk.desc(), RiskScore.deadline).limit(limit)
    if upcoming_only:  # not yet overdue: the ones a dispatcher can still save
        stmt = stmt.where(RiskScore.deadline > now)
    if scope[0] == "department":
        stmt = stmt.where(RiskScore.department_code == scope[1])
    elif scope[0] == "area":
        stmt = stmt.where(RiskScore.grid_code.startswith(scope[1]))
    stored = list(session.scalars(stmt))
    if stored or session.scalar(select(RiskScore.case_id).limit(1)) is not None:
        return [
            _public(
                {c.name: getattr(s, c.name) for c in RiskScore.__table__.columns}
                | {"deadline_at": s.deadline}
            )
            for s in stored
        ]
    if scope[0] == "department":
        rows = aggregates.running_for_risk(session, department_code=scope[1])
    elif scope[0] == "area":
        rows = aggregates.running_for_risk(session, area_prefix=scope[1])
    else:
        rows = aggregates.running_for_risk(session)
    scored = sorted(_score(session, rows, now), key=lambda d: (-d["risk"], d["deadline_at"]))
    if upcoming_only:
        scored = [d for d in scored if d["deadline_at"] > now]
    return [_public(d) for d in scored[:limit]]


def _scope(principal: Principal) -> tuple[str, str | None]:
    if principal.role == "handler":
        return ("department", principal.department_code or "\0none")
    if principal.area_code:
        return ("area", principal.area_code)
    if principal.role in DISTRICT_WIDE:
        return ("all", None)
    raise Forbidden(
        "当前角色无权查看超期风险", "this role may not see deadline risk", code="role_not_allowed"
    )

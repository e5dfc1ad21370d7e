"""Background jobs of the cases capability: the SLA sweep (warnings and overdue cases).

The sweep is set-based so tens of thousands of open cases cost a few statements per thousand:
one ``UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING …`` claims and
flags a batch, then the log rows, supervision items, audit records and outbox messages are
inserted in bulk. The guard columns (``overdue``, ``warned``) make each mark happen once even
when several workers sweep at the same time; on PostgreSQL ``SKIP LOCKED`` lets them share
the work instead of queueing behind each other. Bumping ``version`` makes a user action that
read the case before the sweep fail cleanly (409) rather than overwrite the mark.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.orm import Session

from cityops.accounts.principal import SYSTEM
from cityops.cases import external
from cityops.cases.models import Case, CaseLog, Supervision
from cityops.cases.transitions import CLOCK_STATES
from cityops.db import utcnow

# The notification topic of each mark (tests/outbox/test_titles.py reads this constant).
TOPICS = {"overdue": "case.overdue", "warning": "case.warning", "verify_overdue": "case.verify_overdue"}
BATCH = 1000
MAX_BATCHES = 100  # at most 100k marks per run; the next run picks up the rest


def _claim(session: Session, cond: ColumnElement[bool], order: Any, values: dict[str, Any]) -> list[Any]:
    sub = select(Case.id).where(cond).order_by(order).limit(BATCH)
    if session.get_bind().dialect.name == "postgresql":
        sub = sub.with_for_update(skip_locked=True)
    stmt = (
        update(Case)
        .where(Case.id.in_(sub), cond)
        .values(last_seq=Case.last_seq + 1, version=Case.version + 1, **values)
        .returning(
            Case.id,
            Case.code,
            Case.state,
            Case.department_code,
            Case.last_seq,
            Case.deadline,
            Case.grid_code,
            Case.community_code,
            Case.street_code,
            Case.verify_deadline,
        )
        .execution_options(synchronize_session=False)
    )
    return list(session.execute(stmt).all())


def _record(session: Session, rows: list[Any], kind: str, now: datetime) -> None:
    """Log rows, supervision items, audit records and notifications for one claimed batch.

    A late verification (``verify_overdue``) is the verifiers' delay, not the department's: it
    is told to dispatchers and inspectors and raises no supervision item against the department.
    """
    verify = kind == "verify_overdue"
    session.execute(
        insert(CaseLog),
        [
            {
                "case_id": r.id,
                "seq": r.last_seq,
                "at": now,
                "actor_id": SYSTEM.id,
                "actor_name": SYSTEM.username,
                "actor_role": "system",
                "action": kind,
                "from_state": r.state,
                "to_state": r.state,
                "note": None,
                "attachments": [],
                "data": {"deadline": _iso(r.verify_deadline if verify else r.deadline)},
            }
            for r in rows
        ],
    )
    if not verify:
        session.execute(
            insert(Supervision),
            [
                {"case_id": r.id, "kind": kind, "raised_at": now, "raised_by": None, "note": None}
                for r in rows
            ],
        )
    for r in rows:
        external.audit(session, SYSTEM, f"case.{kind}", str(r.id), {"code": r.code, "state": r.state})
        if verify:
            recipients = ["role:dispatcher", "role:inspector"]
        else:
            department = [f"department:{r.department_code}"] if r.department_code else []
            recipients = ["role:dispatcher", *department]
        deadline = _iso(r.verify_deadline if verify else r.deadline)
        area = r.grid_code or r.community_code or r.street_code
        payload = {"case_id": str(r.id), "code": r.code, "area_code": area, "deadline": deadline}
        external.notify(session, TOPICS[kind], payload, recipients)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def sweep_deadlines(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Mark cases overdue past their deadline and warn past ``warn_at``, each once.

    Only cases whose clock runs count (dispatched, accepted, rework); parked, returned,
    handled and finished cases are skipped. Handled cases past their verification deadline are
    marked ``verify_overdue`` once. Returns ``{"overdue": n, "warned": m, "verify_overdue": k}``.
    """
    now = now or utcnow()
    counts = {"overdue": 0, "warned": 0, "verify_overdue": 0}
    running = Case.state.in_(sorted(CLOCK_STATES))
    overdue_cond = running & Case.overdue.is_(False) & (Case.deadline <= now)
    # An overdue case is also past its warning time; it gets the overdue mark only.
    warn_cond = running & Case.warned.is_(False) & Case.overdue.is_(False) & (Case.warn_at <= now)
    verify_cond = (Case.state == "handled") & Case.verify_overdue.is_(False) & (Case.verify_deadline <= now)
    for kind, cond, order, values in (
        ("overdue", overdue_cond, Case.deadline, {"overdue": True, "overdue_at": now, "warned": True}),
        ("warning", warn_cond, Case.warn_at, {"warned": True}),
        ("verify_overdue", verify_cond, Case.verify_deadline, {"verify_overdue": True}),
    ):
        for _ in range(MAX_BATCHES):
            rows = _claim(session, cond, order, {**values, "updated_at": now})
            if not rows:
                break
            _record(session, rows, kind, now)
            counts[{"warning": "warned"}.get(kind, kind)] += len(rows)
            if len(rows) < BATCH:
                break
    session.flush()
    return counts


def index_search(session: Session, now: datetime) -> dict[str, int]:
    """Put new case descriptions into the full-text index (cases.search)."""
    from cityops.cases.search import index_pending

    return {"indexed": index_pending(session, now)}

"""Open signals (a camera's label × zone, a device's rule): the case they become, the list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from cityops.accounts.principal import DISTRICT_WIDE, Principal
from cityops.cases import service as cases
from cityops.cases.schemas import CaseCreate
from cityops.errors import Invalid, NotFound
from cityops.intake.models import OPEN_SIGNAL_STATES, Signal
from cityops.intake.principals import INTAKE
from cityops.intake.reports import file_and_dispatch

STAFF_ROLES = ("operator", "dispatcher", "leader", "admin", "inspector")


def file_case(session: Session, signal: Signal, description: str, *, now: datetime) -> Any:
    """Create, file and (when someone is responsible) dispatch the case of a signal."""
    if signal.lon is None or signal.lat is None or signal.category_code is None:
        raise Invalid("信号缺少位置或类别", "the signal has no position or category")
    data = CaseCreate(
        description=description,
        lon=signal.lon,
        lat=signal.lat,
        category_code=signal.category_code,
        source="camera" if signal.source == "camera" else "iot",
    )
    # The signal id is the idempotency key: a job run twice cannot file a second case.
    case = cases.create_case(session, INTAKE, data, idempotency_key=f"signal:{signal.id}", now=now)
    case = file_and_dispatch(
        session, case, f"{_source_zh(signal)}自动立案 / filed from {signal.source}", now=now
    )
    signal.case_id = case.id
    signal.case_code = case.code
    signal.state = "case_filed"
    signal.window_ends_at = None
    return case


def want_case(session: Session, signal: Any, description: str, *, now: datetime, inline: bool) -> Any:
    """File the signal's case now (``inline``) or mark it for the worker; the case or None.

    ``signal`` is a Signal or a :class:`live.LiveSignal` of the hot path.
    """
    if inline:
        from cityops.intake.live import to_orm

        row = to_orm(session, signal)
        case = file_case(session, row, description, now=now)
        signal.state, signal.case_code = row.state, row.case_code  # the caller's view stays right
        return case
    signal.state, signal.case_note, signal.dirty = "filing", description, True
    return None


def file_pending(session: Session, now: datetime, limit: int = 200) -> int:
    """The worker's half of :func:`want_case`: file the cases of signals marked "filing"."""
    due = session.scalars(
        select(Signal)
        .where(Signal.state == "filing")
        .order_by(Signal.first_seen)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for signal in due:
        file_case(session, signal, signal.case_note or signal.rule, now=now)
    return len(due)


def _source_zh(signal: Signal) -> str:
    return "城市眼" if signal.source == "camera" else "物联感知"


def scope_condition(principal: Principal) -> ColumnElement[bool]:
    """Signals a caller may see: district-wide staff all, area-scoped staff their area."""
    if principal.role not in STAFF_ROLES:
        return Signal.id.is_(None)  # nobody else (citizens, handlers) lists signals
    if principal.area_code:
        area = principal.area_code
        return or_(Signal.street_code == area, Signal.grid_code.startswith(area))
    if principal.role in DISTRICT_WIDE:
        return true()
    return Signal.id.is_(None)


def list_signals(
    session: Session,
    principal: Principal,
    *,
    source: str | None = None,
    state: str | None = None,
    limit: int = 200,
) -> list[Signal]:
    if source not in (None, "camera", "telemetry"):
        raise Invalid(
            "source 只能是 camera 或 telemetry",
            "source must be camera or telemetry",
            details={"field": "source"},
        )
    stmt = select(Signal).where(scope_condition(principal))
    if source:
        stmt = stmt.where(Signal.source == source)
    if state == "open":
        stmt = stmt.where(Signal.state.in_(OPEN_SIGNAL_STATES))
    elif state == "closed":
        stmt = stmt.where(Signal.state.not_in(OPEN_SIGNAL_STATES))
    elif state:
        stmt = stmt.where(Signal.state == state)
    return list(session.scalars(stmt.order_by(Signal.last_seen.desc()).limit(limit)))


def get_signal(session: Session, principal: Principal, signal_id: uuid.UUID) -> Signal:
    signal = session.scalars(select(Signal).where(Signal.id == signal_id, scope_condition(principal))).first()
    if signal is None:
        raise NotFound("信号不存在", "No such signal", details={"id": str(signal_id)})
    return signal


def as_dict(signal: Signal) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(signal.id),
        "source": signal.source,
        "device_or_camera": signal.source_id,
        "rule_or_label": signal.rule,
        "zone": signal.zone,
        "category_code": signal.category_code,
        "count": signal.count,
        "first_seen": iso(signal.first_seen),
        "last_seen": iso(signal.last_seen),
        "state": signal.state,
        "present": signal.present,
        "window_ends_at": iso(signal.window_ends_at),
        "snapshot_url": signal.snapshot_url,
        "confidence": signal.confidence,
        "value": signal.value,
        "lon": signal.lon,
        "lat": signal.lat,
        "street_code": signal.street_code,
        "grid_code": signal.grid_code,
        "merchant_id": signal.merchant_id,
        "case_id": str(signal.case_id) if signal.case_id else None,
        "case_code": signal.case_code,
        "rework_count": signal.rework_count,
    }

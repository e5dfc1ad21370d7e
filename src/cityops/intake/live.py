"""Signals and devices on the ingest hot path, read and written with Core, not the ORM.

A batch of a thousand alarms touches hundreds of open signals; loading them as ORM objects and
flushing them one by one cost more than everything else together. Here they are plain objects
with the same attribute names as the models, written back with one executemany UPDATE per
batch. Anything rare and stateful (a new signal, a merchant notice, a case filed inline) turns
the object into the ORM row first (:func:`to_orm`), so only one of the two is ever written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, select, update
from sqlalchemy.orm import Session

from cityops.intake.models import Device, Signal

SIGNALS = Signal.metadata.tables[Signal.__tablename__]
DEVICES = Device.metadata.tables[Device.__tablename__]
SIGNAL_READ = (
    "id", "source", "source_id", "rule", "zone", "state", "count", "first_seen", "last_seen",
    "last_present", "present", "snapshot_url", "confidence", "value", "case_code", "closed_at", "case_note",
    "window_started_at",
)  # fmt: skip
SIGNAL_WRITE = (
    "state", "count", "last_seen", "last_present", "present", "snapshot_url", "confidence", "value",
    "closed_at", "case_note",
)  # fmt: skip


@dataclass(slots=True)
class LiveSignal:
    id: uuid.UUID
    source: str
    source_id: str
    rule: str
    zone: str
    state: str
    count: int
    first_seen: datetime
    last_seen: datetime
    last_present: datetime | None
    present: bool
    snapshot_url: str | None
    confidence: float | None
    value: float | None
    case_code: str | None
    closed_at: datetime | None
    case_note: str | None
    window_started_at: datetime | None
    dirty: bool = False


def load_signals(session: Session, where: ColumnElement[bool]) -> list[LiveSignal]:
    rows = session.execute(select(*(SIGNALS.c[n] for n in SIGNAL_READ)).where(where)).all()
    return [LiveSignal(*row) for row in rows]


def _update(table: Any, names: tuple[str, ...]) -> Any:
    return (
        update(table)
        .where(table.c.id == bindparam("k_id"))
        .values({n: bindparam(f"v_{n}", type_=table.c[n].type) for n in names})
    )


_SIGNAL_UPDATE = _update(SIGNALS, SIGNAL_WRITE)


def write_signals(session: Session, signals: Any) -> int:
    rows = [
        {"k_id": s.id, **{f"v_{n}": getattr(s, n) for n in SIGNAL_WRITE}}
        for s in signals
        if isinstance(s, LiveSignal) and s.dirty
    ]
    if rows:
        session.execute(_SIGNAL_UPDATE, rows, execution_options={"synchronize_session": False})
    return len(rows)


def to_orm(session: Session, signal: LiveSignal | Signal) -> Signal:
    """The ORM row of ``signal`` carrying its unwritten changes (the plain object is retired)."""
    if isinstance(signal, Signal):
        return signal
    row = session.get(Signal, signal.id)
    assert row is not None
    for name in SIGNAL_WRITE:
        setattr(row, name, getattr(signal, name))
    signal.dirty = False
    return row


DEVICE_READ = (
    "id", "device_type", "name", "lon", "lat", "grid_code", "street_code", "thresholds", "active",
    "last_seen_at", "last_values",
)  # fmt: skip
DEVICE_WRITE = ("last_seen_at", "last_values")


@dataclass(slots=True)
class LiveDevice:
    id: str
    device_type: str
    name: str
    lon: float
    lat: float
    grid_code: str | None
    street_code: str | None
    thresholds: dict[str, Any]
    active: bool
    last_seen_at: datetime | None
    last_values: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False


def load_devices(session: Session, ids: set[str]) -> dict[str, LiveDevice]:
    if not ids:
        return {}
    rows = session.execute(select(*(DEVICES.c[n] for n in DEVICE_READ)).where(DEVICES.c.id.in_(ids))).all()
    return {row[0]: LiveDevice(*row) for row in rows}


_DEVICE_UPDATE = _update(DEVICES, DEVICE_WRITE)


def write_devices(session: Session, devices: Any) -> None:
    rows = [{"k_id": d.id, **{f"v_{n}": getattr(d, n) for n in DEVICE_WRITE}} for d in devices if d.dirty]
    if rows:
        session.execute(_DEVICE_UPDATE, rows, execution_options={"synchronize_session": False})

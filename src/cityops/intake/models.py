"""Tables of intake: reports of every channel, the camera and device registries, merchants,
open signals (camera alarms and telemetry rules), telemetry readings and counters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session

from cityops.db import Base, UTCDateTime, new_id, utcnow

CHANNELS = ("web", "open311", "hotline", "inspector", "camera", "iot", "api")
SIGNAL_STATES = (
    "open",  # counting alarms or readings; no case yet
    "filing",  # a case is due: the worker files it (batched ingest keeps case creation off its path)
    "merchant_notified",  # shop-front problem: the merchant's self-correction window runs
    "case_filed",  # a case was filed for it
    "recheck",  # the handler reported done; the camera's re-check window runs
    "self_corrected",  # closed: the merchant fixed it inside the window
    "verified",  # closed: the re-check saw the problem gone, the case was closed by the system
    "resolved",  # closed: a telemetry rule went back to normal
)
OPEN_SIGNAL_STATES = ("open", "filing", "merchant_notified", "case_filed", "recheck")


class Report(Base):
    """One report of any channel, with its raw payload and the channel's own id.

    ``(channel, idempotency_key)`` is unique: a retry, a replayed webhook or a redelivered
    message finds the earlier report instead of making a second case or count.
    """

    __tablename__ = "intake_reports"
    __table_args__ = (
        UniqueConstraint("channel", "idempotency_key", name="uq_intake_reports_channel_key"),
        Index("ix_intake_reports_case", "case_id"),
        Index("ix_intake_reports_actor", "channel", "actor_id", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(16))
    channel_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="report")  # report | patrol | verification | alarm
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    category_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)  # WGS-84
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    grid_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    reporter_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    reporter_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reporter_phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # The signed-in account that sent it (an inspector for patrol reports, the operator for calls).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    # What became of it: case | queued | joined (me too / merged) | signal | rejected
    outcome: Mapped[str] = mapped_column(String(16), default="case")
    case_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    case_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    queue_item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signal_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    # The case this report was merged into by staff (or joined by the citizen); split clears it.
    merged_from_case_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    informed_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Merchant(Base):
    """A shop owner reached for self-correction (云共治); the counts give the mark."""

    __tablename__ = "intake_merchants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    notices: Mapped[int] = mapped_column(Integer, default=0)
    self_corrected: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[int] = mapped_column(Integer, default=0)
    last_offence_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Camera(Base):
    """An AI camera (城市眼) that posts signed alarms."""

    __tablename__ = "intake_cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)  # WGS-84
    lat: Mapped[float] = mapped_column(Float)
    grid_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    scenarios: Mapped[list[str]] = mapped_column(JSON, default=list)
    dedupe_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    self_correction_seconds: Mapped[int] = mapped_column(Integer, default=600)
    recheck_seconds: Mapped[int] = mapped_column(Integer, default=600)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ShopFront(Base):
    """A shop front in a camera's view: alarms in its zone go to its merchant first."""

    __tablename__ = "intake_shop_fronts"
    __table_args__ = (UniqueConstraint("camera_id", "zone", name="uq_intake_shop_fronts_camera_zone"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    camera_id: Mapped[str] = mapped_column(ForeignKey("intake_cameras.id", ondelete="CASCADE"))
    zone: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("intake_merchants.id"))


class Device(Base):
    """An IoT sensor; thresholds override its type's rule parameters."""

    __tablename__ = "intake_devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    grid_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Devices that post over HTTP sign like cameras; MQTT devices authenticate to the broker.
    secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    dirty = False  # not a column: see Signal.dirty


class Signal(Base):
    """One open problem seen by a camera (label × zone) or a device (rule): counted, not repeated."""

    __tablename__ = "intake_signals"
    __table_args__ = (
        Index("ix_intake_signals_key", "source", "source_id", "rule", "zone", "state"),
        Index("ix_intake_signals_state", "state", "window_ends_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    source: Mapped[str] = mapped_column(String(16))  # camera | telemetry
    source_id: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))  # camera label or telemetry rule
    zone: Mapped[str] = mapped_column(String(64), default="")
    category_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="open")
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last time the problem was seen present (an all-clear does not move it).
    last_present: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    snapshot_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    grid_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    merchant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The self-correction or re-check window: an alarm after its start means "still there".
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    case_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The description of the case to file (state "filing").
    case_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Not a column: the ingest hot path's "written back?" flag (see intake.live); the ORM tracks its own.
    dirty = False


class TelemetryReading(Base):
    """A device's message; (device_id, seq) makes a redelivered message a no-op."""

    __tablename__ = "intake_telemetry"
    __table_args__ = (Index("ix_intake_telemetry_observed", "observed_at"),)

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    readings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IntakeCounter(Base):
    """Counts of things ignored on purpose (replayed or stale webhooks, duplicate messages)."""

    __tablename__ = "intake_counters"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# The in-memory signal cache of the ingest hot path (intake.signal_cache) must hear of every
# signal written any other way, in every process: the worker, pages, the CLI. Here, next to the
# model, so no import order can miss it.
SIGNALS_GENERATION = "signals.generation"
HOT_PATH = "cityops.intake.hot_path"  # session.info flag: this flush is the hot path's own
_BUMP = text(
    "INSERT INTO intake_counters (name, value) VALUES (:name, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = intake_counters.value + 1"
)


@event.listens_for(Signal, "after_insert")
@event.listens_for(Signal, "after_update")
@event.listens_for(Signal, "after_delete")
def _signal_written(_mapper: Any, connection: Any, target: Signal) -> None:
    # A mapper event: it fires for signal rows only, so no other flush in the app pays for it.
    session = object_session(target)
    if session is not None and session.info.get(HOT_PATH):
        return
    connection.execute(_BUMP, {"name": SIGNALS_GENERATION})

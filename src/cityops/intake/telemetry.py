"""IoT telemetry (城市体征): messages → readings (time series) → rule signals → cases.

``ingest_messages`` takes a batch (the MQTT subscriber's queue, the HTTP intake, the benchmark)
in one transaction. ``(device_id, seq)`` is the readings table's key: a redelivered message is
counted as a duplicate and changes nothing. Unknown devices are refused (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityops.db import new_id, utcnow
from cityops.errors import DomainError, Invalid, NotFound
from cityops.intake import counters
from cityops.intake.live import (
    READINGS_TABLE,
    Driver,
    LiveDevice,
    LiveSignal,
    load_devices,
    load_signals,
    to_orm,
    write_devices,
    write_signals,
)
from cityops.intake.models import OPEN_SIGNAL_STATES, Device, Signal, TelemetryReading
from cityops.intake.rules import Rule, rules_for
from cityops.intake.signal_cache import HOT_PATH, Batch
from cityops.intake.signals import want_case

AnyDevice = Device | LiveDevice

READING_COLUMNS = ("device_id", "seq", "observed_at", "received_at", "readings")
_META = ("device_id", "seq", "observed_at", "device_type", "readings")
MAX_MESSAGE_BYTES = 16 * 1024


@dataclass
class Message:
    device_id: str
    seq: int
    observed_at: datetime
    readings: dict[str, float]
    raw: dict[str, Any]


@dataclass
class MessageResult:
    status: str  # stored | duplicate | refused
    signals: int = 0  # signals opened or updated by this message
    cases: int = 0
    error: DomainError | None = None


def _bad(zh: str, en: str, fieldname: str) -> Invalid:
    return Invalid(zh, en, details={"field": fieldname})


def parse(payload: bytes | dict[str, Any]) -> Message:
    """A message from JSON ``{"device_id", "seq", "observed_at", readings…}`` or a 422."""
    if isinstance(payload, bytes | bytearray):
        if len(payload) > MAX_MESSAGE_BYTES:
            raise Invalid("消息过大", "message too large", code="too_large")
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise _bad("消息不是合法 JSON", "the message is not valid JSON", "body") from None
    if not isinstance(payload, dict):
        raise _bad("消息必须是 JSON 对象", "the message must be a JSON object", "body")
    device_id = payload.get("device_id")
    if not isinstance(device_id, str) or not 0 < len(device_id) <= 64:
        raise _bad("缺少 device_id", "device_id is required", "device_id")
    seq = payload.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**62:
        raise _bad("seq 必须是非负整数", "seq must be a non-negative integer", "seq")
    observed = payload.get("observed_at")
    try:
        observed_at = datetime.fromisoformat(observed) if isinstance(observed, str) else None
    except ValueError:
        observed_at = None
    if observed_at is None:
        raise _bad("observed_at 必须是 ISO 8601 时间", "observed_at must be an ISO 8601 time", "observed_at")
    if observed_at.tzinfo is None:
        observed_at = observed_at.replace(tzinfo=UTC)
    nested = payload.get("readings")
    source: dict[str, Any] = nested if isinstance(nested, dict) else payload
    readings = {
        k: float(v)
        for k, v in source.items()
        if k not in _META and isinstance(v, int | float) and not isinstance(v, bool)
    }
    return Message(device_id, seq, observed_at.astimezone(UTC), readings, payload)


def ingest_messages(
    session: Session,
    payloads: list[bytes | dict[str, Any]],
    *,
    now: datetime | None = None,
    inline_cases: bool = True,
) -> list[MessageResult]:
    """Store and evaluate a batch of messages; one result per message, in order.

    ``inline_cases=False`` (the MQTT subscriber's batches) marks due cases for the worker.
    """
    now = now or utcnow()
    results: list[MessageResult] = [MessageResult("pending") for _ in payloads]
    parsed: list[tuple[int, Message]] = []
    for i, payload in enumerate(payloads):
        try:
            parsed.append((i, parse(payload)))
        except DomainError as exc:
            results[i] = MessageResult("refused", error=exc)
    driver = Driver(session)
    devices = load_devices(driver, {m.device_id for _, m in parsed})
    known = _known_readings(driver, [(m.device_id, m.seq) for _, m in parsed])
    session.info[HOT_PATH] = True
    try:
        signals = _signals(session, driver, set(devices), now)
        return _store(session, driver, parsed, devices, known, signals, results, now, inline_cases)
    finally:
        session.info.pop(HOT_PATH, None)


def _store(
    session: Session,
    driver: Driver,
    parsed: list[tuple[int, Message]],
    devices: dict[str, LiveDevice],
    known: set[tuple[str, int]],
    signals: Batch,
    results: list[MessageResult],
    now: datetime,
    inline_cases: bool,
) -> list[MessageResult]:
    rows: list[tuple[Any, ...]] = []
    received = driver.time(now)
    duplicates = 0
    for i, msg in parsed:
        device = devices.get(msg.device_id)
        if device is None or not device.active:
            results[i] = MessageResult(
                "refused",
                error=NotFound(
                    "未登记的设备",
                    "unknown device; register it first",
                    code="unknown_device",
                    details={"device_id": msg.device_id[:64]},
                ),
            )
            continue
        if (msg.device_id, msg.seq) in known:
            duplicates += 1
            results[i] = MessageResult("duplicate")
            continue
        known.add((msg.device_id, msg.seq))
        rows.append(
            (msg.device_id, msg.seq, driver.time(msg.observed_at), received, driver.json(msg.readings))
        )
        results[i] = _evaluate(session, device, msg, signals, now, inline_cases)
    session.flush()  # new signals (ORM rows) before the plain writes that may follow them
    driver.insert_rows(READINGS_TABLE, READING_COLUMNS, rows)
    write_signals(driver, signals.values())
    signals.finish()
    write_devices(driver, devices.values())
    counters.bump(session, {"telemetry.duplicate": duplicates})
    session.flush()
    return results


SignalKey = tuple[str, str]
AnySignal = Signal | LiveSignal


def _known_readings(driver: Driver, pairs: list[tuple[str, int]]) -> set[tuple[str, int]]:
    """The (device, seq) pairs already stored: redelivered messages."""
    known: set[tuple[str, int]] = set()
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        if driver.pg:
            sql = (
                f"SELECT device_id, seq FROM {READINGS_TABLE} WHERE (device_id, seq) IN "
                "(SELECT * FROM unnest(%s::text[], %s::bigint[]))"
            )
            params: list[Any] = [[d for d, _ in chunk], [q for _, q in chunk]]
        else:
            values = ", ".join(["(?, ?)"] * len(chunk))
            sql = f"SELECT device_id, seq FROM {READINGS_TABLE} WHERE (device_id, seq) IN (VALUES {values})"
            params = [v for pair in chunk for v in pair]
        known.update((d, int(q)) for d, q in driver.query(sql, params))
    return known


TELEMETRY_STATES = (*OPEN_SIGNAL_STATES, "resolved")


def _signals(session: Session, driver: Driver, device_ids: set[str], now: datetime) -> Batch:
    """Open signals of the devices, and closed ones still in their cool-down (to reopen)."""
    batch = Batch(session, driver, "telemetry", 2, TELEMETRY_STATES)

    def loader(ids: set[str]) -> list[LiveSignal]:
        found = load_signals(
            driver, "telemetry", ids, OPEN_SIGNAL_STATES, resolved_since=now - timedelta(hours=2)
        )
        return sorted(found, key=lambda x: x.last_seen)

    batch.load(device_ids, loader)
    return batch


def _breach(rule: Rule, device: AnyDevice, msg: Message) -> float | None:
    """The value that broke ``rule`` (None: no breach, or the message has no such reading)."""
    if rule.reading is None or rule.reading not in msg.readings:
        return None
    value = msg.readings[rule.reading]
    limit = rule.limit(device.thresholds or {})
    if limit is None:
        return None
    if rule.kind == "threshold":
        return value if value > limit else None
    if rule.kind == "rate":
        last = (device.last_values or {}).get(rule.reading)
        if not last:
            return None
        before, at = float(last[0]), datetime.fromisoformat(last[1])
        minutes = (msg.observed_at - at).total_seconds() / 60
        if minutes <= 0 or minutes > rule.per_minutes * 3:
            return None
        rise = (value - before) * rule.per_minutes / minutes
        return rise if rise > limit else None
    return None


def _evaluate(
    session: Session,
    device: AnyDevice,
    msg: Message,
    signals: Batch,
    now: datetime,
    inline: bool = True,
) -> MessageResult:
    result = MessageResult("stored")
    for rule in rules_for(device.device_type):
        key = (device.id, rule.name)
        signal = signals.get(key)
        if rule.kind == "silence":
            if signal is not None and signal.state == "open":
                signal.state, signal.closed_at, signal.present = "resolved", now, False  # back online
                signal.dirty = True
            continue
        value = _breach(rule, device, msg)
        if value is None:
            if signal is not None and signal.state == "open":
                signal.state, signal.closed_at, signal.present = "resolved", now, False
                signal.dirty = True
            continue
        result.signals += 1
        if signal is not None and signal.state == "resolved":
            if signal.closed_at and signal.closed_at >= now - timedelta(seconds=rule.cooldown_seconds):
                signal.state, signal.closed_at = "open", None  # inside the cool-down: the same signal
                signal.count = 0
            else:
                signal = None
        if signal is None:
            signal = Signal(
                id=new_id(),
                source="telemetry",
                source_id=device.id,
                rule=rule.name,
                zone="",
                category_code=rule.category_code,
                state="open",
                count=0,
                first_seen=now,
                last_seen=now,
                lon=device.lon,
                lat=device.lat,
                street_code=device.street_code,
                grid_code=device.grid_code,
            )
            session.add(signal)
            signals[key] = signal
        signal.count += 1
        signal.last_seen = signal.last_present = now
        signal.present = True
        signal.value = value
        signal.dirty = True
        if signal.state == "open" and rule.category_code and signal.count >= rule.case_after:
            if inline:  # the ORM row takes over from the plain object for the rest of the batch
                signal = signals[key] = to_orm(session, signal)
            want_case(
                session,
                signal,
                f"物联感知：{device.name}（{device.id}）{rule.title}，"
                f"读数 {value:g}（阈值 {rule.limit(device.thresholds or {})}）。",
                now=now,
                inline=inline,
            )
            result.cases += 1
    last = dict(device.last_values or {})
    for name, value in msg.readings.items():
        last[name] = [value, msg.observed_at.isoformat()]
    device.last_values = last
    if device.last_seen_at is None or device.last_seen_at < msg.observed_at:
        device.last_seen_at = msg.observed_at
    device.dirty = True
    return result


def sweep_silence(session: Session, now: datetime) -> dict[str, int]:
    """Open an "offline" signal for every device silent longer than its rule allows."""
    opened = 0
    open_offline = set(
        session.scalars(
            select(Signal.source_id).where(
                Signal.source == "telemetry", Signal.rule == "offline", Signal.state.in_(OPEN_SIGNAL_STATES)
            )
        )
    )
    for device in session.scalars(select(Device).where(Device.active.is_(True))):
        rule = next((r for r in rules_for(device.device_type) if r.kind == "silence"), None)
        if rule is None or device.id in open_offline:
            continue
        last = device.last_seen_at
        if last is not None and last >= now - timedelta(minutes=rule.silence_minutes):
            continue
        session.add(
            Signal(
                id=new_id(),
                source="telemetry",
                source_id=device.id,
                rule="offline",
                zone="",
                state="open",
                count=1,
                first_seen=now,
                last_seen=now,
                present=True,
                lon=device.lon,
                lat=device.lat,
                street_code=device.street_code,
                grid_code=device.grid_code,
            )
        )
        opened += 1
    return {"offline_opened": opened}


def close_finished(session: Session, now: datetime) -> int:
    """Telemetry signals whose case was closed close too."""
    from cityops.cases import service as cases
    from cityops.intake.principals import INTAKE

    closed = 0
    for signal in session.scalars(
        select(Signal).where(Signal.source == "telemetry", Signal.state == "case_filed")
    ):
        try:
            case = cases.get_case(session, INTAKE, signal.case_id)  # type: ignore[arg-type]
        except DomainError:
            continue
        if case.state in ("closed", "rejected"):
            signal.state, signal.closed_at = "resolved", now
            closed += 1
    return closed


def purge_readings(session: Session, now: datetime, retention_days: int) -> int:
    """Delete readings older than the retention period (indicators keep their own aggregates)."""
    result = session.execute(
        delete(TelemetryReading).where(TelemetryReading.observed_at < now - timedelta(days=retention_days))
    )
    return int(getattr(result, "rowcount", 0) or 0)

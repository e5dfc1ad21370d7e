"""AI-camera alarms (城市眼): signed webhooks → one open signal per camera × label × zone.

An alarm is authenticated (HMAC-SHA256 over ``"<timestamp>.<raw body>"`` with the camera's own
secret), checked against replays (a timestamp within five minutes, the box's ``event_id`` seen
once), parsed, located (the camera's registered position) and deduplicated onto the open signal
of its label and zone. Shop-front labels notify the merchant first (:mod:`merchants`); others
file a case. ``ingest_alarms`` takes a batch so the webhook, the simulator and the benchmark share
one code path: one transaction, one query for known event ids, one for open signals, one insert.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.db import new_id, utcnow
from cityops.errors import DomainError, Invalid, Unauthorized
from cityops.intake import counters, merchants
from cityops.intake.demo import DEMO_CAMERA_SECRET
from cityops.intake.labels import label_for
from cityops.intake.live import (
    REPORTS_TABLE,
    Driver,
    LiveCamera,
    LiveSignal,
    load_cameras,
    load_signals,
    to_orm,
    write_signals,
)
from cityops.intake.models import OPEN_SIGNAL_STATES, Camera, ShopFront, Signal
from cityops.intake.signal_cache import HOT_PATH, Batch
from cityops.intake.signals import want_case

log = logging.getLogger("cityops.intake.camera")

MAX_SKEW_SECONDS = 300  # the replay window of the contract: five minutes either way
MAX_BODY_BYTES = 64 * 1024
CONFIDENCE_TO_FILE = 0.6  # below this, an alarm only counts until it repeats
REPEATS_TO_FILE = 3
AnyCamera = Camera | LiveCamera
REPORT_COLUMNS = (
    "id", "channel", "channel_ref", "idempotency_key", "kind", "payload", "text", "category_code", "lon",
    "lat", "street_code", "grid_code", "address", "outcome", "signal_id", "received_at",
)  # fmt: skip


@dataclass
class RawAlarm:
    """What arrived: the three headers and the raw body, untouched (the signature covers it)."""

    camera_id: str | None
    timestamp: str | None
    signature: str | None
    body: bytes


@dataclass
class Alarm:
    camera: AnyCamera
    event_id: str
    label: str
    category_code: str
    shop_front: bool
    zone: str
    observed_at: datetime
    confidence: float
    present: bool
    snapshot_url: str | None
    payload: dict[str, Any]


@dataclass
class AlarmResult:
    status: str
    signal_id: str | None = None
    case_code: str | None = None
    error: DomainError | None = field(default=None, repr=False)
    signal_uuid: uuid.UUID | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "signal_id": self.signal_id, "case_code": self.case_code}


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The signature header value a camera sends: ``sha256=<hex>``."""
    return "sha256=" + hmac.digest(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hex()


def _refused(reason: str, camera_id: str | None) -> Unauthorized:
    # One answer for an unknown camera and a bad signature, so ids cannot be probed.
    log.warning("camera alarm refused (%s) camera=%r", reason, (camera_id or "")[:64])
    return Unauthorized(
        "摄像头签名校验失败（未知摄像头或签名错误）",
        "camera signature check failed (unknown camera or bad signature)",
        code="invalid_signature",
        details={"reason": reason},
    )


def authenticate(
    cameras: Mapping[str, AnyCamera | None], raw: RawAlarm, now: datetime, *, demo_mode: bool = False
) -> tuple[AnyCamera, bool]:
    """The camera that signed ``raw`` and whether the timestamp is fresh; 401 when unsigned."""
    camera = cameras.get(raw.camera_id or "")
    if camera is None or not camera.active:
        raise _refused("unknown_camera", raw.camera_id)
    if camera.secret == DEMO_CAMERA_SECRET and not demo_mode:
        raise _refused("demo_secret_outside_demo_mode", raw.camera_id)  # a published secret
    if not raw.signature or not raw.timestamp or not raw.signature.startswith("sha256="):
        raise _refused("missing_signature", raw.camera_id)
    if len(raw.body) > MAX_BODY_BYTES:
        raise Invalid(
            "告警内容过大", "alarm body too large", code="too_large", details={"max_bytes": MAX_BODY_BYTES}
        )
    if not hmac.compare_digest(sign(camera.secret, raw.timestamp, raw.body), raw.signature):
        raise _refused("bad_signature", raw.camera_id)
    try:
        ts = int(raw.timestamp)
    except ValueError:
        raise _refused("bad_timestamp", raw.camera_id) from None
    return camera, abs(now.timestamp() - ts) <= MAX_SKEW_SECONDS


def _bad(zh: str, en: str, fieldname: str) -> Invalid:
    return Invalid(zh, en, details={"field": fieldname})


def parse(camera: AnyCamera, body: bytes) -> Alarm:
    """The alarm in ``body`` (JSON with event_id, label, observed_at, confidence, …) or 422."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad("告警内容不是合法 JSON", "the alarm body is not valid JSON", "body") from None
    if not isinstance(data, dict):
        raise _bad("告警内容必须是 JSON 对象", "the alarm body must be a JSON object", "body")
    event_id = data.get("event_id")
    if not isinstance(event_id, str | int) or not str(event_id).strip() or len(str(event_id)) > 100:
        raise _bad("缺少 event_id", "event_id is required (a string of at most 100 characters)", "event_id")
    name = data.get("label")
    label = label_for(name) if isinstance(name, str) else None
    if label is None:
        raise Invalid(
            f"未知的识别类型：{name!r}",
            f"unknown label {name!r}; see docs/intake.md for the label table",
            code="unknown_label",
            details={"field": "label"},
        )
    observed = data.get("observed_at")
    try:
        observed_at = datetime.fromisoformat(observed) if isinstance(observed, str) else None
    except ValueError:
        observed_at = None
    if observed_at is None:
        raise _bad("observed_at 必须是 ISO 8601 时间", "observed_at must be an ISO 8601 time", "observed_at")
    if observed_at.tzinfo is None:
        observed_at = observed_at.replace(tzinfo=UTC)  # boxes send UTC unless they say otherwise
    confidence = data.get("confidence")
    if not isinstance(confidence, int | float) or isinstance(confidence, bool) or not 0 <= confidence <= 1:
        raise _bad("confidence 必须在 0 到 1 之间", "confidence must be a number from 0 to 1", "confidence")
    zone = data.get("zone") or ""
    if not isinstance(zone, str) or len(zone) > 64:
        raise _bad("zone 必须是不超过 64 字的文本", "zone must be a string of at most 64 characters", "zone")
    present = data.get("present", True)
    if not isinstance(present, bool):
        raise _bad("present 必须是 true 或 false", "present must be true or false", "present")
    snapshot = data.get("snapshot_url")
    if snapshot is not None and (
        not isinstance(snapshot, str)
        or len(snapshot) > 500
        or not snapshot.startswith(("https://", "http://"))
    ):
        raise _bad("snapshot_url 必须是 http(s) 地址", "snapshot_url must be an http(s) URL", "snapshot_url")
    return Alarm(
        camera,
        str(event_id),
        str(name).strip(),
        label.code,
        label.shop_front,
        zone,
        observed_at.astimezone(UTC),
        float(confidence),
        present,
        snapshot,
        data,
    )


def ingest_alarms(
    session: Session,
    raws: list[RawAlarm],
    *,
    now: datetime | None = None,
    demo_mode: bool = False,
    inline_cases: bool = True,
) -> list[AlarmResult]:
    """Take a batch of alarms in one transaction; one result per alarm, in order.

    ``inline_cases=False`` (batches of a queue) leaves the cases the alarms call for to the
    worker (status ``case_pending``): creating a case costs a hundred times an alarm.

    A refused alarm (401, 422) gets its error in the result and writes nothing.
    """
    now = now or utcnow()
    driver = Driver(session)
    cameras = _cameras(driver, {r.camera_id or "" for r in raws})
    results: list[AlarmResult] = [AlarmResult("pending") for _ in raws]
    alarms: list[tuple[int, Alarm]] = []
    counts = {"camera.stale": 0, "camera.replayed": 0, "camera.refused": 0}
    for i, raw in enumerate(raws):
        try:
            camera, fresh = authenticate(cameras, raw, now, demo_mode=demo_mode)
            if not fresh:
                counts["camera.stale"] += 1
                results[i] = AlarmResult("stale")
                continue
            alarms.append((i, parse(camera, raw.body)))
        except DomainError as exc:
            if isinstance(exc, Unauthorized):
                counts["camera.refused"] += 1
            results[i] = AlarmResult("refused", error=exc)
    keys = [f"{a.camera.id}:{a.event_id}" for _, a in alarms]
    seen = _known_events(driver, keys)
    fronts = _shop_fronts(session, {a.camera.id for _, a in alarms})
    session.info[HOT_PATH] = True
    try:
        signals = Batch(session, driver, "camera", 3, OPEN_SIGNAL_STATES)
        signals.load(
            {a.camera.id for _, a in alarms},
            lambda ids: load_signals(driver, "camera", ids, OPEN_SIGNAL_STATES),
        )
        rows: list[tuple[Any, ...]] = []
        for (i, alarm), key in zip(alarms, keys, strict=True):
            if key in seen:
                counts["camera.replayed"] += 1
                results[i] = AlarmResult("duplicate_event", seen[key])
                continue
            result = _apply(session, alarm, signals, fronts, now, inline_cases)
            seen[key] = result.signal_id
            results[i] = result
            rows.append(_report_row(driver, alarm, raws[i].body, key, result, now))
        session.flush()  # new signals (ORM rows) before the plain writes that may follow them
        driver.insert_rows(REPORTS_TABLE, REPORT_COLUMNS, rows)
        write_signals(driver, signals.values())
        signals.finish()
        counters.bump(session, counts)
        session.flush()
    finally:
        session.info.pop(HOT_PATH, None)
    return results


def _cameras(driver: Driver, ids: set[str]) -> dict[str, AnyCamera | None]:
    found = load_cameras(driver, ids - {""})
    return {i: found.get(i) for i in ids}


def _known_events(driver: Driver, keys: list[str]) -> dict[str, str | None]:
    """The signal of every event id already taken (replays answer with it)."""
    out: dict[str, str | None] = {}
    m = driver.mark
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        params: list[Any] = [chunk] if driver.pg else chunk
        # On PostgreSQL a join on the array, so even a generic plan probes the unique index.
        where = (
            f"idempotency_key IN (SELECT unnest({m}::text[]))"
            if driver.pg
            else f"idempotency_key IN ({driver.marks(len(chunk))})"
        )
        sql = f"SELECT idempotency_key, signal_id FROM {REPORTS_TABLE} WHERE channel = {m} AND {where}"
        for key, signal_id in driver.query(sql, ["camera", *params]):
            out[key] = str(driver.read_uid(signal_id)) if signal_id else None
    return out


SignalKey = tuple[str, str, str]
AnySignal = Signal | LiveSignal


def _shop_fronts(session: Session, camera_ids: set[str]) -> dict[tuple[str, str], str]:
    if not camera_ids:
        return {}
    rows = session.execute(
        select(ShopFront.camera_id, ShopFront.zone, ShopFront.merchant_id).where(
            ShopFront.camera_id.in_(camera_ids)
        )
    )
    return {(c, z): m for c, z, m in rows}


def _apply(
    session: Session,
    alarm: Alarm,
    signals: Batch,
    fronts: dict[tuple[str, str], str],
    now: datetime,
    inline: bool = True,
) -> AlarmResult:
    camera = alarm.camera
    key = (camera.id, alarm.label, alarm.zone)
    signal = signals.get(key)
    if (
        signal is not None
        and signal.state == "open"
        and signal.last_seen < now - timedelta(seconds=camera.dedupe_seconds)
    ):
        # Quiet for longer than the dedupe window with nothing filed: that problem is over.
        signal.state, signal.closed_at, signal.dirty = "resolved", now, True
        signal = None
    if signal is None:
        if not alarm.present:
            return AlarmResult("all_clear")
        signal = Signal(
            id=new_id(),
            source="camera",
            source_id=camera.id,
            rule=alarm.label,
            zone=alarm.zone,
            category_code=alarm.category_code,
            state="open",
            count=1,
            first_seen=now,
            last_seen=now,
            last_present=now,
            present=True,
            snapshot_url=alarm.snapshot_url,
            confidence=alarm.confidence,
            lon=camera.lon,
            lat=camera.lat,
            street_code=camera.street_code,
            grid_code=camera.grid_code,
        )
        session.add(signal)
        signals[key] = signal
        merchant_id = fronts.get((camera.id, alarm.zone)) if alarm.shop_front else None
        if merchant_id is not None:
            merchants.send_notice(session, signal, merchant_id, camera, now=now)
            return _result("merchant_notified", signal)
        if alarm.confidence >= CONFIDENCE_TO_FILE:
            case = want_case(session, signal, _description(alarm), now=now, inline=inline)
            return _result("case_filed", signal, case.code) if case else _result("case_pending", signal)
        return _result("new", signal)
    signal.count += 1
    signal.last_seen = now
    signal.present = alarm.present
    signal.dirty = True
    if alarm.present:
        signal.last_present = now
        if alarm.snapshot_url and (signal.confidence or 0) <= alarm.confidence:
            signal.snapshot_url, signal.confidence = alarm.snapshot_url, alarm.confidence
        if signal.state == "open" and signal.count >= REPEATS_TO_FILE:
            if inline:  # the ORM row takes over from the plain object for the rest of the batch
                signal = signals[key] = to_orm(session, signal)
            case = want_case(session, signal, _description(alarm), now=now, inline=inline)
            return _result("case_filed", signal, case.code) if case else _result("case_pending", signal)
    return _result("updated" if alarm.present else "all_clear", signal, signal.case_code)


def _result(status: str, signal: AnySignal, case_code: str | None = None) -> AlarmResult:
    return AlarmResult(status, str(signal.id), case_code, signal_uuid=signal.id)


def _description(alarm: Alarm) -> str:
    camera = alarm.camera
    where = camera.address or camera.name
    return (
        f"城市眼 {camera.name} 识别到「{alarm.label}」（置信度 {alarm.confidence:.2f}），位置：{where}"
        f"{'，区域 ' + alarm.zone if alarm.zone else ''}。"
    )


def _report_row(
    driver: Driver, alarm: Alarm, body: bytes, key: str, result: AlarmResult, now: datetime
) -> tuple[Any, ...]:
    camera = alarm.camera
    signal_id = result.signal_uuid or (uuid.UUID(result.signal_id) if result.signal_id else None)
    return (
        driver.uid(new_id()), "camera", alarm.event_id, key, "alarm",
        body.decode(),  # the raw payload as it arrived (valid JSON: parse() read it)
        alarm.label, alarm.category_code, camera.lon, camera.lat, camera.street_code, camera.grid_code,
        camera.address, "signal", driver.uid(signal_id), driver.time(now),
    )  # fmt: skip

"""HTTP intake for devices without MQTT: the MQTT message, signed like a camera alarm."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from sqlalchemy.orm import Session

from cityops.db import utcnow
from cityops.errors import Unauthorized
from cityops.intake.camera import MAX_SKEW_SECONDS, sign
from cityops.intake.models import Device
from cityops.intake.telemetry import ingest_messages, parse

log = logging.getLogger("cityops.intake.telemetry")


def _refused(reason: str) -> Unauthorized:
    log.warning("device message refused (%s)", reason)
    return Unauthorized(
        "设备签名校验失败（未知设备或签名错误）",
        "device signature check failed (unknown device or bad signature)",
        code="invalid_signature",
        details={"reason": reason},
    )


def ingest_signed(
    session: Session, device_id: str | None, timestamp: str | None, signature: str | None, body: bytes
) -> dict[str, Any]:
    device = session.get(Device, device_id) if device_id and len(device_id) <= 64 else None
    if device is None or not device.secret:
        raise _refused("unknown_device")
    if (
        not timestamp
        or not signature
        or not hmac.compare_digest(sign(device.secret, timestamp, body), signature)
    ):
        raise _refused("bad_signature")
    try:
        fresh = abs(utcnow().timestamp() - int(timestamp)) <= MAX_SKEW_SECONDS
    except ValueError:
        raise _refused("bad_timestamp") from None
    if not fresh:
        return {"status": "stale"}
    if parse(body).device_id != device.id:
        raise _refused("device_mismatch")  # one device's secret cannot speak for another
    result = ingest_messages(session, [body])[0]
    if result.error is not None:
        raise result.error
    return {"status": result.status, "signals": result.signals, "cases": result.cases}

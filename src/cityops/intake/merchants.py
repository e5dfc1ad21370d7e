"""Merchant self-correction (云共治): notice first, a case only when the problem stays.

A shop-front alarm sends the merchant a notice through the outbox (in-app and SMS; the default
SMS gateway only logs) and opens the camera's self-correction window. When the window ends
(:func:`sweep_windows`, run by the worker) the camera's observations decide: an alarm for the
same label and zone after the notice, not followed by an all-clear, means "still there" → a
case is filed and dispatched; otherwise the signal closes as self-corrected. The counts give the
merchant's mark.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import NotFound
from cityops.intake.models import Merchant, Signal
from cityops.outbox import service as outbox

REPEAT_DAYS = 30


def send_notice(session: Session, signal: Signal, merchant_id: str, camera: Any, *, now: datetime) -> None:
    """Notify the merchant of ``camera``'s shop front (a Camera row or the hot path's LiveCamera)."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("商户不存在", "No such merchant", details={"merchant_id": merchant_id})
    minutes = max(1, round(camera.self_correction_seconds / 60))
    signal.merchant_id = merchant.id
    signal.state = "merchant_notified"
    signal.window_started_at = now
    signal.window_ends_at = now + timedelta(seconds=camera.self_correction_seconds)
    merchant.notices += 1
    merchant.last_offence_at = now
    text = (
        f"【城市眼】{merchant.name}：摄像头发现门前存在「{signal.rule}」，请在 {minutes} 分钟内自行整改，"
        f"逾期未改将立案处置。"
    )
    recipients = [f"merchant:{merchant.id}"] + ([f"sms:{merchant.phone}"] if merchant.phone else [])
    outbox.enqueue(
        session,
        "merchant.notice",
        {
            "text": text,
            "signal_id": str(signal.id),
            "merchant_id": merchant.id,
            "label": signal.rule,
            "window_ends_at": signal.window_ends_at.isoformat(),
        },
        recipients,
    )


def still_present(signal: Signal) -> bool:
    """Whether the camera still saw the problem during the window that started it."""
    started = signal.window_started_at
    return bool(signal.present and signal.last_present and started and signal.last_present > started)


def sweep_windows(session: Session, now: datetime) -> dict[str, int]:
    """End the self-correction windows that are over (a worker job; ``now`` is injectable)."""
    from cityops.intake.signals import file_case

    due = session.scalars(
        select(Signal)
        .where(Signal.state == "merchant_notified", Signal.window_ends_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    out = {"self_corrected": 0, "case_filed": 0}
    for signal in due:
        merchant = session.get(Merchant, signal.merchant_id) if signal.merchant_id else None
        if still_present(signal):
            file_case(
                session,
                signal,
                f"城市眼识别「{signal.rule}」，已通知商户 {merchant.name if merchant else ''} 自行整改，"
                f"时限届满仍未整改（告警 {signal.count} 次），立案处置。",
                now=now,
            )
            if merchant is not None:
                merchant.escalated += 1
            out["case_filed"] += 1
        else:
            signal.state, signal.closed_at, signal.window_ends_at = "self_corrected", now, None
            if merchant is not None:
                merchant.self_corrected += 1
            out["self_corrected"] += 1
    return out


def mark(merchant: Merchant, now: datetime | None = None) -> str:
    """green: corrects by itself; yellow: escalated once or notified often; red: repeat escalations."""
    if merchant.escalated >= 3 or (merchant.escalated >= 1 and merchant.notices >= 5):
        return "red"
    if merchant.escalated >= 1 or merchant.notices >= 3:
        return "yellow"
    return "green"


def merchant_dict(merchant: Merchant) -> dict[str, Any]:
    return {
        "id": merchant.id,
        "name": merchant.name,
        "address": merchant.address,
        "street_code": merchant.street_code,
        "notices": merchant.notices,
        "self_corrected": merchant.self_corrected,
        "escalated": merchant.escalated,
        "last_offence_at": merchant.last_offence_at.isoformat() if merchant.last_offence_at else None,
        "mark": mark(merchant),
    }


def list_merchants(session: Session, street_code: str | None = None) -> list[Merchant]:
    stmt = select(Merchant).order_by(Merchant.escalated.desc(), Merchant.notices.desc())
    if street_code:
        stmt = stmt.where(Merchant.street_code == street_code)
    return list(session.scalars(stmt))

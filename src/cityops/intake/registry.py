"""The camera and device registries and merchants: registration locates each one once."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import Conflict, Invalid, NotFound
from cityops.intake.labels import LABELS
from cityops.intake.locate import locate_point
from cityops.intake.models import Camera, Device, Merchant, ShopFront
from cityops.intake.rules import DEVICE_TYPES


def _id(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not text or len(text) > 64 or any(c in text for c in "/#+ "):
        raise Invalid(
            f"{field} 必须是 1–64 个字符，且不含 / # + 空格",
            f"{field} must be 1-64 characters without / # + or spaces",
            details={"field": field},
        )
    return text


def save_camera(
    session: Session,
    *,
    id: str,
    name: str,
    secret: str,
    lon: float,
    lat: float,
    address: str | None = None,
    scenarios: list[str] | None = None,
    dedupe_seconds: int = 1800,
    self_correction_seconds: int = 600,
    recheck_seconds: int = 600,
    active: bool = True,
) -> Camera:
    """Add or update a camera; its position must lie in the district."""
    camera_id = _id(id, "id")
    if len(secret or "") < 16:
        raise Invalid(
            "摄像头密钥至少 16 个字符",
            "the camera secret needs at least 16 characters",
            details={"field": "secret"},
        )
    unknown = [s for s in scenarios or [] if s not in LABELS]
    if unknown:
        raise Invalid(
            f"未知的识别场景：{unknown}", f"unknown scenarios: {unknown}", details={"field": "scenarios"}
        )
    for value, field in (
        (dedupe_seconds, "dedupe_seconds"),
        (self_correction_seconds, "self_correction_seconds"),
        (recheck_seconds, "recheck_seconds"),
    ):
        if not 10 <= int(value) <= 7 * 86400:
            raise Invalid(
                f"{field} 必须在 10 秒到 7 天之间",
                f"{field} must be 10 s to 7 days",
                details={"field": field},
            )
    loc = locate_point(session, lon, lat)
    camera = session.get(Camera, camera_id) or Camera(id=camera_id)
    camera.name, camera.secret, camera.lon, camera.lat = name, secret, float(loc.lon), float(loc.lat)
    camera.grid_code, camera.street_code, camera.address = loc.grid_code, loc.street_code, address
    camera.scenarios = list(scenarios or [])
    camera.dedupe_seconds, camera.self_correction_seconds = int(dedupe_seconds), int(self_correction_seconds)
    camera.recheck_seconds, camera.active = int(recheck_seconds), active
    session.add(camera)
    session.flush()
    return camera


def save_merchant(
    session: Session,
    *,
    id: str,
    name: str,
    phone: str | None = None,
    contact_name: str | None = None,
    address: str | None = None,
    street_code: str | None = None,
) -> Merchant:
    merchant = session.get(Merchant, _id(id, "id")) or Merchant(
        id=_id(id, "id"), notices=0, self_corrected=0, escalated=0
    )
    merchant.name, merchant.phone, merchant.contact_name = name, phone, contact_name
    merchant.address, merchant.street_code = address, street_code
    session.add(merchant)
    session.flush()
    return merchant


def add_shop_front(session: Session, camera_id: str, zone: str, merchant_id: str) -> ShopFront:
    if session.get(Camera, camera_id) is None:
        raise NotFound("摄像头不存在", "No such camera", details={"camera_id": camera_id})
    if session.get(Merchant, merchant_id) is None:
        raise NotFound("商户不存在", "No such merchant", details={"merchant_id": merchant_id})
    found = session.scalars(
        select(ShopFront).where(ShopFront.camera_id == camera_id, ShopFront.zone == zone)
    ).first()
    front = found or ShopFront(camera_id=camera_id, zone=zone)
    front.merchant_id = merchant_id
    session.add(front)
    session.flush()
    return front


def set_shop_fronts(session: Session, camera_id: str, fronts: dict[str, str]) -> list[ShopFront]:
    """The camera's shop fronts become exactly ``fronts`` (zone → merchant id)."""
    for zone, merchant_id in fronts.items():
        if len(zone) > 64:
            raise Invalid(
                "区域名称最多 64 个字符", "a zone name has at most 64 characters", details={"field": "fronts"}
            )
        if session.get(Merchant, merchant_id) is None:
            raise Invalid(
                f"商户 {merchant_id} 不存在", f"no merchant {merchant_id!r}", details={"field": "fronts"}
            )
    for old in session.scalars(select(ShopFront).where(ShopFront.camera_id == camera_id)):
        if old.zone not in fronts:
            session.delete(old)
    session.flush()
    return [add_shop_front(session, camera_id, zone, m) for zone, m in fronts.items()]


def new_secret() -> str:
    """A fresh camera or device secret (shown once to the administrator)."""
    return secrets.token_urlsafe(24)


def rotate_camera_secret(session: Session, camera_id: str) -> str:
    """Give the camera a new secret; the old one stops working at once. Returns the new one."""
    camera = get_camera(session, camera_id)[0]
    camera.secret = new_secret()
    session.flush()
    return camera.secret


def get_camera(session: Session, camera_id: str) -> tuple[Camera, list[ShopFront]]:
    camera = session.get(Camera, camera_id)
    if camera is None:
        raise NotFound("摄像头不存在", "No such camera", details={"camera_id": camera_id})
    fronts = list(session.scalars(select(ShopFront).where(ShopFront.camera_id == camera_id)))
    return camera, fronts


def get_device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound("设备不存在", "No such device", details={"device_id": device_id})
    return device


def get_merchant(session: Session, merchant_id: str) -> Merchant:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("商户不存在", "No such merchant", details={"merchant_id": merchant_id})
    return merchant


def save_device(
    session: Session,
    *,
    id: str,
    device_type: str,
    name: str,
    lon: float,
    lat: float,
    thresholds: dict[str, float] | None = None,
    active: bool = True,
) -> Device:
    device_id = _id(id, "id")
    if device_type not in DEVICE_TYPES:
        raise Invalid(
            f"未知的设备类型：{device_type}",
            f"unknown device_type {device_type!r}; one of {', '.join(DEVICE_TYPES)}",
            details={"field": "device_type"},
        )
    loc = locate_point(session, lon, lat)
    device = session.get(Device, device_id)
    if device is not None and device.device_type != device_type:
        raise Conflict("设备类型不能更改", "a device's type cannot change", details={"field": "device_type"})
    device = device or Device(id=device_id, device_type=device_type, last_values={})
    device.name, device.lon, device.lat = name, float(loc.lon), float(loc.lat)
    device.grid_code, device.street_code = loc.grid_code, loc.street_code
    device.thresholds, device.active = dict(thresholds or {}), active
    session.add(device)
    session.flush()
    return device


def camera_dict(camera: Camera, fronts: list[ShopFront] | None = None) -> dict[str, Any]:
    return {
        "id": camera.id,
        "name": camera.name,
        "lon": camera.lon,
        "lat": camera.lat,
        "grid_code": camera.grid_code,
        "street_code": camera.street_code,
        "address": camera.address,
        "scenarios": camera.scenarios,
        "dedupe_seconds": camera.dedupe_seconds,
        "self_correction_seconds": camera.self_correction_seconds,
        "recheck_seconds": camera.recheck_seconds,
        "active": camera.active,
        "shop_fronts": [{"zone": f.zone, "merchant_id": f.merchant_id} for f in fronts or []],
    }


def device_dict(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "device_type": device.device_type,
        "name": device.name,
        "lon": device.lon,
        "lat": device.lat,
        "grid_code": device.grid_code,
        "street_code": device.street_code,
        "thresholds": device.thresholds,
        "active": device.active,
        "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None,
    }


def list_cameras(session: Session, street: str | None = None) -> list[tuple[Camera, list[ShopFront]]]:
    """Every camera with its shop fronts; with ``street``, only that street's (area-scoped staff)."""
    fronts: dict[str, list[ShopFront]] = {}
    for f in session.scalars(select(ShopFront)):
        fronts.setdefault(f.camera_id, []).append(f)
    query = select(Camera).order_by(Camera.id)
    if street is not None:
        query = query.where(Camera.street_code == street)
    return [(c, fronts.get(c.id, [])) for c in session.scalars(query)]


def list_devices(session: Session, street: str | None = None) -> list[Device]:
    """Every device; with ``street``, only that street's (area-scoped staff)."""
    query = select(Device).order_by(Device.device_type, Device.id)
    if street is not None:
        query = query.where(Device.street_code == street)
    return list(session.scalars(query))

"""The demo's camera, merchant and sensors (demo mode only): a shop front on 桥西直街 in
拱宸桥街道 and gauges on the Grand Canal, so the signals board has something to show."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cityops.intake import registry

DEMO_CAMERA = "demo-cam-001"
DEMO_CAMERA_SECRET = "demo-camera-secret"
DEMO_MERCHANT = "demo-merchant-001"
DEMO_WATER = "demo-water-001"
QIAOXI = (120.13616, 30.33036)  # 桥西社区, 拱宸桥街道 (WGS-84)
CANAL = (120.13485, 30.32085)

DEVICES = (
    (DEMO_WATER, "water_level", "拱宸桥运河水位计", CANAL),
    ("demo-tilt-001", "manhole_tilt", "桥西直街井盖倾斜传感器", (120.1358, 30.3301)),
    ("demo-smoke-001", "smoke", "小河直街老宅烟感", (120.1412, 30.3035)),
    ("demo-air-001", "air_quality", "拱宸桥空气质量微站", (120.1351, 30.3221)),
    ("demo-noise-001", "noise", "运河广场噪声监测", (120.1367, 30.3189)),
    ("demo-lift-001", "elevator", "瓜山小区 3 幢电梯", (120.1291, 30.3324)),
)


def load_demo_intake(session: Session) -> dict[str, int]:
    """Register the demo camera, merchant and devices (idempotent)."""
    registry.save_merchant(
        session,
        id=DEMO_MERCHANT,
        name="桥西直街张记小吃店",
        phone="13800000888",
        contact_name="张先生",
        address="拱宸桥街道桥西直街 18 号",
        street_code="330105005",
    )
    # The secret is published: the demo camera exists only in demo mode (see load_demo's caller).
    # Windows of the demo: 2 minutes to self-correct, 2 minutes of re-check.
    registry.save_camera(
        session,
        id=DEMO_CAMERA,
        name="桥西直街 1 号城市眼",
        secret=DEMO_CAMERA_SECRET,
        lon=QIAOXI[0],
        lat=QIAOXI[1],
        address="拱宸桥街道桥西直街 18 号门前",
        scenarios=["出店经营", "占道撑伞", "露天餐饮", "暴露垃圾", "机动车违停", "非机动车违停"],
        dedupe_seconds=1800,
        self_correction_seconds=120,
        recheck_seconds=120,
    )
    registry.add_shop_front(session, DEMO_CAMERA, "shopfront-1", DEMO_MERCHANT)
    registry.add_shop_front(session, DEMO_CAMERA, "", DEMO_MERCHANT)  # boxes that send no zone
    for device_id, kind, name, (lon, lat) in DEVICES:
        registry.save_device(session, id=device_id, device_type=kind, name=name, lon=lon, lat=lat)
    return {"cameras": 1, "merchants": 1, "devices": len(DEVICES)}

"""`cityops simulate`: make the demo alive with realistic telemetry over MQTT and signed camera
alarms over HTTP (the demo camera's published secret: demo mode only)."""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from cityops.db import utcnow
from cityops.intake.camera import sign
from cityops.intake.demo import DEMO_CAMERA, DEMO_CAMERA_SECRET, DEVICES

Reading = Callable[[float, random.Random], dict[str, float]]


def _water(t: float, rng: random.Random) -> dict[str, float]:
    # A canal level with a slow tide-like swing; every few minutes a storm pulse above 4.5 m.
    storm = 1.0 if (t % 600) > 540 else 0.0
    return {"level_m": round(3.6 + 0.4 * math.sin(t / 300) + storm * 0.9 + rng.gauss(0, 0.02), 3)}


READINGS: dict[str, Reading] = {
    "water_level": _water,
    "manhole_tilt": lambda t, r: {
        "tilt_deg": round(abs(r.gauss(1.5, 0.8)) + (25 if r.random() < 0.01 else 0), 2)
    },
    "smoke": lambda t, r: {"smoke": 1.0 if r.random() < 0.005 else 0.0, "battery_pct": 87.0},
    "air_quality": lambda t, r: {"pm25": round(max(5, r.gauss(45, 20) + (130 if (t % 900) > 840 else 0)), 1)},
    "noise": lambda t, r: {"noise_db": round(r.gauss(58, 6), 1)},
    "elevator": lambda t, r: {
        "fault_code": 17.0 if r.random() < 0.003 else 0.0,
        "floor": float(r.randrange(1, 18)),
    },
}
CAMERA_LABELS = ("出店经营", "占道撑伞", "暴露垃圾", "机动车违停")


def run(
    *,
    base_url: str,
    mqtt_url: str,
    seconds: float,
    interval: float = 2.0,
    seed: int = 1,
    echo: Callable[[str], None] = print,
) -> dict[str, int]:
    import httpx
    import paho.mqtt.client as mqtt

    from cityops.intake.mqtt import broker_address, broker_answers

    rng = random.Random(seed)
    sent = {"telemetry": 0, "alarms": 0, "alarm_errors": 0}
    pub = None
    if broker_answers(mqtt_url):
        host, port = broker_address(mqtt_url)
        pub = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"cityops-sim-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        pub.connect(host, port)
        pub.loop_start()
    else:
        echo(f"no MQTT broker at {mqtt_url}: telemetry is not simulated / 无 MQTT，未模拟物联数据")
    seq = {d[0]: int(time.time() * 10) for d in DEVICES}
    start = time.monotonic()
    http = httpx.Client(base_url=base_url, timeout=10)
    next_alarm = 0.0
    try:
        while time.monotonic() - start < seconds:
            t = time.time()
            if pub is not None:
                for device_id, kind, _name, _pos in DEVICES:
                    seq[device_id] += 1
                    body: dict[str, Any] = {
                        "device_id": device_id,
                        "seq": seq[device_id],
                        "observed_at": utcnow().isoformat(),
                        **READINGS[kind](t, rng),
                    }
                    pub.publish(f"cityops/telemetry/{kind}/{device_id}", json.dumps(body), qos=1)
                    sent["telemetry"] += 1
            if time.monotonic() >= next_alarm:
                label = rng.choice(CAMERA_LABELS)
                raw = json.dumps(
                    {
                        "event_id": uuid.uuid4().hex,
                        "label": label,
                        "observed_at": utcnow().isoformat(),
                        "confidence": round(rng.uniform(0.7, 0.98), 2),
                        "zone": "shopfront-1" if label in ("出店经营", "占道撑伞") else "street",
                        "snapshot_url": f"https://snapshots.example/{DEMO_CAMERA}/{int(t)}.jpg",
                    },
                    ensure_ascii=False,
                ).encode()
                ts = str(int(time.time()))
                headers = {
                    "X-Cityops-Camera": DEMO_CAMERA,
                    "X-Cityops-Timestamp": ts,
                    "Content-Type": "application/json",
                    "X-Cityops-Signature": sign(DEMO_CAMERA_SECRET, ts, raw),
                }
                try:
                    r = http.post("/api/v1/intake/camera", content=raw, headers=headers)
                    echo(f"camera {label}: {r.status_code} {r.text[:120]}")
                    sent["alarms" if r.status_code == 200 else "alarm_errors"] += 1
                except httpx.HTTPError as exc:
                    echo(f"camera alarm not sent: {exc}")
                    sent["alarm_errors"] += 1
                next_alarm = time.monotonic() + rng.uniform(20, 60)
            time.sleep(interval)
    finally:
        http.close()
        if pub is not None:
            pub.loop_stop()
            pub.disconnect()
    return sent

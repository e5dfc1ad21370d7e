"""Telemetry: rules on the service, the signed HTTP intake, and MQTT through the real Mosquitto
(the shared one on 1883 for the stream, a broker of the test's own for the restart)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.intake import counters, registry, tasks, telemetry
from cityops.intake.camera import sign
from cityops.intake.demo import DEMO_WATER
from cityops.intake.models import Device, Signal, TelemetryReading
from cityops.intake.mqtt import TelemetrySubscriber

from .broker import OwnBroker, answers
from .conftest import auth


def _msg(device: str, seq: int, **readings: float) -> dict[str, object]:
    return {"device_id": device, "seq": seq, "observed_at": utcnow().isoformat(), **readings}


def _device(engine: Engine, device_type: str = "water_level") -> str:
    device_id = f"t-{uuid.uuid4().hex[:10]}"
    with unit_of_work(make_sessionmaker(engine)) as s:
        registry.save_device(
            s, id=device_id, device_type=device_type, name="测试设备", lon=120.13485, lat=30.32085
        )
    return device_id


def test_threshold_opens_one_signal_and_one_case(client: TestClient, world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as s:
        normal = telemetry.ingest_messages(s, [json.dumps(_msg(DEMO_WATER, 1, level_m=3.1)).encode()])
        assert normal[0].status == "stored" and normal[0].signals == 0
    with unit_of_work(factory) as s:
        high = telemetry.ingest_messages(
            s, [_msg(DEMO_WATER, 2, level_m=4.8), _msg(DEMO_WATER, 3, level_m=4.9)]
        )
        assert [r.status for r in high] == ["stored", "stored"]
        assert sum(r.cases for r in high) == 1  # one case, however many readings
    with unit_of_work(factory) as s:
        again = telemetry.ingest_messages(s, [_msg(DEMO_WATER, 3, level_m=4.9)])  # redelivered
        assert again[0].status == "duplicate"
        assert counters.read(s, "telemetry.")["telemetry.duplicate"] >= 1
        rows = s.scalars(
            select(Signal).where(Signal.source_id == DEMO_WATER, Signal.rule == "level_high")
        ).all()
        assert len(rows) == 1 and rows[0].count == 2 and rows[0].state == "case_filed" and rows[0].case_code
        assert (
            s.scalar(
                select(func.count())
                .select_from(TelemetryReading)
                .where(TelemetryReading.device_id == DEMO_WATER)
            )
            == 3
        )
    r = client.get("/api/v1/intake/signals?source=telemetry&state=open", headers=auth(client, "operator"))
    row = next(
        x for x in r.json() if x["device_or_camera"] == DEMO_WATER and x["rule_or_label"] == "level_high"
    )
    assert row["case_code"] and row["count"] == 2
    case = client.get(f"/api/v1/cases/{row['case_code']}", headers=auth(client, "dispatcher")).json()
    assert case["source"] == "iot" and case["category_code"] == "01067"


def test_rules_without_case_rate_cooldown_and_silence(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    factory = make_sessionmaker(engine)
    air = _device(engine, "air_quality")
    now = utcnow()
    with unit_of_work(factory) as s:
        out = telemetry.ingest_messages(s, [_msg(air, 1, pm25=220)], now=now)
        assert out[0].signals == 1 and out[0].cases == 0  # that rule never files a case
    with unit_of_work(factory) as s:
        telemetry.ingest_messages(s, [_msg(air, 2, pm25=40)], now=now + timedelta(minutes=1))
        signal = s.scalars(select(Signal).where(Signal.source_id == air)).one()
        assert signal.state == "resolved"
    with unit_of_work(factory) as s:  # back within the cool-down: the same signal reopens
        telemetry.ingest_messages(s, [_msg(air, 3, pm25=180)], now=now + timedelta(minutes=3))
        signals = s.scalars(select(Signal).where(Signal.source_id == air)).all()
        assert len(signals) == 1 and signals[0].state == "open"
    water = _device(engine)
    t0 = utcnow()
    with unit_of_work(factory) as s:
        first = {"device_id": water, "seq": 1, "observed_at": t0.isoformat(), "level_m": 2.0}
        later = {
            "device_id": water,
            "seq": 2,
            "observed_at": (t0 + timedelta(minutes=5)).isoformat(),
            "level_m": 2.4,
        }
        telemetry.ingest_messages(s, [first])
        telemetry.ingest_messages(s, [later])
        rising = s.scalars(
            select(Signal).where(Signal.source_id == water, Signal.rule == "level_rising")
        ).one()
        assert rising.state == "open" and rising.case_id is None
    with unit_of_work(factory) as s:
        opened = telemetry.sweep_silence(s, utcnow() + timedelta(minutes=20))
        assert opened["offline_opened"] >= 1
        assert s.scalars(select(Signal).where(Signal.source_id == water, Signal.rule == "offline")).one()


def test_bad_messages_are_refused(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    with unit_of_work(make_sessionmaker(engine)) as s:
        out = telemetry.ingest_messages(
            s, [b"not json", _msg("no-such-device", 1, level_m=1.0), {"device_id": DEMO_WATER, "seq": -1}]
        )
        assert [r.status for r in out] == ["refused"] * 3
        assert out[1].error is not None and out[1].error.code == "unknown_device"


def test_signed_http_intake(client: TestClient, world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    device = _device(engine, "noise")
    with unit_of_work(make_sessionmaker(engine)) as s:
        d = s.get(Device, device)
        assert d is not None
        d.secret = "device-secret-0123456789"
    body = json.dumps(_msg(device, 1, noise_db=55)).encode()
    ts = str(int(time.time()))
    headers = {
        "X-Cityops-Device": device,
        "X-Cityops-Timestamp": ts,
        "X-Cityops-Signature": sign(d.secret, ts, body),
        "Content-Type": "application/json",
    }
    r = client.post("/api/v1/intake/telemetry", content=body, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "stored", r.text
    assert (
        client.post("/api/v1/intake/telemetry", content=body, headers=headers).json()["status"] == "duplicate"
    )
    bad = dict(headers, **{"X-Cityops-Signature": "sha256=00"})
    assert client.post("/api/v1/intake/telemetry", content=body, headers=bad).status_code == 401
    other = json.dumps(_msg(DEMO_WATER, 99, level_m=1.0)).encode()  # signed by another device
    spoof = dict(headers, **{"X-Cityops-Signature": sign(d.secret, ts, other)})
    assert client.post("/api/v1/intake/telemetry", content=other, headers=spoof).status_code == 401


def _publisher(port: int, client_id: str) -> mqtt.Client:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", port, clean_start=False)
    pub.loop_start()
    return pub


def _wait(predicate: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _readings(engine: Engine, device: str) -> int:
    with unit_of_work(make_sessionmaker(engine)) as s:
        return int(
            s.scalar(
                select(func.count()).select_from(TelemetryReading).where(TelemetryReading.device_id == device)
            )
            or 0
        )


@pytest.mark.skipif(not answers(1883), reason="no Mosquitto on 127.0.0.1:1883")
def test_mqtt_threshold_through_the_shared_broker(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    device = _device(engine)
    run = uuid.uuid4().hex[:8]
    # A topic and share group of this test only: other subscribers on the shared broker see nothing.
    sub = TelemetrySubscriber(
        make_sessionmaker(engine),
        "mqtt://127.0.0.1:1883",
        client_id=f"t-sub-{run}",
        share_group=f"t{run}",
        topic=f"t{run}/telemetry/+/+",
    ).start()
    try:
        assert sub.subscribed.wait(10)
        pub = _publisher(1883, f"t-pub-{run}")
        infos = [
            pub.publish(
                f"t{run}/telemetry/water_level/{device}",
                json.dumps(_msg(device, i, level_m=4.6 + i / 100)),
                qos=1,
            )
            for i in range(1, 51)
        ]
        for info in infos:
            info.wait_for_publish(10)
        assert _wait(lambda: _readings(engine, device) == 50)
        assert _wait(lambda: sub.stats["acked"] >= 50)
        with unit_of_work(make_sessionmaker(engine)) as s:
            signal = s.scalars(
                select(Signal).where(Signal.source_id == device, Signal.rule == "level_high")
            ).one()
            assert (
                signal.count == 50 and signal.state == "filing"
            )  # the subscriber leaves the case to the worker
            assert tasks.windows(s, utcnow())["cases_filed"] >= 1
        with unit_of_work(make_sessionmaker(engine)) as s:
            signals = s.scalars(
                select(Signal).where(Signal.source_id == device, Signal.rule == "level_high")
            ).all()
            assert len(signals) == 1 and signals[0].state == "case_filed" and signals[0].case_code  # one case
        pub.loop_stop()
        pub.disconnect()
    finally:
        sub.stop()


@pytest.mark.skipif(not OwnBroker.available(), reason="mosquitto is not installed")
def test_mqtt_broker_restart_loses_nothing(world: tuple[Engine, Settings], tmp_path: Path) -> None:
    engine, _ = world
    port = 8163
    if answers(port):
        pytest.skip(f"port {port} is taken")
    broker = OwnBroker(tmp_path, port)
    broker.start()
    device = _device(engine, "noise")
    run = uuid.uuid4().hex[:8]
    sub = TelemetrySubscriber(
        make_sessionmaker(engine), f"mqtt://127.0.0.1:{port}", client_id=f"r-sub-{run}"
    ).start()
    pub = None
    try:
        assert sub.subscribed.wait(10)
        pub = _publisher(port, f"r-pub-{run}")
        topic = f"cityops/telemetry/noise/{device}"
        for i in range(1, 201):
            pub.publish(topic, json.dumps(_msg(device, i, noise_db=50)), qos=1).wait_for_publish(10)
        broker.stop()  # mid-stream: some messages may be delivered but not yet acknowledged
        assert _wait(lambda: not sub.connected.is_set(), 10)
        broker.start()
        assert _wait(lambda: sub.subscribed.is_set(), 30), "the subscriber did not reconnect"
        assert _wait(lambda: pub.is_connected(), 30)
        for i in range(201, 401):
            pub.publish(topic, json.dumps(_msg(device, i, noise_db=50)), qos=1).wait_for_publish(10)
        assert _wait(lambda: _readings(engine, device) == 400, 60), (_readings(engine, device), sub.stats)
    finally:
        if pub is not None:
            pub.loop_stop()
            pub.disconnect()
        sub.stop()
        broker.stop()

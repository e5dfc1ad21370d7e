"""The 城市眼 story through the real app: a signed 出店经营 alarm notifies the merchant (no case),
repeats count on one signal, replays and stale or unsigned alarms are ignored or refused; still
there after the window → a dispatched case; handled, the camera stops seeing it → closed by
itself. And a re-check that still sees it sends the case back to rework."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.intake import counters, service, tasks
from cityops.intake.demo import DEMO_MERCHANT
from cityops.intake.models import Merchant, Report, Signal
from cityops.outbox.models import OutboxMessage

from .conftest import auth, signed_alarm

ZONE = "shopfront-1"


def _alarm(label: str = "出店经营", zone: str = ZONE, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "event_id": uuid.uuid4().hex,
        "label": label,
        "observed_at": utcnow().isoformat(),
        "confidence": 0.91,
        "zone": zone,
        "snapshot_url": "https://cam.example/snap/1.jpg",
    }
    body.update(extra)
    return body


def _post(client: TestClient, body: dict[str, object], **kw: object) -> object:
    raw, headers = signed_alarm(body, **kw)  # type: ignore[arg-type]
    return client.post("/api/v1/intake/camera", content=raw, headers=headers)


def _run(engine: Engine, seconds: float) -> dict[str, object]:
    with unit_of_work(make_sessionmaker(engine)) as session:
        return tasks.windows(session, utcnow() + timedelta(seconds=seconds))


def _case(client: TestClient, code: str) -> dict[str, object]:
    r = client.get(f"/api/v1/cases/{code}", headers=auth(client, "dispatcher"))
    assert r.status_code == 200, r.text
    return r.json()


def test_merchant_notice_then_case_then_automatic_close(
    client: TestClient, world: tuple[Engine, Settings]
) -> None:
    engine, _ = world
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as s:
        cases_before = s.scalar(select(func.count()).select_from(Report).where(Report.case_id.is_not(None)))
        notices_before = s.get(Merchant, DEMO_MERCHANT).notices  # type: ignore[union-attr]

    first = _alarm()
    r = _post(client, first)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    out = r.json()  # type: ignore[attr-defined]
    assert out["status"] == "merchant_notified" and out["case_code"] is None
    signal_id = out["signal_id"]

    # The same event again (a box retrying) is a counted duplicate; a new event updates the signal.
    again = _post(client, first).json()  # type: ignore[attr-defined]
    assert again == {"status": "duplicate_event", "signal_id": signal_id, "case_code": None}
    second = _post(client, _alarm()).json()  # type: ignore[attr-defined]
    assert second["status"] == "updated" and second["signal_id"] == signal_id

    with unit_of_work(factory) as s:
        signal = s.get(Signal, uuid.UUID(signal_id))
        assert signal is not None and signal.count == 2 and signal.state == "merchant_notified"
        assert signal.case_id is None
        assert s.get(Merchant, DEMO_MERCHANT).notices == notices_before + 1  # type: ignore[union-attr]
        notice = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "merchant.notice")).all()
        assert any(m.payload["signal_id"] == signal_id and "sms:13800000888" in m.recipients for m in notice)
        assert counters.read(s, "camera.")["camera.replayed"] >= 1
        assert (
            s.scalar(select(func.count()).select_from(Report).where(Report.case_id.is_not(None)))
            == cases_before
        )

    listed = client.get(
        "/api/v1/intake/signals?source=camera&state=open", headers=auth(client, "operator")
    ).json()
    row = next(x for x in listed if x["id"] == signal_id)
    assert {
        "id",
        "source",
        "device_or_camera",
        "rule_or_label",
        "count",
        "first_seen",
        "last_seen",
        "state",
        "case_code",
    } <= set(row)
    assert (
        row["device_or_camera"] == "demo-cam-001" and row["rule_or_label"] == "出店经营" and row["count"] == 2
    )

    # The window (2 minutes in the demo) ends; the camera still saw it after the notice.
    assert _run(engine, 60)["case_filed"] == 0  # not over yet
    result = _run(engine, 125)
    assert result["case_filed"] == 1
    with unit_of_work(factory) as s:
        signal = s.get(Signal, uuid.UUID(signal_id))
        assert signal is not None and signal.state == "case_filed" and signal.case_code
        code = signal.case_code
        assert s.get(Merchant, DEMO_MERCHANT).escalated >= 1  # type: ignore[union-attr]
    case = _case(client, code)
    assert case["state"] == "dispatched" and case["source"] == "camera" and case["category_code"] == "09005"
    assert case["department"]["code"]

    # More alarms of the same problem count on the signal, no second case.
    assert _post(client, _alarm()).json()["status"] == "updated"  # type: ignore[attr-defined]

    handler = auth(client, f"handler-{case['department']['code']}")
    assert client.post(f"/api/v1/cases/{code}/accept", headers=handler, json={}).status_code == 200
    r = client.post(f"/api/v1/cases/{code}/handle", headers=handler, json={"note": "已劝导商户收回外摆"})
    assert r.status_code == 200, r.text

    started = _run(engine, 130)
    assert started["recheck_started"] == 1
    # No alarm during the re-check window (opened at now+130 s): verified and closed by the system.
    done = _run(engine, 130 + 125)
    assert done["verified"] == 1
    assert _case(client, code)["state"] == "closed"
    with unit_of_work(factory) as s:
        signal = s.get(Signal, uuid.UUID(signal_id))
        assert signal is not None and signal.state == "verified" and signal.closed_at is not None


def test_gone_inside_the_window_is_self_corrected(client: TestClient, world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    out = _post(client, _alarm("占道撑伞", zone="")).json()  # type: ignore[attr-defined]
    assert out["status"] == "merchant_notified"
    clear = _post(client, _alarm("占道撑伞", zone="", present=False)).json()  # type: ignore[attr-defined]
    assert clear["status"] == "all_clear" and clear["signal_id"] == out["signal_id"]
    with unit_of_work(make_sessionmaker(engine)) as s:
        before = s.get(Merchant, DEMO_MERCHANT).self_corrected  # type: ignore[union-attr]
    assert _run(engine, 125)["self_corrected"] >= 1
    with unit_of_work(make_sessionmaker(engine)) as s:
        signal = s.get(Signal, uuid.UUID(out["signal_id"]))
        assert signal is not None and signal.state == "self_corrected" and signal.case_id is None
        assert s.get(Merchant, DEMO_MERCHANT).self_corrected == before + 1  # type: ignore[union-attr]


def test_recheck_that_still_sees_it_sends_back_to_rework(
    client: TestClient, world: tuple[Engine, Settings]
) -> None:
    engine, settings = world
    factory = make_sessionmaker(engine)
    # A non-shop-front label files a case straight away.
    out = _post(client, _alarm("暴露垃圾", zone="lane")).json()  # type: ignore[attr-defined]
    assert out["status"] == "case_filed" and out["case_code"]
    code = out["case_code"]
    case = _case(client, code)
    handler = auth(client, f"handler-{case['department']['code']}")
    client.post(f"/api/v1/cases/{code}/accept", headers=handler, json={})
    assert (
        client.post(f"/api/v1/cases/{code}/handle", headers=handler, json={"note": "已清运"}).status_code
        == 200
    )
    at = utcnow() + timedelta(seconds=10)
    with unit_of_work(factory) as s:
        assert tasks.windows(s, at)["recheck_started"] >= 1
    raw, headers = signed_alarm(_alarm("暴露垃圾", zone="lane"))
    from cityops.intake.camera import RawAlarm

    with unit_of_work(factory) as s:  # the camera still sees it 60 s into the window
        res = service.ingest_alarms(
            s,
            [
                RawAlarm(
                    headers["X-Cityops-Camera"],
                    headers["X-Cityops-Timestamp"],
                    headers["X-Cityops-Signature"],
                    raw,
                )
            ],
            now=at + timedelta(seconds=60),
            demo_mode=settings.demo_mode,
        )
        assert res[0].status == "updated"
    with unit_of_work(factory) as s:
        assert tasks.windows(s, at + timedelta(seconds=125))["rework"] >= 1
    assert _case(client, code)["state"] == "rework"
    with unit_of_work(factory) as s:
        signal = s.get(Signal, uuid.UUID(out["signal_id"]))
        assert signal is not None and signal.rework_count == 1 and signal.state == "case_filed"


def test_bad_input(client: TestClient, world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    with unit_of_work(make_sessionmaker(engine)) as s:
        reports = s.scalar(select(func.count()).select_from(Report))
        stale_before = counters.read(s, "camera.").get("camera.stale", 0)
    body = _alarm()
    raw, headers = signed_alarm(body)
    bad = dict(headers, **{"X-Cityops-Signature": "sha256=" + "0" * 64})
    r = client.post("/api/v1/intake/camera", content=raw, headers=bad)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_signature"
    missing = {k: v for k, v in headers.items() if k != "X-Cityops-Signature"}
    assert client.post("/api/v1/intake/camera", content=raw, headers=missing).status_code == 401
    unknown = dict(headers, **{"X-Cityops-Camera": "no-such-camera"})
    assert client.post("/api/v1/intake/camera", content=raw, headers=unknown).status_code == 401
    # Tampered body, right signature of the original: refused.
    tampered = raw.replace(b"0.91", b"0.99")
    assert client.post("/api/v1/intake/camera", content=tampered, headers=headers).status_code == 401
    r = _post(client, _alarm(), ts=int(utcnow().timestamp()) - 600)
    assert r.status_code == 200 and r.json()["status"] == "stale"  # type: ignore[attr-defined]
    r = _post(client, _alarm(label="外星人入侵"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_label"  # type: ignore[attr-defined]
    r = _post(client, {"label": "出店经营"})
    assert r.status_code == 422  # type: ignore[attr-defined]
    with unit_of_work(make_sessionmaker(engine)) as s:
        assert s.scalar(select(func.count()).select_from(Report)) == reports  # nothing stored
        assert counters.read(s, "camera.")["camera.stale"] == stale_before + 1
    # Signals are staff-only.
    assert client.get("/api/v1/intake/signals", headers=auth(client, "citizen1")).json() == []
    assert client.get("/api/v1/intake/signals").status_code == 401

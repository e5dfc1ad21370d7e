"""A 城市眼 platform forwarding many boxes' alarms in one request (``POST /camera/batch``)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from cityops.db import utcnow

from .conftest import signed_alarm


def _item(body: dict[str, object], **kw: object) -> dict[str, str]:
    raw, headers = signed_alarm(body, **kw)  # type: ignore[arg-type]
    return {
        "camera": headers["X-Cityops-Camera"],
        "timestamp": headers["X-Cityops-Timestamp"],
        "signature": headers["X-Cityops-Signature"],
        "body": raw.decode(),
    }


def _alarm(event_id: str, zone: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "label": "暴露垃圾",
        "observed_at": utcnow().isoformat(),
        "confidence": 0.3,
        "zone": zone,
    }


def test_a_batch_answers_each_alarm_in_order_and_refuses_only_the_bad_ones(client: TestClient) -> None:
    zone = f"batch-{uuid.uuid4().hex[:6]}"
    first = _item(_alarm(f"b-{uuid.uuid4().hex}", zone))
    tampered = _item(_alarm(f"b-{uuid.uuid4().hex}", zone))
    tampered["body"] = tampered["body"].replace("0.3", "0.9")  # no longer what the camera signed
    second = _item(_alarm(f"b-{uuid.uuid4().hex}", zone))
    r = client.post("/api/v1/intake/camera/batch", json={"alarms": [first, tampered, second, first]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["new", "refused", "updated", "duplicate_event"]
    assert results[1]["error"]["code"] == "invalid_signature"
    assert results[0]["signal_id"] == results[2]["signal_id"] == results[3]["signal_id"]


def test_a_batch_must_hold_one_to_five_thousand_well_formed_alarms(client: TestClient) -> None:
    assert client.post("/api/v1/intake/camera/batch", json={"alarms": []}).status_code == 422
    assert client.post("/api/v1/intake/camera/batch", json={"alarms": [{"camera": "x"}]}).status_code == 422
    r = client.post("/api/v1/intake/camera/batch", json={"alarms": [{"camera": "x"}] * 5001})
    assert r.status_code == 422

"""Human channels through the API: one Report shape, idempotent per channel, "me too" on a likely
duplicate, staff merge (every reporter hears the outcome) and split, hotline imports with row
errors, inspector patrol reports counted per inspector, and a point outside the district."""

from __future__ import annotations

import io
import uuid

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.engine import Engine

from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.intake import duplicates
from cityops.outbox.models import OutboxMessage

from .conftest import auth

QIAOXI = {"lon": 120.13616, "lat": 30.33036}
PNG = (  # a real 1×1 PNG: attachments check the bytes, not the name
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _report(client: TestClient, who: str, **body: object) -> dict[str, object]:
    r = client.post("/api/v1/intake/reports", headers=auth(client, who), json=body)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_idempotent_me_too_merge_and_split(client: TestClient, world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    key = uuid.uuid4().hex
    first = _report(
        client,
        "citizen1",
        text="桥西直街路边垃圾堆了三天",
        category_code="06010",
        idempotency_key=key,
        **QIAOXI,
    )
    assert first["outcome"] == "case" and first["case_code"] and first["replay"] is False
    again = _report(
        client,
        "citizen1",
        text="桥西直街路边垃圾堆了三天",
        category_code="06010",
        idempotency_key=key,
        **QIAOXI,
    )
    assert again["id"] == first["id"] and again["replay"] is True  # no second case
    # Another citizen's same key is not the first one's report.
    other = _report(
        client, "citizen2", text="另一件事：路灯不亮", category_code="01037", idempotency_key=key, **QIAOXI
    )
    assert other["id"] != first["id"]

    r = client.get(
        "/api/v1/intake/duplicates",
        headers=auth(client, "citizen3"),
        params={"text": "桥西直街有垃圾堆着没人清", "category_code": "06010", **QIAOXI},
    )
    suggestions = r.json()
    assert suggestions and suggestions[0]["case_code"] == first["case_code"]
    assert "description" not in suggestions[0]  # nothing of the other reporter's words
    joined = _report(client, "citizen3", text="我也看到了", join_case=first["case_code"], **QIAOXI)
    assert joined["outcome"] == "joined" and joined["case_code"] == first["case_code"]
    assert (
        client.get(
            "/api/v1/intake/duplicates",
            headers=auth(client, "citizen3"),
            params={"category_code": "06010", **QIAOXI},
        ).json()[0]["reporters"]
        == 2
    )

    # Staff: a second case about the same heap is a duplicate of the first.
    dup = _report(client, "citizen4", text="桥西直街垃圾", category_code="06010", **QIAOXI)
    r = client.post(
        f"/api/v1/intake/cases/{dup['case_code']}/merge",
        headers=auth(client, "operator"),
        json={"into": first["case_code"]},
    )
    assert r.status_code == 200 and r.json()["reports_moved"] == 1, r.text
    assert (
        client.get(f"/api/v1/cases/{dup['case_code']}", headers=auth(client, "dispatcher")).json()["state"]
        == "rejected"
    )
    # The first case is rejected as well (say, it was out of scope): every joined reporter hears it.
    op = auth(client, "operator")
    assert (
        client.post(
            f"/api/v1/cases/{first['case_code']}/reject", headers=op, json={"reason": "测试"}
        ).status_code
        == 200
    )
    with unit_of_work(make_sessionmaker(engine)) as s:
        assert duplicates.inform_reporters(s, utcnow()) >= 2
        told = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "report.outcome")).all()
        assert sum(m.payload["case_code"] == first["case_code"] for m in told) >= 2
    # Split: the merged report was not a duplicate after all.
    r = client.post(f"/api/v1/intake/reports/{joined['id']}/split", headers=op)
    assert r.status_code == 201, r.text
    assert r.json()["case_code"] not in (first["case_code"], dup["case_code"])
    # A finished case cannot be joined.
    r = client.post(
        "/api/v1/intake/reports",
        headers=auth(client, "citizen5"),
        json={"text": "我也是", "join_case": first["case_code"], **QIAOXI},
    )
    assert r.status_code == 409


def test_outside_jurisdiction_and_channel_rules(client: TestClient) -> None:
    r = client.post(
        "/api/v1/intake/reports",
        headers=auth(client, "citizen1"),
        json={"text": "上海的垃圾", "category_code": "06010", "lon": 121.47, "lat": 31.23},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "outside_jurisdiction"
    assert "outside jurisdiction" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/intake/reports",
        headers=auth(client, "citizen1"),
        json={"channel": "hotline", "text": "冒充热线", "category_code": "06010", **QIAOXI},
    )
    assert r.status_code == 403


def test_hotline_import_with_mapping_and_row_errors(client: TestClient) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["单号", "内容", "经度", "纬度", "类别编码", "来电号码"])
    ws.append(["HL-1", "桥西直街噪声扰民", 120.13616, 30.33036, "06028", "13800000001"])
    ws.append(["HL-2", "", 120.13616, 30.33036, "06028", ""])
    ws.append(["HL-3", "外地地址", 121.47, 31.23, "06028", ""])
    buf = io.BytesIO()
    wb.save(buf)
    mapping = '{"单号": "order_no", "内容": "text"}'
    files = {
        "file": (
            "orders.xlsx",
            buf.getvalue(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    }
    op = auth(client, "operator")
    r = client.post("/api/v1/intake/hotline/import", headers=op, files=files, data={"mapping": mapping})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created"] == 1 and [e["row"] for e in out["errors"]] == [3, 4]
    again = client.post(
        "/api/v1/intake/hotline/import", headers=op, files=files, data={"mapping": mapping}
    ).json()
    assert again["created"] == 0 and again["replays"] == 1  # the same export twice: nothing twice
    api = client.post(
        "/api/v1/intake/hotline/orders",
        headers=op,
        json=[{"order_no": "HL-1", "text": "桥西直街噪声扰民", "category_code": "06028", **QIAOXI}],
    )
    assert api.json()["replays"] == 1


def test_inspector_patrol_counted(client: TestClient) -> None:
    ins = auth(client, "inspector")
    photo = client.post("/api/v1/attachments", headers=ins, files={"file": ("p.png", PNG, "image/png")})
    assert photo.status_code == 201, photo.text
    body = {
        "text": "巡查发现井盖缺失",
        "category_code": "01003",
        "attachments": [photo.json()["id"]],
        **QIAOXI,
    }
    r = client.post("/api/v1/intake/inspector/patrol", headers=ins, json=body)
    assert r.status_code == 201 and r.json()["outcome"] == "case", r.text
    no_photo = client.post("/api/v1/intake/inspector/patrol", headers=ins, json={**body, "attachments": []})
    assert no_photo.status_code == 422
    fake = client.post(
        "/api/v1/attachments", headers=ins, files={"file": ("x.png", b"MZ not an image", "image/png")}
    )
    assert fake.status_code == 415
    counts = client.get("/api/v1/intake/inspector/counts", headers=auth(client, "dispatcher")).json()
    assert any(c["patrol_reports"] >= 1 and c["patrol_cases"] >= 1 for c in counts)

"""The cases HTTP API: creation, idempotency, bad input, reads, lists, QR codes, public page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases.models import Case, CaseLog
from cityops.config import get_settings

from .conftest import COVER, GARBAGE, IN_B, IN_C, OUTSIDE, as_header

# The smallest file that passes the upload checks: SOI, a JFIF segment, EOI.
TINY_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
MakePrincipal = Callable[..., Principal]


def body(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "description": "小区门口有垃圾堆放",
        "lon": IN_B[0],
        "lat": IN_B[1],
        "category_code": GARBAGE,
        "source": "web",
        "reporter_name": "李四",
        "reporter_phone": "13900001111",
    }
    data.update(kw)
    return data


def counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(Case)) or 0,
        session.scalar(select(func.count()).select_from(CaseLog)) or 0,
    )


@pytest.fixture
def citizen(make_principal: MakePrincipal) -> dict[str, str]:
    return as_header(make_principal("citizen"))


def test_create_returns_201_with_the_case(
    client: TestClient, citizen: dict[str, str], make_principal: MakePrincipal
) -> None:
    r = client.post("/api/v1/cases", json=body(address="米市巷 1 号"), headers=citizen)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["state"] == "reported" and case["code"].startswith("GS")
    assert case["grid_code"] == "330105001001002" and case["street_code"] == "330105001"
    assert case["community_code"] == "330105001001"
    assert case["department"] == {"code": "CGJ", "name": "区城管局"}
    assert case["deadline"] is None and case["created_at"]
    assert case["category_name"] == "暴露垃圾"
    assert case["allowed_actions"] == []  # a citizen cannot file, reject or escalate
    as_dispatcher = client.get(f"/api/v1/cases/{case['id']}", headers=as_header(make_principal("dispatcher")))
    assert as_dispatcher.json()["allowed_actions"] == ["file", "reject", "escalate", "recategorize"]
    assert case["reporter_phone"] == "13900001111"  # the reporter sees their own contact


def test_gcj02_input_is_stored_as_wgs84(client: TestClient, citizen: dict[str, str]) -> None:
    from cityops.kit.coords import wgs84_to_gcj02

    gx, gy = wgs84_to_gcj02(IN_B[0], IN_B[1])
    r = client.post("/api/v1/cases", json=body(lon=float(gx), lat=float(gy), crs="gcj02"), headers=citizen)
    assert r.status_code == 201, r.text
    assert abs(r.json()["lon"] - IN_B[0]) < 1e-5 and abs(r.json()["lat"] - IN_B[1]) < 1e-5


def test_idempotent_create(client: TestClient, session: Session, citizen: dict[str, str]) -> None:
    key = {"Idempotency-Key": "abc-123", **citizen}
    first = client.post("/api/v1/cases", json=body(), headers=key)
    again = client.post("/api/v1/cases", json=body(), headers=key)
    # The cases app here has no idempotency middleware: the key on the case row replays it,
    # with the same answer as the middleware gives (201, marked replayed).
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/api/v1/cases", json=body(description="井盖缺失"), headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert counts(session)[0] == 1
    other = client.post("/api/v1/cases", json=body(), headers={"Idempotency-Key": "abc-124", **citizen})
    assert other.status_code == 201 and counts(session)[0] == 2


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"lon": "east"}, "lon", "validation_failed"),
        ({"lat": None}, "lat", "validation_failed"),
        ({"lon": OUTSIDE[0], "lat": OUTSIDE[1]}, None, "outside_district"),
        ({"lon": 200.0}, "lon", "invalid_coordinates"),
        ({"category_code": "NOPE-404"}, "category_code", "unknown_category"),
        ({"description": "   "}, "description", "invalid"),
        ({"description": "长" * 5001}, "description", "too_long"),
        ({"source": "pigeon"}, "source", "validation_failed"),
        ({"crs": "bd09"}, "crs", "validation_failed"),
        ({"unexpected": 1}, "unexpected", "validation_failed"),
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    client: TestClient,
    session: Session,
    citizen: dict[str, str],
    change: dict[str, Any],
    field: str | None,
    code: str,
) -> None:
    r = client.post("/api/v1/cases", json=body(**change), headers=citizen)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code
    if field is not None:
        fields = [e["field"] for e in err["details"].get("errors", [])] or [err["details"].get("field")]
        assert field in fields
    assert counts(session) == (0, 0)


def test_create_needs_sign_in_and_a_reporting_role(client: TestClient, make_principal: MakePrincipal) -> None:
    assert client.post("/api/v1/cases", json=body()).status_code == 401
    handler = as_header(make_principal("handler", department_code="CGJ"))
    assert client.post("/api/v1/cases", json=body(), headers=handler).status_code == 403


def _upload_photo(client: TestClient, who: dict[str, str]) -> str:
    response = client.post(
        "/api/v1/attachments",
        headers=who,
        files={"file": ("after.jpg", TINY_JPEG, "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_full_flow_over_http(
    client: TestClient, make_principal: MakePrincipal, citizen: dict[str, str]
) -> None:
    case = client.post("/api/v1/cases", json=body(), headers=citizen).json()
    missing = client.post(
        f"/api/v1/cases/{case['id']}/file",
        headers=as_header(make_principal("operator")),
        json={"attachments": ["00000000-0000-0000-0000-000000000001"]},
    )
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "unknown_attachment"
    operator = as_header(make_principal("operator"))
    dispatcher = as_header(make_principal("dispatcher"))
    handler = as_header(make_principal("handler", department_code="CGJ"))
    photo = _upload_photo(client, handler)  # one attaches only what one may read: one's own upload
    inspector = as_header(make_principal("inspector"))
    steps = [
        (operator, "file", {}),
        (dispatcher, "dispatch", {"note": "请尽快处理"}),
        (handler, "accept", {}),
        (
            handler,
            "handle",
            {"note": "已清理", "attachments": [photo]},
        ),
        (inspector, "verify", {"passed": True}),
        (dispatcher, "close", {}),
    ]
    for who, action, payload in steps:
        r = client.post(f"/api/v1/cases/{case['code']}/{action}", json=payload, headers=who)
        assert r.status_code == 200, (action, r.text)
    final = r.json()
    assert final["state"] == "closed" and final["deadline"] is not None
    log = client.get(f"/api/v1/cases/{case['id']}/log", headers=citizen).json()
    assert [e["action"] for e in log] == ["create", "file", "dispatch", "accept", "handle", "verify", "close"]
    assert log[4]["attachments"] == []  # the reporter reads the public history (issue 8 item 5)
    log = client.get(f"/api/v1/cases/{case['id']}/log", headers=dispatcher).json()
    assert log[4]["attachments"] == [
        {"id": photo, "filename": "after.jpg", "content_type": "image/jpeg", "size": len(TINY_JPEG)}
    ]
    # The photo is as private as the case: its reporter and district staff see it, others get 404.
    photo_url = f"/api/v1/attachments/{photo}"
    assert client.get(photo_url, headers=citizen).content.startswith(b"\xff\xd8\xff")
    assert client.get(photo_url, headers=inspector).status_code == 200
    other_department = as_header(make_principal("handler", department_code="SW"))
    assert client.get(photo_url, headers=other_department).status_code == 404
    other_citizen = as_header(make_principal("citizen"))
    assert client.get(photo_url, headers=other_citizen).status_code == 404


def test_unknown_action_is_404_with_the_list(
    client: TestClient, make_principal: MakePrincipal, citizen: dict[str, str]
) -> None:
    case = client.post("/api/v1/cases", json=body(), headers=citizen).json()
    r = client.post(
        f"/api/v1/cases/{case['id']}/teleport", json={}, headers=as_header(make_principal("admin"))
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_action"
    assert "request-extension" in r.json()["error"]["details"]["actions"]


def test_note_over_the_limit_is_422(
    client: TestClient, make_principal: MakePrincipal, citizen: dict[str, str]
) -> None:
    case = client.post("/api/v1/cases", json=body(), headers=citizen).json()
    note = "x" * (get_settings().max_note_chars + 1)
    r = client.post(
        f"/api/v1/cases/{case['id']}/file", json={"note": note}, headers=as_header(make_principal("operator"))
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "note"


def test_list_filters_and_cursor_pagination(
    client: TestClient, make_principal: MakePrincipal, citizen: dict[str, str]
) -> None:
    made = [client.post("/api/v1/cases", json=body(), headers=citizen).json()["id"] for _ in range(5)]
    client.post("/api/v1/cases", json=body(category_code=COVER, lon=IN_C[0], lat=IN_C[1]), headers=citizen)
    admin = as_header(make_principal("admin"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "category_code": GARBAGE}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/cases", params=params, headers=admin).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
    by_street = client.get("/api/v1/cases", params={"street_code": "330105002"}, headers=admin).json()
    assert [c["category_code"] for c in by_street["items"]] == [COVER]
    assert client.get("/api/v1/cases", params={"state": "filed"}, headers=admin).json()["items"] == []
    assert (
        len(client.get("/api/v1/cases", params={"department_code": "SW"}, headers=admin).json()["items"]) == 1
    )
    bad = client.get("/api/v1/cases", params={"cursor": "!!!"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_cursor"
    assert client.get("/api/v1/cases", params={"limit": 500}, headers=admin).status_code == 422
    assert client.get("/api/v1/cases", params={"overdue": "true"}, headers=admin).json()["items"] == []


def test_qr_codes(client: TestClient, citizen: dict[str, str]) -> None:
    case = client.post("/api/v1/cases", json=body(), headers=citizen).json()
    png = client.get(f"/api/v1/cases/{case['id']}/qr.png", headers=citizen)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = client.get(f"/api/v1/cases/{case['code']}/qr.svg", headers=citizen)
    assert svg.status_code == 200 and svg.text.startswith("<svg")


def test_public_page_and_json_hide_personal_data(
    client: TestClient, make_principal: MakePrincipal, citizen: dict[str, str]
) -> None:
    case = client.post("/api/v1/cases", json=body(), headers=citizen).json()
    client.post(
        f"/api/v1/cases/{case['id']}/file",
        json={"note": "李四 13900001111 来电"},
        headers=as_header(make_principal("operator")),
    )
    from cityops.cases.public import access_token

    token = {"t": access_token(case["code"], get_settings().secret_key)}  # the QR link's token
    public = client.get(f"/api/v1/public/cases/{case['code']}", params=token)
    assert public.status_code == 200
    data = public.json()
    assert data["state"] == "filed" and data["state_name"] == "已立案" and data["category_name"] == "暴露垃圾"
    assert [h["action"] for h in data["history"]] == ["create", "file"]
    assert data["url"].endswith(f"/p/cases/{case['code']}?t={token['t']}")
    page = client.get(f"/p/cases/{case['code']}", params=token)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for text in (public.text, page.text):
        assert "李四" not in text and "13900001111" not in text and "1111" not in text
    assert "已立案" in page.text and "<svg" in page.text
    assert client.get("/p/cases/GS20000101-99999").status_code == 404
    assert client.get("/api/v1/public/cases/not-a-code").status_code == 404


def test_racing_retries_resolve_to_one_case(
    session: Session, make_principal: MakePrincipal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two retries that both miss the first lookup: the unique key decides, the loser gets the winner."""
    from cityops.cases import service
    from cityops.cases.schemas import CaseCreate

    who = make_principal("citizen")
    data = CaseCreate(**body())
    first, created = service.create_case_idempotent(session, who, data, idempotency_key="k1")
    assert created
    real = service._find_idempotent
    calls: list[int] = []

    def miss_once(*args: Any) -> Case | None:
        calls.append(1)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(service, "_find_idempotent", miss_once)
    again, created = service.create_case_idempotent(session, who, data, idempotency_key="k1")
    assert not created and again.id == first.id
    assert counts(session)[0] == 1

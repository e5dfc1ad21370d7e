"""The public case page cannot be enumerated: a rate limit per address, and details only with the
unguessable token that the QR link carries; the code alone tells that the case exists and its state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from cityops.accounts.principal import Principal
from cityops.cases import public
from cityops.config import get_settings

from .conftest import GARBAGE, IN_B, as_header


def _case(client: TestClient, make_principal: Callable[..., Principal]) -> dict[str, Any]:
    citizen = as_header(make_principal("citizen"))
    report = {"description": "垃圾", "lon": IN_B[0], "lat": IN_B[1], "category_code": GARBAGE}
    r = client.post("/api/v1/cases", json=report, headers=citizen)
    assert r.status_code == 201, r.text
    return {**r.json(), "headers": citizen}


def test_the_code_alone_shows_only_existence_and_state(
    client: TestClient, make_principal: Callable[..., Principal]
) -> None:
    case = _case(client, make_principal)
    bare = client.get(f"/api/v1/public/cases/{case['code']}")
    assert bare.status_code == 200
    data = bare.json()
    shown = (data["code"], data["state"], data["state_name"], data["details"])
    assert shown == (case["code"], "reported", "已上报", False)
    assert data["category_code"] is None and data["history"] == [] and data["created_at"] is None
    assert data["street_code"] is None
    wrong = client.get(f"/api/v1/public/cases/{case['code']}", params={"t": "A" * 22})
    assert wrong.json()["details"] is False
    page = client.get(f"/p/cases/{case['code']}")
    assert page.status_code == 200 and "已上报" in page.text and "暴露垃圾" not in page.text


def test_the_qr_link_carries_a_token_that_shows_the_details(
    client: TestClient, make_principal: Callable[..., Principal]
) -> None:
    case = _case(client, make_principal)
    link = client.get(f"/api/v1/cases/{case['id']}/public-link", headers=case["headers"])
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    token = public.access_token(case["code"], get_settings().secret_key)
    assert url.endswith(f"/p/cases/{case['code']}?t={token}") and len(token) >= 22
    full = client.get(f"/api/v1/public/cases/{case['code']}", params={"t": token}).json()
    assert full["details"] is True and full["category_name"] == "暴露垃圾" and full["history"]
    assert full["url"] == url
    page = client.get(f"/p/cases/{case['code']}", params={"t": token})
    assert "暴露垃圾" in page.text
    # Tokens are per case: another case's token shows nothing more.
    other = _case(client, make_principal)
    assert client.get(f"/api/v1/public/cases/{other['code']}", params={"t": token}).json()["details"] is False
    # Someone who may not read the case gets no link.
    stranger = as_header(make_principal("citizen"))
    assert client.get(f"/api/v1/cases/{case['id']}/public-link", headers=stranger).status_code == 404


def test_public_endpoints_are_rate_limited_per_address(
    client: TestClient, make_principal: Callable[..., Principal]
) -> None:
    case = _case(client, make_principal)
    limit = client.app.state.settings.public_requests_per_minute  # type: ignore[attr-defined]
    answers = [client.get(f"/api/v1/public/cases/GS20260101-{i:05d}").status_code for i in range(limit)]
    assert 429 not in answers
    page = client.get(f"/p/cases/{case['code']}")  # the page and the JSON share one budget
    assert page.status_code == 429 and 1 <= int(page.headers["retry-after"]) <= 60
    assert "秒后重试" in page.text  # an error page in the layout, saying when to retry
    refused = client.get(f"/api/v1/public/cases/{case['code']}")
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"

"""Security headers on every response, and no-store wherever personal data may travel."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from cityops.config import Settings
from cityops.web.app import create_app

STRICT = "default-src 'self'; script-src 'self'; style-src 'self'"


def _secured(response: Response) -> None:
    csp = response.headers["content-security-policy"]
    assert csp.startswith(STRICT), csp
    assert "frame-ancestors 'none'" in csp and "base-uri 'self'" in csp and "form-action 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/api/v1/no-such-thing", {}),  # 404 from the router
        ("GET", "/api/v1/cases", {}),  # 401
        (
            "POST",
            "/api/v1/cases",
            {"content": b"x", "headers": {"Content-Type": "text/plain"}},
        ),  # 415 refusal
        ("GET", "/openapi.json", {}),
        ("GET", "/p/cases/GS20260101-00001", {}),  # public page, unknown code
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, method: str, path: str, kwargs: dict
) -> None:
    _secured(client.request(method, path, **kwargs))


def test_api_answers_are_never_stored_by_caches(client: TestClient) -> None:
    token = client.post("/api/v1/auth/token", data={"username": "nobody", "password": "whatever-1"})
    assert token.headers["cache-control"] == "no-store"
    assert client.get("/api/v1/cases?reveal=true").headers["cache-control"] == "no-store"
    assert client.get("/api/v1/auth/me").headers["cache-control"] == "no-store"


def test_the_map_tile_server_can_be_allowed_for_images(tmp_path: Path) -> None:
    from tests.conftest import new_database

    engine, cleanup = new_database("sqlite", tmp_path)
    settings = Settings(
        demo_mode=True,
        worker_in_process=False,
        map_tile_url="https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&z={z}",
    )
    try:
        with TestClient(create_app(settings, engine=engine)) as c:
            csp = c.get("/healthz").headers["content-security-policy"]
    finally:
        cleanup()
    img = next(part for part in csp.split(";") if part.strip().startswith("img-src"))
    assert img.split() == ["img-src", "'self'", "data:", "blob:", "https://*.tianditu.gov.cn"]
    assert "tk=KEY" not in csp  # the key stays out of headers

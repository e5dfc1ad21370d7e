"""The app's cross-cutting promises: error shape, guards, request ids, health, idempotency."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cityops.config import Settings
from cityops.db import make_engine
from cityops.web.app import create_app


def _is_error(body: dict, code: str | None = None) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert " / " in body["error"]["message"]  # Chinese, then English
    if code:
        assert body["error"]["code"] == code


def test_healthz_and_request_id_echo(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"


def test_readyz_on_a_migrated_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_readyz_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(Settings(demo_mode=True, worker_in_process=False), engine=engine)
    with TestClient(app) as c:
        response = c.get("/readyz")
    assert response.status_code == 503
    assert "migrate" in response.json()["database"]


def test_unknown_endpoint_uses_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    _is_error(response.json(), "http_404")


def test_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post("/api/v1/cases", content=b"description=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    _is_error(response.json(), "unsupported_media_type")
    assert "application/json" in response.json()["error"]["message"]


def test_oversized_body_is_413_before_reading_it(client: TestClient, api_settings: Settings) -> None:
    too_big = b"{" + b" " * (api_settings.max_upload_bytes + 128 * 1024) + b"}"
    response = client.post("/api/v1/cases", content=too_big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    _is_error(response.json(), "too_large")


def test_invalid_token_is_401_with_a_message(client: TestClient) -> None:
    response = client.get("/api/v1/cases", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    _is_error(response.json())


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{ref}",
        "/api/v1/cases/{ref}/log",
        "/api/v1/cases/{ref}/{action}",
        "/api/v1/auth/token",
        "/api/v1/departments",
        "/api/v1/catalog/categories/{code}",
    ):
        assert path in paths, path


def test_a_failing_idempotency_lookup_is_503_not_500(client: TestClient) -> None:
    """If the key store cannot be read, the caller hears "retry later" and nothing runs."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    headers = {"Idempotency-Key": "lookup-fails"}

    def unavailable(*_args: object) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    event.listen(factory, "after_begin", unavailable)
    try:
        response = client.post("/api/v1/cases", json={"description": "x"}, headers=headers)
    finally:
        event.remove(factory, "after_begin", unavailable)
    assert response.status_code == 503
    _is_error(response.json(), "unavailable")


def test_startup_freezes_what_it_loaded(tmp_path: Path) -> None:
    """Objects loaded at startup are moved out of the garbage collector's way (gc.freeze)."""
    import gc

    engine = make_engine(f"sqlite:///{tmp_path / 'gc.db'}")
    app = create_app(Settings(demo_mode=True, worker_in_process=False), engine=engine)
    gc.unfreeze()
    try:
        with TestClient(app):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()

"""Validation gaps (issue 8 item 12): a NUL character anywhere in a request is refused with one
clear 422 on SQLite and PostgreSQL alike, and the secret key needs real entropy."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from cityops.accounts import service as accounts
from cityops.accounts.models import User
from cityops.config import Settings, UnsafeSettings
from cityops.db import make_sessionmaker, unit_of_work

PASSWORD = "Nul-test-passw0rd!"


@pytest.fixture(scope="module")
def admin(client: TestClient, api_engine: Engine) -> dict[str, str]:
    with unit_of_work(make_sessionmaker(api_engine)) as session:
        accounts.create_user(session, username="nul-admin", password=PASSWORD, role="admin")
    r = client.post("/api/v1/auth/token", data={"username": "nul-admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _users(engine: Engine) -> int:
    with unit_of_work(make_sessionmaker(engine)) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def _is_nul_error(r: object) -> None:
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    error = r.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "nul_character" and "NUL" in error["message"]


def test_a_nul_in_a_json_string_is_refused_and_nothing_is_written(
    client: TestClient, admin: dict[str, str], api_engine: Engine
) -> None:
    before = _users(api_engine)
    body = {"username": "nul-user", "password": PASSWORD, "role": "operator", "display_name": "张\u0000三"}
    r = client.post("/api/v1/users", json=body, headers=admin)
    _is_nul_error(r)
    assert r.json()["error"]["details"]["field"] == "display_name"
    assert _users(api_engine) == before
    # Deep inside a list, and in a key.
    r = client.post("/api/v1/cases/x/file", json={"attachments": ["a\u0000"]}, headers=admin)
    _is_nul_error(r)
    r = client.post("/api/v1/cases/x/file", json={"no\u0000te": "x"}, headers=admin)
    _is_nul_error(r)


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: TestClient, admin: dict[str, str]) -> None:
    raw = json.dumps(
        {"username": "slash-user", "password": PASSWORD, "role": "operator", "display_name": "a\\u0000"}
    )
    assert "\\\\u0000" in raw
    r = client.post("/api/v1/users", content=raw, headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text


def test_a_nul_in_the_query_string_a_path_or_a_form_is_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    _is_nul_error(client.get("/api/v1/users", params={"q": "a\x00"}, headers=admin))
    _is_nul_error(client.get("/api/v1/cases/GS%00", headers=admin))
    _is_nul_error(client.post("/api/v1/auth/token", data={"username": "a\x00", "password": "x"}))


@pytest.mark.parametrize(
    "secret",
    [
        "aaaaaaaaaaaaaaaa",
        "a" * 64,
        "abababababababababababababababab",
        "0123456789abcdef0123456789abcdef",  # one short run, repeated
        "passwordpasswordpasswordpassword",
        "short-but-random-Zq8",
    ],
)
def test_a_low_entropy_secret_is_refused_outside_development(secret: str) -> None:
    with pytest.raises(UnsafeSettings, match="CITYOPS_SECRET_KEY"):
        Settings(secret_key=secret, demo_mode=False).check_safe_for_serving()
    Settings(secret_key=secret, demo_mode=True).check_safe_for_serving()  # demo mode: any key


@pytest.mark.parametrize(
    "secret",
    [
        "a-real-secret-key-for-this-test-0123",
        "98d249b79f43b61e90104fdd192a70b1",
        "SKu52vEMVcup7-yfu7kwbA-70yu6_iK3mB1npG3QQcc",
    ],
)
def test_a_random_secret_is_accepted(secret: str) -> None:
    Settings(secret_key=secret, demo_mode=False).check_safe_for_serving()

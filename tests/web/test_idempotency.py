"""Idempotency-Key through the whole app: scoping, fingerprints, no secrets stored, replay status.

Runs the real app (every middleware) on a database of its own, seeded with the tiny district of
the cases tests, and signs in through the real token endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.cases.conftest import GARBAGE, IN_B, seed
from tests.conftest import BACKENDS, new_database

from cityops.accounts import service as accounts
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.web.app import create_app
from cityops.web.idempotency import IdempotencyRecord

PASSWORD = "correct-horse-1"


@pytest.fixture(scope="module", params=BACKENDS)
def app_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    engine: Engine
    engine, cleanup = new_database(request.param, tmp_path_factory.mktemp("idem"), "idem")
    factory = make_sessionmaker(engine)
    with factory() as s:
        seed(s)
    with unit_of_work(factory) as s:
        accounts.create_user(s, username="idem-admin", password=PASSWORD, role="admin")
        accounts.create_user(s, username="idem-op", password=PASSWORD, role="operator")
        accounts.create_user(s, username="idem-op2", password=PASSWORD, role="operator")
    settings = Settings(
        demo_mode=True, storage_dir=Path(tmp_path_factory.mktemp("files")), worker_in_process=False
    )
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as client:
        yield client
    cleanup()


def _records(client: TestClient) -> list[IdempotencyRecord]:
    with unit_of_work(client.app.state.sessionmaker) as s:  # type: ignore[attr-defined]
        rows = list(s.scalars(select(IdempotencyRecord)))
        s.expunge_all()
        return rows


def _sign_in(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _report(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "description": "小区门口有垃圾堆放",
        "lon": IN_B[0],
        "lat": IN_B[1],
        "category_code": GARBAGE,
        "source": "web",
    }
    data.update(kw)
    return data


def test_sign_in_never_replays_another_callers_token(app_client: TestClient) -> None:
    key = {"Idempotency-Key": "k1"}
    ok = app_client.post(
        "/api/v1/auth/token", data={"username": "idem-admin", "password": PASSWORD}, headers=key
    )
    assert ok.status_code == 200
    wrong = app_client.post(
        "/api/v1/auth/token", data={"username": "nobody", "password": "x" * 9}, headers=key
    )
    assert wrong.status_code == 401, wrong.text
    assert "access_token" not in wrong.text and "idempotent-replayed" not in wrong.headers
    login = app_client.post(
        "/api/v1/auth/login", data={"username": "idem-admin", "password": PASSWORD}, headers=key
    )
    again = app_client.post(
        "/api/v1/auth/login", data={"username": "nobody", "password": "x" * 9}, headers=key
    )
    assert login.status_code == 200 and again.status_code == 401
    assert "set-cookie" not in again.headers
    token = ok.json()["access_token"]
    for row in _records(app_client):
        assert token.encode() not in row.body and b"access_token" not in row.body
        assert "/auth/" not in row.path


def test_nothing_secret_is_stored_for_any_answer(app_client: TestClient) -> None:
    headers = {**_sign_in(app_client, "idem-op"), "Idempotency-Key": "logout-1"}
    app_client.post("/api/v1/auth/logout", headers=headers)
    created = app_client.post(
        "/api/v1/cases",
        json=_report(),
        headers={**_sign_in(app_client, "idem-op"), "Idempotency-Key": "c-secret"},
    )
    assert created.status_code == 201
    for row in _records(app_client):
        assert b"Bearer" not in row.body and b"cityops_session" not in row.body
        assert not row.caller.startswith(("ey", "Bearer"))  # who, not their credential


def test_same_key_different_report_is_422_and_nothing_is_lost(app_client: TestClient) -> None:
    op = {**_sign_in(app_client, "idem-op"), "Idempotency-Key": "two-reports"}
    first = app_client.post("/api/v1/cases", json=_report(), headers=op)
    assert first.status_code == 201, first.text
    emergency = app_client.post(
        "/api/v1/cases", json=_report(description="井盖缺失，有人掉下去了"), headers=op
    )
    assert emergency.status_code == 422, emergency.text
    assert emergency.json()["error"]["code"] == "idempotency_key_reused"
    # The same key on another path is reused too.
    other_path = app_client.post(f"/api/v1/cases/{first.json()['id']}/file", json={}, headers=op)
    assert other_path.status_code == 422
    assert other_path.json()["error"]["code"] == "idempotency_key_reused"


def test_a_true_replay_answers_the_original_201_marked_replayed(app_client: TestClient) -> None:
    op = {**_sign_in(app_client, "idem-op"), "Idempotency-Key": "replay-201"}
    first = app_client.post("/api/v1/cases", json=_report(), headers=op)
    again = app_client.post("/api/v1/cases", json=_report(), headers=op)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json()["id"] == first.json()["id"]


def test_keys_are_scoped_by_the_signed_in_user_not_the_token(app_client: TestClient) -> None:
    key = {"Idempotency-Key": "shared-key"}
    mine = app_client.post(
        "/api/v1/cases", json=_report(), headers={**_sign_in(app_client, "idem-op"), **key}
    )
    # The same user with a second token replays; another user with the same key does not.
    again = app_client.post(
        "/api/v1/cases", json=_report(), headers={**_sign_in(app_client, "idem-op"), **key}
    )
    theirs = app_client.post(
        "/api/v1/cases", json=_report(), headers={**_sign_in(app_client, "idem-op2"), **key}
    )
    assert mine.status_code == again.status_code == theirs.status_code == 201
    assert again.json()["id"] == mine.json()["id"]
    assert theirs.json()["id"] != mine.json()["id"] and "idempotent-replayed" not in theirs.headers


def test_anonymous_callers_never_get_each_others_answer(app_client: TestClient) -> None:
    """Anonymous keys are scoped by a fingerprint that includes the body."""
    key = {"Idempotency-Key": "anon-1"}
    a = app_client.post("/api/v1/cases", json=_report(description="甲"), headers=key)
    b = app_client.post("/api/v1/cases", json=_report(description="乙"), headers=key)
    assert a.status_code == b.status_code == 401
    assert "idempotent-replayed" not in b.headers
    assert not [r for r in _records(app_client) if r.key == "anon-1" and r.status != 0]  # errors are not kept


def test_failed_answers_are_not_kept_so_a_retry_runs_again(app_client: TestClient) -> None:
    op = {**_sign_in(app_client, "idem-op"), "Idempotency-Key": "retry-after-422"}
    bad = app_client.post("/api/v1/cases", json=_report(category_code="NOPE"), headers=op)
    assert bad.status_code == 422
    # A refused request changed nothing and did not use up its key: the corrected retry runs.
    fixed = app_client.post("/api/v1/cases", json=_report(), headers=op)
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers

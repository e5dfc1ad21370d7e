"""Sign-in throttle (per account and per address, growing delay, audited) and token revocation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts import service, throttle, tokens
from cityops.accounts.models import AuditEvent, SignInThrottle, User
from cityops.config import Settings
from cityops.db import utcnow
from cityops.errors import TooManyRequests, Unauthorized

MakeUser = Callable[..., User]
PASSWORD = "correct-horse-1"


def _sign_in(client: TestClient, username: str, password: str) -> int:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password}).status_code


def test_twelve_wrong_passwords_then_the_right_one_is_held_back(
    client: TestClient, admin: User, session: Session
) -> None:
    answers = [_sign_in(client, "admin1", f"wrong-{i}-pass") for i in range(12)]
    assert answers[: throttle.ACCOUNT_FREE_FAILURES] == [401] * throttle.ACCOUNT_FREE_FAILURES
    assert set(answers[throttle.ACCOUNT_FREE_FAILURES :]) == {429}
    right = client.post("/api/v1/auth/token", data={"username": "admin1", "password": PASSWORD})
    assert right.status_code == 429
    retry_after = int(right.headers["retry-after"])
    assert retry_after >= 1
    error = right.json()["error"]
    assert error["code"] == "too_many_attempts"
    assert f"{retry_after} 秒后" in error["message"] and f"in {retry_after} seconds" in error["message"]
    assert error["details"]["retry_after_seconds"] == retry_after
    # Every refused password is in the audit trail, with the address it came from.
    session.expire_all()
    failed = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
    assert len(failed) == throttle.ACCOUNT_FREE_FAILURES
    assert {e.details["username"] for e in failed} == {"admin1"}
    assert all(e.details["address"] == "testclient" for e in failed)


def test_the_delay_grows_and_ends(session: Session, admin: User, settings: Settings) -> None:
    now = utcnow()
    delays = []
    for i in range(throttle.ACCOUNT_FREE_FAILURES + 3):
        at = now + timedelta(seconds=1000 * i)  # past each delay, within the counter's memory
        try:
            service.authenticate(session, "admin1", "wrong-pass", settings, address="10.0.0.1", now=at)
        except TooManyRequests as exc:
            raise AssertionError(f"refused at attempt {i}") from exc
        except Unauthorized:
            pass
        try:
            throttle.check(session, "admin1", "10.0.0.1", at)
            delays.append(0)
        except TooManyRequests as exc:
            delays.append(exc.retry_after)
    assert delays[: throttle.ACCOUNT_FREE_FAILURES - 1] == [0] * (throttle.ACCOUNT_FREE_FAILURES - 1)
    grown = delays[throttle.ACCOUNT_FREE_FAILURES - 1 :]
    assert grown == sorted(grown) and grown[0] > 0 and grown[-1] > grown[0]
    later = now + timedelta(seconds=1000 * len(delays) + throttle.MAX_DELAY_SECONDS)
    user = service.authenticate(session, "admin1", PASSWORD, settings, address="10.0.0.1", now=later)
    assert user.username == "admin1"
    throttle.check(session, "admin1", "10.0.0.2", later)  # success forgot the account's failures


def test_many_accounts_from_one_address_are_held_back(
    client: TestClient, make_user: MakeUser, admin: User
) -> None:
    for i in range(throttle.ADDRESS_FREE_FAILURES):
        assert _sign_in(client, f"guess{i}", "wrong-pass") == 401
    assert _sign_in(client, "admin1", PASSWORD) == 429  # even the right password, from there


def test_the_throttle_lives_in_the_database(client: TestClient, admin: User, session: Session) -> None:
    for _ in range(throttle.ACCOUNT_FREE_FAILURES):
        _sign_in(client, "admin1", "wrong-pass")
    session.expire_all()
    rows = session.scalar(select(func.count()).select_from(SignInThrottle))
    assert rows == 2  # the account and the address: another server process sees the same


# --- token revocation ------------------------------------------------------------------------


def _token(client: TestClient) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": "admin1", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_logout_with_a_bearer_token_revokes_it(client: TestClient, admin: User) -> None:
    mine, other = _token(client), _token(client)
    assert mine != other  # each token has its own id
    assert client.get("/api/v1/auth/me", headers=mine).status_code == 200  # now cached as valid
    assert client.post("/api/v1/auth/logout", headers=mine).status_code == 204
    refused = client.get("/api/v1/auth/me", headers=mine)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200


def test_a_revocation_reaches_a_process_without_it_in_memory(client: TestClient, admin: User) -> None:
    mine = _token(client)
    assert client.get("/api/v1/auth/me", headers=mine).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=mine).status_code == 204
    tokens.forget()  # another process: nothing cached, only the database knows
    assert client.get("/api/v1/auth/me", headers=mine).status_code == 401


def test_logout_everywhere_and_the_revoke_endpoint(client: TestClient, admin: User) -> None:
    first, second, third = _token(client), _token(client), _token(client)
    revoked = client.post("/api/v1/auth/revoke", data={"token": third["Authorization"][7:]})
    assert revoked.status_code == 200
    assert client.get("/api/v1/auth/me", headers=third).status_code == 401
    assert client.get("/api/v1/auth/me", headers=second).status_code == 200
    assert client.post("/api/v1/auth/logout?everywhere=true", headers=first).status_code == 204
    assert client.get("/api/v1/auth/me", headers=second).status_code == 401
    assert client.post("/api/v1/auth/revoke", data={"token": "not-a-token"}).status_code == 200  # RFC 7009

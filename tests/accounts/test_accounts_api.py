"""The accounts HTTP API through a small app that wires the router as the real app does."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.models import AuditEvent, User

MakeUser = Callable[..., User]  # the conftest make_user fixture
Bearer = Callable[[str], dict[str, str]]  # the conftest bearer fixture
PASSWORD = "correct-horse-1"  # the password of every conftest user


def _error(response) -> dict:  # type: ignore[no-untyped-def, type-arg]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert " / " in body["error"]["message"]  # Chinese / English
    return body["error"]  # type: ignore[no-any-return]


def test_token_success(client: TestClient, make_user: MakeUser, department: str) -> None:
    make_user("h1", "handler", department_code=department)
    response = client.post("/api/v1/auth/token", data={"username": "h1", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "role", "department_code"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert (body["role"], body["department_code"]) == ("handler", department)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "h1"


def test_token_wrong_password(client: TestClient, admin: User) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "admin1", "password": "nope-nope"})
    assert response.status_code == 401
    error = _error(response)
    assert error["code"] == "invalid_credentials"
    assert error["message"] == "用户名或密码错误 / Wrong user name or password"
    assert error["details"] == {}


def test_token_unknown_user_same_answer(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope-nope"})
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_credentials"


def test_demo_account_refused_outside_demo_mode(client: TestClient, make_user: MakeUser) -> None:
    make_user("demo-op", "operator", is_demo=True)
    response = client.post("/api/v1/auth/token", data={"username": "demo-op", "password": PASSWORD})
    assert response.status_code == 401
    assert _error(response)["code"] == "demo_account_disabled"


def test_demo_account_allowed_in_demo_mode(client: TestClient, make_user: MakeUser) -> None:
    make_user("demo-op", "operator", is_demo=True)
    client.app.state.settings = client.app.state.settings.model_copy(update={"demo_mode": True})  # type: ignore[attr-defined]
    response = client.post("/api/v1/auth/token", data={"username": "demo-op", "password": PASSWORD})
    assert response.status_code == 200


def test_expired_or_bad_token_on_request(client: TestClient) -> None:
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged.token.value"})
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_token"
    assert _error(client.get("/api/v1/auth/me"))["code"] == "not_authenticated"


def test_login_sets_session_cookie_and_logout_clears_it(client: TestClient, admin: User) -> None:
    response = client.post("/api/v1/auth/login", data={"username": "admin1", "password": PASSWORD})
    assert response.status_code == 200
    assert "access_token" not in response.json()  # the token lives only in the HttpOnly cookie
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("cityops_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=3600" in cookie
    assert client.get("/api/v1/auth/me").json()["role"] == "admin"  # the cookie authenticates
    out = client.post("/api/v1/auth/logout")
    assert out.status_code == 204
    assert 'cityops_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_redirects_only_within_the_site(client: TestClient, admin: User) -> None:
    form = {"username": "admin1", "password": PASSWORD}
    local = client.post("/api/v1/auth/login", data={**form, "next": "/cases"}, follow_redirects=False)
    assert local.status_code == 303 and local.headers["location"] == "/cases"
    assert "cityops_session=" in local.headers["set-cookie"]
    foreign = client.post(
        "/api/v1/auth/login", data={**form, "next": "//evil.example"}, follow_redirects=False
    )
    assert foreign.status_code == 200


def test_non_admin_gets_403_on_users(client: TestClient, make_user: MakeUser, bearer: Bearer) -> None:
    make_user("leader1", "leader")
    for method, url in [("GET", "/api/v1/users"), ("POST", "/api/v1/users")]:
        response = client.request(method, url, headers=bearer("leader1"), json={})
        assert response.status_code == 403
        error = _error(response)
        assert error["code"] == "role_not_allowed"
        assert error["details"]["allowed_roles"] == ["admin"]
    assert client.get("/api/v1/users").status_code == 401


def test_admin_manages_users(
    client: TestClient, session: Session, admin: User, bearer: Bearer, department: str
) -> None:
    auth = bearer("admin1")
    created = client.post(
        "/api/v1/users",
        headers=auth,
        json={
            "username": "h2",
            "password": "handler-pass-1",
            "role": "handler",
            "department_code": department,
            "display_name": "李四光",
            "phone": "13900001111",
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["display_name"], user["phone"], user["masked"]) == ("李**", "139****1111", True)

    duplicate = client.post(
        "/api/v1/users", headers=auth, json={"username": "h2", "password": "handler-pass-1", "role": "leader"}
    )
    assert duplicate.status_code == 409 and _error(duplicate)["code"] == "username_taken"
    no_dept = client.post(
        "/api/v1/users",
        headers=auth,
        json={"username": "h3", "password": "handler-pass-1", "role": "handler"},
    )
    assert no_dept.status_code == 422 and _error(no_dept)["code"] == "department_required"

    listing = client.get("/api/v1/users", headers=auth, params={"role": "handler"}).json()
    assert listing["total"] == 1 and listing["items"][0]["phone"] == "139****1111"

    patched = client.patch(f"/api/v1/users/{user['id']}", headers=auth, json={"role": "dispatcher"})
    assert patched.status_code == 200 and patched.json()["role"] == "dispatcher"
    reset = client.patch(f"/api/v1/users/{user['id']}", headers=auth, json={"password": "another-pass-2"})
    assert reset.status_code == 200
    signin = client.post("/api/v1/auth/token", data={"username": "h2", "password": "another-pass-2"})
    assert signin.json()["role"] == "dispatcher"

    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.subject_id == user["id"]).order_by(AuditEvent.id)
    ).all()
    assert actions == ["user.create", "user.update", "user.update", "auth.login"]


def test_reveal_is_audited(client: TestClient, session: Session, admin: User, bearer: Bearer) -> None:
    auth = bearer("admin1")
    masked = client.get(f"/api/v1/users/{admin.id}", headers=auth).json()
    assert masked["phone"] == "138****5678"
    revealed = client.get(f"/api/v1/users/{admin.id}", headers=auth, params={"reveal": "true"}).json()
    assert (revealed["phone"], revealed["display_name"], revealed["masked"]) == (
        "13812345678",
        "王管理",
        False,
    )
    reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "personal_data.read")).all()
    assert len(reads) == 1 and reads[0].subject_id == str(admin.id)


def test_audit_endpoint(client: TestClient, make_user: MakeUser, admin: User, bearer: Bearer) -> None:
    make_user("leader1", "leader")
    make_user("op1", "operator")
    client.post(
        "/api/v1/users",
        headers=bearer("admin1"),
        json={"username": "c1", "password": "citizen-pass-1", "role": "citizen"},
    )
    page = client.get(
        "/api/v1/audit", headers=bearer("leader1"), params={"actor": "admin1", "action": "user.create"}
    )
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 1 and body["items"][0]["details"]["username"] == "c1"
    ranged = client.get(
        "/api/v1/audit",
        headers=bearer("leader1"),
        params={"since": "2000-01-01T00:00:00+08:00", "until": "2000-01-02T00:00:00+08:00"},
    )
    assert ranged.json()["total"] == 0
    assert client.get("/api/v1/audit", headers=bearer("op1")).status_code == 403

"""The administrator's accounts pages: users and roles (filters, create, edit, deactivate, reset
the password), departments (list, create, edit) and the audit trail (filters, paging, totals)."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.pages.conftest import app_client, csrf_of, demo_engine, demo_settings, new_client, sign_in

from cityops.accounts import service
from cityops.accounts.models import User
from cityops.db import make_sessionmaker, unit_of_work

__all__ = ["app_client", "demo_engine", "demo_settings", "new_client"]  # fixtures

STREET = "330105005"


def _admin(client: TestClient, path: str = "/admin/users") -> str:
    sign_in(client, "admin")
    return csrf_of(client.get(path).text)


def _user_id(engine: Engine, username: str) -> str:
    with unit_of_work(make_sessionmaker(engine)) as session:
        return str(session.scalar(select(User.id).where(User.username == username)))


def test_user_list_filters_and_totals(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    page = new_client.get("/admin/users")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text and 'data-total="' in page.text
    handlers = new_client.get("/admin/users", params={"role": "handler", "active": "1"})
    assert 'data-user="handler-GS-CGJ"' in handlers.text and 'data-user="admin"' not in handlers.text
    street = new_client.get("/admin/users", params={"street": STREET})
    assert f'data-user="street-{STREET}"' in street.text and 'data-user="operator"' not in street.text
    by_dept = new_client.get("/admin/users", params={"department_code": "GS-CGJ"})
    assert 'data-user="handler-GS-CGJ"' in by_dept.text
    assert new_client.get("/admin/users", params={"role": "king"}).status_code == 422
    assert new_client.get("/admin/users", params={"street": "x'; drop"}).status_code == 422
    assert new_client.get("/admin/users/not-a-uuid").status_code == 422
    assert new_client.get("/admin/users/00000000-0000-4000-8000-000000000000").status_code == 404


def test_create_a_user_with_a_one_time_password(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client, "/admin/users/new")
    bad = new_client.post(
        "/admin/users/new",
        data={"csrf_token": token, "username": "x", "role": "handler", "display_name": "保留的名字"},
    )
    assert bad.status_code == 422 and 'id="username-error"' in bad.text and "保留的名字" in bad.text
    no_dept = new_client.post(
        "/admin/users/new", data={"csrf_token": token, "username": "new-handler", "role": "handler"}
    )
    assert no_dept.status_code == 422 and 'id="department_code-error"' in no_dept.text
    taken = new_client.post(
        "/admin/users/new", data={"csrf_token": token, "username": "operator", "role": "operator"}
    )
    assert taken.status_code == 422 and 'id="username-error"' in taken.text
    made = new_client.post(
        "/admin/users/new",
        data={"csrf_token": token, "username": "new-handler", "role": "handler", "department_code": "GS-CGJ"},
    )
    assert made.status_code == 200 and 'id="one-time-password"' in made.text
    password = re.search(r'<code class="password">([^<]+)</code>', made.text).group(1)  # type: ignore[union-attr]
    other = TestClient(new_client.app, headers={"Accept": "text/html"})
    sign_in(other, "new-handler", password)
    assert "new-handler" in other.get("/home").text


def test_edit_roles_deactivate_and_reset(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client)
    user_id = _user_id(demo_engine, "inspector")
    page = new_client.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and 'name="role"' in page.text
    bad_area = new_client.post(
        f"/admin/users/{user_id}", data={"csrf_token": token, "role": "inspector", "area_code": "999"}
    )
    assert (
        bad_area.status_code == 422
        and 'id="area_code-error"' in bad_area.text
        and 'value="999"' in bad_area.text
    )
    scoped = new_client.post(
        f"/admin/users/{user_id}",
        data={"csrf_token": token, "role": "inspector", "area_code": STREET, "display_name": "监督员"},
        follow_redirects=False,
    )
    assert scoped.status_code == 303
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert service.get_user(session, uuid.UUID(user_id)).area_code == STREET
    off = new_client.post(
        f"/admin/users/{user_id}/active", data={"csrf_token": token, "active": "0"}, follow_redirects=False
    )
    assert off.status_code == 303
    short = new_client.post(
        f"/admin/users/{user_id}/password", data={"csrf_token": token, "mode": "set", "password": "short"}
    )
    assert short.status_code == 422 and 'id="password-error"' in short.text
    generated = new_client.post(
        f"/admin/users/{user_id}/password", data={"csrf_token": token, "mode": "generate"}
    )
    assert generated.status_code == 200 and 'class="password"' in generated.text
    assert "password" not in generated.headers.get("set-cookie", "")
    on = new_client.post(
        f"/admin/users/{user_id}/active", data={"csrf_token": token, "active": "1"}, follow_redirects=False
    )
    assert on.status_code == 303
    admin_id = _user_id(demo_engine, "admin")
    last = new_client.post(f"/admin/users/{admin_id}/active", data={"csrf_token": token, "active": "0"})
    assert last.status_code == 409 and 'id="active-error"' in last.text


def test_departments_create_and_edit(new_client: TestClient, demo_engine: Engine) -> None:
    token = _admin(new_client, "/admin/departments")
    page = new_client.get("/admin/departments", params={"kind": "street"})
    assert page.status_code == 200 and "办事处" in page.text
    bad = new_client.post(
        "/admin/departments", data={"csrf_token": token, "code": "坏 code", "name": "测试部门"}
    )
    assert bad.status_code == 422 and 'id="code-error"' in bad.text and "测试部门" in bad.text
    dup = new_client.post("/admin/departments", data={"csrf_token": token, "code": "GS-CGJ", "name": "重复"})
    assert dup.status_code == 422 and 'id="code-error"' in dup.text
    no_area = new_client.post(
        "/admin/departments",
        data={"csrf_token": token, "code": "GS-TEST", "name": "测试部门", "area_code": "1"},
    )
    assert no_area.status_code == 422 and 'id="area_code-error"' in no_area.text
    made = new_client.post(
        "/admin/departments",
        data={"csrf_token": token, "code": "GS-TEST", "name": "测试部门", "kind": "utility", "active": "1"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    edit = new_client.post(
        "/admin/departments/GS-TEST",
        data={"csrf_token": token, "name": "测试部门二", "kind": "utility"},
        follow_redirects=False,
    )
    assert edit.status_code == 303
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        d = service.get_department(session, "GS-TEST")
        assert d.name == "测试部门二" and d.active is False
    assert new_client.get("/admin/departments/NOPE").status_code == 404


def test_audit_trail_filters(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    page = new_client.get("/admin/audit")
    assert page.status_code == 200 and 'data-total="' in page.text
    logins = new_client.get("/admin/audit", params={"action": "auth.login", "actor": "admin"})
    assert 'data-action="auth.login"' in logins.text and 'data-action="user.create"' not in logins.text
    today = new_client.get("/admin/audit", params={"since": "2020-01-01", "until": "2100-12-31"})
    assert today.status_code == 200
    blank = new_client.get("/admin/audit", params={"actor": "", "since": "", "until": "", "action": ""})
    assert blank.status_code == 200  # what the filter bar sends
    nothing = new_client.get("/admin/audit", params={"until": "2000-01-01"})
    assert 'data-total="0"' in nothing.text
    assert new_client.get("/admin/audit", params={"since": "yesterday"}).status_code == 422
    assert new_client.get("/admin/audit", params={"until": "2026-02-30"}).status_code == 422
    assert new_client.get("/admin/audit", params={"offset": "-5"}).status_code == 422


def test_csrf_and_roles(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    assert new_client.post("/admin/users/new", data={"username": "zz", "role": "operator"}).status_code == 403
    assert new_client.post("/admin/departments", data={"code": "Z", "name": "Z"}).status_code == 403
    new_client.cookies.clear()
    sign_in(new_client, "leader")
    for path in ("/admin/users", "/admin/users/new", "/admin/departments", "/admin/audit"):
        assert new_client.get(path).status_code == 403, path

"""The administrator's home and every admin page: HTML in the layout, CSRF in every form, English
after the switch, 403 for other roles, the admin's landing page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.pages.conftest import csrf_of, sign_in

ADMIN_PAGES = (
    "/admin",
    "/admin/areas",
    "/admin/areas/330105005",
    "/admin/areas/import",
    "/admin/categories",
    "/admin/categories/06010",
    "/admin/categories/06010/limits",
    "/admin/responsibilities",
    "/admin/departments",
    "/admin/departments/GS-CGJ",
    "/admin/users",
    "/admin/users/new",
    "/admin/calendar",
    "/admin/audit",
)


def test_the_admin_lands_on_the_admin_home(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    assert new_client.get("/", follow_redirects=False).headers["location"] == "/admin"
    home = new_client.get("/admin")
    assert home.status_code == 200 and 'href="/admin"' in home.text  # the header's nav entry
    for href in (
        "/admin/areas",
        "/admin/categories",
        "/admin/responsibilities",
        "/admin/departments",
        "/admin/users",
        "/admin/calendar",
        "/admin/audit",
    ):
        assert f'href="{href}"' in home.text, href
    assert re.search(r'<span class="n">\d+</span>', home.text)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_admin_page_renders_with_csrf_in_every_form(new_client: TestClient, lang: str) -> None:
    sign_in(new_client, "admin")
    if lang == "en":
        token = csrf_of(new_client.get("/admin").text)
        new_client.post("/lang", data={"csrf_token": token, "lang": "en", "next": "/admin"})
    for path in ADMIN_PAGES:
        page = new_client.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert page.headers["content-type"].startswith("text/html")
        assert f'<html lang="{lang}">' in page.text, path
        forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", page.text, flags=re.S)
        assert forms, path
        for form in forms:
            assert 'name="csrf_token"' in form, (path, form[:200])
        if lang == "en":
            assert "Administration" in page.text, path


@pytest.mark.parametrize("user", ["operator", "dispatcher", "leader", "inspector", "handler-GS-CGJ"])
def test_other_roles_get_403(new_client: TestClient, user: str) -> None:
    sign_in(new_client, user)
    for path in ADMIN_PAGES:
        page = new_client.get(path)
        assert page.status_code == 403 and "无权访问" in page.text, (user, path)

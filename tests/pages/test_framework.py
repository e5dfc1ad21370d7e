"""The page framework: sign-in, redirects, CSRF, language, error pages, security headers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.pages.conftest import csrf_of, sign_in


def test_root_sends_a_stranger_to_sign_in(new_client: TestClient) -> None:
    response = new_client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    page = new_client.get("/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in page.text and "登录" in page.text
    assert 'name="csrf_token"' in page.text


def test_sign_in_goes_to_the_role_home_and_back_to_next(new_client: TestClient) -> None:
    sign_in(new_client, "operator")
    response = new_client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/home"
    new_client.cookies.clear()
    sign_in(new_client, "dispatcher", next_url="/home?x=1")


def test_wrong_password_is_shown_next_to_the_field_and_keeps_the_name(new_client: TestClient) -> None:
    page = new_client.get("/login")
    response = new_client.post(
        "/login", data={"username": "operator", "password": "nope", "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 422
    assert 'value="operator"' in response.text  # what was typed is kept
    assert 'class="field-error" id="password-error"' in response.text
    assert "nope" not in response.text  # a password is never echoed


def test_missing_fields_are_marked_in_chinese(new_client: TestClient) -> None:
    page = new_client.get("/login")
    response = new_client.post(
        "/login", data={"username": "", "password": "", "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 422
    assert 'id="username-error"' in response.text and "请填写此项" in response.text


def test_a_form_without_its_csrf_token_is_refused(new_client: TestClient) -> None:
    new_client.get("/login")
    response = new_client.post("/login", data={"username": "operator", "password": "demo"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "安全令牌" in response.text
    assert "cityops_session" not in response.headers.get("set-cookie", "")
    # A token from another browser does not count either.
    response = new_client.post(
        "/login", data={"username": "operator", "password": "demo", "csrf_token": "x" * 43}
    )
    assert response.status_code == 403


def test_language_switch_is_remembered(new_client: TestClient) -> None:
    page = new_client.get("/login")
    response = new_client.post(
        "/lang",
        data={"lang": "en", "next": "/login", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    english = new_client.get("/login")
    assert '<html lang="en">' in english.text and "Sign in" in english.text and "用户名" not in english.text
    wrong = new_client.post(
        "/login", data={"username": "", "password": "", "csrf_token": csrf_of(english.text)}
    )
    assert "Field required" in wrong.text or "at least 1 character" in wrong.text
    sign_in(new_client, "dispatcher")
    assert '<span class="role">Dispatcher</span>' in new_client.get("/home").text
    page = new_client.get("/home")
    signed_out = new_client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert "You have signed out" in signed_out.text  # a flash message made in the handler
    sign_in(new_client, "dispatcher")
    back = new_client.post(
        "/lang", data={"lang": "zh-CN", "next": "/login", "csrf_token": csrf_of(english.text)}
    )
    assert '<html lang="zh-CN">' in back.text


def test_expired_session_returns_to_sign_in_and_back(new_client: TestClient) -> None:
    new_client.cookies.set("cityops_session", "not-a-valid-token")
    response = new_client.get("/home?tab=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/home%3Ftab%3D1&expired=1"
    page = new_client.get(response.headers["location"])
    assert "登录已过期" in page.text and 'name="next" value="/home?tab=1"' in page.text
    new_client.cookies.delete("cityops_session")
    response = new_client.post(
        "/login",
        data={
            "username": "operator",
            "password": "demo",
            "next": "/home?tab=1",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/home?tab=1"


def test_htmx_request_with_expired_session_gets_hx_redirect(new_client: TestClient) -> None:
    response = new_client.get(
        "/home",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/home"},
        follow_redirects=False,
    )
    assert response.headers.get("hx-redirect") == "/login?next=/home"


def test_no_open_redirect_after_sign_in(new_client: TestClient) -> None:
    page = new_client.get("/login")
    response = new_client.post(
        "/login",
        data={
            "username": "operator",
            "password": "demo",
            "next": "//evil.example",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/home"


def test_unknown_page_is_a_404_page_and_api_stays_json(new_client: TestClient) -> None:
    page = new_client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "找不到该页面" in page.text
    api = new_client.get("/api/v1/no-such", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"]["code"] == "http_404"


def test_pages_carry_security_headers(new_client: TestClient) -> None:
    page = new_client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin")
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # no inline scripts (CSP would block them)


def test_static_files_and_vendor_are_served(new_client: TestClient) -> None:
    assert new_client.get("/static/css/cityops.css").status_code == 200
    assert new_client.get("/static/js/cityops.js").status_code == 200


def test_map_base_layer_is_the_districts_geojson(new_client: TestClient) -> None:
    data = new_client.get("/map/areas.geojson").json()
    levels = {f["properties"]["level"] for f in data["features"]}
    assert levels == {"district", "street"}
    street = next(f["properties"]["code"] for f in data["features"] if f["properties"]["level"] == "street")
    with_grids = new_client.get(f"/map/areas.geojson?street={street}").json()
    grids = [f for f in with_grids["features"] if f["properties"]["level"] == "grid"]
    assert grids and all(f["properties"]["code"].startswith(street) for f in grids)


def test_a_script_gets_the_json_error_shape_from_a_page(new_client: TestClient) -> None:
    new_client.get("/login")
    response = new_client.post(
        "/login", data={"username": "operator", "password": "demo"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed" and " / " in response.json()["error"]["message"]

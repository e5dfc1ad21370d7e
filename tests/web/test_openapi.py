"""The OpenAPI document tells the truth: security schemes, the real error shape, the answers each
route gives, the case actions, the length limits the server enforces; docs pages work offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cityops.cases.transitions import ACTIONS
from cityops.config import Settings
from cityops.web.app import create_app


def _spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _ref(response: dict[str, Any]) -> str:
    return str(response["content"]["application/json"]["schema"]["$ref"])


def test_security_schemes_and_which_routes_need_them(client: TestClient) -> None:
    spec = _spec(client)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["cookieAuth"]["type"] == "apiKey" and schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["cookieAuth"]["name"] == "cityops_session"
    listing = spec["paths"]["/api/v1/cases"]["get"]
    assert listing["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]
    assert "security" not in spec["paths"]["/api/v1/public/cases/{code}"]["get"]
    assert "security" not in spec["paths"]["/api/v1/auth/token"]["post"]


def test_errors_have_the_real_shape_per_route(client: TestClient) -> None:
    spec = _spec(client)
    error = spec["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["error"]
    detail = spec["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "details"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    expected = {
        ("/api/v1/cases", "get"): {"401", "403", "422"},
        ("/api/v1/cases", "post"): {"401", "403", "409", "413", "415", "422"},
        ("/api/v1/cases/{ref}", "get"): {"401", "403", "404", "422"},
        ("/api/v1/cases/{ref}/{action}", "post"): {"401", "403", "404", "409", "422"},
        ("/api/v1/public/cases/{code}", "get"): {"404", "422", "429"},
        ("/api/v1/auth/token", "post"): {"401", "422", "429"},
    }
    for (path, method), statuses in expected.items():
        responses = spec["paths"][path][method]["responses"]
        assert statuses <= set(responses), (path, method, sorted(responses))
        for status in statuses:
            assert _ref(responses[status]) == "#/components/schemas/ErrorOut", (path, status)
    assert "401" not in spec["paths"]["/healthz"]["get"]["responses"]
    retry = spec["paths"]["/api/v1/public/cases/{code}"]["get"]["responses"]["429"]
    assert "Retry-After" in retry["headers"]


def test_case_actions_are_an_enum_in_the_endpoints_spelling(client: TestClient) -> None:
    spec = _spec(client)
    params = spec["paths"]["/api/v1/cases/{ref}/{action}"]["post"]["parameters"]
    action = next(p for p in params if p["name"] == "action")
    assert action["schema"]["enum"] == [a.replace("_", "-") for a in ACTIONS]


def test_length_limits_are_the_ones_the_server_enforces(tmp_path: Path) -> None:
    from tests.conftest import new_database

    engine, cleanup = new_database("sqlite", tmp_path)
    settings = Settings(
        demo_mode=True, worker_in_process=False, max_description_chars=1234, max_note_chars=321
    )
    try:
        with TestClient(create_app(settings, engine=engine)) as c:
            schemas = _spec(c)["components"]["schemas"]
    finally:
        cleanup()
    assert schemas["CaseCreate"]["properties"]["description"]["maxLength"] == 1234
    note = schemas["ActionInput"]["properties"]["note"]
    assert [s.get("maxLength") for s in note["anyOf"] if s.get("type") == "string"] == [321]
    default = Settings()
    assert default.max_description_chars == 5000  # the documented default


def test_docs_pages_load_nothing_from_another_host(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"', page.text)
        assert urls, page.text
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), (path, url)
            if url.startswith("/static/"):
                assert client.get(url).status_code == 200, url
        assert "<script>" not in page.text  # no inline script: the strict script-src holds
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "swagger-ui-bundle.js" in client.get("/docs").text
    assert "redoc.standalone.js" in client.get("/redoc").text


def test_idempotency_is_documented_where_it_applies(client: TestClient) -> None:
    paths = _spec(client)["paths"]
    create = paths["/api/v1/cases"]["post"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert key["in"] == "header" and "422" in create["responses"]
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    token = paths["/api/v1/auth/token"]["post"]
    assert not any(p["name"] == "Idempotency-Key" for p in token.get("parameters", []))  # never replayed

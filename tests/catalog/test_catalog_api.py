"""HTTP contract of the catalog and department endpoints (a small app with the routers)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from cityops.accounts.principal import Principal
from cityops.catalog.api import XLSX, router, router_departments
from cityops.config import Settings
from cityops.errors import DomainError
from cityops.web.deps import current_principal

ADMIN = Principal(id=uuid.uuid4(), username="admin", role="admin")
OPERATOR = Principal(id=uuid.uuid4(), username="op", role="operator")


@pytest.fixture()
def app(loaded: Session, factory: sessionmaker[Session]) -> FastAPI:
    loaded.commit()
    app = FastAPI()
    app.include_router(router)
    app.include_router(router_departments)
    app.state.sessionmaker = factory
    app.state.settings = Settings()

    @app.exception_handler(DomainError)
    def _domain(_: Request, e: DomainError) -> JSONResponse:
        body = {"error": {"code": e.code, "message": e.message, "details": e.details}}
        return JSONResponse(status_code=e.status, content=body)

    app.dependency_overrides[current_principal] = lambda: ADMIN
    return app


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def test_get_category_contract(client: TestClient) -> None:
    r = client.get("/api/v1/catalog/categories/06010")
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == "06010" and body["name"] == "暴露垃圾" and body["kind"] == "event"
    assert body["time_limit"] == {"kind": "working_hours", "value": 4.0}
    assert body["grade_limits"] == {
        "A": {"kind": "working_hours", "value": 3.0},
        "C": {"kind": "working_hours", "value": 6.0},
    }
    assert body["local"] is False and body["active"] is True


def test_unknown_category_is_404_with_error_body(client: TestClient) -> None:
    r = client.get("/api/v1/catalog/categories/99999")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "category_not_found"


def test_list_filters_and_pagination(client: TestClient) -> None:
    r = client.get("/api/v1/catalog/categories", params={"kind": "component", "limit": 10})
    body = r.json()
    assert body["total"] == 153 and len(body["items"]) == 10 and body["items"][0]["code"] == "C01001"
    r = client.get("/api/v1/catalog/categories", params={"q": "暴露垃圾"})
    assert [c["code"] for c in r.json()["items"]] == ["06010"]
    r = client.get("/api/v1/catalog/categories", params={"local": True})
    assert r.json()["total"] == 0


def test_create_patch_and_limits(client: TestClient) -> None:
    new = {
        "code": "GS-0101",
        "name": "沿街晾晒",
        "kind": "event",
        "time_limit": {"kind": "working_hours", "value": 2},
        "grade_limits": {"A": {"kind": "working_hours", "value": 1}},
    }
    r = client.post("/api/v1/catalog/categories", json=new)
    assert r.status_code == 201, r.text
    assert r.json()["local"] is True and r.json()["grade_limits"]["A"]["value"] == 1.0
    assert client.post("/api/v1/catalog/categories", json=new).status_code == 409
    reserved = client.post("/api/v1/catalog/categories", json=new | {"code": "06099"})
    assert reserved.status_code == 422 and reserved.json()["error"]["code"] == "reserved_category_code"

    r = client.patch(
        "/api/v1/catalog/categories/06010",
        json={"closing_criterion": "清理干净", "grade_limits": {"A": None}},
    )
    assert r.status_code == 200
    assert r.json()["closing_criterion"] == "清理干净" and "A" not in r.json()["grade_limits"]

    r = client.put(
        "/api/v1/catalog/categories/06010/time-limits",
        json={"time_limit": {"kind": "working_days", "value": 1}, "grade_limits": {}},
    )
    assert r.json() == {"time_limit": {"kind": "working_days", "value": 1.0}, "grade_limits": {}}
    assert client.get("/api/v1/catalog/categories/06010/time-limits").json() == r.json()


def test_responsibilities(client: TestClient) -> None:
    rows = [
        {"category_code": "06010", "area_code": "330105", "department_code": "CGJ"},
        {"category_code": "06010", "area_code": "330105001", "department_code": "MZQ"},
    ]
    r = client.put("/api/v1/catalog/responsibilities", json=rows)
    assert r.status_code == 200 and len(r.json()) == 2
    listed = client.get("/api/v1/catalog/responsibilities", params={"category_code": "06010"}).json()
    assert listed["total"] == 2
    bad = client.put(
        "/api/v1/catalog/responsibilities",
        json=[{"category_code": "06010", "area_code": "330105", "department_code": "NOPE"}],
    )
    assert (
        bad.status_code == 422 and bad.json()["error"]["details"]["errors"][0]["field"] == "department_code"
    )
    row_id = listed["items"][0]["id"]
    assert client.delete(f"/api/v1/catalog/responsibilities/{row_id}").status_code == 204
    assert client.delete(f"/api/v1/catalog/responsibilities/{row_id}").status_code == 404


def test_departments(client: TestClient) -> None:
    r = client.get("/api/v1/departments")
    assert r.status_code == 200
    assert [(d["code"], d["kind"]) for d in r.json()] == [
        ("CGJ", "department"),
        ("HWC", "department"),
        ("MZQ", "street"),
    ]
    assert set(r.json()[0]) >= {"code", "name", "kind", "area_code"}
    assert client.get("/api/v1/departments/MZQ").json()["area_code"] == "330105001"
    assert client.get("/api/v1/departments/NONE").status_code == 404
    r = client.post("/api/v1/departments", json={"code": "SWJ", "name": "区水务局"})
    assert r.status_code == 201
    r = client.patch("/api/v1/departments/SWJ", json={"phone": "0571-1234"})
    assert r.json()["phone"] == "0571-1234" and r.json()["name"] == "区水务局"


def test_edits_need_admin(app: FastAPI, client: TestClient) -> None:
    app.dependency_overrides[current_principal] = lambda: OPERATOR
    assert client.get("/api/v1/catalog/categories/06010").status_code == 200
    r = client.patch("/api/v1/catalog/categories/06010", json={"active": False})
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_not_allowed"
    assert client.post("/api/v1/departments", json={"code": "X", "name": "x"}).status_code == 403


def test_export_and_import_over_http(client: TestClient) -> None:
    r = client.get("/api/v1/catalog/export.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    wb = load_workbook(io.BytesIO(r.content))
    wb["类别"]["G2"] = "新的立案标准"
    wb["时限"].append(["99999", "", "工作时", 1])  # unknown category → the whole import is refused
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("catalog.xlsx", buf.getvalue(), "application/octet-stream")}
    bad = client.post("/api/v1/catalog/import.xlsx", files=files)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["errors"][0]["sheet"] == "时限"
    assert client.get("/api/v1/catalog/categories/01001").json()["filing_criterion"] == ""

    wb["时限"].delete_rows(wb["时限"].max_row)
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("catalog.xlsx", buf.getvalue(), "application/octet-stream")}
    ok = client.post("/api/v1/catalog/import.xlsx", files=files)
    assert ok.status_code == 200, ok.text
    assert ok.json()["categories"] == 403
    assert client.get("/api/v1/catalog/categories/01001").json()["filing_criterion"] == "新的立案标准"


def test_department_edits_are_audited_with_the_admin(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    from sqlalchemy import select

    from cityops.accounts.models import AuditEvent

    assert client.post("/api/v1/departments", json={"code": "SWJ", "name": "区水务局"}).status_code == 201
    assert client.patch("/api/v1/departments/SWJ", json={"active": False}).status_code == 200
    with factory() as s:
        stmt = select(AuditEvent.action, AuditEvent.actor_name).where(AuditEvent.subject_id == "SWJ")
        rows = s.execute(stmt.order_by(AuditEvent.id)).all()
    assert [tuple(r) for r in rows] == [("department.create", "admin"), ("department.update", "admin")]

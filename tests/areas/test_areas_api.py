"""The areas HTTP API on a tiny test app (the real app mounts the same router)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cityops.accounts.principal import Principal
from cityops.areas import api, service
from cityops.db import make_sessionmaker
from cityops.errors import DomainError


def _app(engine: Engine, role: str | None) -> FastAPI:
    app = FastAPI()
    app.state.sessionmaker = make_sessionmaker(engine)
    app.include_router(api.router)

    @app.exception_handler(DomainError)
    def _domain(_: Request, err: DomainError) -> JSONResponse:
        body = {"error": {"code": err.code, "message": err.message, "details": err.details}}
        return JSONResponse(body, status_code=err.status)

    if role is not None:
        principal = Principal(id=uuid.uuid4(), username=role, role=role)
        app.dependency_overrides[api.admin_only] = lambda: principal
    return app


@pytest.fixture()
def client(areas_engine: Engine) -> Iterator[TestClient]:
    with make_sessionmaker(areas_engine)() as session:
        service.load_demo_areas(session)
        session.commit()
    with TestClient(_app(areas_engine, "admin")) as c:
        yield c


def test_list_filters_detail_and_children(client: TestClient) -> None:
    streets = client.get("/api/v1/areas", params={"level": "street"}).json()
    assert len(streets) == 18 and streets[0]["code"] == "330105001" and streets[0]["geometry"] is None
    kids = client.get("/api/v1/areas", params={"parent_code": "330105005"}).json()
    assert kids and all(k["level"] == "community" for k in kids)
    one = client.get("/api/v1/areas/330105005", params={"geometry": "true"}).json()
    assert one["name"] == "拱宸桥街道" and one["geometry"]["type"] in ("Polygon", "MultiPolygon")
    children = client.get(f"/api/v1/areas/{kids[0]['code']}/children").json()
    assert children and all(len(c["code"]) == 15 for c in children)
    missing = client.get("/api/v1/areas/330105999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad_level = client.get("/api/v1/areas", params={"level": "county"})
    assert bad_level.status_code == 422


def test_locate_and_its_errors(client: TestClient) -> None:
    ok = client.get("/api/v1/areas/locate", params={"lon": "120.1348", "lat": "30.3208"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["street_code"] == "330105005" and len(ok.json()["grid_code"]) == 15
    gcj = client.get("/api/v1/areas/locate", params={"lon": "120.1395", "lat": "30.3185", "crs": "gcj02"})
    assert gcj.status_code == 200 and gcj.json()["lon"] == pytest.approx(120.1348, abs=0.0006)
    for params, code in [
        ({"lon": "abc", "lat": "30.3"}, "invalid"),
        ({"lon": "200", "lat": "30.3"}, "invalid_coordinates"),
        ({"lon": "nan", "lat": "30.3"}, "invalid"),
        ({"lon": "120.1", "lat": "30.3", "crs": "bd09"}, "invalid_crs"),
        ({"lon": "116.4", "lat": "39.9"}, "outside_district"),
    ]:
        r = client.get("/api/v1/areas/locate", params=params)
        assert r.status_code == 422, params
        assert r.json()["error"]["code"] == code, params


def test_import_requires_admin_and_invalidates(areas_engine: Engine, client: TestClient) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "330105005001", "name": "桥西社区（更新）"},
                "geometry": client.get("/api/v1/areas/330105005001", params={"geometry": True}).json()[
                    "geometry"
                ],
            }
        ],
    }
    r = client.post("/api/v1/areas/import", params={"level": "community"}, json=fc)
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 0, "updated": 1, "total": 1}
    assert client.get("/api/v1/areas/330105005001").json()["name"] == "桥西社区（更新）"
    bad = client.post("/api/v1/areas/import", params={"level": "street"}, json=fc)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["feature_index"] == 0
    with TestClient(_app(areas_engine, None)) as anonymous:
        # No override and no token: the real dependency refuses before the service runs.
        assert anonymous.post("/api/v1/areas/import", json=fc).status_code == 401

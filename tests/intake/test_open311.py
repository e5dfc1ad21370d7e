"""Open311 GeoReport v2 as an unchanged client uses it, responses validated against the
published JSON Schemas (../shared/data/open311, skipped when absent); errors in the spec's shape;
hostile XML refused; the demo key refused outside demo mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from cityops.config import Settings
from cityops.web.app import create_app

KEY = "demo-open311-key"
POINT = {"lat": "30.33036", "long": "120.13616"}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def schemas(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "open311"
    if not folder.is_dir():
        pytest.skip("Open311 schemas are absent")
    return {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}


def _validate(schemas: dict[str, Any], name: str, instance: Any) -> None:
    from jsonschema import Draft7Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    registry = Registry().with_resources(
        (n, Resource.from_contents(s, default_specification=DRAFT7)) for n, s in schemas.items()
    )
    errors = list(Draft7Validator(schemas[name], registry=registry).iter_errors(instance))
    assert not errors, [e.message for e in errors[:5]]


def test_client_creates_and_lists(client: TestClient, schemas: dict[str, Any]) -> None:
    r = client.get("/open311/v2/discovery.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"

    r = client.get("/open311/v2/services.json")
    assert r.status_code == 200
    services = r.json()
    _validate(schemas, "services.json", services)
    assert any(s["service_code"] == "06010" for s in services)
    d = client.get("/open311/v2/services/06010.json").json()
    _validate(schemas, "service-definition.json", d)

    body = {
        "api_key": KEY,
        "service_code": "06010",
        "description": "桥西直街路边暴露垃圾，电话13812345678",
        "attribute[urgency]": "urgent",
        "media_url": "https://example.org/p.jpg",
        **POINT,
    }
    r = client.post("/open311/v2/requests.json", data=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert isinstance(created, list) and created[0]["service_request_id"].startswith("GS")
    rid = created[0]["service_request_id"]

    r = client.get(f"/open311/v2/requests/{rid}.json")
    _validate(schemas, "requests.json", r.json())
    one = r.json()[0]
    assert (
        one["status"] == "open" and one["service_code"] == "06010" and "13812345678" not in one["description"]
    )
    assert one["lat"] == pytest.approx(30.33036, abs=1e-4)

    listed = client.get(
        "/open311/v2/requests.json", params={"service_code": "06010", "status": "open"}
    ).json()
    _validate(schemas, "requests.json", listed)
    assert rid in {x["service_request_id"] for x in listed}
    ext = client.get(f"/open311/v2/requests/{rid}.json", params={"extensions": "true"}).json()[0]
    assert ext["extended_attributes"]["cityops_state"] == "reported"
    page = client.get("/open311/v2/requests.json", params={"page": 2, "page_size": 1000}).json()
    assert page == []

    r = client.get(f"/open311/v2/requests/{rid}.xml")
    assert r.headers["content-type"].startswith("text/xml")
    root = SafeET.fromstring(r.content)
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == rid  # type: ignore[union-attr]
    assert SafeET.fromstring(client.get("/open311/v2/services.xml").content).tag == "services"


def test_errors_in_the_spec_shape(client: TestClient) -> None:
    r = client.post("/open311/v2/requests.json", data={"service_code": "06010", **POINT})
    assert r.status_code == 403 and r.json()[0]["code"] == 403 and r.json()[0]["description"]
    r = client.post("/open311/v2/requests.json", data={"api_key": KEY, "service_code": "99999", **POINT})
    assert r.status_code == 400 and isinstance(r.json(), list)
    r = client.post(
        "/open311/v2/requests.json",
        data={"api_key": KEY, "service_code": "06010", "lat": "31.9", "long": "121.9"},
    )
    assert r.status_code == 400 and "outside jurisdiction" in r.json()[0]["description"]
    assert client.get("/open311/v2/requests/GS00000000-99999.json").status_code == 404
    assert client.get("/open311/v2/services/99999.xml").status_code == 404
    r = client.get(
        "/open311/v2/requests.json",
        params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-12-01T00:00:00Z"},
    )
    assert r.status_code == 400
    xml_err = client.get("/open311/v2/tokens/nope.xml")
    assert xml_err.status_code == 404 and SafeET.fromstring(xml_err.content).tag == "errors"


def test_hostile_xml_is_refused(client: TestClient) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<request><api_key>demo-open311-key</api_key><description>&b;</description></request>"
    )
    r = client.post("/open311/v2/requests.json", content=bomb, headers={"Content-Type": "text/xml"})
    assert r.status_code == 400 and isinstance(r.json(), list)
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<request><description>&x;</description></request>"
    )
    r = client.post("/open311/v2/requests.json", content=xxe, headers={"Content-Type": "text/xml"})
    assert r.status_code == 400 and b"root:" not in r.content
    ok = (
        f"<request><api_key>{KEY}</api_key><service_code>06010</service_code><lat>30.33036</lat>"
        f"<long>120.13616</long><description>XML 客户端上报的垃圾</description></request>"
    ).encode()
    r = client.post("/open311/v2/requests.xml", content=ok, headers={"Content-Type": "text/xml"})
    assert (
        r.status_code == 201 and SafeET.fromstring(r.content).find("request/service_request_id") is not None
    )


@pytest.fixture
def production_client(world: tuple[Engine, Settings]) -> Iterator[TestClient]:
    engine, settings = world
    prod = settings.model_copy(
        update={"demo_mode": False, "secret_key": "x" * 32, "open311_api_keys": ["real-key-1"]}
    )
    app = create_app(prod, engine=engine)
    app.state.start_worker = False
    yield TestClient(app, raise_server_exceptions=False)  # no lifespan: demo accounts would refuse


def test_demo_key_refused_outside_demo_mode(production_client: TestClient) -> None:
    body = {"service_code": "06010", "description": "x垃圾", **POINT}
    r = production_client.post("/open311/v2/requests.json", data={"api_key": KEY, **body})
    assert r.status_code == 403
    r = production_client.post("/open311/v2/requests.json", data={"api_key": "real-key-1", **body})
    assert r.status_code == 201, r.text

"""The cockpit pages and data: every panel renders for a leader, scoping for a street, the report prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.pages.conftest import sign_in

from cityops.cockpit.pages import PANELS
from cityops.config import Settings
from cityops.web.app import create_app


@pytest.fixture()
def client(demo_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp_path)
    with TestClient(create_app(settings, engine=demo_engine), raise_server_exceptions=False) as c:
        yield c


def test_leader_lands_on_the_cockpit_with_every_panel(client: TestClient) -> None:
    sign_in(client, "leader")
    home = client.get("/", follow_redirects=False)
    assert home.headers["location"].endswith("/cockpit")
    page = client.get("/cockpit")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    for name in PANELS:
        assert f'hx-get="/cockpit/panels/{name}"' in page.text
        part = client.get(f"/cockpit/panels/{name}")
        assert part.status_code == 200, (name, part.text[:300])
    cards = client.get("/cockpit/panels/cards").text
    assert "结案率" in cards and "level-" in cards
    assert "亮榜晒绩" in client.get("/cockpit/panels/rankings").text
    assert "未结案件" in client.get("/cockpit/panels/overview").text


def test_data_endpoints_are_scoped_to_the_street(client: TestClient) -> None:
    sign_in(client, "leader")
    everything = client.get("/api/v1/cockpit/heat").json()
    assert everything["total"] > 0 and all(len(p) == 3 for p in everything["points"])
    geo = client.get("/api/v1/cockpit/geo", params={"level": "street"}).json()
    assert len(geo["features"]) == 18
    coloured = client.get(
        "/api/v1/cockpit/map", params={"indicator": "GOV.closure_rate", "level": "street"}
    ).json()
    assert len(coloured["values"]) == 18
    assert client.get("/api/v1/cockpit/geo", params={"level": "planet"}).status_code == 422


def test_a_street_account_sees_only_its_street(client: TestClient, demo_engine: Engine) -> None:
    sign_in(client, "street-330105005")
    heat = client.get("/api/v1/cockpit/heat").json()
    assert heat["area"] == "330105005"
    geo = client.get("/api/v1/cockpit/geo", params={"level": "community"}).json()
    assert geo["features"] and all(f["id"].startswith("330105005") for f in geo["features"])
    assert client.get("/cockpit").status_code == 200
    risky = client.get("/api/v1/cockpit/at-risk").json()
    assert all(r["street_code"] == "330105005" for r in risky)


def test_citizens_and_handlers_have_no_cockpit(client: TestClient) -> None:
    sign_in(client, "citizen1")
    assert client.get("/cockpit").status_code == 403
    assert client.get("/api/v1/cockpit/overview").status_code == 403


def test_indicator_page_drills_down(client: TestClient) -> None:
    sign_in(client, "leader")
    district = client.get("/cockpit/indicators/GOV.closure_rate")
    assert district.status_code == 200
    assert "closed / due * 100" in district.text and "?area=330105005" in district.text
    # The level colours (.level-red, .badge.level-*) live in cockpit.css.
    assert '<link rel="stylesheet" href="/static/css/cockpit.css">' in district.text
    street = client.get("/cockpit/indicators/GOV.closure_rate", params={"area": "330105005"})
    assert street.status_code == 200 and "?area=330105005" in street.text
    assert client.get("/cockpit/indicators/NOPE").status_code == 404


def test_monthly_report_prints(client: TestClient) -> None:
    sign_in(client, "leader")
    report = client.get("/cockpit/report", params={"month": "2026-10"})
    assert report.status_code == 200
    assert "城市运行月度报告" in report.text and "data-print" in report.text and "chart" in report.text
    assert client.get("/cockpit/report", params={"month": "2099-01"}).status_code == 422
    css = client.get("/static/css/cockpit.css").text
    assert "@media print" in css

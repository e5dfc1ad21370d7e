"""Maps without the internet: the district's GeoJSON is the base layer; tiles only when set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.pages.conftest import BROWSER, sign_in

from cityops.config import Settings
from cityops.kit.coords import wgs84_to_gcj02
from cityops.web.app import create_app

TILES = "https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&z={z}"


@pytest.fixture
def gcj_client(demo_engine: Engine, demo_settings: Settings) -> Iterator[TestClient]:
    settings = demo_settings.model_copy(update={"map_tile_url": TILES, "map_tile_crs": "gcj02"})
    with TestClient(
        create_app(settings, engine=demo_engine), raise_server_exceptions=False, headers=BROWSER
    ) as client:
        yield client


def _first_point(coordinates: list) -> tuple[float, float]:  # type: ignore[type-arg]
    while isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    return float(coordinates[0]), float(coordinates[1])


def test_no_tiles_by_default_and_nothing_from_other_hosts(new_client: TestClient) -> None:
    page = new_client.get("/report")
    assert "data-tile-url" not in page.text
    assert "img-src 'self' data: blob:;" in page.headers["content-security-policy"]
    assert "http://" not in page.text.replace("http://testserver", "") and "https://" not in page.text


def test_a_tile_url_adds_tiles_and_gcj02_points_are_converted(
    gcj_client: TestClient, new_client: TestClient
) -> None:
    page = gcj_client.get("/report")
    assert 'data-tile-url="https://t{s}.tianditu.gov.cn' in page.text and 'data-tile-crs="gcj02"' in page.text
    assert "https://*.tianditu.gov.cn" in page.headers["content-security-policy"]
    assert 'name="crs" value="gcj02"' in page.text  # a tapped point is sent in the tiles' system

    plain = new_client.get("/map/areas.geojson").json()
    shifted = gcj_client.get("/map/areas.geojson").json()
    lon, lat = _first_point(plain["features"][1]["geometry"]["coordinates"])
    glon, glat = _first_point(shifted["features"][1]["geometry"]["coordinates"])
    expected = wgs84_to_gcj02(lon, lat)
    assert abs(glon - expected[0]) < 1e-9 and abs(glat - expected[1]) < 1e-9
    assert abs(glon - lon) > 1e-4  # GCJ-02 is a few hundred metres off in Hangzhou


def test_case_page_map_has_the_point_and_grid(app_client: TestClient) -> None:
    client = TestClient(app_client.app, raise_server_exceptions=False, headers=BROWSER)
    sign_in(client, "dispatcher")
    import re

    code = re.search(r'href="/cases/(GS[0-9-]+)"', client.get("/cases").text)
    assert code
    page = client.get(f"/cases/{code.group(1)}").text
    assert (
        re.search(r'id="case-map"[^>]*data-grid="\d+"', page) and "data-lon=" in page and "data-lat=" in page
    )

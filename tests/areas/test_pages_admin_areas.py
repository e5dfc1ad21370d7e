"""The administrator's area pages: the tree with counts, an area's map, GeoJSON import checked
feature by feature (nothing written when any feature is wrong)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.pages.conftest import app_client, csrf_of, demo_engine, demo_settings, new_client, sign_in

from cityops.areas.models import Area
from cityops.db import make_sessionmaker, unit_of_work

__all__ = ["app_client", "demo_engine", "demo_settings", "new_client"]  # fixtures

STREET = "330105005"


def _admin(client: TestClient) -> str:
    sign_in(client, "admin")
    return csrf_of(client.get("/admin/areas/import").text)


def _square(lon: float, lat: float, size: float = 0.001) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _file(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def _feature(code: str, name: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, **props},
        "geometry": props.pop("geometry", None) or _square(120.14, 30.32),
    }


def _community(engine: Engine) -> str:
    with unit_of_work(make_sessionmaker(engine)) as session:
        return str(
            session.scalar(
                select(Area.code)
                .where(Area.level == "community", Area.parent_code == STREET)
                .order_by(Area.code)
            )
        )


def test_the_tree_shows_streets_with_counts_and_opens_a_branch(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    page = new_client.get("/admin/areas")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "拱宸桥街道" in page.text and f'hx-get="/admin/areas/{STREET}/children"' in page.text
    assert "社区 " in page.text and "网格 " in page.text  # counts beside each street
    branch = new_client.get(f"/admin/areas/{STREET}/children")
    assert branch.status_code == 200 and "社区" in branch.text and "<html" not in branch.text
    area = new_client.get(f"/admin/areas/{STREET}")
    assert area.status_code == 200 and 'id="area-map"' in area.text and f'data-grid="{STREET}"' in area.text
    assert new_client.get("/admin/areas/999999999").status_code == 404
    assert new_client.get("/admin/areas/" + "9" * 40).status_code == 422


def test_import_previews_lists_every_bad_feature_and_writes_nothing(
    new_client: TestClient, demo_engine: Engine
) -> None:
    token = _admin(new_client)
    community = _community(demo_engine)
    good = _feature(community + "901", "测试网格甲", level="grid", geometry=_square(120.14, 30.32))
    renamed = _feature(community, "改名社区", level="community")
    bad_code = _feature("12", "短编码", level="grid")
    bad_parent = _feature("330105099001901", "无上级", level="grid")
    data = _file(good, renamed, bad_code, bad_parent)
    refused = new_client.post(
        "/admin/areas/import",
        data={"csrf_token": token, "mode": "import", "crs": "wgs84"},
        files={"file": ("areas.geojson", data, "application/geo+json")},
    )
    assert refused.status_code == 422
    assert (
        "未导入任何数据" in refused.text and "第 3 个要素" in refused.text and "第 4 个要素" in refused.text
    )
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert session.get(Area, community + "901") is None
    preview = new_client.post(
        "/admin/areas/import",
        data={"csrf_token": token, "mode": "preview"},
        files={"file": ("areas.geojson", _file(good, renamed), "application/geo+json")},
    )
    assert preview.status_code == 200, preview.text
    assert "新增 1 个，更新 1 个" in preview.text and "名称" in preview.text
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert session.get(Area, community + "901") is None
    done = new_client.post(
        "/admin/areas/import",
        data={"csrf_token": token, "mode": "import"},
        files={"file": ("areas.geojson", _file(good), "application/geo+json")},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/areas"
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert session.get(Area, community + "901") is not None


def test_import_bad_input_is_a_page_not_a_500(new_client: TestClient) -> None:
    token = _admin(new_client)
    missing = new_client.post("/admin/areas/import", data={"csrf_token": token, "mode": "preview"})
    assert missing.status_code == 422 and "请选择 GeoJSON 文件" in missing.text
    for body in (b"\xff\xfe not json", b"[1, 2]", b'{"type": "FeatureCollection", "features": []}'):
        page = new_client.post(
            "/admin/areas/import",
            data={"csrf_token": token, "mode": "preview", "crs": "mars"},
            files={"file": ("x.geojson", body, "application/json")},
        )
        assert page.status_code == 422 and 'class="field-error"' in page.text
    bad = new_client.post(
        "/admin/areas/import",
        data={"csrf_token": token, "mode": "preview"},
        files={"file": ("x.geojson", b"{", "application/json")},
    )
    assert bad.status_code == 422 and "不是有效的 GeoJSON" in bad.text


def test_csrf_and_roles(new_client: TestClient) -> None:
    sign_in(new_client, "admin")
    refused = new_client.post(
        "/admin/areas/import",
        data={"mode": "preview"},
        files={"file": ("x.geojson", b"{}", "application/json")},
    )
    assert refused.status_code == 403
    new_client.cookies.clear()
    sign_in(new_client, "dispatcher")
    for path in ("/admin/areas", f"/admin/areas/{STREET}", "/admin/areas/import"):
        assert new_client.get(path).status_code == 403, path
    new_client.cookies.clear()
    assert new_client.get("/admin/areas", follow_redirects=False).status_code == 303

"""Intake pages: the signals board, merchant records and registries for the right roles, and
the citizen form's "me too" fragment (suggestions without case codes; joining counts)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from .conftest import auth
from .test_camera_story import _alarm, _post


def _page(client: TestClient, path: str, who: str) -> object:
    return client.get(path, headers=auth(client, who))


def test_board_merchants_registry(client: TestClient) -> None:
    assert _post(client, _alarm()).status_code == 200  # type: ignore[attr-defined]
    r = client.get("/intake/signals?source=camera", headers=auth(client, "operator"))
    assert (
        r.status_code == 200 and 'lang="zh-CN"' in r.text and "出店经营" in r.text and "商户自改中" in r.text
    )
    r = client.get("/intake/merchants", headers=auth(client, "dispatcher"))
    assert r.status_code == 200 and "桥西直街张记小吃店" in r.text
    assert client.get("/intake/registry", headers=auth(client, "admin")).status_code == 200
    assert client.get("/intake/registry", headers=auth(client, "operator")).status_code == 403
    assert client.get("/intake/signals", headers=auth(client, "citizen1")).status_code == 403


def test_me_too_fragment(client: TestClient) -> None:
    body = {
        "text": "桥西直街人行道上共享单车乱停",
        "category_code": "09011",
        "lon": 120.13616,
        "lat": 30.33036,
    }
    made = client.post("/api/v1/intake/reports", headers=auth(client, "citizen2"), json=body).json()
    r = client.get(
        "/intake/report/similar",
        params={"description": "桥西直街共享单车乱停挡路", "lon": "120.13617", "lat": "30.33037"},
    )
    assert r.status_code == 200 and "我也反映" in r.text
    assert made["case_code"] not in r.text  # an opaque token, not the case code
    assert re.search(r'name="join" value="[^"]+"', r.text)
    assert (
        "我也反映"
        not in client.get("/intake/report/similar", params={"description": "x", "lon": "1", "lat": "1"}).text
    )

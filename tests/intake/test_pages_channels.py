"""Intake's admin and operator pages: the hotline (12345) import (upload, column mapping with the
last mapping remembered, preview, row errors that write nothing, the result with duplicates and
re-imports), the camera and device registries' forms (secret shown once, rules and thresholds),
the merchant form; for each the wrong role (403), a form without its CSRF token (403) and bad
input (422 next to the field, nothing written)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from tests.pages.conftest import BROWSER, csrf_of, sign_in

from cityops.accounts import service as accounts
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.intake.demo import DEMO_CAMERA, DEMO_MERCHANT
from cityops.intake.models import Camera, Report
from cityops.web.app import create_app

from .conftest import signed_alarm

LON, LAT = 120.13616, 30.33036  # 桥西直街, 拱宸桥街道 (the demo camera's street)
HEAD = "工单号,来电内容,发生地点,市民电话,问题分类,X坐标,Y坐标\n"


@pytest.fixture(scope="module")
def browser_of(world: tuple[Engine, Settings]) -> Iterator[Callable[[str], TestClient]]:
    """A signed-in browser (cookie session + CSRF cookie) per demo user."""
    engine, settings = world
    clients: dict[str, TestClient] = {}
    app = create_app(settings, engine=engine)

    def open_as(username: str) -> TestClient:
        if username not in clients:
            c = TestClient(app, raise_server_exceptions=False, headers=BROWSER)
            c.__enter__()
            sign_in(c, username, "Street-admin-1" if username.startswith("street-") else "demo")
            clients[username] = c
        return clients[username]

    yield open_as
    for c in clients.values():
        c.__exit__(None, None, None)


def _count(engine: Engine, model: Any, *where: Any) -> int:
    with unit_of_work(make_sessionmaker(engine)) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _upload(c: TestClient, name: str, data: bytes) -> object:
    page = c.get("/intake/hotline")
    return c.post(
        "/intake/hotline/upload",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": (name, data, "text/csv")},
        follow_redirects=False,
    )


def _token(response: object) -> str:
    location = response.headers["location"]  # type: ignore[attr-defined]
    match = re.search(r"token=([A-Za-z0-9_-]+)", location)
    assert match, location
    return match.group(1)


MAPPING = {
    "map_order_no": "工单号",
    "map_text": "来电内容",
    "map_address": "发生地点",
    "map_reporter_phone": "市民电话",
    "map_category_code": "问题分类",
    "map_lon": "X坐标",
    "map_lat": "Y坐标",
}


def _csv(*rows: str) -> bytes:
    return (HEAD + "\n".join(rows) + "\n").encode("utf-8")


def test_hotline_import_with_a_bad_row_writes_nothing_then_imports(
    browser_of: Callable[[str], TestClient], world: tuple[Engine, Settings]
) -> None:
    engine, _ = world
    c = browser_of("operator")
    page = c.get("/intake/hotline")
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and "12345" in page.text
    bad = _csv(
        f"HL-001,桥西直街18号门口垃圾堆放没人清理,桥西直街18号,13800001111,06010,{LON},{LAT}",
        f"HL-002,,桥西直街20号,13800001112,06010,{LON},{LAT}",
        f"HL-003,桥西直街口机动车乱停放堵路,桥西直街,13800001113,09009,abc,{LAT}",
    )
    r = _upload(c, "export.csv", bad)
    assert r.status_code == 303, r.text  # type: ignore[attr-defined]
    token = _token(r)
    mapped = c.get(f"/intake/hotline/map?token={token}")
    assert mapped.status_code == 200 and "HL-001" in mapped.text and "预览" in mapped.text
    # The preview again with a chosen mapping (a POST: no CSRF token in a URL).
    r = c.post("/intake/hotline/map", data={"csrf_token": csrf_of(mapped.text), "token": token, **MAPPING})
    assert r.status_code == 200 and '<option value="X坐标" selected>' in r.text
    assert c.post("/intake/hotline/map", data={"token": token}).status_code == 403
    # Unknown headings are not guessed: the operator chooses; without the text column → 422 at the field.
    r = c.post(
        "/intake/hotline/import",
        data={"csrf_token": csrf_of(mapped.text), "token": token, "map_order_no": "工单号"},
    )
    assert r.status_code == 422 and 'id="map_text-error"' in r.text
    before = _count(engine, Report, Report.channel == "hotline")
    r = c.post("/intake/hotline/import", data={"csrf_token": csrf_of(mapped.text), "token": token, **MAPPING})
    assert r.status_code == 422, r.text
    assert (
        'data-row="3"' in r.text and 'data-row="4"' in r.text and "来电内容" in r.text and "X坐标" in r.text
    )
    assert "未导入任何工单" in r.text
    assert _count(engine, Report, Report.channel == "hotline") == before  # nothing half-imported
    # The fixed file: the mapping is remembered from the last attempt.
    good = _csv(
        f"HL-001,桥西直街18号门口垃圾堆放没人清理,桥西直街18号,13800001111,06010,{LON},{LAT}",
        f"HL-002,桥西直街18号门口垃圾堆放没人清理,桥西直街18号,13800001112,06010,{LON},{LAT}",
        f"HL-003,桥西直街口机动车乱停放堵路,桥西直街,13800001113,09009,{LON + 0.003},{LAT}",
    )
    token = _token(_upload(c, "export-fixed.csv", good))
    mapped = c.get(f"/intake/hotline/map?token={token}")
    assert '<option value="来电内容" selected>' in mapped.text
    assert "13800001111" not in mapped.text  # phone numbers masked in the preview
    r = c.post("/intake/hotline/import", data={"csrf_token": csrf_of(mapped.text), "token": token, **MAPPING})
    assert r.status_code == 200, r.text
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', r.text))
    assert counts == {"created": "2", "queued": "0", "merged": "1", "replays": "0"}, counts
    # The same export again: every order is skipped as already imported.
    token = _token(_upload(c, "export-fixed.csv", good))
    r = c.post("/intake/hotline/import", data={"csrf_token": csrf_of(mapped.text), "token": token, **MAPPING})
    assert dict(re.findall(r'data-count="(\w+)">(\d+)<', r.text))["replays"] == "3"


def test_hotline_xlsx_bad_files_csrf_roles_and_tokens(browser_of: Callable[[str], TestClient]) -> None:
    c = browser_of("dispatcher")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["工单编号", "诉求内容", "类别编码", "经度", "纬度"])
    ws.append(["X-1", "桥西直街有人占道经营摆摊", "09006", LON, LAT])
    buf = io.BytesIO()
    wb.save(buf)
    token = _token(_upload(c, "orders.xlsx", buf.getvalue()))
    mapped = c.get(f"/intake/hotline/map?token={token}")
    assert mapped.status_code == 200 and "X-1" in mapped.text
    assert '<option value="诉求内容" selected>' in mapped.text  # common headings are recognised
    # Another user cannot use the token; a made-up token is a 422, not a 500.
    assert browser_of("operator").get(f"/intake/hotline/map?token={token}").status_code == 422
    assert c.get("/intake/hotline/map?token=../../etc/passwd").status_code == 422
    # Not a table, wrong type, no file.
    assert _upload(c, "orders.xlsx", b"PK\x03\x04 broken").status_code == 422  # type: ignore[attr-defined]
    assert _upload(c, "orders.pdf", b"%PDF").status_code == 422  # type: ignore[attr-defined]
    huge = b'a,b\n1,"' + b"x" * 200_000 + b'"\n'  # a field over the csv module's limit
    assert _upload(c, "orders.csv", huge).status_code == 422  # type: ignore[attr-defined]
    page = c.get("/intake/hotline")
    r = c.post("/intake/hotline/upload", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and 'id="file-error"' in r.text
    # CSRF and roles.
    r = c.post("/intake/hotline/import", data={"token": token, "map_order_no": "工单编号"})
    assert r.status_code == 403
    assert browser_of("leader").get("/intake/hotline").status_code == 403
    c.cookies.set("cityops_lang", "en")
    try:
        english = c.get(f"/intake/hotline/map?token={token}")
        assert (
            english.status_code == 200
            and "Column mapping" in english.text
            and "列的对应关系" not in english.text
        )
    finally:
        c.cookies.delete("cityops_lang")
    assert browser_of("citizen1").get("/intake/hotline").status_code == 403


def test_camera_form_create_secret_once_edit_and_errors(
    browser_of: Callable[[str], TestClient], world: tuple[Engine, Settings]
) -> None:
    engine, _ = world
    c = browser_of("admin")
    form = c.get("/intake/registry/cameras/new")
    assert form.status_code == 200 and "出店经营" in form.text
    token = csrf_of(form.text)
    base = {
        "csrf_token": token,
        "id": "cam-test-01",
        "name": "桥西直街口",
        "lon": str(LON),
        "lat": str(LAT),
        "scenarios": ["出店经营", "机动车违停"],
        "self_correction_seconds": "120",
        "recheck_seconds": "300",
        "dedupe_seconds": "1800",
        "active": "1",
        "zone_0": "front-a",
        "merchant_0": DEMO_MERCHANT,
    }
    # Bad input: outside the district, a window of 5 seconds, an unknown merchant.
    r = c.post("/intake/registry/cameras/new", data={**base, "lon": "121.5", "lat": "31.2"})
    assert r.status_code == 422 and "管辖范围" in r.text and 'value="桥西直街口"' in r.text
    r = c.post("/intake/registry/cameras/new", data={**base, "self_correction_seconds": "5"})
    assert r.status_code == 422 and 'id="self_correction_seconds-error"' in r.text
    r = c.post("/intake/registry/cameras/new", data={**base, "merchant_0": "nobody"})
    assert r.status_code == 422
    r = c.post("/intake/registry/cameras/new", data={**base, "id": DEMO_CAMERA})
    assert r.status_code == 422 and 'id="id-error"' in r.text
    assert _count(engine, Camera, Camera.id == "cam-test-01") == 0
    # Created: the secret is shown once.
    r = c.post("/intake/registry/cameras/new", data=base)
    assert r.status_code == 200, r.text
    secret = re.search(r'id="camera-secret" class="secret">([^<]+)<', r.text)
    assert secret and len(secret.group(1)) >= 16
    edit = c.get("/intake/registry/cameras/cam-test-01")
    assert edit.status_code == 200 and secret.group(1) not in edit.text and "front-a" in edit.text
    # Edit: the window, no shop fronts any more.
    r = c.post(
        "/intake/registry/cameras/cam-test-01",
        data={**base, "csrf_token": csrf_of(edit.text), "self_correction_seconds": "600", "merchant_0": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    edit = c.get("/intake/registry/cameras/cam-test-01")
    assert 'value="600"' in edit.text and "front-a" not in edit.text
    # Rotation: a new secret, shown once, different from the first.
    r = c.post("/intake/registry/cameras/cam-test-01/secret", data={"csrf_token": csrf_of(edit.text)})
    rotated = re.search(r'id="camera-secret" class="secret">([^<]+)<', r.text)
    assert r.status_code == 200 and rotated and rotated.group(1) != secret.group(1)
    assert r.headers["cache-control"] == "no-store"
    # The webhook takes the new secret at once and refuses the old one.
    body = {
        "event_id": "rot-1",
        "label": "机动车违停",
        "observed_at": utcnow().isoformat(),
        "confidence": 0.9,
    }
    raw, headers = signed_alarm(body, camera="cam-test-01", secret=secret.group(1))
    assert c.post("/api/v1/intake/camera", content=raw, headers=headers).status_code == 401
    raw, headers = signed_alarm(body, camera="cam-test-01", secret=rotated.group(1))
    assert c.post("/api/v1/intake/camera", content=raw, headers=headers).status_code == 200
    # CSRF, roles, unknown camera.
    assert c.post("/intake/registry/cameras/cam-test-01/secret").status_code == 403
    assert browser_of("operator").get("/intake/registry/cameras/cam-test-01").status_code == 403
    assert c.get("/intake/registry/cameras/nope").status_code == 404
    listing = c.get("/intake/registry")
    assert "cam-test-01" in listing.text and "/intake/registry/cameras/new" in listing.text


def test_device_form_rules_and_thresholds(browser_of: Callable[[str], TestClient]) -> None:
    c = browser_of("admin")
    form = c.get("/intake/registry/devices/new?device_type=water_level")
    assert form.status_code == 200 and "level_high" in form.text and "河道水位超警戒" in form.text
    data = {
        "csrf_token": csrf_of(form.text),
        "id": "water-test-01",
        "name": "运河水位计",
        "device_type": "water_level",
        "lon": str(LON),
        "lat": str(LAT),
        "threshold_level_high": "abc",
        "active": "1",
    }
    r = c.post("/intake/registry/devices/new", data=data)
    assert r.status_code == 422 and "请填写数字" in r.text
    r = c.post(
        "/intake/registry/devices/new", data={**data, "device_type": "toaster", "threshold_level_high": ""}
    )
    assert r.status_code == 422
    r = c.post(
        "/intake/registry/devices/new", data={**data, "threshold_level_high": "4.2"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    edit = c.get("/intake/registry/devices/water-test-01")
    assert edit.status_code == 200 and 'value="4.2"' in edit.text
    assert "level_high 4.2" in c.get("/intake/registry").text
    assert c.post("/intake/registry/devices/water-test-01", data={"name": "x"}).status_code == 403  # CSRF
    assert browser_of("dispatcher").get("/intake/registry/devices/new").status_code == 403


def test_merchant_form(browser_of: Callable[[str], TestClient]) -> None:
    c = browser_of("admin")
    edit = c.get(f"/intake/merchants/{DEMO_MERCHANT}")
    assert edit.status_code == 200 and "桥西直街张记小吃店" in edit.text
    data = {"csrf_token": csrf_of(edit.text), "name": "", "phone": "13900001234"}
    r = c.post(f"/intake/merchants/{DEMO_MERCHANT}", data=data)
    assert r.status_code == 422 and 'id="name-error"' in r.text and 'value="13900001234"' in r.text
    r = c.post(
        f"/intake/merchants/{DEMO_MERCHANT}",
        data={**data, "name": "桥西直街张记小吃", "street_code": "330105005"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert "桥西直街张记小吃" in c.get("/intake/merchants").text
    edit = c.get(f"/intake/merchants/{DEMO_MERCHANT}")
    assert "13900001234" not in edit.text and "139****1234" in edit.text  # never shown in full
    r = c.post(f"/intake/merchants/{DEMO_MERCHANT}", data={**data, "name": "x", "street_code": "999"})
    assert r.status_code == 422 and 'id="street_code-error"' in r.text
    assert c.post(f"/intake/merchants/{DEMO_MERCHANT}", data={"name": "x"}).status_code == 403
    assert browser_of("operator").get(f"/intake/merchants/{DEMO_MERCHANT}").status_code == 403
    assert "/intake/merchants/new" not in browser_of("operator").get("/intake/merchants").text


def test_registry_stays_inside_a_street_scoped_admins_street(
    browser_of: Callable[[str], TestClient], world: tuple[Engine, Settings]
) -> None:
    engine, _ = world
    with unit_of_work(make_sessionmaker(engine)) as session:
        accounts.create_user(
            session, username="street-admin", password="Street-admin-1", role="admin", area_code="330105001"
        )
    c = browser_of("street-admin")
    listing = c.get("/intake/registry")
    assert listing.status_code == 200 and DEMO_CAMERA not in listing.text
    assert c.get(f"/intake/registry/cameras/{DEMO_CAMERA}").status_code == 403
    assert c.get(f"/intake/merchants/{DEMO_MERCHANT}").status_code == 403
    form = c.get("/intake/registry/cameras/new")
    r = c.post(
        "/intake/registry/cameras/new",
        data={
            "csrf_token": csrf_of(form.text),
            "id": "cam-other-street",
            "name": "x",
            "lon": str(LON),
            "lat": str(LAT),
            "self_correction_seconds": "120",
            "recheck_seconds": "300",
            "dedupe_seconds": "1800",
        },
    )
    assert r.status_code == 422 and "负责的街道" in r.text
    assert _count(engine, Camera, Camera.id == "cam-other-street") == 0

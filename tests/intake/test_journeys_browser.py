"""Intake journeys in a real browser (Playwright on Debian's Chromium), reusing the page journey's
demo server: the 城市眼 story on the signals board (alarm → merchant notice → case → handled →
camera re-check → closed by itself), and a citizen who joins an existing case from the form.

The camera and the worker are machines: the alarms are signed HTTP posts and the worker's job
runs with a moved clock; the people (operator, dispatcher, citizen) click."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from tests.pages.test_journey_browser import CHROMIUM, PHONE, Person, _tap_map, browser, server, shots

from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.intake import tasks
from cityops.intake.camera import sign
from cityops.intake.demo import DEMO_CAMERA, DEMO_CAMERA_SECRET, QIAOXI

pytestmark = [pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed"), pytest.mark.slow]
__all__ = ["browser", "server", "shots"]  # fixtures of the page journey, used here too


def _alarm(base: str, label: str, zone: str, present: bool = True) -> dict[str, object]:
    raw = json.dumps(
        {
            "event_id": uuid.uuid4().hex,
            "label": label,
            "observed_at": utcnow().isoformat(),
            "confidence": 0.93,
            "zone": zone,
            "present": present,
            "snapshot_url": "https://snapshots.example/1.jpg",
        },
        ensure_ascii=False,
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "X-Cityops-Camera": DEMO_CAMERA,
        "X-Cityops-Timestamp": ts,
        "Content-Type": "application/json",
        "X-Cityops-Signature": sign(DEMO_CAMERA_SECRET, ts, raw),
    }
    r = httpx.post(f"{base}/api/v1/intake/camera", content=raw, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def _worker(engine: Engine, seconds: float) -> dict[str, object]:
    with unit_of_work(make_sessionmaker(engine)) as s:
        return tasks.windows(s, utcnow() + timedelta(seconds=seconds))


def _token(base: str, user: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": "demo"}, timeout=30)
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_camera_story_on_the_board(server: tuple[str, Engine], browser: object, shots: Path) -> None:
    base, engine = server
    first = _alarm(base, "出店经营", "shopfront-1")
    assert first["status"] == "merchant_notified"
    operator = Person(browser, base, shots)
    operator.sign_in("operator")
    operator.go("/intake/signals?source=camera")
    row = operator.page.locator(f"tr[data-signal='{first['signal_id']}']")
    assert "商户自改中" in row.inner_text()
    operator.shot("intake-signals-merchant")
    assert _alarm(base, "出店经营", "shopfront-1")["status"] == "updated"  # still there
    assert _worker(engine, 125)["case_filed"] == 1
    operator.go("/intake/signals?source=camera")
    row = operator.page.locator(f"tr[data-signal='{first['signal_id']}']")
    assert "已立案" in row.inner_text()
    code = row.locator("a[href^='/cases/']").inner_text()
    operator.page.click(f"a[href='/cases/{code}']")
    operator.page.wait_for_load_state("networkidle")
    assert code in operator.page.content()
    # The handler reports it done (their phone page is the pages journey's; here through the API).
    case = httpx.get(f"{base}/api/v1/cases/{code}", headers=_token(base, "dispatcher"), timeout=30).json()
    handler = _token(base, f"handler-{case['department']['code']}")
    assert (
        httpx.post(f"{base}/api/v1/cases/{code}/accept", headers=handler, json={}, timeout=30).status_code
        == 200
    )
    r = httpx.post(
        f"{base}/api/v1/cases/{code}/handle", headers=handler, json={"note": "已劝导收回"}, timeout=30
    )
    assert r.status_code == 200
    assert _worker(engine, 130)["recheck_started"] == 1
    operator.go("/intake/signals?source=camera")
    assert "复核中" in operator.page.locator(f"tr[data-signal='{first['signal_id']}']").inner_text()
    assert _worker(engine, 260)["verified"] == 1  # the camera saw nothing during the window
    operator.go("/intake/signals?source=camera&state=closed")
    assert "复核通过" in operator.page.locator(f"tr[data-signal='{first['signal_id']}']").inner_text()
    operator.go(f"/cases/{code}")
    assert "已结案" in operator.page.content()
    operator.shot("intake-case-closed-by-camera")
    operator.go("/intake/merchants")
    assert "桥西直街张记小吃店" in operator.page.content()
    assert not operator.errors and not operator.external


def test_citizen_joins_an_existing_case(server: tuple[str, Engine], browser: object, shots: Path) -> None:
    base, _engine = server
    lon, lat = QIAOXI
    body = {"text": "桥西直街人行道被共享单车堵住了", "category_code": "09011", "lon": lon, "lat": lat}
    first = httpx.post(
        f"{base}/api/v1/intake/reports", headers=_token(base, "citizen1"), json=body, timeout=30
    ).json()
    citizen = Person(browser, base, shots, viewport=PHONE)
    citizen.go("/report")
    citizen.page.fill("#f-description", "桥西直街共享单车乱停，人行道走不过去")
    _tap_map(citizen.page, "pick-map", lon, lat)
    citizen.page.dispatch_event("#f-description", "change")
    citizen.page.wait_for_selector("#me-too input[name=join]", timeout=15000)
    citizen.shot("citizen-me-too")
    citizen.page.check("#me-too input[name=join]")
    citizen.page.click("form[action='/report'] button[type=submit]")
    citizen.page.wait_for_load_state("networkidle")
    assert f"/report/sent/{first['case_code']}" in citizen.page.url
    assert not citizen.errors and not citizen.external

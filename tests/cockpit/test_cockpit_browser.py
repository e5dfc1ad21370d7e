"""The cockpit in a real browser (Playwright on Debian's Chromium): its panels fill from the demo,
and it changes by itself — no reload — when a case is closed in another context.

Skips when Chromium is not installed; never downloads one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.pages.test_journey_browser import shots
from tests.serving import CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, demo_server

from cityops.cases.models import Case
from cityops.db import make_sessionmaker, unit_of_work

__all__ = ["shots"]  # the page journey's screenshot folder fixture, used here too
pytestmark = [
    pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM),
    pytest.mark.slow,
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    yield from demo_server(tmp_path_factory, "cockpit", n_cases=400)


def _wait_until(page: object, script: str, timeout: float = 60.0) -> None:
    """Poll ``script`` in the page: its CSP forbids eval, which wait_for_function needs."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.25)


def _closable(engine: Engine) -> tuple[str, str]:
    with unit_of_work(make_sessionmaker(engine)) as s:
        row = s.execute(
            select(Case.code, Case.state)
            .where(Case.state.in_(("verified", "handled")))
            .order_by(Case.created_at.desc())
            .limit(1)
        ).one()
    return row.code, row.state


def test_cockpit_fills_and_follows_a_closure(server: tuple[str, Engine], shots: Path) -> None:
    base, engine = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
            page.set_default_timeout(60_000)  # a shared, busy machine: waits are generous, not the goal
            page.goto(f"{base}/login")
            page.fill("#f-username", "leader")
            page.fill("#f-password", "demo")
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_url(f"{base}/cockpit", wait_until="domcontentloaded", timeout=60_000)
            page.wait_for_selector("#kpi-open")
            page.wait_for_selector(".ind-card")
            page.wait_for_selector("#panel-rankings table.rank tbody tr td")
            page.wait_for_selector("#panel-warnings li")
            page.wait_for_selector("#panel-risk table")
            page.wait_for_selector("#panel-trend canvas")
            page.wait_for_selector("#cockpit-map.leaflet-container")
            _wait_until(
                page, "document.querySelector('#cockpit-map').getAttribute('data-heat-total') !== null"
            )
            page.screenshot(path=str(shots / "cockpit.png"))
            assert page.locator(".ind-card").count() >= 8
            assert page.locator("#panel-rankings tbody tr td.move").count() >= 1  # ranked rows
            page.evaluate("window.__sameDocument = true")
            before = int(page.inner_text("#kpi-open"))
            assert before > 0

            # Another context — a dispatcher on the API — closes a case.
            code, state = _closable(engine)
            with httpx.Client(base_url=base) as api:
                token = api.post("/api/v1/auth/token", data={"username": "dispatcher", "password": "demo"})
                h = {"Authorization": f"Bearer {token.json()['access_token']}"}
                if state == "handled":
                    assert (
                        api.post(f"/api/v1/cases/{code}/verify", json={"passed": True}, headers=h).status_code
                        == 200
                    )
                assert api.post(f"/api/v1/cases/{code}/close", json={}, headers=h).status_code == 200

            _wait_until(page, f"Number(document.querySelector('#kpi-open').textContent) === {before - 1}", 30)
            assert page.evaluate("window.__sameDocument") is True  # updated in place, not reloaded
        finally:
            browser.close()

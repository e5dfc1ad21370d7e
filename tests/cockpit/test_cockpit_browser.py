"""The cockpit in a real browser (Playwright on Debian's Chromium): its panels fill from the demo,
and it changes by itself — no reload — when a case is closed in another context.

Skips when Chromium is not installed; never downloads one.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.conftest import new_database

from cityops.cases.models import Case
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.web.app import create_app

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
pytestmark = [
    pytest.mark.skipif(not CHROMIUM, reason="Chromium is not installed (Debian: apt-get install chromium)"),
    pytest.mark.slow,
]
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    tmp = tmp_path_factory.mktemp("cockpit-browser")
    engine, cleanup = new_database("sqlite", tmp, "cockpit")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp / "files")
    load_demo(engine, settings, n_cases=400, progress=False)
    port = _free_port()
    uv = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine=engine),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=uv.run, name="uvicorn-cockpit", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", engine
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        cleanup()


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


def test_cockpit_fills_and_follows_a_closure(server: tuple[str, Engine]) -> None:
    base, engine = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
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

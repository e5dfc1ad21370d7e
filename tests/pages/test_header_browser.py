"""The header's navigation fits on a desktop screen for the role with the most entries (admin).

At 1,400 px the administrator's navigation used to run past its box (a horizontal scroll bar in
the header, entries hidden to the right). Now the entries wrap: every link lies inside the
window and nothing in the header scrolls sideways, in Chinese and in English (longer labels).
Skips when Chromium is not installed; never downloads one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import new_database
from tests.serving import CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, serving

from cityops.config import Settings
from cityops.demo.loader import load_demo
from cityops.web.app import create_app

pytestmark = [pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM), pytest.mark.slow]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("header")
    engine, cleanup = new_database("sqlite", tmp, "header")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp / "files")
    load_demo(engine, settings, n_cases=0, progress=False)
    try:
        with serving(create_app(settings, engine=engine), name="uvicorn-header") as url:
            yield url
    finally:
        cleanup()


def _header_fits(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => {
              const nav = document.querySelector('nav.main');
              const header = document.querySelector('header.site');
              const links = [...nav.querySelectorAll('a')];
              const out = links.filter(a => {
                const r = a.getBoundingClientRect();
                return r.width === 0 || r.left < 0 || r.right > window.innerWidth + 0.5;
              }).map(a => a.textContent);
              return {
                links: links.length,
                outside: out,
                nav_scrolls: nav.scrollWidth > nav.clientWidth + 1,
                header_scrolls: header.scrollWidth > header.clientWidth + 1,
                page_scrolls: document.documentElement.scrollWidth > window.innerWidth + 1,
              };
            }"""
        )
    )


@pytest.mark.parametrize("width", [1400, 1280])
def test_admin_navigation_fits_the_header(base: str, width: int) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(base + "/login")
        page.fill("#f-username", "admin")
        page.fill("#f-password", "demo")
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state("networkidle")
        for lang in ("zh-CN", "en"):
            if lang == "en":
                page.click("form.lang button[name=lang]")
                page.wait_for_load_state("networkidle")
                assert page.evaluate("document.documentElement.lang") == "en"
            fits = _header_fits(page)
            assert fits["links"] >= 8, fits
            assert fits == {
                "links": fits["links"],
                "outside": [],
                "nav_scrolls": False,
                "header_scrolls": False,
                "page_scrolls": False,
            }, (lang, width, fits)
        browser.close()

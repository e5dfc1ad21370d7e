"""The whole case journey in a real browser (Playwright driving Debian's Chromium), by clicking.

A citizen reports on the form (a tap on the map, a photo); the operator files it with one click
on triage's suggestion; the dispatcher dispatches to the suggested department; the handler
accepts and reports it handled with a photo; the inspector verifies on a phone-sized screen;
the dispatcher closes it and the public page shows it closed. Plus: a handler of another
department gets the 403 page, a form without its CSRF token is refused, the language switch
works. Every main page is screenshotted (to a temporary folder, or to
``CITYOPS_SCREENSHOTS=docs/screenshots`` to refresh the committed ones).

Skips when Chromium is not installed (``.ci/run`` installs it with apt); never downloads one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.serving import CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, demo_server

from cityops.accounts.models import User
from cityops.areas.models import Area
from cityops.cases.models import Case
from cityops.db import make_sessionmaker, unit_of_work

pytestmark = [
    pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM),
    pytest.mark.slow,
]
sync_api = pytest.importorskip("playwright.sync_api")

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _photo_png(width: int = 320, height: int = 240) -> bytes:
    """A small real photo-like PNG (a gradient), so screenshots show something in the photo strip."""
    import struct
    import zlib

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (60 + x * 150 // width, 120 + y * 100 // height, 90))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


REPORT_TEXT = "拱宸桥桥西社区门口的垃圾堆了三天没人清理，气味很大"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """The demo (a few hundred historical cases, so lists are populated) under uvicorn."""
    yield from demo_server(tmp_path_factory, "journey", n_cases=300)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("CITYOPS_SCREENSHOTS")
    folder = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Person:
    """One browser context (its own cookies) signed in as one user."""

    def __init__(self, browser: object, base: str, shots: Path, viewport: dict[str, int] = DESKTOP) -> None:
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.base = base
        self.shots = shots
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.failed: list[str] = []
        self.page.on(
            "response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        self.external: list[str] = []
        self.page.on(
            "request",
            lambda r: (
                None if r.url.startswith(base) or r.url.startswith("data:") else self.external.append(r.url)
            ),
        )

    def go(self, path: str) -> object:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def sign_in(self, username: str) -> None:
        self.go("/")
        assert self.page.url.endswith("/login")
        self.page.fill("#f-username", username)
        self.page.fill("#f-password", "demo")
        self.page.click("form[action='/login'] button[type=submit]")
        self.page.wait_for_load_state("networkidle")
        assert "/login" not in self.page.url, self.page.content()[:2000]

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"))

    def check_clean(self) -> None:
        assert not self.errors, (self.errors, self.failed)
        assert not self.external, f"requests to other hosts: {self.external}"

    def close(self) -> None:
        self.context.close()


def _grid_point(engine: Engine) -> tuple[float, float]:
    with unit_of_work(make_sessionmaker(engine)) as session:
        geometry = session.scalar(
            select(Area.geometry)
            .where(Area.level == "grid", Area.code.startswith("330105005"))
            .order_by(Area.code)
        )
    p = shape(json.loads(geometry)).representative_point()
    return p.x, p.y


def _tap_map(page: object, map_id: str, lon: float, lat: float) -> None:
    """Tap the map where (lon, lat) is, as a finger would."""
    page.wait_for_selector(f"#{map_id}.leaflet-container", state="attached")  # type: ignore[attr-defined]
    page.evaluate(f"document.getElementById('{map_id}')._cityopsMap.setView([{lat}, {lon}], 16)")  # type: ignore[attr-defined]
    page.wait_for_timeout(300)  # type: ignore[attr-defined]
    xy = page.evaluate(  # type: ignore[attr-defined]
        f"(() => {{ const m = document.getElementById('{map_id}')._cityopsMap;"
        f" const p = m.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }})()"
    )
    box = page.locator(f"#{map_id}").bounding_box()  # type: ignore[attr-defined]
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])  # type: ignore[attr-defined]


def _case(engine: Engine, code: str) -> Case:
    with unit_of_work(make_sessionmaker(engine)) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        session.expunge(case)
        return case


def test_the_whole_journey_by_clicking(
    server: tuple[str, Engine], browser: object, shots: Path, tmp_path: Path
) -> None:
    base, engine = server
    photo = tmp_path / "photo.png"
    photo.write_bytes(_photo_png())

    # 1. A citizen reports on the form, on a phone, without signing in.
    citizen = Person(browser, base, shots, PHONE)
    citizen.go("/report")
    assert citizen.page.locator("html").get_attribute("lang") == "zh-CN"
    citizen.page.fill("#f-description", REPORT_TEXT)
    lon, lat = _grid_point(engine)
    _tap_map(citizen.page, "pick-map", lon, lat)
    assert citizen.page.input_value("#loc-lon") != ""
    citizen.page.set_input_files("#f-photos", str(photo))
    citizen.page.fill("#f-reporter_phone", "13800002222")
    citizen.shot("citizen-report")
    citizen.page.click("form[action='/report'] button[type=submit]")
    citizen.page.wait_for_load_state("networkidle")
    code = citizen.page.inner_text("#case-code").strip()
    assert code.startswith("GS") and citizen.page.locator(".qr svg").count() == 1
    citizen.shot("citizen-report-sent")
    citizen.check_clean()
    assert _case(engine, code).state == "reported"

    # 2. The operator files it with one click on triage's first suggestion.
    operator = Person(browser, base, shots)
    operator.sign_in("operator")
    operator.shot("home-operator")
    operator.go("/operator")
    card = operator.page.locator(f"article[data-case='{code}']")
    assert card.count() == 1 and "依据的词语" in card.inner_text()
    operator.shot("operator-workbench")
    card.locator("button[data-suggestion='1']").click()
    operator.page.wait_for_load_state("networkidle")
    assert "已立案" in operator.page.inner_text("#flashes")
    operator.check_clean()
    case = _case(engine, code)
    assert case.state == "filed" and case.department_code

    # 3. The dispatcher dispatches to the suggested department.
    dispatcher = Person(browser, base, shots)
    dispatcher.sign_in("dispatcher")
    dispatcher.go("/dispatch")
    row = dispatcher.page.locator(f"tr[data-case='{code}']")
    assert row.locator("select[name='department_code']").input_value() == case.department_code
    dispatcher.shot("dispatcher-dispatch")
    row.locator("form[data-action='dispatch'] button[type=submit]").click()
    dispatcher.page.wait_for_load_state("networkidle")
    assert _case(engine, code).state == "dispatched"
    for path, name in (
        ("/approvals", "dispatcher-approvals"),
        ("/supervision", "dispatcher-supervision"),
        ("/cases", "ledger"),
    ):
        dispatcher.go(path)
        dispatcher.shot(name)

    # 4. The handler (on a phone) accepts and reports it handled with a photo.
    handler = Person(browser, base, shots, PHONE)
    handler.sign_in(f"handler-{case.department_code}")
    handler.go("/tasks")
    task = handler.page.locator(f"article[data-case='{code}']")
    task.locator("button[data-action='accept']").click()
    handler.page.wait_for_load_state("networkidle")
    task = handler.page.locator(f"article[data-case='{code}']")
    task.locator("details[data-action='handle'] summary").click()
    task.locator("textarea[name='note']").fill("已安排保洁人员清运垃圾，现场清理干净并消毒")
    task.locator("input[name='photos']").set_input_files(str(photo))
    handler.shot("handler-tasks")
    task.locator("details[data-action='handle'] button[type=submit]").click()
    handler.page.wait_for_load_state("networkidle")
    handler.check_clean()
    assert _case(engine, code).state == "handled"

    # 5. The inspector verifies on a phone-sized screen.
    inspector = Person(browser, base, shots, PHONE)
    inspector.sign_in("inspector")
    inspector.go("/verify")
    assert (
        inspector.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    )  # no sideways scroll
    inspector.shot("inspector-verify")
    item = inspector.page.locator(f"article[data-case='{code}']")
    item.locator("details[data-action='verify'] summary").click()
    item.locator("textarea[name='note']").fill("现场已清理")
    item.locator("details[data-action='verify'] button[type=submit]").click()
    inspector.page.wait_for_load_state("networkidle")
    assert _case(engine, code).state == "verified"
    inspector.go("/inspect/report")
    inspector.shot("inspector-report")
    inspector.check_clean()

    # 6. The dispatcher closes it on the case page; the public page shows it closed.
    dispatcher.go(f"/cases/{code}")
    dispatcher.page.locator("button[data-action='close']").click()
    dispatcher.page.wait_for_load_state("networkidle")
    assert _case(engine, code).state == "closed"
    assert dispatcher.page.locator(".photos img").count() >= 2
    dispatcher.page.wait_for_selector(
        "#case-map .leaflet-overlay-pane canvas", state="attached"
    )  # grid outline drawn
    dispatcher.shot("case-detail")
    dispatcher.check_clean()

    citizen.go(f"/report/sent/{code}")  # the receipt, kept by the citizen's browser
    citizen.page.click("#public-link")
    citizen.page.wait_for_load_state("networkidle")
    assert "已结案" in citizen.page.inner_text(".state") and "办理经过" in citizen.page.inner_text("main")
    citizen.shot("public-case")
    citizen.check_clean()

    # A handler of another department cannot open the case: the 403 page.
    with unit_of_work(make_sessionmaker(engine)) as session:
        other = session.scalar(
            select(User.username)
            .where(User.role == "handler", User.department_code != case.department_code)
            .limit(1)
        )
    outsider = Person(browser, base, shots)
    outsider.sign_in(str(other))
    response = outsider.go(f"/cases/{code}")
    assert response.status == 403  # type: ignore[attr-defined]
    assert "无权访问" in outsider.page.inner_text("h1") and REPORT_TEXT not in outsider.page.content()
    outsider.shot("error-403")
    for person in (citizen, operator, dispatcher, handler, inspector, outsider):
        person.close()


def test_a_form_without_its_csrf_token_is_refused(
    server: tuple[str, Engine], browser: object, shots: Path
) -> None:
    base, _engine = server
    person = Person(browser, base, shots)
    person.go("/login")
    person.shot("login")
    person.page.evaluate("document.querySelector(\"form[action='/login'] input[name=csrf_token]\").remove()")
    person.page.fill("#f-username", "operator")
    person.page.fill("#f-password", "demo")
    person.page.click("form[action='/login'] button[type=submit]")
    person.page.wait_for_load_state("networkidle")
    assert "安全令牌" in person.page.inner_text("main")
    assert not any(c["name"] == "cityops_session" for c in person.context.cookies())
    person.close()


def test_the_language_switch(server: tuple[str, Engine], browser: object, shots: Path) -> None:
    base, _engine = server
    person = Person(browser, base, shots)
    person.sign_in("dispatcher")
    person.page.click("form.lang button")
    person.page.wait_for_load_state("networkidle")
    assert person.page.locator("html").get_attribute("lang") == "en"
    assert "What to do now" in person.page.inner_text("main") and "To dispatch" in person.page.inner_text(
        "main"
    )
    person.shot("home-dispatcher-en")
    person.go("/dispatch")
    assert "Dispatch" in person.page.inner_text("h1") or "To dispatch" in person.page.inner_text("h1")
    person.page.click("form.lang button")
    person.page.wait_for_load_state("networkidle")
    assert person.page.locator("html").get_attribute("lang") == "zh-CN"
    person.check_clean()
    person.close()

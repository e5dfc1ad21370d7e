"""The administrator's journey in a real browser (Playwright driving Debian's Chromium): open a
branch of the area tree and an area's map, edit a category's time limit, import a responsibility
workbook with a wrong row (the row errors are listed, nothing written) and then the fixed one, add
a working-calendar override, and find it in the audit trail. Screenshots ``admin-*.png`` go to a
temporary folder, or to ``CITYOPS_SCREENSHOTS=docs/screenshots`` to refresh the committed ones.

Skips when Chromium is not installed; never downloads one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy.engine import Engine
from tests.pages.test_journey_browser import Person, browser, shots
from tests.serving import CHROMIUM, NO_CHROMIUM, demo_server

from cityops.catalog import service as catalog
from cityops.db import make_sessionmaker, unit_of_work

__all__ = ["browser", "shots"]  # fixtures

pytestmark = [pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM), pytest.mark.slow]
pytest.importorskip("playwright.sync_api")

CATEGORY = "06010"
AREA = "330105005001"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    yield from demo_server(tmp_path_factory, "admin-journey", n_cases=100)


def _workbook(path: Path, department: str) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "权责清单"
    ws.append(["类别代码", "区域代码", "责任部门代码", "责任部门名称"])
    ws.append([CATEGORY, AREA, "GS-CGJ", ""])
    ws.append([CATEGORY, AREA[:9] + "002", department, ""])
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def _expected_refusal(person: Person) -> None:
    """A refused form answers 422, which Chromium logs as a failed load: expected here, once."""
    assert person.errors == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
    person.errors.clear()


def test_an_administrator_edits_imports_and_audits(
    server: tuple[str, Engine], browser: object, shots: Path, tmp_path: Path
) -> None:
    base, engine = server
    admin = Person(browser, base, shots)
    page = admin.page
    admin.sign_in("admin")
    assert page.url.endswith("/admin")
    admin.shot("admin-home")

    # The area tree: a street opens into its communities in place (htmx), a name opens its map.
    admin.go("/admin/areas")
    street = page.locator("li[data-code='330105005'] > details")
    street.evaluate("d => { d.open = true; }")  # as a click on its triangle does
    page.wait_for_selector("li[data-code='330105005'] li[data-code^='330105005']")
    admin.shot("admin-areas")
    admin.go(f"/admin/areas/{AREA}")
    page.wait_for_selector("#area-map path.leaflet-interactive, #area-map canvas", state="attached")
    admin.shot("admin-area-map")

    # A category's time limit: search, open, edit the default limit.
    admin.go("/admin/categories")
    page.fill("input[name=q]", "暴露垃圾")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(f"tr[data-code='{CATEGORY}']")
    admin.shot("admin-categories")
    page.click(f"tr[data-code='{CATEGORY}'] a >> nth=0")
    page.wait_for_load_state("networkidle")
    page.click(f"a[href='/admin/categories/{CATEGORY}/limits']")
    page.wait_for_load_state("networkidle")
    page.select_option("#f-kind", "working_hours")
    page.fill("#f-value", "20000")  # the browser lets it through; the server says why not
    page.click("#limits-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#value-error").count() == 1
    _expected_refusal(admin)
    page.fill("#f-value", "5")
    admin.shot("admin-time-limits")
    page.click("#limits-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/admin/categories/{CATEGORY}") and "时限已保存" in page.inner_text(".flashes")
    with unit_of_work(make_sessionmaker(engine)) as session:
        assert catalog.category_limits(session, CATEGORY)[None] == ("working_hours", 5.0)

    # The responsibility list: a workbook with a wrong row is refused row by row, then the fixed one.
    admin.go("/admin/responsibilities")
    page.set_input_files("#import-form input[type=file]", str(_workbook(tmp_path / "wrong.xlsx", "NO-SUCH")))
    page.click("#import-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    errors = page.locator("#import-errors tr.row-error")
    assert errors.count() == 1 and "责任部门代码" in errors.inner_text() and "3" in errors.inner_text()
    page.locator("#import-errors").scroll_into_view_if_needed()
    admin.shot("admin-responsibilities-errors")
    _expected_refusal(admin)
    with unit_of_work(make_sessionmaker(engine)) as session:
        assert catalog.list_responsibilities(session, area_code=AREA)[1] == 0
    page.set_input_files("#import-form input[type=file]", str(_workbook(tmp_path / "fixed.xlsx", "GS-CGJ")))
    page.click("#import-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "已导入" in page.inner_text(".flashes")
    with unit_of_work(make_sessionmaker(engine)) as session:
        assert catalog.list_responsibilities(session, area_code=AREA)[1] == 1
    page.fill("form.filters input[name=area_code]", AREA)
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("#responsibility-list tbody tr[data-id]")
    admin.shot("admin-responsibilities")

    # The working calendar: a typhoon day off, seen in the month.
    admin.go("/admin/calendar?month=2026-11")
    page.fill("#f-day", "2026-11-20")
    page.select_option("#f-kind", "holiday")
    page.fill("#f-note", "台风停工")
    page.click("#override-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    cell = page.locator(".month .day[data-day='2026-11-20']")
    assert cell.get_attribute("data-workday") == "0" and "台风停工" in cell.inner_text()
    admin.shot("admin-calendar")

    # The audit trail: the override, found by its action.
    admin.go("/admin/audit")
    page.select_option("form.filters select[name=action]", "calendar.override_set")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("tr[data-action='calendar.override_set'][data-subject='calendar:2026-11-20']")
    assert "admin" in page.inner_text("tr[data-action='calendar.override_set']")
    admin.shot("admin-audit")

    # Users and roles, in English.
    admin.go("/admin/users?role=handler")
    page.click("form.lang button")
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en" and "Users and roles" in page.inner_text("h1")
    admin.shot("admin-users-en")
    admin.check_clean()
    admin.close()

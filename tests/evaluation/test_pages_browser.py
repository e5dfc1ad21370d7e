"""The indicator catalog and the key tasks board in a real browser (Playwright on Debian's Chromium).

An admin edits an indicator's thresholds — first out of order (the error shows next to the field),
then right — and sees its level in the catalog; a leader posts a key task with two milestones, a
department's handler takes it on (揭榜) and reports the first milestone, and the board shows
the taker and the progress. Screenshots ``indicator-admin.png`` and ``key-tasks.png`` go to a
temporary folder, or to ``CITYOPS_SCREENSHOTS=docs/screenshots`` to refresh the committed ones.

Skips when Chromium is not installed; never downloads one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.pages.test_journey_browser import Person, shots
from tests.serving import CHROMIUM, CHROMIUM_ARGS, NO_CHROMIUM, demo_server

__all__ = ["shots"]  # the page journey's screenshot folder fixture, used here too
pytestmark = [
    pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM),
    pytest.mark.slow,
]
sync_api = pytest.importorskip("playwright.sync_api")

TITLE = "背街小巷垃圾清零行动"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    yield from demo_server(tmp_path_factory, "boards", n_cases=200)


def _person(browser: object, base: str, shots: Path, user: str) -> Person:
    person = Person(browser, base, shots, {"width": 1400, "height": 900})
    person.page.set_default_timeout(60_000)  # a shared, busy machine
    person.page.on("dialog", lambda d: d.accept())  # the confirm() of 揭榜 / 删除
    person.sign_in(user)
    return person


def test_admin_edits_a_threshold_and_a_key_task_goes_round(server: tuple[str, Engine], shots: Path) -> None:
    base, _engine = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # 1. The admin finds 超期数 in the catalog and edits its thresholds.
            admin = _person(browser, base, shots, "admin")
            admin.go("/admin/indicators")
            admin.page.fill("#catalog-q", "GOV.overdue")
            admin.page.click("form[role=search] button[type=submit]")
            admin.page.wait_for_load_state("networkidle")
            row = admin.page.locator("tr[data-code='GOV.overdue']")
            assert row.count() == 1
            row.locator("a", has_text="编辑").click()
            admin.page.wait_for_load_state("networkidle")
            for level in ("blue", "yellow", "orange", "red"):
                admin.page.fill(f"#f-{level}", "")
            admin.page.fill("#f-yellow", "10")
            admin.page.fill("#f-red", "5")  # out of order for "lower is better"
            admin.page.click("#indicator-form button[type=submit]")
            admin.page.wait_for_load_state("networkidle")
            assert "阈值顺序不对" in admin.page.inner_text("#red-error")
            assert admin.page.input_value("#f-yellow") == "10"  # what was typed is kept
            admin.page.fill("#f-red", "")
            admin.page.fill("#f-yellow", "0")  # any count reaches yellow
            admin.page.click("#indicator-form button[type=submit]")
            admin.page.wait_for_load_state("networkidle")
            assert "已保存 GOV.overdue" in admin.page.inner_text("#flashes")
            row = admin.page.locator("tr[data-code='GOV.overdue']")
            assert row.locator("td.level .lvl-badge").inner_text().strip() == "黄色"
            assert "黄色 0" in row.locator("td.thresholds").inner_text()
            admin.shot("indicator-admin")
            row.locator("a", has_text="超期数").first.click()  # the indicator page: history, drill-down
            admin.page.wait_for_load_state("networkidle")
            assert "/cockpit/indicators/GOV.overdue" in admin.page.url
            admin.errors = [e for e in admin.errors if "422" not in e]  # the refused form above
            admin.check_clean()
            admin.close()

            # 2. A leader posts a key task with two milestones.
            leader = _person(browser, base, shots, "leader")
            leader.go("/key-tasks")
            leader.page.click("#post-task summary")
            deadline = date.today() + timedelta(days=30)
            leader.page.fill("#f-title", TITLE)
            leader.page.fill("#f-goal", "月底前背街小巷暴露垃圾案件下降 30%")
            leader.page.fill("#f-deadline", deadline.isoformat())
            leader.page.fill("#f-m1_title", "摸排建账")
            leader.page.fill("#f-m1_due", (deadline - timedelta(days=20)).isoformat())
            leader.page.fill("#f-m1_weight", "1")
            leader.page.fill("#f-m2_title", "集中整治")
            leader.page.fill("#f-m2_due", deadline.isoformat())
            leader.page.fill("#f-m2_weight", "3")
            leader.page.click("#post-form button[type=submit]")
            leader.page.wait_for_load_state("networkidle")
            assert "已发布重点任务" in leader.page.inner_text("#flashes")
            card = leader.page.locator("article.task", has_text=TITLE)
            assert "待揭榜" in card.inner_text()

            # 3. A department's handler takes it on and reports the first milestone.
            handler = _person(browser, base, shots, "handler-GS-HWZX")
            handler.go("/key-tasks")
            card = handler.page.locator("article.task", has_text=TITLE)
            card.locator("button", has_text="揭榜").click()
            handler.page.wait_for_load_state("networkidle")
            card = handler.page.locator("article.task", has_text=TITLE)
            assert "已揭榜" in card.inner_text()
            card.locator("form.report-form").first.locator("input[name=note]").fill(
                "已摸排 126 条背街小巷，建立台账"
            )
            card.locator("form.report-form").first.locator("button").click()
            handler.page.wait_for_load_state("networkidle")
            assert "已报进度" in handler.page.inner_text("#flashes")
            handler.check_clean()
            handler.close()

            # 4. The board shows who took it and how far it is; the units' ranking lists them.
            leader.go("/key-tasks")
            card = leader.page.locator("article.task", has_text=TITLE)
            text = card.inner_text()
            assert "25%" in text and "已摸排 126 条背街小巷" in text and "已揭榜" in text
            assert card.locator("dd.taker").inner_text().strip() not in ("", "待揭榜")
            assert leader.page.locator("#task-ranking tr[data-unit='GS-HWZX']").count() == 1
            card.scroll_into_view_if_needed()
            leader.shot("key-tasks")
            leader.go("/evaluation")
            assert leader.page.locator("#ranking, .card").count() >= 1
            leader.check_clean()
            leader.close()
        finally:
            browser.close()

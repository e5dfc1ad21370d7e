"""The channel and routing admin pages in a real browser (Playwright on Debian's Chromium): an
operator imports a hotline CSV export with one bad row (the row error names row and column, and
nothing is imported), fixes the file and imports it (the column mapping is remembered); an admin
edits a knowledge-base row and sees it in the version history, retrains the routing model once and
sees the version, the gain chart and the thresholds; the signals board with a camera alarm.

Screenshots: hotline-import, knowledge-base, routing-models, signals (to a temporary folder, or
to ``CITYOPS_SCREENSHOTS=docs/screenshots`` to refresh the committed ones)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from tests.intake.test_journeys_browser import _alarm
from tests.pages.test_journey_browser import CHROMIUM, Person, browser, shots
from tests.serving import NO_CHROMIUM, demo_server

from cityops.db import make_sessionmaker, unit_of_work
from cityops.intake.models import Report

pytestmark = [pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM), pytest.mark.slow]
__all__ = ["browser", "shots"]  # fixtures of the page journey, used here too

LON, LAT = 120.13616, 30.33036  # 桥西直街, 拱宸桥街道
HEAD = "工单编号,诉求内容,发生地点,市民电话,问题分类,X坐标,Y坐标\n"
ROWS = [
    f"12345-0001,桥西直街18号门口垃圾堆了两天没人清理，气味很大,桥西直街18号,13800001111,06010,{LON},{LAT}",
    "12345-0002,,拱宸桥东,13800001112,09009,120.1372,30.3310",
    f"12345-0003,桥西直街口小汽车乱停把人行道堵了,桥西直街口,13800001113,09009,{LON + 0.002},{LAT + 0.001}",
    f"12345-0004,桥西直街18号门口垃圾堆了两天没人清理，气味很大,桥西直街18号,13800001114,06010,{LON},{LAT}",
]
FIXED = ROWS[1].replace("12345-0002,,", "12345-0002,拱宸桥东边人行道上有车辆违停,")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    yield from demo_server(tmp_path_factory, "channel-pages", n_cases=60)


def _hotline_reports(engine: Engine) -> int:
    with unit_of_work(make_sessionmaker(engine)) as session:
        count = session.scalar(select(func.count()).select_from(Report).where(Report.channel == "hotline"))
        return int(count or 0)


def test_hotline_import_and_routing_admin(
    server: tuple[str, Engine], browser: object, shots: Path, tmp_path: Path
) -> None:
    base, engine = server
    export = tmp_path / "12345-export.csv"
    export.write_text(HEAD + "\n".join(ROWS) + "\n", encoding="utf-8")

    # 1. The operator uploads the export, maps the columns the page did not recognise, imports.
    operator = Person(browser, base, shots)
    operator.sign_in("operator")
    operator.page.click("nav a[href='/intake/hotline']")
    operator.page.wait_for_load_state("networkidle")
    operator.page.set_input_files("#f-file", str(export))
    operator.page.click("form[action='/intake/hotline/upload'] button[type=submit]")
    operator.page.wait_for_load_state("networkidle")
    assert "/intake/hotline/map" in operator.page.url
    assert operator.page.input_value("#f-map_order_no") == "工单编号"  # a common heading: recognised
    operator.page.select_option("#f-map_address", "发生地点")
    operator.page.select_option("#f-map_reporter_phone", "市民电话")
    operator.page.select_option("#f-map_category_code", "问题分类")
    operator.page.select_option("#f-map_lon", "X坐标")
    operator.page.select_option("#f-map_lat", "Y坐标")
    before = _hotline_reports(engine)
    operator.page.click("#mapping-form button.primary")
    operator.page.wait_for_load_state("networkidle")
    error = operator.page.locator("#row-errors tr[data-row='3']")
    assert error.count() == 1 and "诉求内容" in error.inner_text()
    assert "未导入任何工单" in operator.page.inner_text("#row-errors")
    assert _hotline_reports(engine) == before  # nothing half-imported
    operator.shot("hotline-import")

    # 2. Fixed file, uploaded again: the mapping of the last attempt is preselected.
    export.write_text(HEAD + "\n".join([ROWS[0], FIXED, ROWS[2], ROWS[3]]) + "\n", encoding="utf-8")
    operator.page.click("#row-errors a[href='/intake/hotline']")
    operator.page.wait_for_load_state("networkidle")
    operator.page.set_input_files("#f-file", str(export))
    operator.page.click("form[action='/intake/hotline/upload'] button[type=submit]")
    operator.page.wait_for_load_state("networkidle")
    assert operator.page.input_value("#f-map_lon") == "X坐标"
    assert "13800001111" not in operator.page.inner_text("#preview")  # phone numbers masked
    operator.page.click("#mapping-form button.primary")
    operator.page.wait_for_load_state("networkidle")
    result = operator.page.locator("#import-result")
    assert result.count() == 1, operator.page.content()[:3000]
    assert operator.page.inner_text("[data-count='created']") == "3"
    assert operator.page.inner_text("[data-count='merged']") == "1"  # row 5 repeats row 2's problem
    assert _hotline_reports(engine) == before + 4
    # The import with the bad row answered 422 on purpose (Chromium logs every 4xx document).
    assert operator.failed == [f"422 {base}/intake/hotline/import"], operator.failed
    operator.errors = [e for e in operator.errors if "status of 422" not in e]
    operator.check_clean()
    operator.close()

    # 3. The admin edits a knowledge-base row and finds the change in the version history.
    admin = Person(browser, base, shots)
    admin.sign_in("admin")
    admin.page.on("dialog", lambda d: d.accept())
    admin.go("/triage/knowledge-base")
    admin.page.fill("input[name='q']", "牛皮癣")
    admin.page.click("form.filters button[type=submit]")
    admin.page.wait_for_load_state("networkidle")
    admin.page.click("tr[data-code='07001'] a")
    admin.page.wait_for_load_state("networkidle")
    terms = admin.page.input_value("#f-terms")
    admin.page.fill("#f-terms", terms + "\n电线杆上贴满的小纸条")
    admin.page.click("#kb-form button.primary")
    admin.page.wait_for_load_state("networkidle")
    assert admin.page.url.endswith("/triage/knowledge-base/07001")
    assert "电线杆上贴满的小纸条" in admin.page.inner_text("#row-history")
    admin.shot("knowledge-base")
    admin.page.click("#row-history a[href^='/triage/knowledge-base/history']")
    admin.page.wait_for_load_state("networkidle")
    assert "电线杆上贴满的小纸条" in admin.page.inner_text("#kb-history")

    # 4. One retraining from the page (15–30 s of CPU): the new version is live, with its chart.
    admin.go("/triage/models")
    assert admin.page.locator("#model-not-ready").count() == 1  # the edit: the page does not wait for a build
    with admin.page.expect_navigation(timeout=240_000):
        admin.page.click("#retrain-form button.primary", no_wait_after=True)
    admin.page.wait_for_load_state("networkidle")
    assert admin.page.inner_text("#live-version").startswith("v")
    assert admin.page.locator("#gain-chart canvas").count() == 1
    assert admin.page.locator("#threshold-table tbody tr").count() > 10
    admin.shot("routing-models")

    # 5. The signals board with a camera alarm on it.
    alarm = _alarm(base, "出店经营", "shopfront-1")
    admin.go("/intake/signals")
    assert admin.page.locator(f"tr[data-signal='{alarm['signal_id']}']").count() == 1
    admin.page.wait_for_timeout(500)  # the map draws its outlines
    admin.shot("signals")
    admin.check_clean()
    admin.close()

"""The routing administration pages (issue 11): the knowledge base (search, edit with errors next
to the fields, a local category's row, Excel export/import with every row's error and nothing
written, the version history) and the routing model page (versions and their comparison, one
retraining, switch on / roll back, the gain chart, the calibrated thresholds and an override);
wrong roles get the 403 page, forms without their CSRF token are refused."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, new_database
from tests.pages.conftest import BROWSER, csrf_of, sign_in
from tests.serving import warm_routing_model

from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.triage import kb_service, service
from cityops.web.app import create_app


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Settings]]:
    tmp = tmp_path_factory.mktemp("routing-pages")
    engine, cleanup = new_database(request.param, tmp, "routing-pages")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=Path(tmp / "files"))
    load_demo(engine, settings, n_cases=0, progress=False)
    service.set_classifier(None)
    warm_routing_model(engine)
    yield engine, settings
    cleanup()


@pytest.fixture(scope="module")
def browser_of(world: tuple[Engine, Settings]) -> Iterator[Callable[[str], TestClient]]:
    app = create_app(world[1], engine=world[0])
    clients: dict[str, TestClient] = {}

    def open_as(username: str) -> TestClient:
        if username not in clients:
            c = TestClient(app, raise_server_exceptions=False, headers=BROWSER)
            c.__enter__()
            sign_in(c, username)
            clients[username] = c
        return clients[username]

    yield open_as
    for c in clients.values():
        c.__exit__(None, None, None)


def _revision(world: tuple[Engine, Settings]) -> int:
    with unit_of_work(make_sessionmaker(world[0])) as session:
        return kb_service.revision(session)


def test_knowledge_base_list_search_and_roles(browser_of: Callable[[str], TestClient]) -> None:
    c = browser_of("admin")
    r = c.get("/triage/knowledge-base")
    assert r.status_code == 200 and 'lang="zh-CN"' in r.text
    assert 'data-total="403"' in r.text and "/triage/knowledge-base/export.xlsx" in r.text
    r = c.get("/triage/knowledge-base?q=牛皮癣")
    assert 'data-code="07001"' in r.text and 'data-code="09009"' not in r.text
    r = c.get("/triage/knowledge-base?family=井盖&kind=event")
    assert 'data-code="01023"' in r.text
    assert c.get("/triage/knowledge-base?offset=-5").status_code == 200
    assert c.get("/triage/knowledge-base?offset=abc").status_code == 422
    # An operator reads the list, edits nothing; a leader does not open it.
    op = browser_of("operator")
    r = op.get("/triage/knowledge-base")
    assert r.status_code == 200 and "/triage/knowledge-base/07001" not in r.text
    assert op.get("/triage/knowledge-base/07001").status_code == 403
    assert op.get("/triage/knowledge-base/history").status_code == 403
    assert browser_of("leader").get("/triage/knowledge-base").status_code == 403
    assert c.get("/triage/knowledge-base/ZZ999").status_code == 404
    c.cookies.set("cityops_lang", "en")
    try:
        english = c.get("/triage/knowledge-base")
        assert english.status_code == 200 and "Category knowledge base" in english.text
    finally:
        c.cookies.delete("cityops_lang")


def test_edit_a_row_with_errors_next_to_fields_and_history(
    browser_of: Callable[[str], TestClient], world: tuple[Engine, Settings]
) -> None:
    c = browser_of("admin")
    form = c.get("/triage/knowledge-base/06034")
    assert form.status_code == 200 and 'id="kb-form"' in form.text
    name = re.search(r'id="f-name" name="name" type="text" value="([^"]*)"', form.text)
    assert name
    token = csrf_of(form.text)
    before = _revision(world)
    # An empty name: 422 next to the field, what was typed kept, nothing written.
    r = c.post(
        "/triage/knowledge-base/06034", data={"csrf_token": token, "name": " ", "terms": "趴窝车\n僵尸车"}
    )
    assert r.status_code == 422 and 'id="name-error"' in r.text and "趴窝车" in r.text
    # An unknown confusion code: next to that field.
    r = c.post(
        "/triage/knowledge-base/06034",
        data={"csrf_token": token, "name": name.group(1), "confusions": "ZZ999"},
    )
    assert r.status_code == 422 and 'id="confusions-error"' in r.text
    assert _revision(world) == before
    # CSRF refused.
    assert c.post("/triage/knowledge-base/06034", data={"name": "x"}).status_code == 403
    # Saved: a new version, with before and after in the history.
    data = {
        "csrf_token": token,
        "name": name.group(1),
        "kind": "event",
        "terms": "趴窝车\n僵尸车\n废弃车辆",
        "filing_criterion": "道路或小区内长期停放、无人使用的废弃车辆",
    }
    r = c.post("/triage/knowledge-base/06034", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/triage/knowledge-base/06034"
    assert _revision(world) == before + 1
    page = c.get("/triage/knowledge-base/06034")
    assert "趴窝车" in page.text and 'id="row-history"' in page.text
    hist = c.get("/triage/knowledge-base/history")
    assert hist.status_code == 200 and f'data-revision="{before + 1}"' in hist.text and "<ins>" in hist.text
    # The same again changes nothing.
    r = c.post("/triage/knowledge-base/06034", data=data, follow_redirects=False)
    assert r.status_code == 303 and _revision(world) == before + 1
    # A local category's row: an unknown code is refused next to the code field.
    new = c.get("/triage/knowledge-base/new")
    r = c.post(
        "/triage/knowledge-base/new",
        data={"csrf_token": csrf_of(new.text), "code": "ZZ999", "name": "本地类别"},
    )
    assert r.status_code == 422 and 'id="code-error"' in r.text and 'value="本地类别"' in r.text
    r = c.post(
        "/triage/knowledge-base/new", data={"csrf_token": csrf_of(new.text), "code": "06034", "name": "x"}
    )
    assert r.status_code == 422 and 'id="code-error"' in r.text


def test_excel_export_import_with_row_errors(
    browser_of: Callable[[str], TestClient], world: tuple[Engine, Settings]
) -> None:
    c = browser_of("admin")
    r = c.get("/triage/knowledge-base/export.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.active
    assert ws is not None
    header = [cell.value for cell in ws[1]]
    col = {name: i for i, name in enumerate(header)}
    rows = {ws.cell(row=n, column=1).value: n for n in range(3, ws.max_row + 1)}
    ws.cell(row=rows["06010"], column=col["name"] + 1, value="")  # empty name
    ws.cell(row=rows["06036"], column=col["confusions"] + 1, value="06010|ZZ999")  # unknown code
    ws.cell(row=rows["07001"], column=col["terms"] + 1, value="牛皮癣|开锁办证的纸条|电线杆上的小广告")
    buf = io.BytesIO()
    wb.save(buf)
    page = c.get("/triage/knowledge-base")
    before = _revision(world)
    files = {"file": ("kb.xlsx", buf.getvalue(), "application/octet-stream")}
    r = c.post("/triage/knowledge-base/import", data={"csrf_token": csrf_of(page.text)}, files=files)
    assert r.status_code == 422, r.text[:500]
    assert f'data-row="{rows["06010"]}"' in r.text and f'data-row="{rows["06036"]}"' in r.text
    assert _revision(world) == before  # nothing written
    # Fixed: imported, one row changed.
    ws.cell(row=rows["06010"], column=col["name"] + 1, value="暴露垃圾")
    ws.cell(row=rows["06036"], column=col["confusions"] + 1, value="06010")
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("kb.xlsx", buf.getvalue(), "application/octet-stream")}
    r = c.post(
        "/triage/knowledge-base/import",
        data={"csrf_token": csrf_of(page.text)},
        files=files,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    assert _revision(world) > before
    # A file that is no table, no file, no CSRF token.
    bad = {"file": ("kb.xlsx", b"PK\x03\x04garbage", "application/octet-stream")}
    r = c.post("/triage/knowledge-base/import", data={"csrf_token": csrf_of(page.text)}, files=bad)
    assert r.status_code == 422 and 'id="file-error"' in r.text
    r = c.post("/triage/knowledge-base/import", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422
    assert c.post("/triage/knowledge-base/import", files=files).status_code == 403
    assert browser_of("operator").get("/triage/knowledge-base/export.xlsx").status_code == 403


def test_models_page_retrain_rollback_thresholds(browser_of: Callable[[str], TestClient]) -> None:
    c = browser_of("admin")
    r = c.get("/triage/models")
    assert r.status_code == 200 and 'id="threshold-table"' in r.text and "知识库模型" in r.text
    token = csrf_of(r.text)
    # Nothing to roll back to yet: a message, not an error page.
    r = c.post("/triage/models/rollback", data={"csrf_token": token})
    assert r.status_code == 200 and "没有可回退的上一版本" in r.text
    assert c.post("/triage/models/99/activate", data={"csrf_token": token}).status_code == 404
    assert c.post("/triage/models/retrain", data={}).status_code == 403  # CSRF
    # One retraining (15–30 s): version 1 goes live, the chart and its comparison appear.
    r = c.post("/triage/models/retrain", data={"csrf_token": token})
    assert r.status_code == 200, r.text[:500]
    assert "v1" in r.text and 'data-version="1"' in r.text and 'id="gain-chart"' in r.text
    assert 'id="live-version">v1<' in r.text and 'id="model-not-ready"' not in r.text
    assert re.search(r'<tr data-code="\d{5}">', r.text)
    # Thresholds: an override is shown, a bad value or code is a message.
    r = c.post("/triage/thresholds", data={"csrf_token": token, "category_code": "06010", "threshold": "0.9"})
    assert r.status_code == 200 and re.search(r'data-code="06010">.*?0\.9</td>', r.text, re.S)
    r = c.post("/triage/thresholds", data={"csrf_token": token, "category_code": "06010", "threshold": "7"})
    assert r.status_code == 200 and "阈值必须在 0 到 1 之间" in r.text
    r = c.post("/triage/thresholds", data={"csrf_token": token, "category_code": "ZZ999", "threshold": "0.5"})
    assert r.status_code == 200 and "flash error" in r.text
    # Roles.
    assert browser_of("dispatcher").get("/triage/models").status_code == 403
    assert (
        browser_of("operator").post("/triage/models/retrain", data={"csrf_token": token}).status_code == 403
    )

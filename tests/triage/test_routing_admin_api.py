"""The knowledge base and thresholds through the API (admin edits, Excel round trip, history,
validation naming the row) and the bad inputs of issue 11 (no problem, another script, a long
transcript), on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from tests.conftest import BACKENDS, new_database

from cityops.config import Settings
from cityops.demo.loader import load_demo
from cityops.triage import service
from cityops.web.app import create_app


@pytest.fixture(scope="module", params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("routing-admin")
    engine, cleanup = new_database(request.param, tmp, "routing-admin")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=Path(tmp / "files"))
    load_demo(engine, settings, n_cases=0, progress=False)
    service.set_classifier(None)
    with TestClient(create_app(settings, engine=engine)) as c:
        yield c
    cleanup()


def _auth(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": "demo"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_knowledge_base_lists_every_category(client: TestClient) -> None:
    r = client.get("/api/v1/triage/knowledge-base", headers=_auth(client, "operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 403
    ads = next(row for row in body["rows"] if row["code"] == "07001")
    assert "牛皮癣" in ads["terms"] and ads["family"] == "广告"


def test_an_admin_edit_is_versioned_with_before_and_after(client: TestClient) -> None:
    admin = _auth(client, "admin")
    before = client.get("/api/v1/triage/knowledge-base/06034", headers=admin).json()
    r = client.put(
        "/api/v1/triage/knowledge-base/06034",
        headers=admin,
        json={"terms": [*before["terms"], "趴窝车"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["changed"] == 1 and "趴窝车" in r.json()["row"]["terms"]
    assert r.json()["row"]["name"] == before["name"]  # fields left out keep their value
    hist = client.get("/api/v1/triage/knowledge-base/history?code=06034", headers=admin).json()
    assert hist["revision"] >= 1
    change = hist["changes"][0]
    assert "趴窝车" in change["after"]["terms"] and "趴窝车" not in change["before"]["terms"]
    # an operator may read but not edit
    r = client.put(
        "/api/v1/triage/knowledge-base/06034", headers=_auth(client, "operator"), json={"terms": ["x"]}
    )
    assert r.status_code == 403


def test_an_empty_name_or_an_unknown_code_is_a_422_naming_the_row(client: TestClient) -> None:
    admin = _auth(client, "admin")
    r = client.put("/api/v1/triage/knowledge-base/06010", headers=admin, json={"name": "  "})
    assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "name", r.text
    r = client.put(
        "/api/v1/triage/knowledge-base/ZZ999", headers=admin, json={"name": "不存在的类别", "terms": "甲|乙"}
    )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "unknown_category" and err["details"]["code"] == "ZZ999"
    assert "/" in err["message"]  # 中文 / English


def test_excel_export_and_import_round_trip_all_or_nothing(client: TestClient) -> None:
    admin = _auth(client, "admin")
    r = client.get("/api/v1/triage/knowledge-base.xlsx", headers=admin)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.active
    assert ws is not None and ws.max_row == 2 + 403
    header = [c.value for c in ws[1]]
    col = header.index("terms") + 1
    code_col = header.index("code") + 1
    target = next(i for i in range(3, ws.max_row + 1) if ws.cell(i, code_col).value == "07002")
    ws.cell(target, col).value = str(ws.cell(target, col).value) + "|扫楼发单"
    revision = client.get("/api/v1/triage/knowledge-base", headers=admin).json()["revision"]
    # a second sheet state with one bad row: nothing is applied
    bad_row = ws.max_row + 1
    ws.cell(bad_row, code_col).value = "99999"
    ws.cell(bad_row, header.index("name") + 1).value = "不存在"
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("kb.xlsx", buf.getvalue(), "application/octet-stream")}
    r = client.post("/api/v1/triage/knowledge-base/import", headers=admin, files=files)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"]["code"] == "99999"
    assert client.get("/api/v1/triage/knowledge-base", headers=admin).json()["revision"] == revision
    ws.delete_rows(bad_row)
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("kb.xlsx", buf.getvalue(), "application/octet-stream")}
    r = client.post("/api/v1/triage/knowledge-base/import", headers=admin, files=files)
    assert r.status_code == 200, r.text
    assert r.json()["changed"] == 1
    row = client.get("/api/v1/triage/knowledge-base/07002", headers=admin).json()
    assert "扫楼发单" in row["terms"]


def test_thresholds_are_shown_with_the_expected_auto_share(client: TestClient) -> None:
    admin = _auth(client, "admin")
    r = client.get("/api/v1/triage/thresholds", headers=admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["target_precision"] == 0.95
    assert 0 < body["expected_auto_share"] <= 1 and body["expected_precision"] >= 0.95
    garbage = next(c for c in body["categories"] if c["category_code"] == "06010")
    assert 0.5 <= garbage["calibrated"] < 1 and garbage["override"] is None
    r = client.put("/api/v1/triage/thresholds/06010", headers=admin, json={"threshold": 0.99})
    assert r.status_code == 200
    garbage = next(
        c
        for c in client.get("/api/v1/triage/thresholds", headers=admin).json()["categories"]
        if c["category_code"] == "06010"
    )
    assert garbage["effective"] == 0.99
    route = client.post(
        "/api/v1/triage/route", headers=admin, json={"text": "大关小区门口垃圾没人清理"}
    ).json()
    assert route["threshold"] == 0.99


def test_no_problem_another_script_and_a_long_transcript_never_dispatch(client: TestClient) -> None:
    operator = _auth(client, "operator")
    r = client.post("/api/v1/triage/route", headers=operator, json={"text": "你好"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert not d["auto"] and d["reason"] == "no_problem" and d["category_code"] is None and d["queue_item_id"]
    r = client.post("/api/v1/triage/route", headers=operator, json={"text": "The street light is broken"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_language"
    r = client.post("/api/v1/triage/route", headers=operator, json={"text": "Улица грязная, мусор"})
    assert r.status_code == 422
    long = "市民来电反映：" + "他先说了家里的情况，又说到小区物业收费的事，还提到孩子上学。" * 14
    long += "最后说大关小区门口的垃圾好几天没人收了。"
    d = client.post("/api/v1/triage/route", headers=operator, json={"text": long}).json()
    assert not d["auto"] and d["queue_item_id"]


def test_a_district_export_of_labelled_history_is_checked_row_by_row(client: TestClient) -> None:
    admin = _auth(client, "admin")
    good = "text,category_code\n菜场门口的鱼摊把水泼到路上,09020\n桥洞下面住了个流浪汉,09003\n"
    files = {"file": ("export.csv", good.encode(), "text/csv")}
    r = client.post("/api/v1/triage/history/import", headers=admin, files=files)
    assert r.status_code == 200 and r.json()["rows"] == 2, r.text
    bad = "text,category_code\n有一只死猫,06037\n,06010\n"
    r = client.post(
        "/api/v1/triage/history/import", headers=admin, files={"file": ("x.csv", bad.encode(), "text/csv")}
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["row"] == 3, r.text

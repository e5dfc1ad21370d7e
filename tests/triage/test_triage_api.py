"""Triage end to end through the HTTP API on a demo world (2,000 cases), SQLite and PostgreSQL.

The district's classifier is trained in-app from the demo history (saved where
CITYOPS_TRIAGE_MODEL points), 暴露垃圾's threshold is set by the admin, and then: the hotline
acceptance report is filed and dispatched by itself; a vague one waits in the operator queue;
bad text is refused with a bilingual 422 and writes nothing; resolving the queue creates the case
and a training row; recategorising a misrouted return is a training row; the handling note gets a
reply score; accurate-dispatch, hot issues and surge warnings answer from the demo cases.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, new_database

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.models import Case
from cityops.cases.schemas import CaseCreate
from cityops.config import Settings, get_settings
from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.demo.loader import load_demo
from cityops.triage import service
from cityops.triage.models import TrainingCorrection, TriageQueueItem
from cityops.triage.tasks import surge_sweep
from cityops.web.app import create_app

ACCEPTANCE = "拱宸桥街道桥西社区门口垃圾堆了三天没人清理"
VAGUE = "最近这边环境有点脏乱，麻烦有人来看看"
GONGCHENQIAO = "330105005"
QIAOXI = "330105005001"
GARBAGE = "06010"


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Settings]]:
    tmp = tmp_path_factory.mktemp("triage-api")
    engine, cleanup = new_database(request.param, tmp, "triage-api")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=Path(tmp / "files"))
    load_demo(engine, settings, n_cases=2000, progress=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CITYOPS_TRIAGE_MODEL", str(tmp / "models" / "catalog.joblib"))
        get_settings.cache_clear()
        with unit_of_work(make_sessionmaker(engine)) as session:
            trained = service.train_catalog_classifier(session)
        assert trained["categories"] >= 20
        yield engine, settings
        service.set_classifier(None)
    get_settings.cache_clear()
    cleanup()


@pytest.fixture(scope="module")
def client(world: tuple[Engine, Settings]) -> Iterator[TestClient]:
    engine, settings = world
    with TestClient(create_app(settings, engine=engine)) as c:
        admin = _auth(c, "admin")
        # The admin's per-category gate: garbage reports are sure enough at 0.75.
        r = c.put(f"/api/v1/triage/thresholds/{GARBAGE}", headers=admin, json={"threshold": 0.75})
        assert r.status_code == 200, r.text
        yield c


def _auth(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": "demo"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _count(engine: Engine, table: Any) -> int:
    with unit_of_work(make_sessionmaker(engine)) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_the_trained_model_file_is_the_live_classifier(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    path = service.model_path()
    assert path.name == "catalog.joblib" and path.exists()
    with unit_of_work(make_sessionmaker(engine)) as session:
        clf = service.get_classifier(session)
    assert type(clf).__name__ == "RoutingModel"
    assert clf.predict_top_k([ACCEPTANCE], 1)[0][0][0] == GARBAGE


def test_acceptance_hotline_report_is_filed_and_dispatched(client: TestClient) -> None:
    operator, dispatcher = _auth(client, "operator"), _auth(client, "dispatcher")
    r = client.post("/api/v1/triage/intake", headers=operator, json={"text": ACCEPTANCE})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["outcome"] == "dispatched" and body["queue_item"] is None
    decision, case = body["decision"], body["case"]
    assert decision["category_code"] == GARBAGE and decision["auto"] is True
    assert decision["place"]["name"] == "桥西社区" and decision["place"]["street_code"] == GONGCHENQIAO
    assert case["street_code"] == GONGCHENQIAO and case["community_code"] == QIAOXI
    assert case["department_code"] and case["state"] == "dispatched" and case["deadline"]
    assert case["location_approximate"] is True
    shown = client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher).json()
    assert shown["location_approximate"] is True and shown["source"] == "hotline"
    assert shown["department"]["code"] == case["department_code"]
    log = client.get(f"/api/v1/cases/{case['id']}/log", headers=dispatcher).json()
    assert [e["action"] for e in log] == ["create", "file", "dispatch"]
    assert log[1]["actor_name"] == "triage" and "置信度" in log[1]["note"]


def test_vague_report_waits_in_the_queue_with_three_suggestions(client: TestClient) -> None:
    operator = _auth(client, "operator")
    body = {"text": VAGUE, "reporter_name": "李女士"}
    r = client.post("/api/v1/triage/intake", headers=operator, json=body)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["outcome"] == "queued" and body["case"] is None
    item = body["queue_item"]
    assert len(item["suggestions"]) == 3
    assert all(s["category_code"] and 0 <= s["probability"] <= 1 for s in item["suggestions"])
    assert isinstance(item["driving_words"], list) and item["driving_words"]
    assert body["decision"]["reason"] in ("below_threshold", "no_place")
    listed = client.get("/api/v1/triage/queue", headers=operator).json()
    assert item["id"] in [i["id"] for i in listed]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "invalid"),
        ("   \n\t ", "invalid"),
        ("Rubbish has been piled up at the gate for three days", "unsupported_language"),
        ("垃圾" * 3000, "invalid"),
        (None, "invalid"),
    ],
    ids=["empty", "whitespace", "latin", "too-long", "missing"],
)
def test_bad_text_is_a_bilingual_422_and_writes_nothing(
    client: TestClient, world: tuple[Engine, Settings], text: Any, code: str
) -> None:
    engine, _ = world
    operator = _auth(client, "operator")
    before = (_count(engine, TriageQueueItem), _count(engine, Case))
    r = client.post("/api/v1/triage/intake", headers=operator, json={"text": text})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["details"]["field"] == "text"
    zh, en = error["message"].split(" / ", 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en.isascii()
    assert (_count(engine, TriageQueueItem), _count(engine, Case)) == before


def test_resolving_a_queue_item_creates_the_case_and_a_training_row(
    client: TestClient, world: tuple[Engine, Settings]
) -> None:
    engine, _ = world
    operator = _auth(client, "operator")
    text = "那边乱七八糟的，赶紧来看看"
    queued = client.post("/api/v1/triage/intake", headers=operator, json={"text": text})
    assert queued.status_code == 202, queued.text
    item_id = queued.json()["queue_item"]["id"]
    corrections = _count(engine, TrainingCorrection)
    # No place in the text: the operator must say where.
    nowhere = client.post(
        f"/api/v1/triage/queue/{item_id}/resolve", headers=operator, json={"category_code": GARBAGE}
    )
    assert nowhere.status_code == 422 and nowhere.json()["error"]["code"] == "place_required"
    assert _count(engine, TrainingCorrection) == corrections
    r = client.post(
        f"/api/v1/triage/queue/{item_id}/resolve",
        headers=operator,
        json={"category_code": GARBAGE, "area_code": QIAOXI},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resolved_category"] == GARBAGE and body["case"]["community_code"] == QIAOXI
    assert body["case"]["state"] == "dispatched" and body["case"]["department_code"]
    assert body["case_id"] == body["case"]["id"]
    assert _count(engine, TrainingCorrection) == corrections + 1
    with unit_of_work(make_sessionmaker(engine)) as session:
        rows = service.export_training_rows(session)
    assert rows[-1]["label"] == GARBAGE and rows[-1]["source"] == "operator_queue"
    again = client.post(
        f"/api/v1/triage/queue/{item_id}/resolve", headers=operator, json={"category_code": GARBAGE}
    )
    assert again.status_code == 409
    unknown = client.post(
        f"/api/v1/triage/queue/{queued.json()['queue_item']['id']}/resolve",
        headers=operator,
        json={"category_code": "99999"},
    )
    assert unknown.status_code in (409, 422)


def test_misrouted_return_then_recategorize_is_a_training_row_and_handling_is_scored(
    client: TestClient, world: tuple[Engine, Settings]
) -> None:
    engine, _ = world
    operator, dispatcher = _auth(client, "operator"), _auth(client, "dispatcher")
    case = client.post("/api/v1/triage/intake", headers=operator, json={"text": ACCEPTANCE}).json()["case"]
    first_department = case["department_code"]
    handler = _auth(client, f"handler-{first_department}")
    r = client.post(
        f"/api/v1/cases/{case['id']}/return",
        headers=handler,
        json={"reason": "不属于本单位", "misrouted": True, "category_code": "06011"},
    )
    assert r.status_code == 200, r.text
    corrections = _count(engine, TrainingCorrection)
    url = f"/api/v1/cases/{case['id']}/recategorize"
    r = client.post(url, headers=dispatcher, json={"category_code": "06011"})
    assert r.status_code == 200, r.text
    assert r.json()["category_code"] == "06011"
    log = client.get(f"/api/v1/cases/{case['id']}/log", headers=dispatcher).json()
    assert log[-2]["data"]["suggested_category_code"] == "06011"
    assert log[-1]["data"]["from_category_code"] == GARBAGE and log[-1]["data"]["to_category_code"] == "06011"
    assert log[-1]["data"]["correction_source"] == "misrouted_return"
    assert _count(engine, TrainingCorrection) == corrections + 1
    with unit_of_work(make_sessionmaker(engine)) as session:
        assert service.export_training_rows(session)[-1]["source"] == "misrouted_return"
    # The same category again is refused; a missing category is a 422 naming the field.
    same = client.post(url, headers=dispatcher, json={"category_code": "06011"})
    assert same.status_code == 422 and same.json()["error"]["code"] == "same_category"
    missing = client.post(url, headers=dispatcher, json={})
    assert missing.status_code == 422 and missing.json()["error"]["details"]["field"] == "category_code"

    # Re-dispatch, then the department handles with a note: the case shows the reply score.
    department = r.json()["department"]["code"] if r.json()["department"] else first_department
    r = client.post(
        f"/api/v1/cases/{case['id']}/dispatch", headers=dispatcher, json={"department_code": department}
    )
    assert r.status_code == 200, r.text
    handler = _auth(client, f"handler-{department}")
    assert client.post(f"/api/v1/cases/{case['id']}/accept", headers=handler).status_code == 200
    note = (
        "您好，经现场核实，桥西社区门口堆积的垃圾已于今日全部清运完毕，并已督促物业每日巡查。感谢您的监督。"
    )
    r = client.post(f"/api/v1/cases/{case['id']}/handle", headers=handler, json={"note": note})
    assert r.status_code == 200, r.text
    score = r.json()["reply_score"]
    assert score is not None and 0.4 < score <= 1
    shown = client.get(f"/api/v1/cases/{case['id']}", headers=dispatcher).json()
    assert shown["reply_score"] == score
    log = client.get(f"/api/v1/cases/{case['id']}/log", headers=dispatcher).json()
    parts = log[-1]["data"]["reply_score"]
    assert parts["overall"] == score and set(parts) >= {"relevance", "completeness", "interpretability"}


def test_accurate_dispatch_rate_from_the_case_log(client: TestClient) -> None:
    leader = _auth(client, "leader")
    since = (utcnow() - timedelta(days=400)).isoformat()
    r = client.get("/api/v1/triage/accurate-dispatch", headers=leader, params={"since": since})
    assert r.status_code == 200, r.text
    rows = r.json()
    overall = rows[-1]
    assert overall["category_code"] is None and overall["dispatched"] > 100
    assert sum(x["dispatched"] for x in rows[:-1]) == overall["dispatched"]
    assert all(0 <= x["rate"] <= 1 for x in rows)
    # The misrouted return of the test above counts under the category it was dispatched with.
    garbage = next(x for x in rows if x["category_code"] == GARBAGE)
    assert garbage["misrouted"] >= 1
    operator = _auth(client, "operator")
    assert client.get("/api/v1/triage/accurate-dispatch", headers=operator).status_code == 403


def test_hot_issues_are_clusters_of_demo_cases(client: TestClient) -> None:
    leader = _auth(client, "leader")
    r = client.get("/api/v1/triage/hot-issues", headers=leader, params={"days": 60, "limit": 5})
    assert r.status_code == 200, r.text
    issues = r.json()
    assert issues and len(issues) <= 5
    assert all(h["reports"] >= 2 for h in issues)
    assert issues == sorted(issues, key=lambda h: -h["heat"])
    one = client.get(f"/api/v1/triage/hot-issues/{issues[0]['id']}", headers=leader, params={"days": 60})
    assert one.status_code == 200 and len(one.json()["case_codes"]) == issues[0]["reports"]


def test_a_synthetic_surge_raises_a_warning(client: TestClient, world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    now = utcnow()
    factory = make_sessionmaker(engine)
    inspector = Principal(id=uuid.uuid4(), username="surge-test", role="inspector")
    with unit_of_work(factory) as session:
        lon, lat, _ = service.place_point(session, service.resolve_place(session, "桥西社区"))  # type: ignore[misc]
        for k in range(15):
            text = f"桥西社区井盖缺失第{k}处"
            data = CaseCreate(description=text, lon=lon, lat=lat, category_code="C01001")
            cases.create_case(session, inspector, data, now=now - timedelta(hours=k))
    with unit_of_work(factory) as session:
        raised = surge_sweep(session, now)
    assert raised and all(1 <= w["level"] <= 4 for w in raised)
    with unit_of_work(factory) as session:
        again = surge_sweep(session, now)
    assert {w["id"] for w in again} >= {w["id"] for w in raised if w["window"] == "24h"}
    assert not any(w["created"] for w in again)  # the same day's warnings are refreshed, not repeated
    r = client.get("/api/v1/warnings", headers=_auth(client, "leader"), params={"source": "surge"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    mine = [w for w in items if w["category_code"] == "C01001" and w["area_code"] == GONGCHENQIAO]
    assert mine and mine[0]["observed"] >= 15 - 1
    assert client.get("/api/v1/warnings", headers=_auth(client, "operator")).status_code == 403

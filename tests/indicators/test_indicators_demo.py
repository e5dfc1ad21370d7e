"""Indicators over the small demo: catalog, history, agreement with evaluation, warnings, Excel, API."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.evaluation.conftest import NOW

from cityops.accounts.principal import Principal
from cityops.config import Settings
from cityops.errors import Invalid
from cityops.evaluation import service as evaluation
from cityops.indicators import excel, service
from cityops.indicators.models import Indicator, IndicatorValue
from cityops.safety.models import Warning as SafetyWarning
from cityops.web.app import create_app

LEADER = Principal(id=uuid.uuid4(), username="leader-t", role="leader")
RATES = (
    "GOV.closure_rate",
    "GOV.on_time_closure_rate",
    "GOV.on_time_handling_rate",
    "GOV.rework_rate",
    "GOV.supervision_report_rate",
    "GOV.accurate_dispatch_rate",
    "GOV.avg_handle_hours",
    "GOV.satisfaction",
)


def test_catalog_covers_the_domains_and_every_evaluation_rate(demo_session: Session) -> None:
    inds = service.list_catalog(demo_session)
    assert len(inds) >= 60
    assert {i.domain for i in inds} == set(service.DOMAINS)
    assert set(RATES) <= {i.code for i in inds}
    vital = {"VS.canal_level", "VS.aqi", "VS.noise", "VS.elevator_faults", "VS.smoke_alarms"}
    assert vital <= {i.code for i in inds}


def test_a_year_of_history_agrees_with_evaluation(demo_session: Session) -> None:
    points = service.history(demo_session, "GOV.closure_rate", "330105", None, None)
    assert len(points) >= 12
    october = next(p for p in points if p.period_start == date(2026, 10, 1))
    fig = evaluation.evaluate(
        demo_session, LEADER, by="district", period="2026-10", district="330105", now=NOW
    )
    row = fig["rows"][0]
    assert october.value == pytest.approx(100 * row["closed"] / row["due"], abs=1e-3)
    daily = service.history(demo_session, "VS.aqi", "330105", date(2026, 1, 1), date(2026, 1, 31))
    assert len(daily) == 31 and all(p.value is not None for p in daily)


def test_telemetry_twins_wait_for_intake(demo_session: Session) -> None:
    live = service.get_indicator(demo_session, "VS.canal_level.live")
    assert service.status_of(demo_session, live) == "waiting_for_intake"
    assert service.status_of(demo_session, service.get_indicator(demo_session, "VS.canal_level")) == "ok"


def test_a_level_change_raises_one_warning(demo_session: Session) -> None:
    ind = service.save(
        demo_session,
        {
            "code": "T.overdue",
            "name": "测试超期",
            "domain": "基层治理",
            "theme": "测试",
            "period": "month",
            "direction": "lower_better",
            "definition": "filed + 1",
            "thresholds": {"yellow": 1, "red": 2},
        },
    )
    for _ in range(2):
        service.compute(
            demo_session,
            level="district",
            day=date(2026, 11, 20),
            district="330105",
            now=NOW,
            indicators=[ind],
        )
    warnings = demo_session.scalars(select(SafetyWarning).where(SafetyWarning.kind == "T.overdue")).all()
    assert len(warnings) == 1
    assert warnings[0].level == 4 and warnings[0].source == "indicator" and warnings[0].area_code == "330105"


def test_excel_round_trip_and_all_or_nothing(demo_session: Session) -> None:
    data = excel.export(service.list_catalog(demo_session))
    rows = excel.read(data)
    assert service.import_rows(demo_session, rows) == len(rows)
    before = demo_session.scalar(select(func.count()).select_from(Indicator))
    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    assert ws is not None
    ws.append(["NEW.one", "新指标", "基层治理", "t", "", "month", "", "lower_better", "expression", "filed"])
    ws.append(
        ["NEW.two", "坏公式", "基层治理", "t", "", "month", "", "lower_better", "expression", "filed / nope"]
    )
    bad = io.BytesIO()
    wb.save(bad)
    with pytest.raises(Invalid) as info:
        service.import_rows(demo_session, excel.read(bad.getvalue()))
    assert info.value.details["row"] == ws.max_row and info.value.details["column"] == "J"
    assert "nope" in info.value.message
    assert demo_session.scalar(select(func.count()).select_from(Indicator)) == before  # nothing half-imported
    ws.delete_cols(3)
    wrong = io.BytesIO()
    wb.save(wrong)
    with pytest.raises(Invalid) as info:
        excel.read(wrong.getvalue())
    assert info.value.details["row"] == 1 and info.value.details["column"] == "C"


@pytest.fixture()
def client(demo_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp_path)
    with TestClient(create_app(settings, engine=demo_engine)) as c:
        yield c


def _auth(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": "demo"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_api_lists_values_and_history(client: TestClient, demo_session: Session) -> None:
    h = _auth(client, "leader")
    listed = client.get("/api/v1/indicators", headers=h)
    assert listed.status_code == 200
    first = listed.json()[0]
    assert {"code", "name", "domain", "value", "unit", "level", "updated_at"} <= set(first)
    hist = client.get(
        "/api/v1/indicators/GOV.filed/history",
        params={"area": "330105", "from": "2026-03-01", "to": "2026-05-31"},
        headers=h,
    )
    assert hist.status_code == 200
    assert [p["period_start"] for p in hist.json()["points"]] == ["2026-03-01", "2026-04-01", "2026-05-01"]
    bad = client.get("/api/v1/indicators/GOV.filed/history", params={"from": "yesterday"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "from"
    assert client.get("/api/v1/indicators/NOPE/history", headers=h).status_code == 404
    stored = demo_session.scalar(select(func.count()).select_from(IndicatorValue))
    assert stored and stored > 1000


def test_api_refuses_bad_definitions_and_citizens(client: TestClient) -> None:
    admin = _auth(client, "admin")
    body = {"code": "X.bad", "name": "坏", "domain": "基层治理", "theme": "t", "definition": "closed / duee"}
    r = client.post("/api/v1/indicators", json=body, headers=admin)
    assert r.status_code == 422 and r.json()["error"]["details"]["unknown"] == "duee"
    r = client.post(
        "/api/v1/indicators",
        headers=admin,
        json={
            **body,
            "definition": "closed",
            "direction": "lower_better",
            "thresholds": {"blue": 9, "yellow": 3},
        },
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_thresholds"
    assert client.get("/api/v1/indicators", headers=_auth(client, "citizen1")).status_code == 403


def test_evaluation_api_contract_and_bad_periods(client: TestClient) -> None:
    h = _auth(client, "leader")
    r = client.get("/api/v1/evaluation", params={"by": "street", "period": "2026-10"}, headers=h)
    assert r.status_code == 200
    row = r.json()["rows"][0]
    assert {
        "code",
        "name",
        "filed",
        "due",
        "closed",
        "closed_on_time",
        "closure_rate",
        "on_time_closure_rate",
        "rework_rate",
        "overdue",
        "score",
        "rank",
        "rank_change",
    } <= set(row)
    for period in ("2026-W44", "2026-Q3", "2026"):
        assert (
            client.get("/api/v1/evaluation", params={"by": "grid", "period": period}, headers=h).status_code
            == 200
        )
    for period, code in (
        ("2030-01", "period_in_future"),
        ("2026-13", "invalid_period"),
        ("26-1", "invalid_period"),
    ):
        bad = client.get("/api/v1/evaluation", params={"period": period}, headers=h)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == code
        assert "YYYY-Qn" in bad.json()["error"]["message"]
    xlsx = client.get(
        "/api/v1/evaluation/export.xlsx", params={"by": "department", "period": "2026-10"}, headers=h
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert (
        client.get(
            "/api/v1/evaluation", params={"by": "street"}, headers=_auth(client, "citizen1")
        ).status_code
        == 403
    )


def test_an_import_lists_every_bad_row(demo_session: Session) -> None:
    base = ["基层治理", "t", "", "month", "", "lower_better", "expression"]
    rows = [
        {
            "_row": 2,
            **dict(zip(excel.COLUMNS, ["I.ok", "好", *base, "filed"], strict=False)),
            "thresholds": {},
        },
        {
            "_row": 3,
            **dict(zip(excel.COLUMNS, ["I.f", "坏", *base, "filed / 0"], strict=False)),
            "thresholds": {},
        },
        {
            "_row": 4,
            **dict(zip(excel.COLUMNS, ["I.t", "序", *base, "filed"], strict=False)),
            "thresholds": {"yellow": 5, "red": 1},
        },
        {
            "_row": 5,
            **dict(zip(excel.COLUMNS, ["I.ok", "重", *base, "filed"], strict=False)),
            "thresholds": {},
        },
    ]
    with pytest.raises(Invalid) as info:
        service.import_rows(demo_session, rows)
    found = [(e["row"], e["column"], e["field"]) for e in info.value.details["errors"]]
    assert found == [(3, "J", "definition"), (4, "N", "thresholds"), (5, "A", "code")]
    zh, en = info.value.message.split(" / ", 1)
    assert zh.startswith("第 3 行 J 列") and "未导入任何指标" in zh and "除数为零" in zh
    assert en.startswith("row 3, column J") and "division by zero" in en and "第" not in en
    assert demo_session.get(Indicator, "I.ok") is None

"""The worker's incremental refresh follows the case log; deadline risk is calibrated-ish and scoped."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import aggregates
from cityops.cases import service as cases
from cityops.cases.models import Case
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.errors import Forbidden
from cityops.evaluation import periods, risk, risk_service, service, summary, tasks
from cityops.evaluation.models import EvaluationDaily

from .conftest import NOW

LEADER = Principal(id=uuid.uuid4(), username="leader-t", role="leader")
DISPATCHER = Principal(id=uuid.uuid4(), username="dispatcher-t", role="dispatcher")


def _district(session: Session, period: str) -> dict:
    return service.evaluate(session, LEADER, by="district", period=period, district="330105", now=NOW)[
        "rows"
    ][0]


def test_closing_a_case_moves_the_figures_after_a_refresh(demo_session: Session) -> None:
    verified = demo_session.scalars(
        select(Case)
        .where(Case.state.in_(("handled", "verified")), Case.deadline < NOW)
        .order_by(Case.deadline)
    ).first()
    assert verified is not None and verified.deadline is not None
    label = periods.containing("month", periods.today(verified.deadline)).label
    before = _district(demo_session, label)
    later = NOW + timedelta(minutes=5)
    if verified.state == "handled":
        cases.perform_action(
            demo_session, DISPATCHER, verified.id, "verify", ActionInput(passed=True), now=later
        )
    cases.perform_action(demo_session, DISPATCHER, verified.id, "close", now=later)
    demo_session.flush()
    assert _district(demo_session, label)["closed"] == before["closed"]  # not folded in yet
    result = tasks.refresh_evaluation(demo_session, later)
    assert result["cases"] >= 1
    after = _district(demo_session, label)
    assert after["closed"] == before["closed"] + 1
    # The incremental result equals a rebuild from scratch.
    incremental = sorted(
        tuple(r)
        for r in demo_session.execute(
            select(
                EvaluationDaily.day,
                EvaluationDaily.dim,
                EvaluationDaily.code,
                EvaluationDaily.kind,
                EvaluationDaily.filed,
                EvaluationDaily.due,
                EvaluationDaily.closed,
                EvaluationDaily.overdue,
            )
        )
    )
    summary.rebuild(demo_session, "330105", later)
    rebuilt = sorted(
        tuple(r)
        for r in demo_session.execute(
            select(
                EvaluationDaily.day,
                EvaluationDaily.dim,
                EvaluationDaily.code,
                EvaluationDaily.kind,
                EvaluationDaily.filed,
                EvaluationDaily.due,
                EvaluationDaily.closed,
                EvaluationDaily.overdue,
            )
        )
    )
    assert incremental == rebuilt


def test_scope_of_the_evaluation(demo_session: Session) -> None:
    # A street that has October cases in this demo (the generated world decides which).
    leader = Principal(id=uuid.uuid4(), username="l", role="leader")
    every = service.evaluate(demo_session, leader, by="grid", period="2026-10", district="330105", now=NOW)
    code = every["rows"][0]["code"][:9]
    street = Principal(id=uuid.uuid4(), username="s", role="leader", area_code=code)
    rows = service.evaluate(demo_session, street, by="grid", period="2026-10", district="330105", now=NOW)[
        "rows"
    ]
    assert rows and all(r["code"].startswith(code) for r in rows)
    assert len(rows) < len(every["rows"])  # the other streets' grids are cut away
    with pytest.raises(Forbidden):
        service.evaluate(demo_session, street, by="department", period="2026-10", district="330105", now=NOW)
    handler = Principal(id=uuid.uuid4(), username="h", role="handler", department_code="GS-HWZX")
    rows = service.evaluate(
        demo_session, handler, by="department", period="2026-10", district="330105", now=NOW
    )["rows"]
    assert [r["code"] for r in rows] == ["GS-HWZX"]


def test_risk_model_beats_chance_and_stays_in_range(demo_session: Session) -> None:
    rows = aggregates.finished_for_risk(demo_session, NOW - timedelta(days=400), NOW)
    cal = aggregates.calendar(demo_session)
    model = risk.train(rows, cal, NOW)
    assert model is not None
    X, y = risk.snapshots(rows, cal, seed=99)
    p = model.predict(X)
    assert ((p >= 0) & (p <= 1)).all()
    # Calibration in the large: the mean prediction is near the observed rate.
    assert abs(float(p.mean()) - float(y.mean())) < 0.05
    assert float(np.mean(p[y == 1])) > float(np.mean(p[y == 0]))


def _running_case(session: Session) -> Case:
    """A case dispatched just now, so its deadline lies ahead."""
    like = session.scalars(select(Case).where(Case.department_code.is_not(None)).limit(1)).one()
    operator = Principal(id=uuid.uuid4(), username="op-t", role="operator")
    made = cases.create_case(
        session,
        operator,
        CaseCreate(
            description="测试：路边暴露垃圾",
            lon=like.lon,
            lat=like.lat,
            category_code=like.category_code,
            source="hotline",
        ),
        now=NOW,
    )
    cases.perform_action(session, operator, made.id, "file", now=NOW)
    cases.perform_action(
        session,
        DISPATCHER,
        made.id,
        "dispatch",
        ActionInput(department_code=like.department_code),
        now=NOW + timedelta(minutes=1),
    )
    session.flush()
    return made


def test_at_risk_is_scoped_and_explained(demo_session: Session) -> None:
    _running_case(demo_session)
    everything = risk_service.at_risk(demo_session, LEADER, now=NOW, limit=1000)
    assert everything and {"code", "deadline", "risk", "reasons"} <= set(everything[0])
    assert [r["risk"] for r in everything] == sorted((r["risk"] for r in everything), reverse=True)
    future = [r for r in everything if r["remaining_hours"] > 0]
    assert future and all(0 <= r["risk"] <= 1 and r["reasons"] for r in future)
    dept = everything[0]["department_code"]
    handler = Principal(id=uuid.uuid4(), username="h", role="handler", department_code=dept)
    mine = risk_service.at_risk(demo_session, handler, now=NOW, limit=1000)
    assert mine and {r["department_code"] for r in mine} == {dept}
    with pytest.raises(Forbidden):
        risk_service.at_risk(demo_session, Principal(id=uuid.uuid4(), username="c", role="citizen"), now=NOW)
    # The worker's stored scores give the same answer as scoring on the fly.
    assert risk_service.score_all(demo_session, NOW)["scored"] == len(everything)
    stored = risk_service.at_risk(demo_session, handler, now=NOW, limit=1000)
    assert [(r["code"], r["risk"]) for r in stored] == [(r["code"], r["risk"]) for r in mine]
    street = Principal(id=uuid.uuid4(), username="s", role="leader", area_code=everything[0]["street_code"])
    assert {r["street_code"] for r in risk_service.at_risk(demo_session, street, now=NOW)} == {
        street.area_code
    }

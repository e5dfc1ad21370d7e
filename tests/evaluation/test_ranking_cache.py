"""Rankings are kept under the summary's generation: served again while the summary is unchanged,
computed afresh as soon as a refresh folds in a change (never a stale figure)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.models import Case
from cityops.cases.schemas import ActionInput
from cityops.evaluation import periods, service, tasks

from .conftest import NOW

LEADER = Principal(id=uuid.uuid4(), username="leader-c", role="leader")
DISPATCHER = Principal(id=uuid.uuid4(), username="dispatcher-c", role="dispatcher")


@pytest.fixture()
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The periods whose ranking was computed from the summary (not served from the cache)."""
    calls: list[str] = []
    real = service._ranked

    def counting(session: Session, by: str, period: periods.Period, weights: Any) -> Any:
        calls.append(period.label)
        return real(session, by, period, weights)

    monkeypatch.setattr(service, "_ranked", counting)
    service.forget_rankings()
    return calls


def _grid(session: Session, period: str, who: Principal = LEADER) -> dict[str, Any]:
    return service.evaluate(session, who, by="grid", period=period, district="330105", now=NOW)


def test_an_unchanged_summary_serves_the_kept_ranking(demo_session: Session, computed: list[str]) -> None:
    first = _grid(demo_session, "2026-10")
    assert computed == ["2026-10", "2026-09"]  # the period and the one before (rank movement)
    first["rows"][0]["score"] = -1.0  # a caller changing its copy does not change the kept rows
    second = _grid(demo_session, "2026-10")
    assert computed == ["2026-10", "2026-09"]
    assert second["rows"][0]["score"] != -1.0
    assert [r["code"] for r in second["rows"]] == [r["code"] for r in first["rows"]]
    # An idle worker run (nothing changed) keeps the generation and so the kept ranking.
    generation = tasks.summary_generation(demo_session)
    assert generation
    assert tasks.refresh_evaluation(demo_session, NOW + timedelta(seconds=1))["cases"] == 0
    assert tasks.summary_generation(demo_session) == generation
    _grid(demo_session, "2026-10")
    assert computed == ["2026-10", "2026-09"]


def test_a_refresh_that_changes_figures_is_seen_at_once(demo_session: Session, computed: list[str]) -> None:
    case = demo_session.scalars(
        select(Case)
        .where(Case.state.in_(("handled", "verified")), Case.deadline < NOW, Case.grid_code.is_not(None))
        .order_by(Case.deadline)
    ).first()
    assert case is not None and case.deadline is not None
    label = periods.containing("month", periods.today(case.deadline)).label

    def closed_in_grid() -> int:
        rows = {r["code"]: r for r in _grid(demo_session, label)["rows"]}
        return int(rows[str(case.grid_code)]["closed"])

    before = closed_in_grid()
    generation = tasks.summary_generation(demo_session)
    later = NOW + timedelta(minutes=5)
    if case.state == "handled":
        cases.perform_action(demo_session, DISPATCHER, case.id, "verify", ActionInput(passed=True), now=later)
    cases.perform_action(demo_session, DISPATCHER, case.id, "close", now=later)
    demo_session.flush()
    assert tasks.refresh_evaluation(demo_session, later)["cases"] >= 1
    assert tasks.summary_generation(demo_session) != generation
    assert closed_in_grid() == before + 1


def test_the_kept_ranking_is_scoped_per_caller(demo_session: Session, computed: list[str]) -> None:
    every = _grid(demo_session, "2026-10")["rows"]
    street_code = every[0]["code"][:9]
    street = Principal(id=uuid.uuid4(), username="s", role="leader", area_code=street_code)
    rows = _grid(demo_session, "2026-10", street)["rows"]
    assert computed == ["2026-10", "2026-09"]  # one computation, two scopes
    assert rows and all(r["code"].startswith(street_code) for r in rows)
    assert len(rows) < len(every)


def test_new_weights_rank_afresh(demo_session: Session, computed: list[str]) -> None:
    _grid(demo_session, "2026-10")
    service.set_weights(
        demo_session,
        {"supervision_report_rate": 0.0, "filed": 100.0, "closure_rate": 0.0, "on_time_closure_rate": 0.0},
    )
    by_filed = _grid(demo_session, "2026-10")["rows"]
    assert computed == ["2026-10", "2026-09", "2026-10", "2026-09"]
    ranked = [r for r in by_filed if r["rank"] is not None]
    assert [r["filed"] for r in ranked] == sorted((r["filed"] for r in ranked), reverse=True)

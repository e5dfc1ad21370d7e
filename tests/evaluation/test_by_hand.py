"""One month's evaluation counted by hand from the case log, compared with the service's figures.

The count below reads only ``case_logs`` (plus the case's area, which never changes): when a case
was filed, the deadline its last dispatch / extension / unpark / rework set, when it was last handled,
whether a verification failed and whether it is closed. It shares no code with the summary.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases.models import Case, CaseLog
from cityops.evaluation import service
from cityops.kit.workcal import LOCAL_TZ

from .conftest import NOW

LEADER = Principal(id=uuid.uuid4(), username="leader-t", role="leader")
PUBLIC = {"hotline", "web", "open311", "enterprise"}


def _from_log(session: Session) -> list[dict[str, Any]]:
    streets = dict(session.execute(select(Case.id, Case.street_code)).all())
    logs: dict[uuid.UUID, list[CaseLog]] = defaultdict(list)
    for row in session.scalars(select(CaseLog).order_by(CaseLog.case_id, CaseLog.seq)):
        logs[row.case_id].append(row)
    out = []
    for case_id, rows in logs.items():
        c: dict[str, Any] = {
            "street": streets[case_id],
            "deadline": None,
            "filed": None,
            "handled": None,
            "department": None,
            "reworked": False,
            "returned": False,
            "dispatched": False,
        }
        for r in rows:
            data = r.data or {}
            if r.action == "create":
                c["source"] = data.get("source")
            elif r.action == "file":
                c["filed"] = r.at
            elif r.action in ("dispatch", "approve_extension", "unpark", "reopen"):
                if r.action == "dispatch":
                    c["dispatched"], c["department"] = True, data["department_code"]
                if data.get("deadline"):
                    c["deadline"] = datetime.fromisoformat(data["deadline"])
            elif r.action == "return":
                c["deadline"], c["returned"] = None, True
            elif r.action == "handle":
                c["handled"] = r.at
            elif r.action == "verify" and r.to_state == "rework":
                # Rework has a deadline of its own (issue 8 item 15): it replaces the first one.
                c["reworked"] = True
                if data.get("deadline"):
                    c["deadline"] = datetime.fromisoformat(data["deadline"])
        c["closed"] = rows[-1].to_state == "closed"
        out.append(c)
    return out


def _in(at: datetime | None, first: date, end: date) -> bool:
    return at is not None and first <= at.astimezone(LOCAL_TZ).date() < end


def _count(cases: list[dict[str, Any]], first: date, end: date, key: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in cases:
        unit = c[key]
        if unit is None:
            continue
        f = out[unit]
        if _in(c["filed"], first, end):
            f["filed"] += 1
            f["public"] += c["source"] in PUBLIC
        deadline = c["deadline"]
        if _in(deadline, first, end) and (c["closed"] or deadline <= NOW):
            f["due"] += 1
            on_time = c["handled"] is not None and c["handled"] <= deadline
            f["closed"] += c["closed"]
            f["closed_on_time"] += c["closed"] and on_time
            f["reworked"] += c["reworked"]
            f["overdue"] += deadline < (c["handled"] or NOW)
    return out


@pytest.mark.parametrize(("by", "key"), [("department", "department"), ("street", "street")])
def test_october_matches_a_count_from_the_log(demo_session: Session, by: str, key: str) -> None:
    by_hand = _count(_from_log(demo_session), date(2026, 10, 1), date(2026, 11, 1), key)
    result = service.evaluate(demo_session, LEADER, by=by, period="2026-10", district="330105", now=NOW)
    rows = {r["code"]: r for r in result["rows"]}
    assert sum(f["due"] for f in by_hand.values()) > 20, "the month must hold enough cases to mean something"
    for unit, f in by_hand.items():
        if not f["filed"] and not f["due"]:
            continue
        row = rows[unit]
        assert (
            row["filed"],
            row["due"],
            row["closed"],
            row["closed_on_time"],
            row["overdue"],
            row["reworked"],
        ) == (f["filed"], f["due"], f["closed"], f["closed_on_time"], f["overdue"], f["reworked"]), unit
        assert row["public_reports"] == f["public"]
        if f["due"]:
            assert row["closure_rate"] == round(f["closed"] / f["due"], 4)
            assert row["on_time_closure_rate"] == round(f["closed_on_time"] / f["due"], 4)
    assert {u for u, f in by_hand.items() if f["filed"] or f["due"]} == set(rows)


def test_score_follows_the_default_weights(demo_session: Session) -> None:
    result = service.evaluate(demo_session, LEADER, by="street", period="2026-10", district="330105", now=NOW)
    rows = result["rows"]
    top = max(r["filed"] for r in rows)
    for r in rows:
        expected = (
            10 * (1 - (r["supervision_report_rate"] or 0))
            + 20 * r["filed"] / top
            + 30 * (r["closure_rate"] or 0)
            + 40 * (r["on_time_closure_rate"] or 0)
        )
        assert r["score"] == pytest.approx(expected, abs=0.01)
    ranks = [r["rank"] for r in rows]
    assert ranks == list(range(1, len(rows) + 1))
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_rank_change_is_the_movement_since_september(demo_session: Session) -> None:
    now_rows = service.evaluate(
        demo_session, LEADER, by="street", period="2026-10", district="330105", now=NOW
    )
    before = service.evaluate(demo_session, LEADER, by="street", period="2026-09", district="330105", now=NOW)
    previous = {r["code"]: r["rank"] for r in before["rows"]}
    for r in now_rows["rows"]:
        last = previous.get(r["code"])
        assert r["rank_change"] == (None if last is None else last - r["rank"])
    assert any(r["rank_change"] is not None for r in now_rows["rows"])
    assert now_rows["previous_period"] == "2026-09"

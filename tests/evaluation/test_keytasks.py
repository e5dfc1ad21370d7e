"""Key tasks: post, take (揭榜), report milestones, finish, rank; wrong people and states refused."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.errors import Conflict, Forbidden, Invalid
from cityops.evaluation import keytasks

from .conftest import NOW

LEADER = Principal(id=uuid.uuid4(), username="leader-t", role="leader")
HWZX = Principal(id=uuid.uuid4(), username="h1", role="handler", department_code="GS-HWZX")
SZZX = Principal(id=uuid.uuid4(), username="h2", role="handler", department_code="GS-SZZX")
MILESTONES = [
    {"title": "摸排", "due": date(2026, 12, 10), "weight": 1},
    {"title": "整治", "due": date(2026, 12, 20), "weight": 3},
]


def _post(session: Session, title: str = "背街小巷垃圾清零") -> uuid.UUID:
    task = keytasks.post(
        session,
        LEADER,
        title=title,
        goal="月底前暴露垃圾案件下降 30%",
        deadline=date(2026, 12, 31),
        milestones=MILESTONES,
        now=NOW,
    )
    return task.id


def test_the_board_from_posting_to_ranking(demo_session: Session) -> None:
    first, second = _post(demo_session), _post(demo_session, "井盖隐患排查")
    keytasks.take(demo_session, HWZX, first, now=NOW)
    keytasks.take(demo_session, SZZX, second, now=NOW)
    with pytest.raises(Conflict):
        keytasks.take(demo_session, SZZX, first, now=NOW)  # one taker per task
    with pytest.raises(Forbidden):
        keytasks.report(demo_session, SZZX, first, 1, "不是我的任务")
    keytasks.report(demo_session, HWZX, first, 1, "已摸排 120 条背街小巷", now=NOW)
    done = keytasks.report(demo_session, HWZX, first, 2, "已整治完毕", now=NOW)
    assert done.state == "done"
    keytasks.report(demo_session, SZZX, second, 1, "已排查", now=NOW)
    board = {t["id"]: t for t in keytasks.board(demo_session)}
    assert board[str(first)]["progress"] == 1.0 and board[str(second)]["progress"] == 0.25
    ranking = keytasks.ranking(demo_session)
    assert [(r["unit"], r["rank"]) for r in ranking] == [("GS-HWZX", 1), ("GS-SZZX", 2)]


def test_bad_postings_are_refused(demo_session: Session) -> None:
    with pytest.raises(Forbidden):
        keytasks.post(
            demo_session, HWZX, title="x", goal="y", deadline=date(2026, 12, 31), milestones=MILESTONES
        )
    with pytest.raises(Invalid):
        keytasks.post(
            demo_session,
            LEADER,
            title="x",
            goal="y",
            deadline=date(2026, 12, 15),
            milestones=MILESTONES,
            now=NOW,
        )  # a milestone after the deadline
    with pytest.raises(Invalid):
        keytasks.post(
            demo_session,
            LEADER,
            title="x",
            goal="y",
            deadline=date(2020, 1, 1),
            milestones=MILESTONES,
            now=NOW,
        )

"""Key tasks: post, take (揭榜), report milestones, finish, rank; wrong people and states refused."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.errors import Conflict, Forbidden, Invalid, NotFound
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


STREET_LEADER = Principal(id=uuid.uuid4(), username="sl", role="leader", area_code="330105005")
STREET = Principal(id=uuid.uuid4(), username="s5", role="operator", area_code="330105005")
OTHER_STREET = Principal(id=uuid.uuid4(), username="s4", role="operator", area_code="330105004")


def test_a_refused_posting_writes_nothing(demo_session: Session) -> None:
    from sqlalchemy import func, select

    from cityops.evaluation.models import KeyTask

    before = demo_session.scalar(select(func.count()).select_from(KeyTask))
    bad = [*MILESTONES, {"title": "", "due": date(2026, 12, 20)}]
    with pytest.raises(Invalid) as info:
        keytasks.post(
            demo_session, LEADER, title="x", goal="y", deadline=date(2026, 12, 31), milestones=bad, now=NOW
        )
    assert info.value.details["field"] == "milestones[2].title"
    assert demo_session.scalar(select(func.count()).select_from(KeyTask)) == before


def test_street_tasks_are_scoped(demo_session: Session) -> None:
    mine = keytasks.post(
        demo_session,
        STREET_LEADER,
        title="拱宸桥街道任务",
        goal="g",
        deadline=date(2026, 12, 31),
        milestones=MILESTONES,
        now=NOW,
    )
    district = _post(demo_session, "全区任务")
    taken_elsewhere = _post(demo_session, "他人揭榜的全区任务")
    keytasks.take(demo_session, SZZX, taken_elsewhere, now=NOW)
    assert mine.area_code == "330105005"
    seen = {t["title"] for t in keytasks.board(demo_session, principal=STREET)}
    assert {"拱宸桥街道任务", "全区任务"} <= seen and "他人揭榜的全区任务" not in seen
    others = {t["title"] for t in keytasks.board(demo_session, principal=OTHER_STREET)}
    assert "拱宸桥街道任务" not in others and "全区任务" in others
    with pytest.raises(NotFound):
        keytasks.take(demo_session, OTHER_STREET, mine.id, now=NOW)
    keytasks.take(demo_session, STREET, mine.id, now=NOW)  # the street's own account
    keytasks.take(demo_session, OTHER_STREET, district, now=NOW)  # any unit may take a district task
    ranking = keytasks.ranking(demo_session, STREET)
    assert [r["unit"] for r in ranking] == ["330105005"] and ranking[0]["name"] == "拱宸桥街道"
    from cityops.evaluation import periods

    december = periods.parse("2026-11", NOW)  # deadlines fall in December: nothing in November
    assert keytasks.ranking(demo_session, None, december) == []

"""The key tasks board (/key-tasks): a leader posts, a unit takes it on (揭榜) and reports
milestones, the board and the ranking show it; a street leader sees their street's tasks; bad
input comes back next to the field (422, nothing written), CSRF refused, wrong roles 403."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.pages.conftest import BROWSER, csrf_of, sign_in

from cityops.accounts import service as accounts
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.evaluation.models import KeyTask
from cityops.web.app import create_app

LEADER_PASSWORD = "Street-leader-passw0rd!"
SOON = date.today() + timedelta(days=20)


@pytest.fixture(scope="module", autouse=True)
def street_leaders(demo_engine: Engine) -> None:
    """Two street leaders (leaders with an area): the demo has none."""
    with unit_of_work(make_sessionmaker(demo_engine)) as s:
        for street in ("330105005", "330105004"):
            accounts.create_user(
                s, username=f"leader-{street}", password=LEADER_PASSWORD, role="leader", area_code=street
            )


@pytest.fixture()
def client(demo_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp_path)
    app = create_app(settings, engine=demo_engine)
    with TestClient(app, raise_server_exceptions=False, headers=BROWSER) as c:
        yield c


def _as(client: TestClient, user: str) -> str:
    client.cookies.clear()
    sign_in(client, user, LEADER_PASSWORD if user.startswith("leader-") else "demo")
    page = client.get("/key-tasks")
    assert page.status_code == 200, page.text[:300]
    return csrf_of(page.text)


def _count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(KeyTask)) or 0)


def _posting(title: str, **extra: str) -> dict[str, str]:
    return {
        "title": title,
        "goal": "背街小巷暴露垃圾案件月底前下降 30%",
        "deadline": SOON.isoformat(),
        "m1_title": "摸排",
        "m1_due": (SOON - timedelta(days=10)).isoformat(),
        "m1_weight": "1",
        "m2_title": "整治",
        "m2_due": SOON.isoformat(),
        "m2_weight": "3",
        **extra,
    }


def _task_id(page: str, title: str) -> str:
    found = re.search(r'id="task-([0-9a-f-]{36})">\s*<h3>' + re.escape(title), page)
    assert found, f"{title} is not on the board"
    return found.group(1)


def test_post_take_report_and_rank(client: TestClient, demo_engine: Engine) -> None:
    token = _as(client, "leader")
    board = client.get("/key-tasks").text
    assert '<html lang="zh-CN">' in board and 'action="/key-tasks"' in board and "发布重点任务" in board
    r = client.post(
        "/key-tasks", data={**_posting("页面测试：垃圾清零"), "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text[:500]
    board = client.get("/key-tasks").text
    assert "已发布重点任务" in board
    tid = _task_id(board, "页面测试：垃圾清零")
    assert "待揭榜" in board.split(f'id="task-{tid}"')[1][:400]

    token = _as(client, "handler-GS-HWZX")
    board = client.get("/key-tasks").text
    assert "发布重点任务" not in board and f'action="/key-tasks/{tid}/take"' in board
    r = client.post(f"/key-tasks/{tid}/take", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    board = client.get("/key-tasks").text
    assert f'action="/key-tasks/{tid}/milestones/1/done"' in board
    again = client.post(f"/key-tasks/{tid}/take", data={"csrf_token": token})
    assert again.status_code == 409  # one taker
    empty = client.post(f"/key-tasks/{tid}/milestones/1/done", data={"csrf_token": token, "note": "  "})
    assert empty.status_code == 422 and f'id="note-{tid}-1-error"' in empty.text
    r = client.post(
        f"/key-tasks/{tid}/milestones/1/done",
        data={"csrf_token": token, "note": "已摸排 120 条背街小巷"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    board = client.get("/key-tasks").text
    card = board.split(f'id="task-{tid}"')[1].split("</article>")[0]
    assert "25%" in card and "已摸排 120 条背街小巷" in card and "已揭榜" in card
    ranking = board.split('id="task-ranking"')[1].split("</table>")[0]
    assert 'data-unit="GS-HWZX"' in ranking
    twice = client.post(f"/key-tasks/{tid}/milestones/1/done", data={"csrf_token": token, "note": "再报"})
    assert twice.status_code == 409
    assert (
        client.post(
            f"/key-tasks/{tid}/milestones/9/done", data={"csrf_token": token, "note": "x"}
        ).status_code
        == 404
    )

    # Another unit may not report on it; a dispatcher (no unit) may not take anything.
    token = _as(client, "handler-GS-SZZX")
    assert (
        client.post(
            f"/key-tasks/{tid}/milestones/2/done", data={"csrf_token": token, "note": "x"}
        ).status_code
        == 403
    )
    token = _as(client, "dispatcher")
    board = client.get("/key-tasks").text
    assert "/take" not in board and "发布重点任务" not in board
    assert client.post("/key-tasks", data={**_posting("派遣员发布"), "csrf_token": token}).status_code == 403

    token = _as(client, "handler-GS-HWZX")
    r = client.post(
        f"/key-tasks/{tid}/milestones/2/done",
        data={"csrf_token": token, "note": "整治完毕"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    card = client.get("/key-tasks?state=done").text.split(f'id="task-{tid}"')[1].split("</article>")[0]
    assert "100%" in card and "已完成" in card

    # The leader cancels another task; a finished one cannot be cancelled.
    token = _as(client, "leader")
    client.post("/key-tasks", data={**_posting("页面测试：待撤销"), "csrf_token": token})
    other = _task_id(client.get("/key-tasks").text, "页面测试：待撤销")
    assert (
        client.post(
            f"/key-tasks/{other}/cancel", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert client.post(f"/key-tasks/{tid}/cancel", data={"csrf_token": token}).status_code == 409


@pytest.mark.parametrize(
    ("change", "field", "zh"),
    [
        ({"title": ""}, "title", "请填写此项"),
        ({"deadline": "2020-01-01"}, "deadline", "截止日期已过"),
        ({"deadline": "明天"}, "deadline", "日期格式应为 YYYY-MM-DD"),
        ({"m2_due": (SOON + timedelta(days=5)).isoformat()}, "m2_due", "第 2 个节点的日期须在截止日期之前"),
        ({"m2_weight": "heavy"}, "m2_weight", "权重须是数字"),
        ({"m2_weight": "500"}, "m2_weight", "节点权重须在 0–100 之间"),
        ({"m1_title": "", "m1_due": "", "m2_title": "", "m2_due": ""}, "m1_title", "至少填写一个节点"),
        ({"m2_title": ""}, "m2_title", "请填写节点名称"),
    ],
)
def test_bad_postings_show_next_to_the_field(
    client: TestClient, demo_engine: Engine, change: dict[str, str], field: str, zh: str
) -> None:
    token = _as(client, "leader")
    before = _count(demo_engine)
    r = client.post("/key-tasks", data={**_posting("页面测试：坏的"), **change, "csrf_token": token})
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert f'id="{field}-error"' in text and zh in text.split(f'id="{field}-error"')[1][:200]
    assert "页面测试：坏的" in text or field == "title"  # what was typed is kept
    assert _count(demo_engine) == before


def test_english_errors(client: TestClient) -> None:
    token = _as(client, "leader")
    client.cookies.set("cityops_lang", "en")
    r = client.post("/key-tasks", data={**_posting("x", deadline="2020-01-01"), "csrf_token": token})
    assert r.status_code == 422 and "the deadline is in the past" in r.text
    assert "Post a key task" in r.text and "发布重点任务" not in r.text


def test_a_street_leader_sees_their_street(client: TestClient) -> None:
    token = _as(client, "leader-330105005")
    r = client.post(
        "/key-tasks", data={**_posting("页面测试：五号街道任务"), "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    token = _as(client, "leader-330105004")
    r = client.post(
        "/key-tasks", data={**_posting("页面测试：四号街道任务"), "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    six = _task_id(client.get("/key-tasks").text, "页面测试：四号街道任务")

    _as(client, "leader-330105005")
    board = client.get("/key-tasks").text
    assert "页面测试：五号街道任务" in board and "页面测试：四号街道任务" not in board
    assert "页面测试：垃圾清零" not in board  # a district task another unit took

    token = _as(client, "street-330105005")  # the street's account takes its street's task
    board = client.get("/key-tasks").text
    five = _task_id(board, "页面测试：五号街道任务")
    assert "页面测试：四号街道任务" not in board
    assert client.post(f"/key-tasks/{six}/take", data={"csrf_token": token}).status_code == 404
    assert (
        client.post(f"/key-tasks/{five}/take", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )

    _as(client, "leader")  # the district sees every street's tasks
    board = client.get("/key-tasks").text
    assert "页面测试：五号街道任务" in board and "页面测试：四号街道任务" in board


def test_csrf_roles_and_bad_addresses(client: TestClient, demo_engine: Engine) -> None:
    _as(client, "leader")
    before = _count(demo_engine)
    r = client.post("/key-tasks", data=_posting("无令牌"))
    assert r.status_code == 403 and "安全令牌" in r.text
    assert _count(demo_engine) == before
    token = csrf_of(client.get("/key-tasks").text)
    assert client.post("/key-tasks/not-a-uuid/take", data={"csrf_token": token}).status_code == 422
    missing = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"/key-tasks/{missing}/cancel", data={"csrf_token": token}).status_code == 404
    assert (
        client.post(f"/key-tasks/{missing}/milestones/x/done", data={"csrf_token": token}).status_code == 422
    )
    assert client.get("/key-tasks?state=nonsense").status_code == 200
    client.cookies.clear()
    sign_in(client, "citizen1")
    assert client.get("/key-tasks").status_code == 403
    token = csrf_of(client.get("/home").text)
    assert client.post("/key-tasks", data={**_posting("市民"), "csrf_token": token}).status_code == 403
    client.cookies.clear()
    assert client.get("/key-tasks", follow_redirects=False).status_code == 303

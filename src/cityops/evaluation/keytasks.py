"""Key tasks (揭榜挂帅 · 亮榜晒绩 · 用榜奖惩): leaders post a task with a goal, a deadline and
milestones; one unit takes it on (揭榜); the unit reports progress milestone by milestone; the
results are ranked per unit (done on time first, then by progress).

A unit is a department (its handlers take tasks for it) or an area (a street's accounts).

Scope: a task posted by a street leader (an account with an area) belongs to that street. An
account with an area sees its area's tasks and the district-wide tasks that are open or that a
unit of its area took; everyone else on the staff sees every task. Only a unit inside a task's
area (or a department) can take a street's task.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.catalog import service as catalog
from cityops.db import utcnow
from cityops.errors import Conflict, Forbidden, Invalid, NotFound
from cityops.evaluation.models import KeyTask, KeyTaskMilestone
from cityops.evaluation.periods import Period

POSTERS = ("leader", "admin")
STATES = ("open", "taken", "done", "cancelled")


def unit_of(principal: Principal) -> str:
    """The unit a person acts for: their department, else their area; others cannot take tasks."""
    unit = principal.department_code or principal.area_code
    if not unit or principal.role in ("citizen",):
        raise Forbidden(
            "只有处置单位或街道可以揭榜",
            "only a department or a street can take on a key task",
            code="not_a_unit",
        )
    return unit


def _text(value: str | None, field: str, limit: int) -> str:
    text = (value or "").strip()
    if not text or len(text) > limit:
        raise Invalid(
            f"{field} 不能为空且最多 {limit} 个字符",
            f"{field} must be 1–{limit} characters",
            details={"field": field},
        )
    return text


def post(
    session: Session,
    principal: Principal,
    *,
    title: str,
    goal: str,
    deadline: date,
    milestones: list[dict[str, Any]],
    now: datetime | None = None,
) -> KeyTask:
    """A leader posts a key task (揭榜挂帅) with its milestones (title, due, weight)."""
    if principal.role not in POSTERS:
        raise Forbidden("只有领导可以发布重点任务", "only leaders post key tasks", code="role_not_allowed")
    now = now or utcnow()
    if deadline < now.date():
        raise Invalid("截止日期已过", "the deadline is in the past", details={"field": "deadline"})
    if not milestones or len(milestones) > 20:
        raise Invalid("需要 1–20 个节点", "give 1–20 milestones", details={"field": "milestones"})
    title, goal = _text(title, "title", 200), _text(goal, "goal", 4000)
    rows = []
    for seq, m in enumerate(milestones, start=1):
        due = m.get("due")
        if not isinstance(due, date) or due > deadline:
            raise Invalid(
                f"第 {seq} 个节点的日期须在截止日期之前",
                f"milestone {seq} must be due by the deadline",
                details={"field": f"milestones[{seq - 1}].due"},
            )
        try:
            weight = float(m.get("weight", 1.0))
        except (TypeError, ValueError):
            weight = -1.0
        if not 0 < weight <= 100:
            raise Invalid(
                "节点权重须在 0–100 之间",
                "a milestone's weight must be 0–100",
                details={"field": f"milestones[{seq - 1}].weight"},
            )
        rows.append((seq, _text(m.get("title"), f"milestones[{seq - 1}].title", 200), due, weight))
    # Everything is checked before anything is written: a refused posting leaves nothing behind.
    task = KeyTask(
        title=title,
        goal=goal,
        deadline=deadline,
        posted_by=principal.id,
        posted_at=now,
        area_code=principal.area_code,
        state="open",
    )
    session.add(task)
    session.flush()
    for seq, mtitle, due, weight in rows:
        session.add(KeyTaskMilestone(task_id=task.id, seq=seq, title=mtitle, due=due, weight=weight))
    session.flush()
    return task


def visible(principal: Principal | None, task: KeyTask) -> bool:
    """Whether ``principal`` sees ``task`` on the board (None: no scoping, e.g. the worker)."""
    if principal is None or not principal.area_code:
        return principal is None or principal.role != "citizen"
    mine = principal.area_code
    if task.area_code is not None:
        return task.area_code.startswith(mine) or mine.startswith(task.area_code)
    return task.state == "open" or (task.taken_by_unit or "").startswith(mine)


def get(session: Session, task_id: uuid.UUID, principal: Principal | None = None) -> KeyTask:
    """One task; ``NotFound`` also when ``principal`` may not see it (we do not reveal which)."""
    task = session.get(KeyTask, task_id)
    if task is None or not visible(principal, task):
        raise NotFound("重点任务不存在", "no such key task", details={"id": str(task_id)})
    return task


def take(session: Session, principal: Principal, task_id: uuid.UUID, now: datetime | None = None) -> KeyTask:
    """A unit takes on an open task (揭榜); a task has one taker."""
    unit = unit_of(principal)
    task = get(session, task_id, principal)
    if task.area_code and not principal.department_code and not unit.startswith(task.area_code):
        raise Forbidden(
            "这是其他街道的任务，只有本街道或部门可以揭榜",
            "this task belongs to another street; only its units or a department can take it",
            code="outside_scope",
        )
    if task.state != "open":
        raise Conflict(
            "该任务已被揭榜或已结束",
            "the task is no longer open",
            code="task_not_open",
            details={"state": task.state},
        )
    task.state, task.taken_by_unit, task.taken_by_user, task.taken_at = (
        "taken",
        unit,
        principal.id,
        now or utcnow(),
    )
    session.flush()
    return task


def report(
    session: Session,
    principal: Principal,
    task_id: uuid.UUID,
    seq: int,
    note: str,
    now: datetime | None = None,
) -> KeyTask:
    """The taking unit reports a milestone done; the last one completes the task."""
    task = get(session, task_id, principal)
    if task.state != "taken":
        raise Conflict(
            "只有已揭榜的任务可以报进度", "only a taken task takes progress reports", code="task_not_taken"
        )
    if unit_of(principal) != task.taken_by_unit:
        raise Forbidden(
            "只有揭榜单位可以报进度", "only the unit that took the task reports on it", code="not_the_taker"
        )
    now = now or utcnow()
    milestone = session.scalar(
        select(KeyTaskMilestone).where(KeyTaskMilestone.task_id == task.id, KeyTaskMilestone.seq == seq)
    )
    if milestone is None:
        raise NotFound("没有这个节点", "no such milestone", details={"seq": seq})
    if milestone.done_at is not None:
        raise Conflict("该节点已完成", "this milestone is done already", code="milestone_done")
    milestone.done_at, milestone.report = now, _text(note, "note", 4000)
    session.flush()
    if all(m.done_at is not None for m in milestones_of(session, task.id)):
        task.state, task.done_at = "done", now
    return task


def cancel(session: Session, principal: Principal, task_id: uuid.UUID) -> KeyTask:
    task = get(session, task_id, principal)
    if principal.role not in POSTERS:
        raise Forbidden("只有领导可以撤销", "only leaders cancel key tasks", code="role_not_allowed")
    if task.state == "done":
        raise Conflict("已完成的任务不能撤销", "a finished task cannot be cancelled", code="task_done")
    if task.state == "cancelled":
        raise Conflict("该任务已撤销", "the task is cancelled already", code="task_cancelled")
    task.state = "cancelled"
    return task


def milestones_of(session: Session, task_id: uuid.UUID) -> list[KeyTaskMilestone]:
    return list(
        session.scalars(
            select(KeyTaskMilestone).where(KeyTaskMilestone.task_id == task_id).order_by(KeyTaskMilestone.seq)
        )
    )


def progress(milestones: list[KeyTaskMilestone]) -> float:
    """Share of the milestones' weight that is done (0–1)."""
    total = sum(m.weight for m in milestones)
    return round(sum(m.weight for m in milestones if m.done_at) / total, 4) if total else 0.0


def task_dict(session: Session, task: KeyTask, today: date | None = None) -> dict[str, Any]:
    ms = milestones_of(session, task.id)
    today = today or utcnow().date()
    late = [m.seq for m in ms if m.done_at is None and m.due < today]
    return {
        "id": str(task.id),
        "title": task.title,
        "goal": task.goal,
        "deadline": task.deadline.isoformat(),
        "state": task.state,
        "area_code": task.area_code,
        "taken_by_unit": task.taken_by_unit,
        "taken_at": task.taken_at.isoformat() if task.taken_at else None,
        "done_at": task.done_at.isoformat() if task.done_at else None,
        "progress": progress(ms),
        "late_milestones": late,
        "milestones": [
            {
                "seq": m.seq,
                "title": m.title,
                "due": m.due.isoformat(),
                "weight": m.weight,
                "done_at": m.done_at.isoformat() if m.done_at else None,
                "report": m.report,
            }
            for m in ms
        ],
    }


def board(
    session: Session, state: str | None = None, principal: Principal | None = None
) -> list[dict[str, Any]]:
    """The tasks ``principal`` sees (optionally of one state), nearest deadline first: the board (亮榜)."""
    if state is not None and state not in STATES:
        raise Invalid(
            f"state 必须是 {'、'.join(STATES)} 之一",
            f"state must be one of {', '.join(STATES)}",
            details={"field": "state"},
        )
    stmt = select(KeyTask).order_by(KeyTask.deadline, KeyTask.posted_at)
    if state:
        stmt = stmt.where(KeyTask.state == state)
    return [task_dict(session, t) for t in session.scalars(stmt) if visible(principal, t)]


def unit_names(session: Session, codes: list[str]) -> dict[str, str]:
    """Display names of units: departments by code, areas (streets, communities) by code."""
    wanted = set(codes)
    names = {d.code: d.name for d in catalog.list_departments(session) if d.code in wanted}
    for code in wanted - set(names):
        try:
            names[code] = areas.get_area(session, code).name
        except NotFound:
            names[code] = code
    return names


def ranking(
    session: Session, principal: Principal | None = None, period: Period | None = None
) -> list[dict[str, Any]]:
    """Units ranked by their key tasks (用榜): done on time, then done, then mean progress.

    With ``period``, only the tasks whose deadline falls in it count; an account with an area
    sees only the units of its area.
    """
    per: dict[str, dict[str, Any]] = {}
    stmt = select(KeyTask).where(KeyTask.taken_by_unit.is_not(None), KeyTask.state != "cancelled")
    if period is not None:
        stmt = stmt.where(KeyTask.deadline >= period.start, KeyTask.deadline < period.end)
    for t in session.scalars(stmt):
        if (
            principal is not None
            and principal.area_code
            and not (t.taken_by_unit or "").startswith(principal.area_code)
        ):
            continue
        unit = per.setdefault(
            t.taken_by_unit or "",
            {"unit": t.taken_by_unit, "taken": 0, "done": 0, "done_on_time": 0, "progress_sum": 0.0},
        )
        unit["taken"] += 1
        unit["progress_sum"] += progress(milestones_of(session, t.id))
        if t.state == "done":
            unit["done"] += 1
            unit["done_on_time"] += int(t.done_at is not None and t.done_at.date() <= t.deadline)
    names = unit_names(session, list(per))
    rows = []
    for u in per.values():
        rows.append(
            {
                "unit": u["unit"],
                "name": names.get(u["unit"], u["unit"]),
                "taken": u["taken"],
                "done": u["done"],
                "done_on_time": u["done_on_time"],
                "mean_progress": round(u["progress_sum"] / u["taken"], 4),
            }
        )
    rows.sort(key=lambda r: (-r["done_on_time"], -r["done"], -r["mean_progress"], r["unit"]))
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    return rows

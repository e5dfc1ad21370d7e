"""Co-handling (联合处置): one lead department (主办) and assisting departments (协办).

Rule: the lead may report the case handled only after every assisting department has handled
its task, so the lead's feedback covers the whole job and verification checks one result.
Each department works on its own ``CaseTask``: dispatched → accepted → handled. Tasks of an
earlier dispatch are cancelled when the case is returned or dispatched again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseTask
from cityops.errors import Conflict, Forbidden

OPEN_TASK_STATES = ("dispatched", "accepted")


def create_tasks(session: Session, case: Case, lead: str, assists: Sequence[str], now: datetime) -> None:
    """Tasks for the lead and each assisting department of a (re-)dispatch."""
    session.add(
        CaseTask(case_id=case.id, department_code=lead, role="lead", deadline=case.deadline, created_at=now)
    )
    for code in assists:
        session.add(
            CaseTask(
                case_id=case.id, department_code=code, role="assist", deadline=case.deadline, created_at=now
            )
        )


def cancel_open_tasks(session: Session, case: Case) -> None:
    """Cancel the unfinished tasks of the previous dispatch."""
    session.execute(
        update(CaseTask)
        .where(CaseTask.case_id == case.id, CaseTask.state.in_(OPEN_TASK_STATES))
        .values(state="cancelled")
        .execution_options(synchronize_session=False)
    )


def _task(session: Session, case: Case, department: str, role: str, states: Sequence[str]) -> CaseTask | None:
    return session.scalars(
        select(CaseTask)
        .where(
            CaseTask.case_id == case.id,
            CaseTask.department_code == department,
            CaseTask.role == role,
            CaseTask.state.in_(states),
        )
        .order_by(CaseTask.id.desc())
    ).first()


def mark_lead(session: Session, case: Case, state: str, now: datetime, note: str | None = None) -> None:
    """Move the lead's task along with the case (accepted, handled, back to accepted on rework)."""
    task = _task(session, case, case.department_code or "", "lead", ("dispatched", "accepted", "handled"))
    if task is None:
        return
    task.state = state
    if state == "accepted":
        task.accepted_at = task.accepted_at or now
        task.done_at = None
    elif state == "handled":
        task.done_at = now
        task.note = note


def pending_assists(session: Session, case: Case) -> list[str]:
    """Departments whose assisting task is not handled yet."""
    return list(
        session.scalars(
            select(CaseTask.department_code).where(
                CaseTask.case_id == case.id, CaseTask.role == "assist", CaseTask.state.in_(OPEN_TASK_STATES)
            )
        )
    )


def require_assists_done(session: Session, case: Case) -> None:
    """Conflict while an assisting department has not handled its task (the co-handling rule)."""
    pending = pending_assists(session, case)
    if pending:
        raise Conflict(
            f"协办单位尚未处置完毕：{'、'.join(pending)}",
            f"assisting departments have not handled their tasks yet: {', '.join(pending)}",
            code="assist_tasks_open",
            details={"pending_departments": pending},
        )


def act_on_task(
    session: Session, case: Case, department: str | None, action: str, now: datetime, note: str | None
) -> CaseTask:
    """Accept or handle the caller's assisting task; returns the task."""
    want = "dispatched" if action == "accept_task" else "accepted"
    task = _task(session, case, department or "", "assist", OPEN_TASK_STATES) if department else None
    if task is None:
        raise Forbidden(
            "您的部门在该案件上没有协办任务",
            "your department has no open assisting task on this case",
            code="no_task",
        )
    if task.state != want:
        raise Conflict(
            f"协办任务当前为“{task.state}”，不能执行该操作",
            f"the assisting task is {task.state!r}; {action!r} needs {want!r}",
            code="task_transition_not_allowed",
            details={"task_state": task.state, "action": action},
        )
    if action == "accept_task":
        task.state, task.accepted_at = "accepted", now
    else:
        task.state, task.done_at, task.note = "handled", now, note
    return task

"""HTTP handlers of the key tasks board under /api/v1/key-tasks."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from cityops.accounts.principal import Principal
from cityops.evaluation import keytasks
from cityops.web.deps import SessionDep, current_principal

router = APIRouter(prefix="/api/v1/key-tasks", tags=["evaluation"])


class MilestoneIn(BaseModel):
    title: str = Field(max_length=200)
    due: date
    weight: float = 1.0


class KeyTaskIn(BaseModel):
    title: str = Field(max_length=200)
    goal: str = Field(max_length=4000)
    deadline: date
    milestones: list[MilestoneIn] = Field(min_length=1, max_length=20)


class ReportIn(BaseModel):
    note: str = Field(max_length=4000)


def _staff(principal: Principal) -> Principal:
    if principal.role == "citizen":
        from cityops.errors import Forbidden

        raise Forbidden(
            "市民无权查看重点任务", "citizens do not see the key tasks board", code="role_not_allowed"
        )
    return principal


@router.get("")
def board(
    session: SessionDep, state: str | None = None, p: Principal = Depends(current_principal)
) -> list[Any]:
    """The board: every key task with its taker, milestones and progress."""
    _staff(p)
    return keytasks.board(session, state)


@router.get("/ranking")
def ranking(session: SessionDep, p: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    """Units ranked by their key tasks (done on time, done, mean progress)."""
    _staff(p)
    return keytasks.ranking(session)


@router.post("", status_code=201)
def post(body: KeyTaskIn, session: SessionDep, p: Principal = Depends(current_principal)) -> dict[str, Any]:
    task = keytasks.post(
        session,
        p,
        title=body.title,
        goal=body.goal,
        deadline=body.deadline,
        milestones=[m.model_dump() for m in body.milestones],
    )
    return keytasks.task_dict(session, task)


@router.post("/{task_id}/take")
def take(
    task_id: uuid.UUID, session: SessionDep, p: Principal = Depends(current_principal)
) -> dict[str, Any]:
    return keytasks.task_dict(session, keytasks.take(session, p, task_id))


@router.post("/{task_id}/milestones/{seq}/done")
def report(
    task_id: uuid.UUID,
    seq: int,
    body: ReportIn,
    session: SessionDep,
    p: Principal = Depends(current_principal),
) -> dict[str, Any]:
    return keytasks.task_dict(session, keytasks.report(session, p, task_id, seq, body.note))


@router.post("/{task_id}/cancel")
def cancel(
    task_id: uuid.UUID, session: SessionDep, p: Principal = Depends(current_principal)
) -> dict[str, Any]:
    return keytasks.task_dict(session, keytasks.cancel(session, p, task_id))

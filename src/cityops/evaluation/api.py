"""HTTP handlers of evaluation: /api/v1/evaluation, /api/v1/cases/at-risk (deadline risk) and
/api/v1/key-tasks (the key tasks board)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.evaluation import excel, keytasks, risk_service, service, tasks
from cityops.evaluation.schemas import Weights
from cityops.web.deps import SessionDep, current_principal, require_roles
from cityops.web.openapi import XLSX, xlsx_response

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"])

BY = Query("department", description="department | street | community | grid | inspector | district")
PERIOD = Query(None, description="YYYY-MM, YYYY-Www, YYYY-Qn or YYYY (default: this month)")


@router.get("")
def evaluation(
    request: Request,
    session: SessionDep,
    by: str = BY,
    period: str | None = PERIOD,
    principal: Principal = Depends(current_principal),
) -> Response:
    """Figures, composite score, rank and rank movement per unit (亮榜晒绩); rates are 0–1, null = no data."""
    # Serialised by orjson directly: a grid ranking has ~1,500 rows, and FastAPI's generic
    # encoder would spend more time on them than the query does.
    return Response(
        orjson.dumps(
            service.evaluate(
                session, principal, by=by, period=period, district=request.app.state.settings.district_code
            )
        ),
        media_type="application/json",
    )


@router.get("/export.xlsx", responses=xlsx_response("考核评价排名 / evaluation rankings workbook"))
def export(
    request: Request,
    session: SessionDep,
    by: str = BY,
    period: str | None = PERIOD,
    principal: Principal = Depends(current_principal),
) -> Response:
    """The same ranking as an Excel workbook."""
    result = service.evaluate(
        session, principal, by=by, period=period, district=request.app.state.settings.district_code
    )
    name = f"evaluation-{result['by']}-{result['period']}.xlsx"
    return Response(
        excel.workbook(result),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/weights", response_model=Weights, dependencies=[Depends(current_principal)])
def get_weights(session: SessionDep) -> dict[str, float]:
    """The composite score's weights (per cent)."""
    return service.get_weights(session)


@router.put("/weights", response_model=Weights, dependencies=[Depends(require_roles("admin"))])
def put_weights(body: Weights, session: SessionDep) -> dict[str, float]:
    """Change the weights (admin); they need not add up to 100 — the score divides by their sum."""
    return service.set_weights(session, body.model_dump())


@router.post("/rebuild", dependencies=[Depends(require_roles("admin"))])
def rebuild(session: SessionDep) -> dict[str, Any]:
    """Rebuild the facts and the daily summary from the cases (the worker keeps them otherwise)."""
    return tasks.rebuild_evaluation(session, utcnow())


"""GET /api/v1/cases/at-risk: running cases by their probability of missing the deadline."""


# GET /api/v1/cases/at-risk: included before cases' /api/v1/cases/{id}, which would take "at-risk" as an id.
risk_router = APIRouter(prefix="/api/v1/cases", tags=["evaluation"])


@risk_router.get("/at-risk")
def at_risk(
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    upcoming_only: bool = Query(False, description="only cases whose deadline is still ahead"),
    principal: Principal = Depends(current_principal),
) -> list[dict[str, Any]]:
    """Running cases the caller may see with ``risk`` (0–1, calibrated) and ``reasons``, riskiest first."""
    return risk_service.at_risk(session, principal, limit=limit, upcoming_only=upcoming_only)


"""HTTP handlers of the key tasks board under /api/v1/key-tasks."""


keytasks_router = APIRouter(prefix="/api/v1/key-tasks", tags=["evaluation"])


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


@keytasks_router.get("")
def board(
    session: SessionDep, state: str | None = None, p: Principal = Depends(current_principal)
) -> list[Any]:
    """The board: every key task with its taker, milestones and progress."""
    _staff(p)
    return keytasks.board(session, state, p)


@keytasks_router.get("/ranking")
def ranking(session: SessionDep, p: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    """Units ranked by their key tasks (done on time, done, mean progress)."""
    _staff(p)
    return keytasks.ranking(session, p)


@keytasks_router.post("", status_code=201)
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


@keytasks_router.post("/{task_id}/take")
def take(
    task_id: uuid.UUID, session: SessionDep, p: Principal = Depends(current_principal)
) -> dict[str, Any]:
    return keytasks.task_dict(session, keytasks.take(session, p, task_id))


@keytasks_router.post("/{task_id}/milestones/{seq}/done")
def report(
    task_id: uuid.UUID,
    seq: int,
    body: ReportIn,
    session: SessionDep,
    p: Principal = Depends(current_principal),
) -> dict[str, Any]:
    return keytasks.task_dict(session, keytasks.report(session, p, task_id, seq, body.note))


@keytasks_router.post("/{task_id}/cancel")
def cancel(
    task_id: uuid.UUID, session: SessionDep, p: Principal = Depends(current_principal)
) -> dict[str, Any]:
    return keytasks.task_dict(session, keytasks.cancel(session, p, task_id))

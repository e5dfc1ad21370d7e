"""HTTP handlers of evaluation under /api/v1/evaluation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import ORJSONResponse

from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.evaluation import excel, service, tasks
from cityops.evaluation.schemas import Weights
from cityops.web.deps import SessionDep, current_principal, require_roles

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"])

BY = Query("department", description="department | street | community | grid | inspector | district")
PERIOD = Query(None, description="YYYY-MM, YYYY-Www, YYYY-Qn or YYYY (default: this month)")


@router.get("", response_class=ORJSONResponse)
def evaluation(
    request: Request,
    session: SessionDep,
    by: str = BY,
    period: str | None = PERIOD,
    principal: Principal = Depends(current_principal),
) -> ORJSONResponse:
    """Figures, composite score, rank and rank movement per unit (亮榜晒绩); rates are 0–1, null = no data."""
    # Serialised by orjson directly: a grid ranking has ~1,500 rows, and FastAPI's generic
    # encoder would spend more time on them than the query does.
    return ORJSONResponse(
        service.evaluate(
            session, principal, by=by, period=period, district=request.app.state.settings.district_code
        )
    )


@router.get("/export.xlsx")
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
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
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

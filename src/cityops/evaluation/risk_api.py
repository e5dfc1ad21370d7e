"""GET /api/v1/cases/at-risk: running cases by their probability of missing the deadline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from cityops.accounts.principal import Principal
from cityops.evaluation import risk_service
from cityops.web.deps import SessionDep, current_principal

router = APIRouter(prefix="/api/v1/cases", tags=["evaluation"])


@router.get("/at-risk")
def at_risk(
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    upcoming_only: bool = Query(False, description="only cases whose deadline is still ahead"),
    principal: Principal = Depends(current_principal),
) -> list[dict[str, Any]]:
    """Running cases the caller may see with ``risk`` (0–1, calibrated) and ``reasons``, riskiest first."""
    return risk_service.at_risk(session, principal, limit=limit, upcoming_only=upcoming_only)

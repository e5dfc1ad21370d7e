"""The cockpit's data under /api/v1/cockpit (the page polls these)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from cityops.accounts.principal import Principal
from cityops.cockpit import service
from cityops.web.deps import SessionDep, current_principal

router = APIRouter(prefix="/api/v1/cockpit", tags=["cockpit"])


def _district(request: Request) -> str:
    return str(request.app.state.settings.district_code)


@router.get("/overview")
def overview(
    request: Request, session: SessionDep, p: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Open cases, this month's totals and open warnings of the caller's area."""
    return service.overview(session, p, _district(request))


@router.get("/cards")
def cards(
    request: Request, session: SessionDep, p: Principal = Depends(current_principal)
) -> list[dict[str, Any]]:
    """Indicator cards with level and trend."""
    return service.cards(session, p, _district(request))


@router.get("/heat")
def heat(request: Request, session: SessionDep, p: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Open cases per grid as [lon, lat, count] points for the heat layer."""
    return service.heat(session, p, _district(request))


@router.get("/geo")
def geo(
    request: Request, session: SessionDep, level: str = "street", p: Principal = Depends(current_principal)
) -> dict[str, Any]:
    """Area polygons (GeoJSON, WGS-84) of one level inside the caller's area."""
    return service.geojson(session, p, level, _district(request))


@router.get("/map")
def choropleth(
    request: Request,
    session: SessionDep,
    indicator: str = "GOV.closure_rate",
    level: str = "street",
    p: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """One indicator's value and level per area, for colouring the map."""
    return service.choropleth(session, p, indicator, level, _district(request))


@router.get("/warnings")
def warnings(
    request: Request, session: SessionDep, p: Principal = Depends(current_principal)
) -> dict[str, Any]:
    return service.warnings(session, p, _district(request))


@router.get("/hot-issues")
def hot_issues(
    request: Request, session: SessionDep, p: Principal = Depends(current_principal)
) -> list[dict[str, Any]]:
    return service.hot_issues(session, p, _district(request))


@router.get("/rankings")
def rankings(
    request: Request,
    session: SessionDep,
    by: str = "street",
    period: str | None = Query(None),
    p: Principal = Depends(current_principal),
) -> dict[str, Any]:
    return service.rankings(session, p, _district(request), by=by, period=period)


@router.get("/at-risk")
def at_risk(session: SessionDep, p: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    service.area_of(p, "")
    return service.at_risk(session, p)

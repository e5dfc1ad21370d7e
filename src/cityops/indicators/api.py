"""HTTP handlers of indicators under /api/v1/indicators."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from pydantic import BaseModel

from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.errors import Forbidden, Invalid, NotFound, TooLarge
from cityops.evaluation import periods
from cityops.indicators import excel, service, sources
from cityops.indicators.levels import LABELS
from cityops.web.deps import SessionDep, current_principal, require_roles
from cityops.web.openapi import XLSX, xlsx_response

router = APIRouter(prefix="/api/v1/indicators", tags=["indicators"])
ADMIN = [Depends(require_roles("admin"))]
VIEWERS = ("leader", "admin", "dispatcher", "operator", "inspector", "handler")
MAX_IMPORT_BYTES = 5 * 1024 * 1024


class IndicatorIn(BaseModel):
    code: str
    name: str
    domain: str
    theme: str
    unit: str = ""
    period: str = "month"
    owner: str = ""
    direction: str = "higher_better"
    kind: str = "expression"
    definition: str
    thresholds: dict[str, Any] = {}
    description: str = ""
    active: bool = True


def _area_for(principal: Principal, area: str | None, district: str) -> str:
    """The area the caller asks about, inside what they may see (a street leader: their street)."""
    if principal.role not in VIEWERS:
        raise Forbidden("当前角色无权查看指标", "this role may not see indicators", code="role_not_allowed")
    wanted = (area or principal.area_code or district).strip()
    if principal.area_code and not wanted.startswith(principal.area_code):
        raise NotFound("区域不存在或不在您的辖区内", "no such area in your scope", details={"area": wanted})
    if wanted != district and not wanted.startswith(district):
        raise NotFound("区域不存在", "no such area", details={"area": wanted})
    return wanted


def _level(area: str, district: str) -> str:
    return sources._level_of(area, district)


def _parse_day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise Invalid(
            f"{field} 必须是日期 YYYY-MM-DD", f"{field} must be a date YYYY-MM-DD", details={"field": field}
        ) from None


@router.get("")
def list_indicators(
    request: Request,
    session: SessionDep,
    area: str | None = None,
    domain: str | None = None,
    principal: Principal = Depends(current_principal),
) -> list[dict[str, Any]]:
    """Every active indicator with its newest value and level for ``area``.

    The default area is the caller's own (a street leader's street) or the district.
    """
    district = request.app.state.settings.district_code
    code = _area_for(principal, area, district)
    inds = service.list_catalog(session, domain=domain, active=True)
    values = service.latest_values(session, code)
    if code != district and _level(code, district) in ("community", "grid") and inds and not values:
        service.compute(
            session,
            level=_level(code, district),
            day=periods.today(utcnow()),
            district=district,
            now=utcnow(),
            area_codes=[code],
            warn=False,
        )
        values = service.latest_values(session, code)
    telemetry = service.has_telemetry(session)
    out = []
    for ind in inds:
        v = values.get(ind.code)
        out.append(
            {
                "code": ind.code,
                "name": ind.name,
                "domain": ind.domain,
                "theme": ind.theme,
                "value": v.value if v else None,
                "unit": ind.unit,
                "level": v.level if v else "normal",
                "level_name": LABELS[v.level if v else "normal"],
                "period": ind.period,
                "period_start": v.period_start.isoformat() if v else None,
                "direction": ind.direction,
                "area": code,
                "status": service.status_of(session, ind, telemetry),
                "updated_at": (v.computed_at if v else ind.updated_at).isoformat(),
            }
        )
    return out


@router.get("/catalog")
def catalog(session: SessionDep, _: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    """The catalog as a tree: domain → theme → indicators (definitions and thresholds)."""
    tree: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for ind in service.list_catalog(session):
        tree.setdefault(ind.domain, {}).setdefault(ind.theme, []).append(service.indicator_dict(ind))
    return [
        {"domain": d, "themes": [{"theme": t, "indicators": items} for t, items in themes.items()]}
        for d, themes in tree.items()
    ]


@router.get(
    "/export.xlsx",
    dependencies=[Depends(current_principal)],
    responses=xlsx_response("指标目录 / indicator catalog workbook"),
)
def export(session: SessionDep) -> Response:
    return Response(
        excel.export(service.list_catalog(session)),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="indicators.xlsx"'},
    )


@router.post("/import.xlsx", dependencies=ADMIN)
async def import_xlsx(session: SessionDep, file: UploadFile = File(...)) -> dict[str, int]:
    """Replace or add the indicators of a workbook (same columns as the export); all or nothing."""
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise TooLarge(
            "文件超过 5 MB", "the file is larger than 5 MB", details={"max_bytes": MAX_IMPORT_BYTES}
        )
    rows = excel.read(data)
    return {"imported": service.import_rows(session, rows)}


@router.post("", status_code=201, dependencies=ADMIN)
def create(body: IndicatorIn, session: SessionDep) -> dict[str, Any]:
    return service.indicator_dict(service.save(session, body.model_dump(), create=True))


@router.get("/{code}")
def get_one(code: str, session: SessionDep, _: Principal = Depends(current_principal)) -> dict[str, Any]:
    ind = service.get_indicator(session, code)
    return service.indicator_dict(ind) | {"status": service.status_of(session, ind)}


@router.put("/{code}", dependencies=ADMIN)
def replace(code: str, body: IndicatorIn, session: SessionDep) -> dict[str, Any]:
    if body.code != code:
        raise Invalid(
            "路径与正文中的编码不一致", "the code in the path and the body differ", details={"field": "code"}
        )
    return service.indicator_dict(service.save(session, body.model_dump(), create=False))


@router.delete("/{code}", status_code=204, dependencies=ADMIN)
def remove(code: str, session: SessionDep) -> Response:
    service.delete_indicator(session, code)
    return Response(status_code=204)


@router.get("/{code}/history")
def history(
    code: str,
    request: Request,
    session: SessionDep,
    area: str | None = None,
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    """The stored values of one indicator for ``area`` between ``from`` and ``to`` (period starts)."""
    district = request.app.state.settings.district_code
    area_code = _area_for(principal, area, district)
    ind = service.get_indicator(session, code)
    since, until = _parse_day(from_, "from"), _parse_day(to, "to")
    rows = service.history(session, code, area_code, since, until)
    return {
        "code": ind.code,
        "name": ind.name,
        "unit": ind.unit,
        "area": area_code,
        "period": ind.period,
        "direction": ind.direction,
        "thresholds": ind.thresholds,
        "definition": ind.definition,
        "points": [
            {"period_start": r.period_start.isoformat(), "value": r.value, "level": r.level} for r in rows
        ],
    }


@router.post("/{code}/compute")
def compute_now(
    code: str,
    request: Request,
    session: SessionDep,
    area: str | None = None,
    principal: Principal = Depends(require_roles("admin", "leader")),
) -> dict[str, Any]:
    """Compute the current value now (on demand) for ``area``."""
    district = request.app.state.settings.district_code
    area_code = _area_for(principal, area, district)
    ind = service.get_indicator(session, code)
    now = utcnow()
    service.compute(
        session,
        level=_level(area_code, district),
        day=periods.today(now),
        district=district,
        now=now,
        area_codes=[area_code],
        indicators=[ind],
    )
    v = service.latest_values(session, area_code, [code]).get(code)
    return {
        "code": code,
        "area": area_code,
        "value": v.value if v else None,
        "level": v.level if v else "normal",
    }

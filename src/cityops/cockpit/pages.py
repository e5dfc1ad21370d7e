"""The cockpit pages: /cockpit (the big screen), its self-refreshing panels, the indicator page
with drill-down, and the printable monthly report.

The page is a frame; each panel is an htmx fragment (``/cockpit/panels/<name>``) that reloads
itself every few seconds, so the screen follows the city without a page reload. The map and the
heat layer are drawn by ``/static/js/cockpit.js`` from ``/api/v1/cockpit/{geo,map,heat}``. Every
fragment calls :mod:`cityops.cockpit.service` with the signed-in principal (a street leader sees
the street), exactly as the API does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, Request, Response

from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.cockpit import service
from cityops.db import utcnow
from cityops.errors import NotFound
from cityops.evaluation import periods
from cityops.evaluation import service as evaluation
from cityops.indicators import levels
from cityops.indicators import service as indicators
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import page_roles, page_router
from cityops.web.pages import ROLE_HOME
from cityops.web.templating import N_

router = page_router(tags=["cockpit"])
VIEWERS = ("leader", "admin", "dispatcher", "operator")
Viewer = Depends(page_roles(*VIEWERS))
templating.add_nav("/cockpit", N_("驾驶舱"), VIEWERS, order=5)
templating.add_nav("/cockpit/report", N_("月度报告"), ("leader", "admin"), order=6)
ROLE_HOME["leader"] = "/cockpit"
PANELS = ("overview", "cards", "warnings", "hot", "rankings", "risk", "trend")
MAP_CHOICES = (
    "GOV.closure_rate",
    "GOV.on_time_closure_rate",
    "GOV.overdue",
    "GOV.filed",
    "GOV.rework_rate",
    "GOV.supervision_report_rate",
    "CITY.exposed_garbage",
    "VS.aqi",
)


def _district(request: Request) -> str:
    return str(request.app.state.settings.district_code)


def _area_name(session: SessionDep, code: str) -> str:
    try:
        return areas.get_area(session, code).name
    except NotFound:
        return code


@router.get("/cockpit")
def cockpit(request: Request, session: SessionDep, principal: Principal = Viewer) -> Response:
    district = _district(request)
    area = service.area_of(principal, district)
    known = {i.code: i.name for i in indicators.list_catalog(session, active=True)}
    choices = [(c, known[c]) for c in MAP_CHOICES if c in known]
    return templating.render(
        request,
        "cockpit/cockpit.html",
        {
            "area": area,
            "area_name": _area_name(session, area),
            "panels": PANELS,
            "choices": choices,
            "level": "community" if principal.area_code else "street",
        },
    )


def _with_times(item: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``item`` with its ISO-time fields as datetimes (the ``local`` filter shows them in Beijing time)."""
    return {**item, **{k: datetime.fromisoformat(item[k]) for k in keys if isinstance(item.get(k), str)}}


def _trend(session: SessionDep, area: str) -> dict[str, Any]:
    series = indicators.recent_values(
        session, area, ["GOV.filed", "GOV.closure_rate", "GOV.on_time_closure_rate"], 12
    )
    months = [p["period_start"][:7] for p in series.get("GOV.filed", [])]

    def values(code: str) -> list[Any]:
        by = {p["period_start"][:7]: p["value"] for p in series.get(code, [])}
        return [by.get(m) for m in months]

    return {
        "tooltip": {"trigger": "axis"},
        "animation": False,
        "legend": {"data": [templating.t("立案数"), templating.t("结案率"), templating.t("按期结案率")]},
        "grid": {"left": 40, "right": 40, "top": 30, "bottom": 25},
        "xAxis": {"type": "category", "data": months},
        "yAxis": [{"type": "value", "name": templating.t("件")}, {"type": "value", "name": "%", "max": 100}],
        "series": [
            {"name": templating.t("立案数"), "type": "bar", "data": values("GOV.filed")},
            {
                "name": templating.t("结案率"),
                "type": "line",
                "yAxisIndex": 1,
                "data": values("GOV.closure_rate"),
            },
            {
                "name": templating.t("按期结案率"),
                "type": "line",
                "yAxisIndex": 1,
                "data": values("GOV.on_time_closure_rate"),
            },
        ],
    }


@router.get("/cockpit/panels/{name}")
def panel(name: str, request: Request, session: SessionDep, principal: Principal = Viewer) -> Response:
    """One self-refreshing panel (an htmx fragment)."""
    if name not in PANELS:
        raise NotFound("没有这个面板", "no such panel", details={"panel": name})
    district = _district(request)
    area = service.area_of(principal, district)
    data: dict[str, Any] = {"name": name, "area": area, "labels": levels.LABELS}
    if name == "overview":
        data["o"] = _with_times(service.overview(session, principal, district), "at")
    elif name == "cards":
        data["cards"] = service.cards(session, principal, district)
    elif name == "warnings":
        w = service.warnings(session, principal, district)
        data["w"] = {**w, "items": [_with_times(x, "raised_at") for x in w["items"]]}
    elif name == "hot":
        data["issues"] = service.hot_issues(session, principal, district)
    elif name == "rankings":
        data["r"] = service.rankings(session, principal, district)
    elif name == "risk":
        data["risky"] = [_with_times(x, "deadline") for x in service.at_risk(session, principal)]
    else:
        data["option"] = _trend(session, area)
    return templating.render(request, f"cockpit/_{name}.html", data)


@router.get("/cockpit/indicators/{code}")
def indicator_page(
    code: str, request: Request, session: SessionDep, area: str | None = None, principal: Principal = Viewer
) -> Response:
    """An indicator's history chart, definition and thresholds, with drill-down to the areas below."""
    district = _district(request)
    scope = service.area_of(principal, district)
    target = (area or scope).strip()
    if not target.startswith(scope if scope != district else district[:6]):
        raise NotFound("区域不存在或不在您的辖区内", "no such area in your scope", details={"area": target})
    ind = indicators.get_indicator(session, code)
    level = {6: "district", 9: "street", 12: "community"}.get(len(target), "grid")
    if level in ("community", "grid"):
        indicators.compute(
            session,
            level=level,
            day=periods.today(utcnow()),
            district=district,
            now=utcnow(),
            area_codes=[target],
            indicators=[ind],
            warn=False,
        )
    points = indicators.history(session, code, target, None, None)
    below = {"district": "street", "street": "community"}.get(level)
    children = []
    if below:
        values = indicators.values_by_level(session, code, below, None if target == district else target)
        names = {a.code: a.name for a in areas.children(session, target)}
        children = sorted(
            ({"code": c, "name": names.get(c, c), **v} for c, v in values.items() if c in names),
            key=lambda r: r["code"],
        )
    option = {
        "tooltip": {"trigger": "axis"},
        "animation": False,
        "grid": {"left": 50, "right": 20, "top": 20, "bottom": 30},
        "xAxis": {"type": "category", "data": [p.period_start.isoformat() for p in points]},
        "yAxis": {"type": "value", "name": ind.unit},
        "series": [
            {
                "type": "line",
                "name": ind.name,
                "showSymbol": False,
                "data": [p.value for p in points],
                "markLine": {
                    "silent": True,
                    "symbol": "none",
                    "data": [
                        {
                            "yAxis": v,
                            "name": k,
                            "lineStyle": {
                                "color": {
                                    "blue": "#1a73e8",
                                    "yellow": "#f9ab00",
                                    "orange": "#fa7b17",
                                    "red": "#d93025",
                                }[k]
                            },
                        }
                        for k, v in (ind.thresholds or {}).items()
                    ],
                },
            }
        ],
    }
    return templating.render(
        request,
        "cockpit/indicator.html",
        {
            "ind": ind,
            "area": target,
            "area_name": _area_name(session, target),
            "points": points,
            "latest": points[-1] if points else None,
            "children": children,
            "option": option,
            "labels": levels.LABELS,
            "status": indicators.status_of(session, ind),
        },
    )


@router.get("/cockpit/report")
def monthly_report(
    request: Request,
    session: SessionDep,
    month: str | None = None,
    principal: Principal = Depends(page_roles("leader", "admin")),
) -> Response:
    """The monthly report a district office sends upward: print it (or save as PDF) from the browser."""
    district = _district(request)
    area = service.area_of(principal, district)
    now = utcnow()
    period = periods.parse(month, now) if month else periods.current("month", now).previous()
    by_street = evaluation.evaluate(
        session,
        principal,
        by="community" if principal.area_code else "street",
        period=period.label,
        district=district,
    )
    by_dept = (
        evaluation.evaluate(session, principal, by="department", period=period.label, district=district)
        if not principal.area_code
        else None
    )
    totals = evaluation.totals(session, period, district, None if area == district else area)
    before = evaluation.totals(session, period.previous(), district, None if area == district else area)
    key = [
        "GOV.filed",
        "GOV.closure_rate",
        "GOV.on_time_closure_rate",
        "GOV.rework_rate",
        "GOV.overdue",
        "GOV.avg_handle_hours",
        "GOV.supervision_report_rate",
        "GOV.accurate_dispatch_rate",
    ]
    trend = _trend(session, area)
    chart_rows = [r for r in by_street["rows"] if r["rank"] is not None]
    ranking_option = {
        "animation": False,
        "grid": {"left": 120, "right": 20, "top": 10, "bottom": 20},
        "xAxis": {"type": "value", "max": 100},
        "yAxis": {"type": "category", "inverse": True, "data": [r["name"] for r in chart_rows]},
        "series": [{"type": "bar", "data": [r["score"] for r in chart_rows], "label": {"show": True}}],
    }
    return templating.render(
        request,
        "cockpit/report.html",
        {
            "period": period,
            "area_name": _area_name(session, area),
            "totals": totals,
            "before": before,
            "by_street": by_street,
            "by_dept": by_dept,
            "trend": trend,
            "ranking_option": ranking_option,
            "indicators": {i.code: i for i in indicators.list_catalog(session) if i.code in key},
            "key": key,
            "generated": now,
        },
    )

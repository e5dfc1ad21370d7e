"""The cockpit's panels as data, each scoped to the caller (district leader: all; street leader: the street).

Every panel reads what another capability already keeps small: the evaluation summary, stored
indicator values, stored risk scores, open warnings, and one grouped count of open cases per grid.
Nothing here scans the case history, so each panel answers in milliseconds at a million cases.
Slow-changing inputs (area geometry, hot issues) are cached per process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.cases import aggregates
from cityops.db import utcnow
from cityops.errors import Forbidden, Invalid
from cityops.evaluation import periods, risk_service
from cityops.evaluation import service as evaluation
from cityops.indicators import service as indicators
from cityops.safety import service as safety

log = logging.getLogger("cityops.cockpit")

VIEWERS = frozenset({"leader", "admin", "dispatcher", "operator"})
# The indicator cards shown first (the rest are a click away on the indicator page).
CARDS = (
    "GOV.closure_rate",
    "GOV.on_time_closure_rate",
    "GOV.overdue",
    "GOV.open_cases",
    "GOV.rework_rate",
    "GOV.supervision_report_rate",
    "VS.aqi",
    "VS.canal_level",
    "VS.noise",
    "VS.elevator_faults",
    "VS.smoke_alarms",
    "CITY.exposed_garbage",
)
LEVELS = ("street", "community", "grid")
_TTL = 300.0
_cache: dict[tuple[str, ...], tuple[float, Any]] = {}
_lock = threading.Lock()


_refreshing: set[tuple[str, ...]] = set()


def _cached(key: tuple[str, ...], make: Any, *, stale_ok: bool = False) -> Any:
    """``make()`` at most once per :data:`_TTL` per key. With ``stale_ok`` an expired value is
    still answered at once while one background thread makes the next (``make`` must then open
    its own session): a costly panel costs its caller only the very first time."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < _TTL:
            return hit[1]
        if hit and stale_ok:
            if key not in _refreshing:
                _refreshing.add(key)
                threading.Thread(target=_refresh, args=(key, make), daemon=True).start()
            return hit[1]
    value = make()
    with _lock:
        _cache[key] = (now, value)
    return value


def _refresh(key: tuple[str, ...], make: Any) -> None:
    try:
        value = make()
        with _lock:
            _cache[key] = (time.monotonic(), value)
    except Exception:  # the stale answer stays; the next call tries again
        log.exception("refreshing the cockpit's %s failed", key[0])
    finally:
        with _lock:
            _refreshing.discard(key)


def _bind(session: Session) -> str:
    return str(session.get_bind().engine.url)


def area_of(principal: Principal, district: str) -> str:
    """The area the caller's cockpit shows; ``Forbidden`` for roles without a cockpit."""
    if principal.role not in VIEWERS:
        raise Forbidden(
            "驾驶舱仅供领导和指挥人员使用",
            "the cockpit is for leaders and dispatchers",
            code="role_not_allowed",
            details={"allowed_roles": sorted(VIEWERS)},
        )
    return principal.area_code or district


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise Invalid(
            f"level 必须是 {'、'.join(LEVELS)} 之一",
            f"level must be one of {', '.join(LEVELS)}",
            details={"field": "level"},
        )
    return level


def geojson(session: Session, principal: Principal, level: str, district: str) -> dict[str, Any]:
    """The polygons of one level inside the caller's area (cached: areas change rarely)."""
    area = area_of(principal, district)
    _check_level(level)

    def build() -> dict[str, Any]:
        features = []
        for a in areas.list_areas(session, level=level):
            if not a.geometry:
                continue
            features.append(
                {
                    "type": "Feature",
                    "id": a.code,
                    "geometry": json.loads(a.geometry),
                    "properties": {"code": a.code, "name": a.name, "parent": a.parent_code},
                }
            )
        return {"type": "FeatureCollection", "features": features}

    full = _cached(("geo", _bind(session), level), build)
    if area == district:
        return full
    return {
        "type": "FeatureCollection",
        "features": [f for f in full["features"] if f["id"].startswith(area)],
    }


def _centroids(session: Session) -> dict[str, tuple[float, float]]:
    def build() -> dict[str, tuple[float, float]]:
        return {
            a.code: (a.centroid_lon, a.centroid_lat)
            for a in areas.list_areas(session, level="grid")
            if a.centroid_lon is not None and a.centroid_lat is not None
        }

    return _cached(("centroids", _bind(session)), build)


def heat(session: Session, principal: Principal, district: str) -> dict[str, Any]:
    """Open cases per unit grid with the grid's centre: the heat layer (aggregated on the server)."""
    area = area_of(principal, district)
    counts = aggregates.open_counts_by_grid(session, None if area == district else area)
    cents = _centroids(session)
    points = [[*cents[g], n] for g, n in counts.items() if g in cents]
    return {"area": area, "total": sum(counts.values()), "grids": len(counts), "points": points}


def choropleth(
    session: Session, principal: Principal, code: str, level: str, district: str
) -> dict[str, Any]:
    """One indicator's newest value and level per area of ``level`` (for colouring the map)."""
    area = area_of(principal, district)
    _check_level(level)
    ind = indicators.get_indicator(session, code)
    values = indicators.values_by_level(session, code, level, area if area != district else None)
    return {
        "indicator": code,
        "name": ind.name,
        "unit": ind.unit,
        "level": level,
        "direction": ind.direction,
        "thresholds": ind.thresholds,
        "values": values,
    }


def cards(
    session: Session, principal: Principal, district: str, codes: tuple[str, ...] = CARDS
) -> list[dict[str, Any]]:
    """Indicator cards: newest value, level and the last twelve values (the trend)."""
    area = area_of(principal, district)
    known = {i.code: i for i in indicators.list_catalog(session, active=True)}
    chosen = [c for c in codes if c in known]
    trends = indicators.recent_values(session, area, chosen, 12)
    telemetry = indicators.has_telemetry(session)
    out = []
    for code in chosen:
        ind = known[code]
        points = trends.get(code, [])
        last = points[-1] if points else None
        out.append(
            {
                "code": code,
                "name": ind.name,
                "unit": ind.unit,
                "domain": ind.domain,
                "value": last["value"] if last else None,
                "level": last["level"] if last else "normal",
                "period_start": last["period_start"] if last else None,
                "trend": points,
                "status": indicators.status_of(session, ind, telemetry),
            }
        )
    return out


def warnings(session: Session, principal: Principal, district: str, limit: int = 10) -> dict[str, Any]:
    area = area_of(principal, district)
    rows, total = safety.list_warnings(
        session, status="open", area_code=None if area == district else area, limit=limit
    )
    return {"total": total, "items": [safety.warning_dict(w) for w in rows]}


def hot_issues(session: Session, principal: Principal, district: str, days: int = 3) -> list[dict[str, Any]]:
    """Hot issues of the last days from triage, among the cases the caller may see (cached five
    minutes per scope: clustering is the costly part); numbers typed into texts are masked."""
    from cityops.accounts.masking import mask_text
    from cityops.cases.service import scope_key
    from cityops.triage import service as triage

    engine = session.get_bind()

    def build() -> list[dict[str, Any]]:
        with Session(bind=engine) as own:  # its own session: it may run in a background thread
            found = triage.hot_issues(own, days, limit=50, principal=principal)
        return [
            {
                "id": h.id,
                "heat": h.heat,
                "representative": mask_text(h.representative),
                "place": h.place,
                "reports": h.reports,
                "growth": h.growth,
                "end": h.end.isoformat(),
            }
            for h in found
        ]

    return _cached(("hot", _bind(session), str(days), *scope_key(principal)), build, stale_ok=True)[:10]


def rankings(
    session: Session, principal: Principal, district: str, by: str = "street", period: str | None = None
) -> dict[str, Any]:
    """The ranking of this month, or of last month while this one has nothing ranked yet (its first days)."""
    if principal.area_code and by in ("street", "department"):
        by = "community"
    result = evaluation.evaluate(session, principal, by=by, period=period, district=district)
    if period is None and not any(r["rank"] for r in result["rows"]):
        result = evaluation.evaluate(
            session, principal, by=by, period=result["previous_period"], district=district
        )
    return result


def at_risk(session: Session, principal: Principal, limit: int = 10) -> list[dict[str, Any]]:
    """The running cases most likely to miss a deadline that is still ahead."""
    return risk_service.at_risk(session, principal, limit=limit, upcoming_only=True)


def overview(
    session: Session, principal: Principal, district: str, now: datetime | None = None
) -> dict[str, Any]:
    """The headline figures: open cases, this month's evaluation totals, open warnings."""
    area = area_of(principal, district)
    now = now or utcnow()
    month = periods.current("month", now)
    totals = evaluation.totals(session, month, district, None if area == district else area)
    counts = aggregates.open_counts_by_grid(session, None if area == district else area)
    _, open_warnings = safety.list_warnings(
        session, status="open", area_code=None if area == district else area, limit=1
    )
    return {
        "area": area,
        "period": month.label,
        "open_cases": sum(counts.values()),
        "month": totals,
        "open_warnings": open_warnings,
        "at": now.isoformat(),
    }

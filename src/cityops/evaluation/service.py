"""Evaluation figures, scores and rankings (亮榜晒绩) for one dimension and period.

Every figure is defined once in docs/evaluation.md. The sums come from ``evaluation_daily``
(kept by the worker), so a request reads at most one row per (day, unit) and never the cases.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts import service as accounts
from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.catalog import service as catalog
from cityops.db import utcnow
from cityops.errors import Forbidden, Invalid, NotFound
from cityops.evaluation import periods
from cityops.evaluation.models import DIMENSIONS, EvaluationDaily, EvaluationMonthly, EvaluationSetting
from cityops.evaluation.periods import Period
from cityops.evaluation.summary import measure_sums
from cityops.evaluation.tasks import summary_generation

# The composite score's parts and their default weights (per cent).
DEFAULT_WEIGHTS: dict[str, float] = {
    "supervision_report_rate": 10.0,
    "filed": 20.0,
    "closure_rate": 30.0,
    "on_time_closure_rate": 40.0,
}
DISTRICT_VIEWERS = frozenset({"leader", "admin", "dispatcher", "operator", "inspector"})
AREA_DIMS = ("street", "community", "grid")


def _ratio(num: float, den: float) -> float | None:
    """``num / den`` rounded to four places, None ("no data") when nothing was counted."""
    return round(num / den, 4) if den else None


@dataclass(frozen=True)
class Figures:
    """The summed measures of one unit in one period, and the rates derived from them."""

    code: str
    sums: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        s = self.sums
        return {
            "filed": int(s["filed"]),
            "due": int(s["due"]),
            "closed": int(s["closed"]),
            "closed_on_time": int(s["closed_on_time"]),
            "handled": int(s["handled"]),
            "handled_on_time": int(s["handled_on_time"]),
            "overdue": int(s["overdue"]),
            "reworked": int(s["reworked"]),
            "public_reports": int(s["public_reports"]),
            "closure_rate": _ratio(s["closed"], s["due"]),
            "on_time_closure_rate": _ratio(s["closed_on_time"], s["due"]),
            "on_time_handling_rate": _ratio(s["handled_on_time"], s["due"]),
            "rework_rate": _ratio(s["reworked"], s["due"]),
            "avg_handle_hours": round(s["handle_hours"] / s["handle_n"], 2) if s["handle_n"] else None,
            "supervision_report_rate": _ratio(s["public_reports"], s["filed"]),
            "accurate_dispatch_rate": _ratio(s["accurate"], s["dispatched"]),
            # Satisfaction ratings (回访·评价) are not recorded on cases yet: "no data".
            "satisfaction": None,
        }


def check_dimension(by: str) -> str:
    if by not in DIMENSIONS:
        raise Invalid(
            f"by 必须是 {'、'.join(DIMENSIONS)} 之一",
            f"by must be one of {', '.join(DIMENSIONS)}",
            code="invalid_dimension",
            details={"field": "by", "accepted": list(DIMENSIONS)},
        )
    return by


def sums(session: Session, by: str, period: Period, code: str | None = None) -> dict[str, Figures]:
    """Summed measures per unit of dimension ``by`` in ``period`` (or of the one unit ``code``)."""
    # Whole months (month, quarter, year) read the monthly roll-up; weeks and days the daily rows.
    table: type[EvaluationDaily] | type[EvaluationMonthly] = (
        EvaluationMonthly if period.kind in ("month", "quarter", "year") else EvaluationDaily
    )
    stmt = (
        select(table.code, *measure_sums(table))
        .where(table.dim == by, table.day >= period.start, table.day < period.end)
        .group_by(table.code)
    )
    if code is not None:
        stmt = stmt.where(table.code == code)
    result = session.execute(stmt)
    keys = list(result.keys())[1:]
    # Plain tuples (a grid ranking reads ~3,000 rows of 14 sums: mapping access per field cost
    # more than the query).
    return {row[0]: Figures(row[0], dict(zip(keys, map(float, row[1:]), strict=True))) for row in result}


def get_weights(session: Session) -> dict[str, float]:
    row = session.get(EvaluationSetting, "weights")
    return dict(row.value) if row is not None else dict(DEFAULT_WEIGHTS)


def set_weights(session: Session, weights: dict[str, Any]) -> dict[str, float]:
    """Store new score weights (the four parts, each 0–100, together more than 0)."""
    unknown = sorted(set(weights) - set(DEFAULT_WEIGHTS))
    if unknown or set(weights) != set(DEFAULT_WEIGHTS):
        raise Invalid(
            f"权重必须恰好包含 {'、'.join(DEFAULT_WEIGHTS)}",
            f"weights must name exactly {', '.join(DEFAULT_WEIGHTS)}",
            details={"unknown": unknown, "expected": list(DEFAULT_WEIGHTS)},
        )
    clean: dict[str, float] = {}
    for key, value in weights.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 100:
            raise Invalid(
                f"权重 {key} 必须是 0–100 的数",
                f"weight {key} must be a number 0–100",
                details={"field": key},
            )
        clean[key] = float(value)
    if sum(clean.values()) <= 0:
        raise Invalid(
            "权重之和必须大于 0", "the weights must add up to more than 0", details={"field": "weights"}
        )
    row = session.get(EvaluationSetting, "weights")
    if row is None:
        session.add(EvaluationSetting(key="weights", value=clean, updated_at=utcnow()))
    else:
        row.value, row.updated_at = clean, utcnow()
    session.flush()
    return clean


def score(fig: dict[str, Any], max_filed: int, weights: dict[str, float]) -> float | None:
    """The composite score 0–100 (docs/evaluation.md); None for a unit with nothing counted."""
    if not fig["filed"] and not fig["due"]:
        return None
    parts = {
        # A lower share of cases the public had to report means better patrols.
        "supervision_report_rate": 1 - (fig["supervision_report_rate"] or 0.0),
        "filed": fig["filed"] / max_filed if max_filed else 0.0,
        "closure_rate": fig["closure_rate"] or 0.0,
        "on_time_closure_rate": fig["on_time_closure_rate"] or 0.0,
    }
    total = sum(weights.values())
    return round(100 * sum(parts[k] * weights[k] for k in parts) / total, 2)


def _ranked(session: Session, by: str, period: Period, weights: dict[str, float]) -> list[dict[str, Any]]:
    figures = {code: f.as_dict() for code, f in sums(session, by, period).items()}
    max_filed = max((f["filed"] for f in figures.values()), default=0)
    rows = [{"code": code, **f, "score": score(f, max_filed, weights)} for code, f in figures.items()]
    scored = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], r["code"]))
    for i, r in enumerate(scored, start=1):
        r["rank"] = i
    for r in rows:
        r.setdefault("rank", None)
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))


_NAMES_TTL = 300.0
_names_cache: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}


def _names(session: Session, by: str, codes: list[str], district: str) -> dict[str, str]:
    """Display names of the units (cached five minutes per database: areas and departments rarely change)."""
    if by == "inspector":
        return _load_names(session, by, codes)
    key = (str(session.get_bind().engine.url), by)
    hit = _names_cache.get(key)
    if hit and time.monotonic() - hit[0] < _NAMES_TTL and all(c in hit[1] for c in codes):
        return hit[1]
    names = _load_names(session, by, codes)
    _names_cache[key] = (time.monotonic(), names)
    return names


def _load_names(session: Session, by: str, codes: list[str]) -> dict[str, str]:
    if by == "department":
        return {d.code: d.name for d in catalog.list_departments(session)}
    if by == "inspector":
        out = {}
        for code in codes:
            try:
                user = accounts.get_user(session, uuid.UUID(code))
            except (ValueError, NotFound):
                continue
            out[code] = user.display_name or user.username
        return out
    return {a.code: a.name for a in areas.list_areas(session, level="district" if by == "district" else by)}


def _check_scope(principal: Principal, by: str) -> None:
    if principal.role == "citizen":
        raise Forbidden(
            "市民无权查看考核评价", "citizens may not see the evaluation", code="role_not_allowed"
        )
    if principal.role == "handler":
        if by != "department" or principal.department_code is None:
            raise Forbidden(
                "处置单位只能查看本单位的部门评价",
                "a department's handlers see only their own department's row (by=department)",
                code="outside_scope",
            )
        return
    if principal.area_code and by not in AREA_DIMS:
        raise Forbidden(
            "街道/社区账号只能按街道、社区或网格查看本辖区",
            "an area account sees only its own area: by=street, community or grid",
            code="outside_scope",
        )
    if principal.role not in DISTRICT_VIEWERS:
        raise Forbidden(
            "当前角色无权查看考核评价", "this role may not see the evaluation", code="role_not_allowed"
        )


def _visible(principal: Principal, by: str, code: str) -> bool:
    if principal.role == "handler":
        return code == principal.department_code
    if principal.area_code:
        return code.startswith(principal.area_code)
    return True


# A ranking is read far more often than the summary changes: the cockpit polls it, every leader
# opens it, and a grid ranking sums ~1,500 units over two periods. The finished rows of one
# (database, dimension, period, weights) are kept under the summary's generation, which the worker
# moves whenever a refresh changes summary rows (``tasks.summary_generation``), so a kept ranking
# is never older than the summary it was computed from. Entries also expire after the names'
# five minutes (a renamed street). Decision record 0009.
_RANKED_MAX = 64
_ranked_cache: OrderedDict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = OrderedDict()
_ranked_lock = threading.Lock()


def forget_rankings() -> None:
    """Drop every kept ranking (tests; a restored database)."""
    with _ranked_lock:
        _ranked_cache.clear()


def _ranked_with_movement(
    session: Session, by: str, current: Period, weights: dict[str, float], district: str
) -> list[dict[str, Any]]:
    """Every unit's row (all units, before scoping) with its name and rank movement, kept."""
    generation = summary_generation(session)  # read first: a newer summary may only add to it
    key = (
        str(session.get_bind().engine.url),
        by,
        current.label,
        tuple(sorted(weights.items())),
        generation,
    )
    if generation is not None:
        with _ranked_lock:
            hit = _ranked_cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < _NAMES_TTL:
                _ranked_cache.move_to_end(key)
                return hit[1]
    rows = _ranked(session, by, current, weights)
    before = {r["code"]: r["rank"] for r in _ranked(session, by, current.previous(), weights)}
    names = _names(session, by, [r["code"] for r in rows], district)
    for r in rows:
        last = before.get(r["code"])
        # Positive: moved up that many places since the last period; None: not ranked then or now.
        r["rank_change"] = last - r["rank"] if last is not None and r["rank"] is not None else None
        r["previous_rank"] = last
        r["name"] = names.get(r["code"], r["code"])
    if generation is not None:
        with _ranked_lock:
            _ranked_cache[key] = (time.monotonic(), rows)
            while len(_ranked_cache) > _RANKED_MAX:
                _ranked_cache.popitem(last=False)
    return rows


def evaluate(
    session: Session,
    principal: Principal,
    *,
    by: str,
    period: str | None,
    district: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ranked rows of dimension ``by`` in ``period`` with the movement since the period before."""
    check_dimension(by)
    _check_scope(principal, by)
    now = now or utcnow()
    current = periods.parse(period, now)
    weights = get_weights(session)
    rows = _ranked_with_movement(session, by, current, weights, district)
    # Copies: callers may add to their rows, the kept ones stay as computed.
    visible = [dict(r) for r in rows if _visible(principal, by, r["code"])]
    return {
        "by": by,
        "period": current.label,
        "period_kind": current.kind,
        "from": current.start.isoformat(),
        "to": current.end.isoformat(),
        "previous_period": current.previous().label,
        "weights": weights,
        "rows": visible,
    }


def totals(session: Session, period: Period, district: str, area_code: str | None = None) -> dict[str, Any]:
    """The district's (or one street's / community's) figures in ``period``."""
    if area_code and area_code != district:
        level = "street" if len(area_code) <= 9 else ("community" if len(area_code) <= 12 else "grid")
        found = sums(session, level, period, area_code)
    else:
        found = sums(session, "district", period, district)
        area_code = district
    fig = next(iter(found.values()), None)
    empty = {
        k: 0.0
        for k in (
            "filed",
            "public_reports",
            "dispatched",
            "accurate",
            "due",
            "closed",
            "closed_on_time",
            "handled",
            "handled_on_time",
            "reworked",
            "overdue",
            "handle_hours",
            "handle_n",
        )
    }
    return (fig or Figures(area_code, empty)).as_dict()

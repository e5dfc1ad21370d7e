"""HTTP handlers of triage under /api/v1/triage, and the warnings list under /api/v1/warnings."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityops.accounts.masking import mask_text
from cityops.accounts.principal import Principal
from cityops.errors import Invalid, NotFound
from cityops.kit.times import TIME_HELP, LocalDateTime
from cityops.safety import service as safety
from cityops.triage import service
from cityops.triage.hotspots import HotIssue
from cityops.triage.reply_quality import score_reply
from cityops.triage.routing import check_report_text
from cityops.web.deps import SessionDep, current_principal, require_roles

router = APIRouter(prefix="/api/v1/triage", tags=["triage"])
warnings_router = APIRouter(prefix="/api/v1/warnings", tags=["safety"])

OPERATORS = ("operator", "dispatcher", "admin")


class RouteIn(BaseModel):
    text: Any = None
    lon: float | None = None
    lat: float | None = None


class ResolveIn(BaseModel):
    category_code: str
    # Where the problem is, when the report named no place triage could find.
    lon: float | None = None
    lat: float | None = None
    area_code: str | None = None


class IntakeIn(BaseModel):
    """A report from the hotline or an inspector's radio; coordinates are optional."""

    text: Any = None
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)
    source: Literal["hotline", "inspector", "web", "api"] = "hotline"
    address: str | None = Field(default=None, max_length=300)
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=30)


class ThresholdIn(BaseModel):
    threshold: float


class GazetteerIn(BaseModel):
    name: str
    kind: str
    area_code: str
    aliases: list[str] = []
    lon: float | None = None
    lat: float | None = None


class ReplyScoreIn(BaseModel):
    message: Any = None
    reply: Any = None
    asked_at: LocalDateTime | None = None
    replied_at: LocalDateTime | None = None


@router.post("/route")
def route(
    body: RouteIn,
    session: SessionDep,
    _: Principal = Depends(require_roles(*OPERATORS, "inspector")),
) -> dict[str, Any]:
    if (body.lon is None) != (body.lat is None):
        raise Invalid("经纬度需同时提供", "give both lon and lat or neither", details={"field": "lon"})
    return service.route_report(session, body.text, body.lon, body.lat).as_dict()


def _queue_dict(item: Any) -> dict[str, Any]:
    # Phone and ID numbers in a report's text are masked here as in every case view; the case
    # made from the item keeps the text, readable through the audited reveal of the cases API.
    return {
        "id": str(item.id),
        "text": mask_text(item.text),
        "source": item.source,
        "suggestions": item.suggestions,
        "driving_words": [mask_text(w) for w in item.driving_words or []],
        "place": item.place,
        "created_at": item.created_at.isoformat(),
        "resolved_category": item.resolved_category,
        "case_id": str(item.case_id) if item.case_id else None,
    }


def _case_summary(case: Any) -> dict[str, Any] | None:
    if case is None:
        return None
    return {
        "id": str(case.id),
        "code": case.code,
        "state": case.state,
        "category_code": case.category_code,
        "street_code": case.street_code,
        "community_code": case.community_code,
        "grid_code": case.grid_code,
        "department_code": case.department_code,
        "location_approximate": bool(case.location_approximate),
        "lon": case.lon,
        "lat": case.lat,
        "deadline": case.deadline.isoformat() if case.deadline else None,
    }


INTAKE_ROLES = ("operator", "inspector", "dispatcher", "admin")


@router.post("/intake", status_code=201)
def intake(
    body: IntakeIn,
    response: Response,
    session: SessionDep,
    who: Principal = Depends(require_roles(*INTAKE_ROLES)),
) -> dict[str, Any]:
    """Route a report end to end: 201 with the dispatched case, or 202 with the queue item."""
    result = service.intake_report(
        session,
        who,
        body.text,
        lon=body.lon,
        lat=body.lat,
        source=body.source,
        address=body.address,
        reporter_name=body.reporter_name,
        reporter_phone=body.reporter_phone,
    )
    out = {
        "outcome": result["outcome"],
        "decision": result["decision"],
        "case": _case_summary(result["case"]),
        "queue_item": _queue_dict(result["queue_item"]) if result.get("queue_item") is not None else None,
    }
    if result["case"] is None:
        response.status_code = 202
    return out


@router.get("/queue")
def queue(
    session: SessionDep,
    limit: int = Query(50, ge=1, le=500),
    who: Principal = Depends(require_roles(*OPERATORS)),
) -> list[dict[str, Any]]:
    """The reports waiting for an operator, within the caller's street when it has one."""
    return [_queue_dict(i) for i in service.list_queue(session, who, limit=limit)]


@router.post("/queue/{item_id}/resolve")
def resolve(
    item_id: uuid.UUID,
    body: ResolveIn,
    session: SessionDep,
    who: Principal = Depends(require_roles(*OPERATORS)),
) -> dict[str, Any]:
    """The operator's category: the case is created, filed and dispatched; the label is kept."""
    item, case = service.resolve_queue_item(
        session, item_id, body.category_code, who, lon=body.lon, lat=body.lat, area_code=body.area_code
    )
    return {**_queue_dict(item), "case": _case_summary(case)}


@router.get("/accurate-dispatch")
def accurate_dispatch(
    session: SessionDep,
    since: Annotated[LocalDateTime | None, Query(description=TIME_HELP)] = None,
    until: Annotated[LocalDateTime | None, Query(description=TIME_HELP)] = None,
    who: Principal = Depends(require_roles("dispatcher", "leader", "admin")),
) -> list[dict[str, Any]]:
    """准确派遣率 over the cases the caller may see (its street's, when scoped)."""
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=30)
    return service.accurate_dispatch_rate(session, since, until, who)


@router.get("/thresholds/{category_code}")
def get_threshold(
    category_code: str,
    session: SessionDep,
    _: Principal = Depends(current_principal),
) -> dict[str, Any]:
    return {"category_code": category_code, "threshold": service.get_threshold(session, category_code)}


@router.put("/thresholds/{category_code}")
def put_threshold(
    category_code: str,
    body: ThresholdIn,
    session: SessionDep,
    _: Principal = Depends(require_roles("admin")),
) -> dict[str, Any]:
    row = service.set_threshold(session, category_code, body.threshold)
    return {"category_code": row.category_code, "threshold": row.threshold}


@router.get("/gazetteer")
def gazetteer_list(session: SessionDep, _: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    return [
        {
            "name": e.name,
            "kind": e.kind,
            "aliases": list(e.aliases or ()),
            "area_code": e.area_code,
            "lon": e.lon,
            "lat": e.lat,
        }
        for e in service.list_gazetteer(session)
    ]


@router.post("/gazetteer", status_code=201)
def gazetteer_add(
    body: GazetteerIn,
    session: SessionDep,
    _: Principal = Depends(require_roles("admin")),
) -> dict[str, Any]:
    row = service.add_gazetteer_entry(session, **body.model_dump())
    return {"id": str(row.id), "name": row.name, "kind": row.kind, "area_code": row.area_code}


# Hot issues are recomputed at most every few minutes per (database, days, caller's scope): the
# cockpit polls. The scope is part of the key, so one street's issues never answer another's.
_HOT_CACHE: dict[tuple[Any, ...], tuple[float, list[HotIssue]]] = {}
_HOT_TTL = 300.0
_HOT_MAX_KEYS = 256


def _hot(session: Session, days: int, who: Principal) -> list[HotIssue]:
    from cityops.cases.service import scope_key

    key = (service.bind_key(session), days, *scope_key(who))
    hit = _HOT_CACHE.get(key)
    if hit and time.monotonic() - hit[0] < _HOT_TTL:
        return hit[1]
    issues = service.hot_issues(session, days, limit=100, principal=who)
    if len(_HOT_CACHE) >= _HOT_MAX_KEYS:
        _HOT_CACHE.clear()  # citizens' and handlers' scopes are per person: keep the cache bounded
    _HOT_CACHE[key] = (time.monotonic(), issues)
    return issues


def _hot_dict(h: HotIssue, members: bool = False) -> dict[str, Any]:
    out = {
        "id": h.id,
        "heat": h.heat,
        "representative": mask_text(h.representative),
        "place": h.place,
        "start": h.start.isoformat(),
        "end": h.end.isoformat(),
        "reports": h.reports,
        "reporters": h.reporters,
        "likes": h.likes,
        "growth": h.growth,
    }
    if members:
        out["case_codes"] = h.message_ids
    return out


@router.get("/hot-issues")
def hot_issues(
    session: SessionDep,
    days: int = Query(7, ge=1, le=90),
    limit: int = Query(10, ge=1, le=100),
    who: Principal = Depends(require_roles("leader", "dispatcher", "operator", "admin")),
) -> list[dict[str, Any]]:
    """The hottest issues among the cases the caller may see (its street's, when scoped)."""
    return [_hot_dict(h) for h in _hot(session, days, who)[:limit]]


@router.get("/hot-issues/{issue_id}")
def hot_issue(
    issue_id: str,
    session: SessionDep,
    days: int = Query(7, ge=1, le=90),
    who: Principal = Depends(require_roles("leader", "dispatcher", "operator", "admin")),
) -> dict[str, Any]:
    for h in _hot(session, days, who):
        if h.id == issue_id:
            return _hot_dict(h, members=True)
    raise NotFound(
        "热点不存在或已过期", "No such hot issue (it may have cooled down)", details={"id": issue_id}
    )


@router.post("/reply-score")
def reply_score(body: ReplyScoreIn, _: Principal = Depends(current_principal)) -> dict[str, Any]:
    message = check_report_text(body.message)
    try:
        reply = check_report_text(body.reply)
    except Invalid as e:
        raise Invalid(
            "答复内容不正确：" + e.message, "reply: " + e.message, details={"field": "reply"}
        ) from None
    if body.asked_at and body.replied_at and body.replied_at < body.asked_at:
        raise Invalid(
            "答复时间早于留言时间", "replied_at is before asked_at", details={"field": "replied_at"}
        )
    return score_reply(message, reply, body.asked_at, body.replied_at).as_dict()


@warnings_router.get("")
def warnings(
    session: SessionDep,
    status: str | None = None,
    source: str | None = None,
    min_level: int = Query(1, ge=1, le=4),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
    who: Principal = Depends(require_roles("leader", "dispatcher", "admin")),
) -> dict[str, Any]:
    rows, total = safety.list_warnings(
        session,
        status=status,
        source=source,
        area_code=who.area_code,
        min_level=min_level,
        limit=limit,
        offset=offset,
    )
    return {"items": [safety.warning_dict(w) for w in rows], "total": total}

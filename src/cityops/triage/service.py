"""Triage operations: route a report, intake (route + create/file/dispatch the case), the operator
queue, thresholds, corrections, the gazetteer, the accurate-dispatch rate, hot issues, reply
scores and training the catalog classifier from the case store.

Everything about cases goes through ``cityops.cases.service`` (creation, actions and its read-only
aggregates in ``cases/stats.py``); triage never touches the cases tables.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal, synthetic_principal
from cityops.db import utcnow
from cityops.errors import Conflict, DomainError, Invalid, NotFound
from cityops.triage import gazetteer

# The learning side (live model, corrections, training) lives in learning.py; its operations
# stay part of this service's interface.
from cityops.triage.learning import export_training_rows as export_training_rows
from cityops.triage.learning import get_classifier as get_classifier
from cityops.triage.learning import live_model as live_model
from cityops.triage.learning import model_path as model_path
from cityops.triage.learning import record_correction as record_correction
from cityops.triage.learning import set_classifier as set_classifier
from cityops.triage.learning import train_catalog_classifier as train_catalog_classifier
from cityops.triage.models import (
    DEFAULT_THRESHOLD,
    GAZETTEER_KINDS,
    GazetteerEntry,
    RoutingThreshold,
    TriageQueueItem,
)
from cityops.triage.places import PlaceMatch, resolve_place
from cityops.triage.routing import (
    RoutingDecision,
    Suggestion,
    check_report_text,
    decide,
    driving_words,
)

log = logging.getLogger("cityops.triage")


def _area_chain(place: PlaceMatch | None, district_code: str) -> list[str]:
    """Area codes most specific first: grid, community, street, district."""
    codes: list[str] = []
    if place is not None:
        for code in (place.grid_code, place.area_code):
            if code:
                codes += [code[:n] for n in (15, 12) if len(code) >= n]
        if place.street_code:
            codes.append(place.street_code)
    codes.append(district_code)
    return list(dict.fromkeys(codes))


def _department(session: Session, category_code: str, areas: list[str]) -> str | None:
    from cityops.catalog.responsibility import responsible_department

    try:
        return responsible_department(session, category_code, areas)
    except DomainError:
        return None  # no row in the responsibility list: an operator must choose


def _place_from_point(session: Session, lon: Any, lat: Any) -> PlaceMatch | None:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise Invalid("经纬度必须是数字", "lon and lat must be numbers", details={"field": "lon"}) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Invalid("经纬度超出范围", "lon/lat out of range", details={"field": "lon"})
    index = gazetteer.index_for_session(session)
    if index.locator is None:
        return None
    grid, community, street = index.locator(lon, lat)
    if street is None:
        return None
    area = grid or community or street
    return PlaceMatch("", 0, 0, "point", area, area, grid, street, lon, lat, 0.99)


def route_report(
    session: Session,
    text: str,
    lon: float | None = None,
    lat: float | None = None,
    classifier: Any = None,
    *,
    district_code: str = "330105",
    enqueue: bool = True,
) -> RoutingDecision:
    """Category, place and department for one report; unsure reports join the operator queue
    (unless ``enqueue`` is false: the caller queues it itself, see :func:`intake_report`).

    The gate (``gate.py``): auto when the best category reaches its calibrated threshold (an
    administrator's threshold wins) and place and department are known; else, when the family is
    clear, the family's department with a question for the handler; else the queue with a reason.
    """
    from cityops.triage import gate

    text = check_report_text(text)
    version = None
    if classifier is None:
        classifier, version = live_model(session)
    a = gate.assess(classifier, text)
    top = a.top
    place = _place_from_point(session, lon, lat) if lon is not None and lat is not None else None
    place = place or resolve_place(session, text)
    areas = _area_chain(place, district_code)
    suggestions = [Suggestion(c, round(p, 4), _department(session, c, areas)) for c, p in top]
    best = suggestions[0] if suggestions else None
    threshold = effective_threshold(session, best.category_code, a.threshold) if best else DEFAULT_THRESHOLD
    auto, reason = decide(top, threshold, place, best.department_code if best else None)
    decision = RoutingDecision(
        category_code=best.category_code if best else None,
        confidence=best.probability if best else 0.0,
        place=place,
        department_code=best.department_code if best else None,
        auto=auto,
        suggestions=suggestions,
        driving_words=driving_words(classifier, text, best.category_code) if best else [],
        threshold=threshold,
        reason=reason,
        family_code=a.family_key,
        family_probability=round(a.family_probability, 4),
        model_version=version,
    )
    if a.no_problem:
        # Nothing to dispatch in it (a greeting, a question for another service).
        decision.auto, decision.reason = False, "no_problem"
        decision.category_code, decision.department_code, decision.confidence = None, None, 0.0
    elif len(text) > gate.LONG_TEXT_CHARS and decision.auto:
        decision.auto, decision.reason = False, "long_text"
    elif decision.category_code in (getattr(classifier, "fallbacks", {}) or {}).values():
        # The family's general code (不明井盖异常): it goes to the family's department, which is
        # asked which kind it really is.
        decision.needs_confirmation = True
        decision.question = (
            "请处置单位确认具体类别："
            + " / ".join(_category_names(session, a.family_codes[1:6]))
            + " · please confirm the exact category"
        )
    elif not decision.auto and reason == "below_threshold" and place is not None:
        # Back-off needs the place as much as auto does: the family's department is per area.
        fallbacks = getattr(classifier, "fallbacks", {}) or {}
        route = gate.family_route(a, fallbacks, lambda c: _department(session, c, areas))
        if route is not None:
            names = _category_names(session, route.candidates)
            decision.category_code = route.category_code
            decision.department_code = route.department_code
            decision.needs_confirmation = True
            decision.reason = "family_backoff"
            decision.question = (
                "请处置单位确认具体类别：" + " / ".join(names) + " · please confirm the exact category"
            )
    if not decision.auto and enqueue:
        _enqueue(session, text, lon, lat, decision)
    return decision


def _category_names(session: Session, codes: list[str]) -> list[str]:
    from cityops.catalog.service import get_category

    out = []
    for code in codes:
        try:
            out.append(f"{code} {get_category(session, code).name}")
        except DomainError:
            out.append(code)
    return out


def effective_threshold(session: Session, category_code: str, calibrated: float | None) -> float:
    """An administrator's threshold for the category, else the model's calibrated one."""
    row = session.get(RoutingThreshold, category_code)
    if row is not None:
        return float(row.threshold)
    return float(calibrated) if calibrated is not None else DEFAULT_THRESHOLD


def _enqueue(
    session: Session,
    text: str,
    lon: float | None,
    lat: float | None,
    decision: RoutingDecision,
    **fields: Any,
) -> TriageQueueItem:
    item = TriageQueueItem(
        text=text,
        lon=lon,
        lat=lat,
        suggestions=[s.__dict__ for s in decision.suggestions],
        driving_words=decision.driving_words,
        place=decision.place.as_dict() if decision.place else None,
        **fields,
    )
    session.add(item)
    session.flush()
    decision.queue_item_id = str(item.id)
    return item


def queue_report(
    session: Session,
    text: str,
    lon: float | None,
    lat: float | None,
    decision: RoutingDecision,
    **fields: Any,
) -> TriageQueueItem:
    """Put a report triage was unsure about in the operator queue (for intake, which decides
    with ``route_report(enqueue=False)`` and creates cases itself)."""
    return _enqueue(session, text, lon, lat, decision, **fields)


def get_threshold(session: Session, category_code: str) -> float:
    row = session.get(RoutingThreshold, category_code)
    return row.threshold if row else DEFAULT_THRESHOLD


def set_threshold(session: Session, category_code: str, threshold: float) -> RoutingThreshold:
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise Invalid(
            "阈值必须在 0 到 1 之间", "threshold must be between 0 and 1", details={"field": "threshold"}
        )
    from cityops.catalog.service import get_category

    get_category(session, category_code)  # NotFound for an unknown category
    row = session.get(RoutingThreshold, category_code)
    if row is None:
        row = RoutingThreshold(category_code=category_code, threshold=float(threshold))
        session.add(row)
    else:
        row.threshold = float(threshold)
    session.flush()
    return row


def queue_item_visible(principal: Principal | None, item: TriageQueueItem) -> bool:
    """Whether ``principal`` may see a queue item: district-wide staff see all; a street (or
    community) operator sees the items placed inside its area and the ones it entered itself.

    An item with no known place belongs to no street, so only district-wide staff see it.
    """
    if principal is None or principal.is_district_wide:
        return True
    if item.created_by_id is not None and item.created_by_id == principal.id:
        return True
    place = item.place or {}
    where = place.get("grid_code") or place.get("area_code") or place.get("street_code")
    # Area codes nest: a grid's code starts with its community's, which starts with its street's.
    return bool(principal.area_code and where and str(where).startswith(principal.area_code))


def list_queue(
    session: Session, principal: Principal | None = None, *, open_only: bool = True, limit: int = 50
) -> list[TriageQueueItem]:
    """The oldest waiting items ``principal`` may see (all of them without a principal)."""
    stmt = select(TriageQueueItem).order_by(TriageQueueItem.created_at, TriageQueueItem.id)
    if open_only:
        stmt = stmt.where(TriageQueueItem.resolved_at.is_(None))
    if principal is None or principal.is_district_wide:
        return list(session.scalars(stmt.limit(limit)))
    # The place is a JSON document (the same on SQLite and PostgreSQL), so the scope is applied
    # here, reading the open queue in pages until the caller's page is full.
    out: list[TriageQueueItem] = []
    offset, page = 0, 500
    while len(out) < limit:
        batch = list(session.scalars(stmt.limit(page).offset(offset)))
        out += [item for item in batch if queue_item_visible(principal, item)]
        if len(batch) < page:
            break
        offset += page
    return out[:limit]


def resolve_queue_item(
    session: Session,
    item_id: uuid.UUID,
    category_code: str,
    principal: Principal | uuid.UUID,
    *,
    lon: float | None = None,
    lat: float | None = None,
    area_code: str | None = None,
    create_case: bool = True,
) -> tuple[TriageQueueItem, Any]:
    """The operator's category for a queued report: the case is created, filed and dispatched
    (when the responsibility list names a department) and the label becomes a training row.

    Where the report is comes from, in order: ``lon/lat`` or ``area_code`` given now, the point
    the report came with, the place found in its text. Returns (item, case or None).
    """
    item = session.get(TriageQueueItem, item_id)
    if item is None or (isinstance(principal, Principal) and not queue_item_visible(principal, item)):
        raise NotFound("待分拣记录不存在", "No such queue item", details={"id": str(item_id)})
    if item.resolved_at is not None:
        raise Conflict("该记录已处理", "This queue item is already resolved", details={"id": str(item_id)})
    from cityops.catalog.service import require_category

    require_category(session, category_code)
    user_id = principal.id if isinstance(principal, Principal) else principal
    case = None
    if create_case and isinstance(principal, Principal):
        point = _resolution_point(session, item, lon, lat, area_code)
        case = _create_file_dispatch(
            session,
            principal,
            item.text,
            category_code,
            point,
            source=item.source or "hotline",
            address=(item.place or {}).get("name"),
            reporter_name=item.reporter_name,
            reporter_phone=item.reporter_phone,
            note=f"受理员 {principal.username} 分拣：{category_code}"
            f" / operator {principal.username} chose {category_code}",
        )
        item.case_id = case.id
    item.resolved_at = utcnow()
    item.resolved_by = user_id
    item.resolved_category = category_code
    record_correction(session, item.text, category_code, "operator_queue")
    session.flush()
    return item, case


# The account that files and dispatches what triage routes by itself; the log names it, and the
# creating operator is the case's creator.
TRIAGE = synthetic_principal("triage", "dispatcher")

# (lon, lat, approximate)
Point = tuple[float, float, bool]
_AREA_POINTS: dict[tuple[str, str], tuple[float, float] | None] = {}


def bind_key(session: Session) -> str:
    """The database a session talks to, for process-wide caches (engine- or connection-bound)."""
    bind = session.get_bind()
    return str(bind.engine.url)


def _area_point(session: Session, code: str) -> tuple[float, float] | None:
    """A point surely inside an area's polygon (shapely's representative point), cached."""
    key = (bind_key(session), code)
    if key not in _AREA_POINTS:
        from cityops.areas import service as areas

        point: tuple[float, float] | None = None
        try:
            area = areas.get_area(session, code)
        except DomainError:
            area = None
        if area is not None and area.geometry:
            import json

            from shapely.geometry import shape

            p = shape(json.loads(area.geometry)).representative_point()
            point = (float(p.x), float(p.y))
        elif area is not None and area.centroid_lon is not None and area.centroid_lat is not None:
            point = (float(area.centroid_lon), float(area.centroid_lat))
        if len(_AREA_POINTS) > 5000:
            _AREA_POINTS.clear()
        _AREA_POINTS[key] = point
    return _AREA_POINTS[key]


def place_point(session: Session, place: PlaceMatch | None) -> Point | None:
    """Where a case placed from text goes: the gazetteer's point, else the most specific
    resolved area's representative point — always flagged approximate."""
    if place is None:
        return None
    if place.lon is not None and place.lat is not None:
        return (place.lon, place.lat, place.kind != "point")
    for code in (place.grid_code, place.area_code, place.street_code):
        if code:
            point = _area_point(session, code)
            if point is not None:
                return (point[0], point[1], True)
    return None


def _resolution_point(
    session: Session, item: TriageQueueItem, lon: float | None, lat: float | None, area_code: str | None
) -> Point:
    if (lon is None) != (lat is None):
        raise Invalid("经纬度需同时提供", "give both lon and lat or neither", details={"field": "lon"})
    if lon is not None and lat is not None:
        return (float(lon), float(lat), False)
    if area_code:
        point = _area_point(session, area_code)
        if point is None:
            raise Invalid(
                f"区域编码不存在或没有边界：{area_code}",
                f"unknown area_code {area_code!r} (or it has no boundary)",
                details={"field": "area_code"},
            )
        return (point[0], point[1], True)
    if item.lon is not None and item.lat is not None:
        return (item.lon, item.lat, False)
    place = PlaceMatch(**item.place) if item.place else None
    found = place_point(session, place)
    if found is None:
        raise Invalid(
            "无法确定问题位置，请提供 lon/lat 或 area_code（街道/社区/网格编码）",
            "the report names no known place; give lon/lat or area_code (street, community or grid)",
            code="place_required",
            details={"field": "area_code"},
        )
    return found


def _create_file_dispatch(
    session: Session,
    creator: Principal,
    text: str,
    category_code: str,
    point: Point,
    *,
    source: str,
    address: str | None,
    reporter_name: str | None,
    reporter_phone: str | None,
    note: str,
) -> Any:
    """Create the case through the cases service, file it and — when the responsibility list
    names a department — dispatch it, as the triage account."""
    from cityops.cases import service as cases
    from cityops.cases.schemas import ActionInput, CaseCreate

    lon, lat, approximate = point
    data = CaseCreate(
        description=text,
        lon=lon,
        lat=lat,
        category_code=category_code,
        source=source,
        address=address,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        location_approximate=approximate,
    )
    case = cases.create_case(session, creator, data)
    cases.perform_action(session, TRIAGE, case.id, "file", ActionInput(note=note))
    if case.department_code:
        cases.perform_action(session, TRIAGE, case.id, "dispatch", ActionInput(note=note))
    return case


def intake_report(
    session: Session,
    principal: Principal,
    text: Any,
    *,
    lon: float | None = None,
    lat: float | None = None,
    source: str = "hotline",
    address: str | None = None,
    reporter_name: str | None = None,
    reporter_phone: str | None = None,
    classifier: Any = None,
) -> dict[str, Any]:
    """A report (typically a hotline call without coordinates) routed end to end.

    Sure of category, place and department → the case is created through the cases service,
    filed and dispatched (``{"outcome": "dispatched", "case": …}``); otherwise it waits in the
    operator queue with three suggestions and the driving words (``{"outcome": "queued", …}``).
    Bad input is refused before anything is written.
    """
    from cityops.cases import service as cases
    from cityops.config import get_settings

    text = check_report_text(text)
    cases.check_text(text, "description", get_settings().max_description_chars)  # the cases limit too
    reporter_name = cases.check_text(reporter_name, "reporter_name", 100)
    reporter_phone = cases.check_text(reporter_phone, "reporter_phone", 30)
    address = cases.check_text(address, "address", 300)
    if (lon is None) != (lat is None):
        raise Invalid("经纬度需同时提供", "give both lon and lat or neither", details={"field": "lon"})
    decision = route_report(
        session, text, lon, lat, classifier, district_code=get_settings().district_code, enqueue=False
    )
    out: dict[str, Any] = {"decision": decision.as_dict(), "case": None}
    confirm = decision.needs_confirmation and bool(decision.department_code)
    if (decision.auto or confirm) and decision.category_code:
        point = (float(lon), float(lat), False) if lon is not None and lat is not None else None
        point = point or place_point(session, decision.place)
        if point is not None:
            try:
                with session.begin_nested():
                    case = _create_file_dispatch(
                        session,
                        principal,
                        text,
                        decision.category_code,
                        point,
                        source=source,
                        address=address or (decision.place.name if decision.place else None),
                        reporter_name=reporter_name,
                        reporter_phone=reporter_phone,
                        note=_auto_note(decision),
                    )
                outcome = "dispatched" if case.state == "dispatched" else case.state
                if confirm and outcome == "dispatched":
                    outcome = "dispatched_for_confirmation"
                out.update(outcome=outcome, case=case)
                return out
            except DomainError as exc:
                # E.g. the place's point lies outside every grid: an operator decides instead.
                log.info("triage could not create the case itself: %s", exc)
                decision.reason = "case_not_created"
        else:
            decision.reason = "no_point"
        decision.auto = False
        decision.needs_confirmation = False
    item = _enqueue(
        session,
        text,
        lon,
        lat,
        decision,
        source=source,
        reporter_name=reporter_name,
        reporter_phone=reporter_phone,
        created_by_id=principal.id,
    )
    out.update(outcome="queued", decision=decision.as_dict(), queue_item=item)
    return out


def _auto_note(decision: RoutingDecision) -> str:
    if decision.needs_confirmation:
        return (
            f"智能分拣按类别族派遣（{decision.family_code}，置信度 {decision.family_probability:.2f}）；"
            f"{decision.question}"
            f" / dispatched to the family's department by triage; the handler confirms the exact category"
        )
    return (
        f"智能分拣自动立案派遣（置信度 {decision.confidence:.2f}）"
        f" / filed and dispatched by triage (confidence {decision.confidence:.2f})"
    )


def hot_issues(
    session: Session,
    days: int,
    *,
    now: datetime | None = None,
    limit: int = 100,
    principal: Principal | None = None,
) -> list[Any]:
    """Hot issues among the cases reported in the last ``days`` days (from the cases service);
    with ``principal``, only among the cases that caller may see, so a street's hot issues hold
    only its own cases and texts."""
    from datetime import timedelta

    from cityops.cases import service as cases
    from cityops.triage.hotspots import HotMessage, find_hot_issues

    now = now or utcnow()
    msgs = [
        HotMessage(
            r.code,
            r.description,
            r.created_at,
            r.reporter,
            0,
            r.description[:40],
            r.community_code or r.street_code,
        )
        for r in cases.recent_reports(session, now - timedelta(days=days), now, principal=principal)
    ]
    return find_hot_issues(msgs, limit=limit, now=now)


def accurate_dispatch_rate(
    session: Session, since: datetime, until: datetime, principal: Principal | None = None
) -> list[dict[str, Any]]:
    """准确派遣率 per category and overall: dispatched cases not returned as misrouted / dispatched.

    The counts come from the cases capability (``cases.service.dispatch_counts``); the last row
    (``category_code`` null) is the whole district.
    """
    from cityops.cases import service as cases

    out: list[dict[str, Any]] = []
    total_d = total_m = 0
    for row in cases.dispatch_counts(session, since, until, principal=principal):
        total_d += row.dispatched
        total_m += row.misrouted
        out.append(
            {
                "category_code": row.category_code,
                "dispatched": row.dispatched,
                "misrouted": row.misrouted,
                "rate": round(1 - row.misrouted / row.dispatched, 4),
            }
        )
    rate = round(1 - total_m / total_d, 4) if total_d else None
    out.append({"category_code": None, "dispatched": total_d, "misrouted": total_m, "rate": rate})
    return out


def score_reply(
    message: str, reply: str, asked_at: datetime | None = None, replied_at: datetime | None = None
) -> dict[str, Any]:
    """Reply-quality score of one reply (see ``reply_quality``), as a plain dict for other capabilities."""
    from cityops.triage.reply_quality import score_reply as _score

    return _score(message, reply, asked_at, replied_at).as_dict()


def list_gazetteer(session: Session) -> list[GazetteerEntry] | list[gazetteer.GazetteerRecord]:
    rows = list(session.scalars(select(GazetteerEntry).order_by(GazetteerEntry.name)))
    return rows or gazetteer.load_seed()


def add_gazetteer_entry(
    session: Session,
    *,
    name: str,
    kind: str,
    area_code: str,
    aliases: list[str] | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> GazetteerEntry:
    """Add a named place; the first edit copies the seed in so it is not lost."""
    name = (name or "").strip()
    if not 2 <= len(name) <= 100:
        raise Invalid("地名长度应为 2–100 字", "name must be 2–100 characters", details={"field": "name"})
    if kind not in GAZETTEER_KINDS:
        raise Invalid(
            "类型不正确", f"kind must be one of {', '.join(GAZETTEER_KINDS)}", details={"field": "kind"}
        )
    if (lon is None) != (lat is None) or (
        lon is not None and lat is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90)
    ):
        raise Invalid(
            "经纬度需同时提供且在范围内", "give both lon and lat, within range", details={"field": "lon"}
        )
    from cityops.areas import service as areas_service

    if not areas_service.area_exists(session, area_code):
        raise Invalid("区域编码不存在", f"unknown area_code {area_code!r}", details={"field": "area_code"})
    if session.scalar(select(GazetteerEntry.id).limit(1)) is None:
        for e in gazetteer.load_seed():
            session.add(
                GazetteerEntry(
                    name=e.name,
                    kind=e.kind,
                    area_code=e.area_code,
                    aliases=list(e.aliases),
                    lon=e.lon,
                    lat=e.lat,
                    line=e.line,
                )
            )
    row = GazetteerEntry(
        name=name, kind=kind, area_code=area_code, aliases=list(aliases or []), lon=lon, lat=lat
    )
    session.add(row)
    session.flush()
    return row

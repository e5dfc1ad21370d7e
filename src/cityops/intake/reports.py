"""Submitting a Report of a human channel: dedupe, "me too", triage's decision, the case.

Triage only decides (``route_report`` with ``enqueue=False``); intake creates the case through
``cases.service`` and, when triage is sure, files and dispatches it, or parks the report in
triage's operator queue. Everything is validated before anything is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.config import get_settings
from cityops.db import new_id, utcnow
from cityops.errors import Conflict, DomainError, Invalid
from cityops.intake.locate import locate_point
from cityops.intake.models import Report
from cityops.intake.principals import INTAKE
from cityops.intake.schemas import ReportIn

log = logging.getLogger("cityops.intake")

# Channels whose reports carry a person to keep informed (and who may say "me too").
HUMAN_CHANNELS = ("web", "open311", "hotline", "inspector", "api")


@dataclass
class Submitted:
    report: Report
    created: bool  # False: the same report came before (idempotent replay)
    case: Any = None
    decision: dict[str, Any] | None = None


def find_report(session: Session, channel: str, key: str) -> Report | None:
    return session.scalars(
        select(Report).where(Report.channel == channel, Report.idempotency_key == key)
    ).first()


def _key(principal: Principal, data: ReportIn) -> str:
    raw = data.idempotency_key or data.channel_ref
    if raw:
        # Scoped to the caller: one account's key can never find (or block) another's report.
        return f"{principal.id}:{raw}"
    return f"{principal.id}:{new_id()}"


def submit(
    session: Session, principal: Principal, data: ReportIn, *, now: datetime | None = None
) -> Submitted:
    """Take one report in. A repeated idempotency key returns the first report unchanged."""
    now = now or utcnow()
    key = _key(principal, data)
    earlier = find_report(session, data.channel, key)
    if earlier is not None:
        return Submitted(earlier, False)
    text = cases.check_text(data.text, "text", get_settings().max_description_chars, required=True)
    assert text is not None
    if (data.lon is None) != (data.lat is None):
        raise Invalid("经纬度需同时提供", "give both lon and lat or neither", details={"field": "lon"})
    loc = locate_point(session, data.lon, data.lat, data.crs) if data.lon is not None else None
    report = Report(
        id=new_id(),
        channel=data.channel,
        channel_ref=data.channel_ref,
        idempotency_key=key,
        kind=data.kind,
        payload=data.payload or {},
        text=text,
        category_code=data.category_code,
        lon=float(loc.lon) if loc else None,
        lat=float(loc.lat) if loc else None,
        street_code=loc.street_code if loc else None,
        grid_code=loc.grid_code if loc else None,
        address=cases.check_text(data.address, "address", 300),
        reporter_user_id=principal.id if principal.role == "citizen" else None,
        reporter_name=cases.check_text(data.reporter_name, "reporter_name", 100),
        reporter_phone=cases.check_text(data.reporter_phone, "reporter_phone", 30),
        actor_id=principal.id,
        received_at=now,
    )
    result = Submitted(report, True)
    if data.join_case:
        _join(session, principal, report, data.join_case)
    else:
        _route_and_create(session, principal, report, data, result, now)
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        # Two concurrent retries with one key: the first one's report stands.
        again = find_report(session, data.channel, key)
        if again is None:
            raise
        return Submitted(again, False)
    return result


def _join(session: Session, principal: Principal, report: Report, ref: str) -> None:
    """A "me too": the report is counted on an open case the citizen could see suggested."""
    from cityops.intake.duplicates import joinable_case

    case = joinable_case(session, ref)
    report.outcome = "joined"
    report.case_id = case.id
    report.case_code = case.code
    report.category_code = report.category_code or case.category_code
    report.informed_state = case.state


def _route_and_create(
    session: Session, principal: Principal, report: Report, data: ReportIn, result: Submitted, now: datetime
) -> None:
    from cityops.triage import service as triage

    category = data.category_code
    auto = approximate = False
    if category is None:
        decision = triage.route_report(
            session,
            report.text or "",
            report.lon,
            report.lat,
            district_code=get_settings().district_code,
            enqueue=False,
        )
        result.decision = decision.as_dict()
        point = (report.lon, report.lat) if report.lon is not None else None
        if point is None and decision.auto:
            found = triage.place_point(session, decision.place)
            point = (found[0], found[1]) if found else None
        if not (decision.auto and decision.category_code and point):
            item = triage.queue_report(
                session,
                report.text or "",
                report.lon,
                report.lat,
                decision,
                source=_case_source(report.channel),
                reporter_name=report.reporter_name,
                reporter_phone=report.reporter_phone,
                created_by_id=principal.id,
            )
            report.outcome = "queued"
            report.queue_item_id = str(item.id)
            return
        category, auto = decision.category_code, True
        report.category_code = category
        if report.lon is None:
            report.lon, report.lat = point
            loc = locate_point(session, report.lon, report.lat)
            report.street_code, report.grid_code = loc.street_code, loc.grid_code
    if report.lon is None and category is not None:
        # A category but only an address (a hotline call, an Open311 address_string): place it
        # from the text, flagged approximate.
        found = triage.place_point(
            session, triage.resolve_place(session, f"{report.address or ''} {report.text}")
        )
        if found is not None:
            loc = locate_point(session, found[0], found[1])
            report.lon, report.lat = float(loc.lon), float(loc.lat)
            report.street_code, report.grid_code = loc.street_code, loc.grid_code
            approximate = True
    if report.lon is None or report.lat is None:
        raise Invalid(
            "请提供问题位置（lon/lat）",
            "give the problem's position (lon/lat)",
            code="place_required",
            details={"field": "lon"},
        )
    case_data = CaseCreate(
        description=report.text or "",
        lon=report.lon,
        lat=report.lat,
        category_code=category,
        source=_case_source(report.channel),
        address=report.address,
        reporter_name=report.reporter_name,
        reporter_phone=report.reporter_phone,
        location_approximate=approximate,
    )
    case = cases.create_case(session, principal, case_data, now=now)
    if auto:
        note = "智能分拣自动立案派遣 / filed and dispatched by triage"
        file_and_dispatch(session, case, note, now=now)
    report.outcome = "case"
    report.case_id = case.id
    report.case_code = case.code
    report.informed_state = case.state
    result.case = case


def _case_source(channel: str) -> str:
    return {"iot": "iot", "camera": "camera"}.get(channel, channel)


def file_and_dispatch(session: Session, case: Any, note: str, *, now: datetime | None = None) -> Any:
    """File a reported case and dispatch it when the responsibility list names a department."""
    try:
        case = cases.perform_action(session, INTAKE, case.id, "file", ActionInput(note=note), now=now)
        if case.department_code:
            case = cases.perform_action(session, INTAKE, case.id, "dispatch", ActionInput(note=note), now=now)
    except (Conflict, DomainError) as exc:  # a state another actor already moved on: keep it
        log.info("intake could not file/dispatch %s: %s", case.code, exc)
    return case


def reports_of_case(session: Session, case_id: Any) -> list[Report]:
    """Every report counted on a case (the first one, "me too"s and merged ones)."""
    return list(session.scalars(select(Report).where(Report.case_id == case_id).order_by(Report.received_at)))

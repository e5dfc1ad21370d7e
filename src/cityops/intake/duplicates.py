"""Likely duplicates, "me too", staff merge and split, and telling every reporter the outcome.

A report is a likely duplicate of an open case with the same or a related category (same major
group), within a radius and a time window, scored with the similarity of their texts. The
citizen form shows the suggestions without the other reporter's words (only category, place,
time and how many reported it); joining counts the citizen on that case and keeps them informed.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.cases.transitions import FINAL_STATES, STATE_NAMES_ZH
from cityops.db import utcnow
from cityops.errors import Conflict, Invalid, NotFound
from cityops.intake.models import Report
from cityops.intake.principals import INTAKE
from cityops.outbox import service as outbox

RADIUS_M = 300.0
WINDOW_DAYS = 14
MIN_SCORE = 0.35


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    k = math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * k, lat2 - lat1) * 111_320


def _bigrams(text: str) -> set[str]:
    text = "".join(ch for ch in text if not ch.isspace())
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams (Chinese has no spaces to split words on)."""
    x, y = _bigrams(a), _bigrams(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def likely_duplicates(
    session: Session,
    *,
    text: str = "",
    category_code: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    radius_m: float = RADIUS_M,
    days: int = WINDOW_DAYS,
    now: datetime | None = None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    """Open cases this report probably duplicates, best first (nothing personal in them)."""
    if lon is None or lat is None:
        return []
    if not 10 <= radius_m <= 2000 or not 1 <= days <= 90:
        raise Invalid(
            "半径 10–2000 米，时间 1–90 天", "radius_m 10-2000 and days 1-90", details={"field": "radius_m"}
        )
    now = now or utcnow()
    from cityops.intake.locate import locate_point

    street = locate_point(session, lon, lat).street_code
    # No category filter: related categories (same major group) count too.
    filters = cases.CaseFilters(street_code=street, created_from=now - timedelta(days=days))
    candidates, _ = cases.list_cases(session, INTAKE, filters, limit=200)
    out: list[dict[str, Any]] = []
    for case in candidates:
        if case.state in FINAL_STATES:
            continue
        distance = _metres(lon, lat, case.lon, case.lat)
        if distance > radius_m:
            continue
        if category_code and case.category_code != category_code:
            if case.category_code[:2] != category_code[:2]:
                continue
            category_score = 0.6
        else:
            category_score = 1.0
        text_score = similarity(text, case.description) if text else 0.0
        score = 0.45 * category_score + 0.25 * (1 - distance / radius_m) + 0.30 * text_score
        if score < MIN_SCORE:
            continue
        out.append(
            {
                "case_code": case.code,
                "category_code": case.category_code,
                "address": case.address,
                "state": case.state,
                "state_zh": STATE_NAMES_ZH.get(case.state, case.state),
                "distance_m": round(distance),
                "reported_at": case.created_at.isoformat(),
                "reporters": 1 + joined_count(session, case.id),
                "score": round(score, 3),
            }
        )
    out.sort(key=lambda d: -float(d["score"]))
    return out[:limit]


def joined_count(session: Session, case_id: uuid.UUID) -> int:
    return len(
        session.scalars(select(Report.id).where(Report.case_id == case_id, Report.outcome == "joined")).all()
    )


def joinable_case(session: Session, ref: str) -> Any:
    """The open case a "me too" joins (by code); closed or unknown cases cannot be joined."""
    try:
        case = cases.get_case(session, INTAKE, ref)
    except NotFound:
        raise NotFound(
            "要加入的案件不存在", "the case to join does not exist", details={"field": "join_case"}
        ) from None
    if case.state in FINAL_STATES:
        raise Conflict(
            "该案件已办结，请新建上报",
            "that case is finished; submit a new report",
            details={"field": "join_case"},
        )
    return case


def merge_case(
    session: Session, principal: Principal, case_ref: str, into_ref: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Staff: case ``case_ref`` is a duplicate of ``into_ref``; its reports move there.

    A duplicate still in ``reported`` is rejected as a duplicate; later states keep their case
    (work may have started) and only the reporters move.
    """
    now = now or utcnow()
    dup = cases.get_case(session, principal, case_ref)
    target = joinable_case(session, into_ref)
    cases.get_case(session, principal, target.id)  # the caller must see both
    if dup.id == target.id:
        raise Invalid("不能并入自身", "a case cannot be a duplicate of itself", details={"field": "into"})
    moved = 0
    for report in session.scalars(select(Report).where(Report.case_id == dup.id)):
        report.merged_from_case_id, report.case_id, report.case_code = dup.id, target.id, target.code
        report.outcome, report.informed_state = "joined", target.state
        moved += 1
    if moved == 0:
        # A case that came in without a Report (the old POST /cases): its reporter moves as one.
        session.add(
            Report(
                channel="api",
                idempotency_key=f"merge:{dup.id}",
                kind="report",
                payload={"merged_case": dup.code},
                text=dup.description,
                category_code=dup.category_code,
                lon=dup.lon,
                lat=dup.lat,
                street_code=dup.street_code,
                grid_code=dup.grid_code,
                reporter_user_id=dup.reporter_user_id,
                reporter_name=dup.reporter_name,
                reporter_phone=dup.reporter_phone,
                actor_id=principal.id,
                outcome="joined",
                case_id=target.id,
                case_code=target.code,
                merged_from_case_id=dup.id,
                informed_state=target.state,
                received_at=now,
            )
        )
        moved = 1
    if dup.state == "reported":
        reason = f"重复案件，并入 {target.code} / duplicate of {target.code}"
        cases.perform_action(session, principal, dup.id, "reject", ActionInput(reason=reason), now=now)
    session.flush()
    return {"case_code": dup.code, "into": target.code, "reports_moved": moved}


def split_report(
    session: Session, principal: Principal, report_id: uuid.UUID, *, now: datetime | None = None
) -> Any:
    """Staff: a merged or joined report was not a duplicate after all; it gets a case of its own."""
    report = session.get(Report, report_id)
    if report is None or report.case_id is None or report.outcome != "joined":
        raise NotFound(
            "没有可拆分的合并记录", "no merged report with this id", details={"id": str(report_id)}
        )
    cases.get_case(session, principal, report.case_id)  # scope: the caller must see the case
    if report.lon is None or report.lat is None or not report.category_code:
        raise Invalid(
            "该记录缺少位置或类别，无法单独立案", "the report has no position or category to file alone"
        )
    data = CaseCreate(
        description=report.text or "",
        lon=report.lon,
        lat=report.lat,
        category_code=report.category_code,
        source=report.channel
        if report.channel in ("web", "hotline", "inspector", "open311", "api")
        else "api",
        address=report.address,
        reporter_name=report.reporter_name,
        reporter_phone=report.reporter_phone,
    )
    case = cases.create_case(session, principal, data, idempotency_key=f"split:{report.id}", now=now)
    report.merged_from_case_id, report.case_id, report.case_code = report.case_id, case.id, case.code
    report.outcome, report.informed_state = "case", case.state
    session.flush()
    return case


def _recipients(report: Report) -> list[str]:
    out = [f"user:{report.reporter_user_id}"] if report.reporter_user_id else []
    if report.reporter_phone:
        out.append(f"sms:{report.reporter_phone}")
    return out


def inform_reporters(session: Session, now: datetime, limit: int = 500) -> int:
    """Tell every joined or merged reporter when their case is finished (through the outbox).

    The case's own reporter hears it from cases; these are the others counted on it.
    """
    rows = session.scalars(
        select(Report)
        .where(
            Report.outcome == "joined",
            Report.case_id.is_not(None),
            Report.informed_state.is_(None) | Report.informed_state.not_in(tuple(FINAL_STATES)),
        )
        .limit(limit)
    ).all()
    informed = 0
    for report in rows:
        assert report.case_id is not None
        try:
            case = cases.get_case(session, INTAKE, report.case_id)
        except NotFound:
            continue
        if case.state not in FINAL_STATES:
            continue
        report.informed_state = case.state
        recipients = _recipients(report)
        if recipients:
            text = f"您反映（或附议）的问题 {case.code} 已{STATE_NAMES_ZH.get(case.state, case.state)}。"
            outbox.enqueue(
                session,
                "report.outcome",
                {"text": text, "case_code": case.code, "state": case.state},
                recipients,
            )
            informed += 1
    return informed

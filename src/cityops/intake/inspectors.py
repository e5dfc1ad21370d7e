"""Inspectors (监督员) as a channel: patrol reports and verification results, counted per person.

A patrol report needs the device's position, a category and at least one photo (uploaded first
through /api/v1/attachments, which refuses oversized and non-image files). A verification result
performs the case's ``verify`` action as the inspector and is kept as a Report too, so
evaluation can count both (监督举报率 = 监督举报核实数 / 立案数) through :func:`counts`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.attachments import service as attachments
from cityops.cases import service as cases
from cityops.cases.schemas import ActionInput
from cityops.db import utcnow
from cityops.errors import Forbidden, Invalid, UnsupportedMedia
from cityops.intake.models import Report
from cityops.intake.reports import Submitted, submit
from cityops.intake.schemas import ReportIn


def _photos(session: Session, ids: list[uuid.UUID]) -> list[str]:
    for attachment_id in ids:
        a = attachments.get_attachment(session, attachment_id)
        if not a.content_type.startswith("image/"):
            raise UnsupportedMedia(
                "巡查照片必须是图片", "patrol photos must be images", details={"id": str(a.id)}
            )
    return [str(i) for i in ids]


def patrol_report(session: Session, inspector: Principal, data: ReportIn) -> Submitted:
    if inspector.role != "inspector":
        raise Forbidden(
            "只有监督员可以提交巡查上报", "only inspectors submit patrol reports", code="role_not_allowed"
        )
    if data.lon is None or data.lat is None or not data.category_code:
        raise Invalid(
            "巡查上报需要定位和类别",
            "a patrol report needs the device's position and a category",
            details={"field": "lon"},
        )
    if not data.attachments:
        raise Invalid(
            "巡查上报至少需要一张照片",
            "a patrol report needs at least one photo",
            details={"field": "attachments"},
        )
    photos = _photos(session, data.attachments)
    report = data.model_copy(
        update={"channel": "inspector", "kind": "patrol", "payload": {**data.payload, "photos": photos}}
    )
    return submit(session, inspector, report)


def verification_result(
    session: Session,
    inspector: Principal,
    case_ref: str,
    passed: bool,
    note: str | None,
    photos: list[uuid.UUID],
    *,
    key: str | None = None,
) -> Report:
    """Verify a handled case on the spot and keep the result as a Report of the inspector."""
    if inspector.role != "inspector":
        raise Forbidden(
            "只有监督员可以提交核查结果",
            "only inspectors submit verification results",
            code="role_not_allowed",
        )
    ids = _photos(session, photos)
    idem = f"{inspector.id}:verify:{key}" if key else None
    if idem:
        earlier = session.scalars(
            select(Report).where(Report.channel == "inspector", Report.idempotency_key == idem)
        ).first()
        if earlier is not None:
            return earlier
    case = cases.perform_action(
        session, inspector, case_ref, "verify", ActionInput(passed=passed, note=note, attachments=photos)
    )
    report = Report(
        channel="inspector",
        kind="verification",
        idempotency_key=idem or f"{inspector.id}:verify:{uuid.uuid4()}",
        payload={"passed": passed, "note": note, "photos": ids},
        text=note,
        category_code=case.category_code,
        lon=case.lon,
        lat=case.lat,
        street_code=case.street_code,
        grid_code=case.grid_code,
        actor_id=inspector.id,
        outcome="case",
        case_id=case.id,
        case_code=case.code,
        informed_state=case.state,
        received_at=utcnow(),
    )
    session.add(report)
    session.flush()
    return report


def counts(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per inspector: patrol reports, how many became cases, verifications (for evaluation)."""
    rows = session.execute(
        select(Report.actor_id, Report.kind, func.count(), func.count(Report.case_id))
        .where(Report.channel == "inspector", Report.received_at >= since, Report.received_at < until)
        .group_by(Report.actor_id, Report.kind)
    ).all()
    out: dict[Any, dict[str, Any]] = {}
    for actor, kind, n, with_case in rows:
        entry = out.setdefault(
            actor, {"inspector_id": str(actor), "patrol_reports": 0, "patrol_cases": 0, "verifications": 0}
        )
        if kind == "verification":
            entry["verifications"] += int(n)
        else:
            entry["patrol_reports"] += int(n)
            entry["patrol_cases"] += int(with_case)
    return sorted(out.values(), key=lambda e: -e["patrol_reports"])

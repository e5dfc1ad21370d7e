"""The operations on cases: creation here, the lifecycle in :mod:`cityops.cases.lifecycle`.

This module is the public entry point of the capability; other capabilities and the API call
``create_case``, ``perform_action``, ``get_case`` and ``list_cases`` from here, and the read-only
aggregates of :mod:`cityops.cases.stats` (dispatch counts, recent reports, counts per category ×
street × day, labelled descriptions, reply scores) instead of querying the cases tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import external
from cityops.cases.creation import insert_new_case
from cityops.cases.lifecycle import add_attachments, perform_action
from cityops.cases.models import Case
from cityops.cases.queries import (
    SORTS,
    CaseFilters,
    count_cases,
    get_case,
    list_cases,
    page_cases,
    scope_key,
    visible_case_with_attachment,
)
from cityops.cases.replies import record_reply_score
from cityops.cases.schemas import CaseCreate
from cityops.cases.sla import remaining_seconds
from cityops.cases.stats import (
    DispatchCount,
    RecentReport,
    counts_by_category_street,
    counts_by_category_street_day,
    dispatch_counts,
    labelled_descriptions,
    recent_reports,
    reply_scores,
)
from cityops.config import get_settings
from cityops.db import new_id, utcnow
from cityops.errors import Invalid, NotFound

__all__ = [
    "SORTS",
    "Case",
    "CaseFilters",
    "DispatchCount",
    "RecentReport",
    "add_attachments",
    "check_text",
    "count_cases",
    "counts_by_category_street",
    "counts_by_category_street_day",
    "create_case",
    "create_case_idempotent",
    "dispatch_counts",
    "get_case",
    "labelled_descriptions",
    "list_cases",
    "page_cases",
    "perform_action",
    "recent_reports",
    "record_reply_score",
    "remaining_seconds",
    "reply_scores",
    "scope_key",
    "visible_case_with_attachment",
]


def check_text(value: str | None, field: str, limit: int, *, required: bool = False) -> str | None:
    """Strip ``value`` and check it is present (if required) and within ``limit`` characters."""
    text = (value or "").strip()
    if required and not text:
        raise Invalid(f"{field} 不能为空", f"{field} must not be empty", details={"field": field})
    if len(text) > limit:
        raise Invalid(
            f"{field} 最多 {limit} 个字符，当前 {len(text)} 个",
            f"{field} may have at most {limit} characters, got {len(text)}",
            code="too_long",
            details={"field": field, "max_chars": limit, "chars": len(text)},
        )
    return text or None


def _find_idempotent(session: Session, principal: Principal, key: str, data: CaseCreate) -> Case | None:
    """The case an earlier request with ``key`` created; refuses a key reused for another report."""
    earlier = session.scalars(
        select(Case).where(Case.created_by_id == principal.id, Case.idempotency_key == key)
    ).first()
    if earlier is not None and (
        earlier.description != (data.description or "").strip() or earlier.category_code != data.category_code
    ):
        # The middleware compares whole requests; this catches what reaches the case row (a race,
        # or a lost answer record): a second report under one key must not vanish silently.
        raise Invalid(
            "该 Idempotency-Key 已用于另一份上报，请换一个新的键",
            "This Idempotency-Key was used for a different report; use a new key",
            code="idempotency_key_reused",
        )
    return earlier


def create_case(
    session: Session,
    principal: Principal,
    data: CaseCreate,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Create a case in state ``reported`` (or return the earlier one for a repeated key)."""
    return create_case_idempotent(session, principal, data, idempotency_key=idempotency_key, now=now)[0]


def create_case_idempotent(
    session: Session,
    principal: Principal,
    data: CaseCreate,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[Case, bool]:
    """Like :func:`create_case`, also telling whether a new case was made (False = replay).

    Everything is validated before anything is written, so bad input writes nothing.
    """
    settings = get_settings()
    now = now or utcnow()
    key = check_text(idempotency_key, "Idempotency-Key", 128)
    if key is not None:
        earlier = _find_idempotent(session, principal, key, data)
        if earlier is not None:
            return earlier, False

    description = check_text(data.description, "description", settings.max_description_chars, required=True)
    address = check_text(data.address, "address", 300)
    lon, lat = external.validate_lonlat(data.lon, data.lat)
    loc = external.locate(session, lon, lat, data.crs)
    try:
        external.get_category(session, data.category_code)  # cached; creation is the hot path
    except NotFound:
        raise external.unknown_category(data.category_code) from None
    areas = [c for c in (loc.grid_code, loc.community_code, loc.street_code, loc.district_code) if c]
    try:
        department = external.responsible_department(session, data.category_code, areas)
    except Invalid:
        # No responsibility row yet: keep the report; the dispatcher names a department.
        department = None

    case = Case(
        id=new_id(),
        code="",  # allocated when written
        state="reported",
        category_code=data.category_code,
        description=description,
        address=address,
        lon=float(loc.lon),
        lat=float(loc.lat),
        location_approximate=bool(data.location_approximate),
        grid_code=loc.grid_code,
        community_code=loc.community_code,
        street_code=loc.street_code,
        grade=getattr(loc, "grade", None),
        department_code=department,
        source=data.source,
        reporter_user_id=principal.id if principal.role == "citizen" else None,
        reporter_name=check_text(data.reporter_name, "reporter_name", 100),
        reporter_phone=check_text(data.reporter_phone, "reporter_phone", 30),
        created_by_id=principal.id,
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )
    details: dict[str, Any] = {"source": data.source, "category_code": data.category_code}
    if key is None:
        insert_new_case(session, case, principal, now, details)
        return case, True
    # With a key, two concurrent retries may race; the unique constraint decides the winner.
    try:
        with session.begin_nested():
            insert_new_case(session, case, principal, now, details)
    except IntegrityError:
        earlier = _find_idempotent(session, principal, key, data)
        if earlier is None:
            raise
        return earlier, False
    return case, True

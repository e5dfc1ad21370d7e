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
from cityops.areas import service as areas
from cityops.cases import external, satisfaction
from cityops.cases.creation import insert_new_case
from cityops.cases.lifecycle import add_attachments, apply, perform_action
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
from cityops.cases.satisfaction import SatisfactionCount, satisfaction_counts
from cityops.cases.schemas import ActionInput, CaseCreate, RatingView
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
from cityops.cases.transitions import BY_ACTION, STATE_NAMES_ZH
from cityops.config import get_settings
from cityops.db import new_id, utcnow
from cityops.errors import Conflict, Forbidden, Invalid, NotFound

__all__ = [
    "SORTS",
    "Case",
    "CaseFilters",
    "DispatchCount",
    "RecentReport",
    "SatisfactionCount",
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
    "rate_by_token",
    "rating_view",
    "recent_reports",
    "record_reply_score",
    "remaining_seconds",
    "reply_scores",
    "satisfaction_counts",
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


def _require_in_area(session: Session, principal: Principal, loc: Any) -> None:
    """Forbidden when an area-scoped creator reports outside their area.

    Such a user could not see the case afterwards (it would be 404 to them), so it is refused
    rather than routed: the report belongs to the other street's own operators, or to the
    district-wide ones, and the message says where this user may file.
    """
    area = principal.area_code
    if not area or principal.role == "citizen":
        return
    codes = (loc.street_code, loc.community_code)
    if area in codes or (loc.grid_code or "").startswith(area):
        return
    try:
        name = str(areas.get_area(session, area).name)
    except NotFound:
        name = area
    raise Forbidden(
        f"您只能在{name}（{area}）范围内上报案件，该位置不在此范围内；请交由所在街道或区级受理员上报",
        f"you may only file cases inside {name} ({area}); this point is outside it — "
        "leave it to that street's operators or the district-wide ones",
        code="outside_your_area",
        details={"area_code": area, "street_code": loc.street_code, "field": "lon"},
    )


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
    _require_in_area(session, principal, loc)
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


# -- the reporter's rating link (回访·评价) ----------------------------------------------------


def rating_view(session: Session, token: str, *, reopened: bool = False) -> RatingView:
    """What the rating link shows (NotFound for a token that is not a link)."""
    row, case = satisfaction.find_by_token(session, token)
    return RatingView(
        code=case.code,
        state=case.state,
        state_name=STATE_NAMES_ZH.get(case.state, case.state),
        category_name=external.category_name(session, case.category_code),
        closed_at=case.closed_at,
        expires_at=row.expires_at,
        satisfaction=row.result,
        satisfaction_name=satisfaction.RESULT_NAMES_ZH.get(row.result or ""),
        reopened=reopened,
    )


def rate_by_token(
    session: Session,
    token: str,
    result: str,
    comment: str | None,
    *,
    now: datetime | None = None,
    request_id: str | None = None,
) -> RatingView:
    """The reporter rates a closing through the link sent to them; the token is the credential.

    The same ``rate`` action as a signed-in reporter's, logged under the reporter (or the link
    when the report was anonymous). A dissatisfied rating may reopen the case (see the docs).
    """
    now = now or utcnow()
    row, case = satisfaction.find_by_token(session, token)
    satisfaction.check_result(result)
    satisfaction.check_open(row, now)
    if case.state != "closed" or row.round != (case.reopened_count or 0):
        raise Conflict(
            "案件已重新办理，此次评价已不适用",
            "the case has been reopened since; this rating no longer applies",
            code="rating_closed",
            details={"state": case.state},
        )
    reporter = Principal(
        id=case.reporter_user_id or satisfaction.LINK_USER_ID,
        username=satisfaction.LINK_USERNAME,
        role="citizen",
    )
    body = ActionInput.model_validate({"satisfaction": result, "note": comment})
    apply(session, reporter, case, BY_ACTION["rate"], body, now=now, request_id=request_id)
    return rating_view(session, token, reopened=case.state != "closed")

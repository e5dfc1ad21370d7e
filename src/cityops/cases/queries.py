"""Reading cases, always through the caller's scope.

Scoping is one SQL condition built in :func:`scope_condition`, so every read (one case, lists,
logs, actions) applies the same rule. A case outside the scope is NotFound, never Forbidden,
so its existence is not revealed.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from cityops.accounts.principal import DISTRICT_WIDE, Principal
from cityops.cases.codes import looks_like_code
from cityops.cases.models import Case, CaseLog, CaseTask
from cityops.errors import Invalid, NotFound

MAX_LIMIT = 200


def scope_condition(principal: Principal) -> ColumnElement[bool]:
    """The SQL condition selecting the cases ``principal`` may see.

    The caller's values are named bind parameters (``scope_*``), so the statement's shape depends
    only on the kind of caller: :func:`read_case` compiles each shape once.
    """
    if principal.role == "citizen":
        return Case.reporter_user_id == bindparam("scope_user", principal.id, type_=Uuid())
    if principal.role == "handler":
        if principal.department_code is None:
            return false()
        dept = bindparam("scope_department", principal.department_code, type_=String())
        # An uncorrelated IN, evaluated once: a correlated EXISTS let SQLite probe the department's
        # tasks once per case (a handler's list of 20,000 demo cases took 1.6 s; now milliseconds).
        with_task = select(CaseTask.case_id).where(
            CaseTask.department_code == dept, CaseTask.state != "cancelled"
        )
        return or_(Case.department_code == dept, Case.id.in_(with_task))
    if principal.area_code:
        area = bindparam("scope_area", principal.area_code, type_=String())
        # Area codes nest (grid codes start with their community's, which start with the street's).
        return or_(Case.street_code == area, Case.community_code == area, Case.grid_code.startswith(area))
    if principal.role in DISTRICT_WIDE:
        return true()
    return false()


def scope_parameters(principal: Principal) -> dict[str, Any]:
    """The values of :func:`scope_condition`'s named parameters for ``principal``."""
    shape = _scope_shape(principal)
    if shape == "citizen":
        return {"scope_user": principal.id}
    if shape == "department":
        return {"scope_department": principal.department_code}
    if shape == "area":
        return {"scope_area": principal.area_code}
    return {}


def scope_key(principal: Principal) -> tuple[str, ...]:
    """A hashable key naming the set of cases ``principal`` sees: part of every cache key of an
    aggregate over cases, so a street's figures are never served to another street."""
    return (_scope_shape(principal), *(str(v) for v in scope_parameters(principal).values()))


def _scope_shape(principal: Principal) -> str:
    """Which branch of :func:`scope_condition` applies (the statement's shape, not its values)."""
    if principal.role == "citizen":
        return "citizen"
    if principal.role == "handler":
        return "department" if principal.department_code is not None else "nothing"
    if principal.area_code:
        return "area"
    return "district" if principal.role in DISTRICT_WIDE else "nothing"


def _not_found(ref: object) -> NotFound:
    return NotFound(
        "找不到该案件",
        f"no case {ref!s} (or it is outside your scope)",
        code="case_not_found",
        details={"case": str(ref)},
    )


def _ref_value(ref: str | uuid.UUID) -> tuple[str, str | uuid.UUID]:
    """("id", uuid) or ("code", code) for a case reference; NotFound when it is neither."""
    if isinstance(ref, uuid.UUID):
        return "id", ref
    if looks_like_code(ref):
        return "code", ref
    try:
        return "id", uuid.UUID(ref)
    except ValueError:
        raise _not_found(ref) from None


def _ref_condition(ref: str | uuid.UUID) -> ColumnElement[bool]:
    kind, value = _ref_value(ref)
    if kind == "code":
        return Case.code == bindparam("ref_code", value, type_=String())
    return Case.id == bindparam("ref_id", value, type_=Uuid())


def get_case(session: Session, principal: Principal, ref: str | uuid.UUID) -> Case:
    """The case with id or code ``ref`` if ``principal`` may see it, else NotFound."""
    case = session.scalars(select(Case).where(_ref_condition(ref), scope_condition(principal))).first()
    if case is None:
        raise _not_found(ref)
    return case


def get_case_by_code_public(session: Session, code: str) -> Case:
    """A case by its human code, for the public page (no scope: the code is the capability)."""
    case = session.scalars(select(Case).where(Case.code == code)).first() if looks_like_code(code) else None
    if case is None:
        raise _not_found(code)
    return case


def tasks_of(session: Session, case_id: uuid.UUID) -> list[CaseTask]:
    """The co-handling tasks of a case (cancelled ones too), oldest first."""
    return list(session.scalars(select(CaseTask).where(CaseTask.case_id == case_id).order_by(CaseTask.id)))


def log_of(session: Session, case_id: uuid.UUID) -> list[CaseLog]:
    """The log rows of a case in order."""
    return list(session.scalars(select(CaseLog).where(CaseLog.case_id == case_id).order_by(CaseLog.seq)))


@dataclass(frozen=True)
class CaseFilters:
    """Filters of the case list; None means "any"."""

    state: str | None = None
    category_code: str | None = None
    street_code: str | None = None
    grid_code: str | None = None
    department_code: str | None = None
    overdue: bool | None = None
    escalated: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # For the workbenches: nearly overdue (warned), and waiting for a dispatcher's decision
    # (an extension or parking request, or a return by the department).
    warned: bool | None = None
    needs_approval: bool | None = None
    # Full-text search in the description (cases.search: bigram index, then substring check).
    text: str | None = None


def encode_cursor(case: Case) -> str:
    raw = json.dumps([case.created_at.isoformat(), str(case.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, ident = json.loads(raw)
        return datetime.fromisoformat(at), uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise Invalid(
            "分页游标无效",
            "the cursor is not valid; use next_cursor from the previous page",
            code="invalid_cursor",
            details={"field": "cursor"},
        ) from None


def _filtered(stmt: Select[Any], f: CaseFilters) -> Select[Any]:
    if f.state:
        states = [s for s in f.state.split(",") if s]
        stmt = stmt.where(Case.state.in_(states))
    for column, value in (
        (Case.category_code, f.category_code),
        (Case.street_code, f.street_code),
        (Case.grid_code, f.grid_code),
        (Case.department_code, f.department_code),
        (Case.overdue, f.overdue),
        (Case.escalated, f.escalated),
        (Case.warned, f.warned),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if f.text:
        from cityops.cases.search import check_query, matches

        query = check_query(f.text)
        if query:
            stmt = stmt.where(matches(query))
    if f.needs_approval is not None:
        waiting = or_(Case.extension_requested, Case.park_requested, Case.state == "returned")
        stmt = stmt.where(waiting if f.needs_approval else ~waiting)
    if f.created_from is not None:
        stmt = stmt.where(Case.created_at >= f.created_from)
    if f.created_to is not None:
        stmt = stmt.where(Case.created_at < f.created_to)
    return stmt


def list_cases(
    session: Session,
    principal: Principal,
    filters: CaseFilters | None = None,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Case], str | None]:
    """A page of visible cases, newest first, and the cursor of the next page (or None)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(
            f"limit 必须在 1 到 {MAX_LIMIT} 之间",
            f"limit must be between 1 and {MAX_LIMIT}",
            details={"field": "limit"},
        )
    stmt = _filtered(select(Case).where(scope_condition(principal)), filters or CaseFilters())
    if cursor:
        at, ident = decode_cursor(cursor)
        stmt = stmt.where(or_(Case.created_at < at, and_(Case.created_at == at, Case.id < ident)))
    rows: list[Case] = list(
        session.scalars(stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1))
    )
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


# Orders of page_cases: the newest first, or the least remaining working time first. Deadlines
# are computed on the working calendar, so an earlier deadline is less working time left;
# cases without a deadline (not yet dispatched) come last.
SORTS = ("newest", "deadline")


def count_cases(
    session: Session, principal: Principal, filters: CaseFilters | None = None, *, cap: int | None = None
) -> int:
    """How many cases ``principal`` sees with ``filters`` (one COUNT in SQL).

    With ``cap`` the count stops after ``cap + 1`` cases: the answer is exact up to ``cap`` and
    ``cap + 1`` means "more than ``cap``". Counting a million cases (or a common word's 200,000)
    reads them all; a capped count reads at most ``cap + 1`` (the pages use it).
    """
    if cap is not None:
        inner = _filtered(select(Case.id).where(scope_condition(principal)), filters or CaseFilters())
        stmt = select(func.count()).select_from(inner.limit(cap + 1).subquery())
        return int(session.scalar(stmt) or 0)
    stmt = select(func.count()).select_from(Case).where(scope_condition(principal))
    stmt = _filtered(stmt, filters or CaseFilters())
    return int(session.scalar(stmt) or 0)


def page_cases(
    session: Session,
    principal: Principal,
    filters: CaseFilters | None = None,
    *,
    sort: str = "newest",
    offset: int = 0,
    limit: int = 50,
    count_cap: int | None = None,
) -> tuple[list[Case], int]:
    """A numbered page of visible cases and the total they come from (for lists with totals).

    With ``count_cap`` the total is counted only up to ``offset + count_cap`` (see
    :func:`count_cases`): a total above that bound means "more than the bound".
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(
            f"limit 必须在 1 到 {MAX_LIMIT} 之间",
            f"limit must be between 1 and {MAX_LIMIT}",
            details={"field": "limit"},
        )
    if sort not in SORTS:
        raise Invalid(
            f"排序方式无效，应为 {'、'.join(SORTS)}",
            f"sort must be one of {', '.join(SORTS)}",
            details={"field": "sort", "allowed": list(SORTS)},
        )
    if not 0 <= offset <= 10_000_000:
        raise Invalid("offset 超出范围", "offset is out of range", details={"field": "offset"})
    stmt = _filtered(select(Case).where(scope_condition(principal)), filters or CaseFilters())
    order = (
        (Case.created_at.desc(), Case.id.desc())
        if sort == "newest"
        else (Case.deadline.is_(None), Case.deadline.asc(), Case.id.asc())
    )
    rows = list(session.scalars(stmt.order_by(*order).offset(offset).limit(limit)))
    cap = offset + count_cap if count_cap is not None else None
    if not rows and not offset:
        total = 0
    elif cap is not None and 0 < len(rows) < limit:
        total = offset + len(rows)  # the last page: nothing to count
    else:
        total = count_cases(session, principal, filters, cap=cap)
    return rows, total


def visible_case_with_attachment(session: Session, principal: Principal, attachment_id: uuid.UUID) -> bool:
    """Whether ``principal`` can see a case whose log references the attachment.

    Attachment ids are random UUIDs, so a text match on the log's JSON is exact in practice and
    works the same on SQLite and PostgreSQL.
    """
    from sqlalchemy import String, cast

    case_ids = session.scalars(
        select(CaseLog.case_id).where(cast(CaseLog.attachments, String).like(f"%{attachment_id}%")).distinct()
    ).all()
    for case_id in case_ids:
        try:
            get_case(session, principal, case_id)
        except NotFound:
            continue
        return True
    return False

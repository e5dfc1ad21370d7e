"""Turning case rows into response shapes, with personal data masked unless asked for.

Reporter name and phone are masked by default. Staff whose role needs them (operators,
dispatchers, admins) may ask for them in clear with ``?reveal=true``; every such response writes
one audit record, so reads of personal data can be traced to a person and a request. Masking by
default keeps ordinary reads free of writes and shows contact details only when someone needs them.

Phone and ID numbers that people type into the description, the address or a note are personal
data too: they are masked together with the structured fields (``accounts.masking.mask_text``)
and shown by the same audited reveal. A citizen reading its own case's log sees what the public
page shows plus its own entries (:func:`log_for`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.masking import contains_personal, mask_text, mask_texts
from cityops.accounts.principal import ROLE_LABELS, Principal
from cityops.cases import external
from cityops.cases.models import Case, CaseLog, CaseTask
from cityops.cases.permissions import allowed_for
from cityops.cases.queries import tasks_of
from cityops.cases.record import CaseRecord
from cityops.cases.satisfaction import RESULT_NAMES_ZH
from cityops.cases.schemas import CaseOut, DepartmentRef, LogOut, SatisfactionOut, TaskOut
from cityops.cases.transitions import PUBLIC_ACTIONS
from cityops.db import utcnow


def _dept_ref(session: Session, code: str | None) -> DepartmentRef | None:
    return None if code is None else DepartmentRef(code=code, name=external.department_name(session, code))


def _task_out(session: Session, task: CaseTask, reveal: bool = True) -> TaskOut:
    return TaskOut(
        department=DepartmentRef(
            code=task.department_code, name=external.department_name(session, task.department_code)
        ),
        role=task.role,
        state=task.state,
        deadline=task.deadline,
        accepted_at=task.accepted_at,
        done_at=task.done_at,
        note=task.note if reveal else mask_text(task.note),
    )


def _satisfaction(case: Case | CaseRecord) -> SatisfactionOut | None:
    if case.satisfaction is None:
        return None
    return SatisfactionOut(
        result=case.satisfaction,
        result_name=RESULT_NAMES_ZH.get(case.satisfaction, case.satisfaction),
        channel=case.satisfaction_channel,
        rated_at=case.satisfaction_at,
    )


def _has_personal(case: Case | CaseRecord) -> bool:
    return bool(case.reporter_name or case.reporter_phone) or _text_fields(case) != []


def _text_fields(case: Case | CaseRecord) -> list[str]:
    """The free-text fields of ``case`` holding a phone or ID number."""
    return [f for f in ("description", "address") if contains_personal(getattr(case, f))]


def _personal_fields(case: Case | CaseRecord) -> list[str]:
    """What an unmasked view of ``case`` shows of personal data, for the audit record."""
    fields = [f for f in ("reporter_name", "reporter_phone") if getattr(case, f)]
    return fields + _text_fields(case)


def case_out(
    session: Session,
    principal: Principal,
    case: Case | CaseRecord,
    *,
    reveal: bool,
    with_tasks: bool = True,
    task_rows: Sequence[CaseTask] | None = None,
) -> CaseOut:
    """One case as a response; ``reveal`` decides whether reporter contact is shown in clear.

    ``task_rows`` are the case's tasks when the caller already has them (list pages load them
    for all cases at once); otherwise they are read here when the case has been dispatched.
    """
    name, phone = case.reporter_name, case.reporter_phone
    description, address = case.description, case.address
    if not reveal:
        name, phone = external.mask_name(name), external.mask_phone(phone)
        description, address = mask_text(description) or "", mask_text(address)
    # Tasks exist only from dispatch on; skipping the query before that keeps creation lean.
    if task_rows is None:
        task_rows = tasks_of(session, case.id) if case.dispatched_at is not None else []
    tasks = [_task_out(session, t, reveal) for t in task_rows if t.state != "cancelled"] if with_tasks else []
    return CaseOut(
        id=case.id,
        code=case.code,
        state=case.state,
        # What this caller may do now (state, flags, role, lead/assisting department), for the UI.
        allowed_actions=allowed_for(principal, case, task_rows, utcnow()),
        category_code=case.category_code,
        category_name=external.category_name(session, case.category_code),
        description=description,
        address=address,
        lon=case.lon,
        lat=case.lat,
        location_approximate=bool(case.location_approximate),
        grid_code=case.grid_code,
        community_code=case.community_code,
        street_code=case.street_code,
        grade=case.grade,
        department=_dept_ref(session, case.department_code),
        source=case.source,
        reporter_name=name,
        reporter_phone=phone,
        created_at=case.created_at,
        filed_at=case.filed_at,
        dispatched_at=case.dispatched_at,
        handled_at=case.handled_at,
        closed_at=case.closed_at,
        deadline=case.deadline,
        warn_at=case.warn_at,
        warned=case.warned,
        overdue=case.overdue,
        escalated=case.escalated,
        extension_requested=case.extension_requested,
        extension_hours=case.extension_hours,
        extended_hours=case.extended_hours or 0.0,
        extensions_granted=case.extensions_granted or 0,
        verify_deadline=case.verify_deadline,
        verify_overdue=bool(case.verify_overdue),
        rework_count=case.rework_count or 0,
        park_requested=case.park_requested,
        parked_at=case.parked_at,
        paused_seconds=case.paused_seconds or 0.0,
        reopened_count=case.reopened_count or 0,
        reply_score=case.reply_score,
        satisfaction=_satisfaction(case),
        tasks=tasks,
        version=case.version,
    )


def _reveal(principal: Principal, case: Case | CaseRecord, requested: bool) -> bool:
    # A citizen sees their own contact details; staff only on request and when their role needs them.
    if principal.role == "citizen" and case.reporter_user_id == principal.id:
        return True
    return requested and external.reveal_allowed(principal)


def view_case(
    session: Session,
    principal: Principal,
    case: Case | CaseRecord,
    *,
    request_id: str | None = None,
    reveal: bool = False,
) -> CaseOut:
    """The response for one case; audits a read of unmasked personal data by staff."""
    reveal = _reveal(principal, case, reveal)
    if reveal and _has_personal(case) and principal.role != "citizen":
        external.audit(
            session,
            principal,
            "personal_data.read",
            str(case.id),
            {"code": case.code, "fields": _personal_fields(case)},
            request_id,
        )
    return case_out(session, principal, case, reveal=reveal)


def _tasks_by_case(
    session: Session, principal: Principal, cases: Sequence[Case]
) -> dict[object, list[CaseTask]]:
    """Tasks of the listed cases in one query; only handlers' actions depend on them."""
    ids = [c.id for c in cases if c.dispatched_at is not None]
    if principal.role != "handler" or not ids:
        return {}
    out: dict[object, list[CaseTask]] = {}
    rows = session.scalars(select(CaseTask).where(CaseTask.case_id.in_(ids), CaseTask.state != "cancelled"))
    for task in rows:
        out.setdefault(task.case_id, []).append(task)
    return out


def view_cases(
    session: Session,
    principal: Principal,
    cases: Sequence[Case],
    *,
    request_id: str | None = None,
    reveal: bool = False,
) -> list[CaseOut]:
    """A list page (without tasks); one audit record names every case shown unmasked."""
    out: list[CaseOut] = []
    revealed: list[str] = []
    fields: set[str] = set()
    tasks = _tasks_by_case(session, principal, cases)
    for case in cases:
        shown = _reveal(principal, case, reveal)
        if shown and _has_personal(case) and principal.role != "citizen":
            revealed.append(case.code)
            fields.update(_personal_fields(case))
        rows = tasks.get(case.id, [])
        out.append(case_out(session, principal, case, reveal=shown, with_tasks=False, task_rows=rows))
    if revealed:
        external.audit(
            session,
            principal,
            "personal_data.read",
            "list",
            {"codes": revealed, "fields": sorted(fields)},
            request_id,
        )
    return out


def log_out(row: CaseLog, *, reveal: bool = True) -> LogOut:
    """One log row; with ``reveal`` false, phone and ID numbers in its note and data are masked."""
    return LogOut(
        seq=row.seq,
        at=row.at,
        actor_name=row.actor_name,
        actor_role=row.actor_role,
        action=row.action,
        from_state=row.from_state,
        to_state=row.to_state,
        note=row.note if reveal else mask_text(row.note),
        attachments=list(row.attachments or []),
        data=dict(row.data or {}) if reveal else mask_texts(dict(row.data or {})),
    )


def _public_entry(row: CaseLog) -> LogOut:
    """A log row as its reporter may see it: what happened and when, not who, why or with what."""
    return LogOut(
        seq=row.seq,
        at=row.at,
        actor_name=ROLE_LABELS.get(row.actor_role, row.actor_role),
        actor_role=row.actor_role,
        action=row.action,
        from_state=row.from_state,
        to_state=row.to_state,
        note=None,
        attachments=[],
        data={},
    )


def log_for(
    session: Session,
    principal: Principal,
    case: Case,
    rows: Sequence[CaseLog],
    *,
    request_id: str | None = None,
    reveal: bool = False,
) -> list[LogOut]:
    """The case log as ``principal`` may read it.

    A citizen (only ever its own case: the scope saw to that) gets the public page's history
    plus its own entries, without staff names, internal notes or departments' return reasons.
    Staff get every row, with numbers in notes masked unless they may and do ask to reveal them
    (audited once per read, naming the log).
    """
    if principal.role == "citizen":
        return [
            log_out(row) if row.actor_id == principal.id else _public_entry(row)
            for row in rows
            if row.actor_id == principal.id or row.action in PUBLIC_ACTIONS
        ]
    shown = reveal and external.reveal_allowed(principal)
    if shown:
        texts = [row.seq for row in rows if contains_personal(row.note) or mask_texts(row.data) != row.data]
        if texts:
            external.audit(
                session,
                principal,
                "personal_data.read",
                str(case.id),
                {"code": case.code, "fields": ["log"], "log_seq": texts},
                request_id,
            )
    return [log_out(row, reveal=shown) for row in rows]

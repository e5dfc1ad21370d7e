"""Performing a lifecycle action: find, check state, check who, act, log — in one transaction.

Order of checks: the case must be visible (else 404), the action must be possible in its state
(else 409 listing what is), the caller must have the role and be the right department or
reporter (else 403), the body must carry what the action needs (else 422). Concurrency: the
case row carries a version; the UPDATE matches the version that was read, so of two concurrent
actions only one can succeed, the other gets 409 ``concurrent_update``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cityops import events
from cityops.accounts.principal import Principal
from cityops.cases import journal
from cityops.cases.actions import HANDLERS, Act
from cityops.cases.models import Case
from cityops.cases.permissions import authorize
from cityops.cases.queries import get_case
from cityops.cases.schemas import ActionInput
from cityops.cases.transitions import ACTIONS, BY_ACTION, Transition, check
from cityops.config import get_settings
from cityops.db import utcnow
from cityops.errors import Conflict, Invalid, NotFound


def normalise_action(action: str) -> str:
    """URL spelling (``request-extension``) → table spelling (``request_extension``)."""
    name = action.replace("-", "_")
    if name not in BY_ACTION:
        raise NotFound(
            f"未知的操作：{action}",
            f"unknown action {action!r}; use one of: {', '.join(a.replace('_', '-') for a in ACTIONS)}",
            code="unknown_action",
            details={"action": action, "actions": [a.replace("_", "-") for a in ACTIONS]},
        )
    return name


def _text(value: str | None, field: str) -> str | None:
    # Late import: service imports this module.
    from cityops.cases.service import check_text

    return check_text(value, field, get_settings().max_note_chars)


def _require(t: Transition, note: str | None, reason: str | None, body: ActionInput) -> None:
    for name in t.requires:
        missing = (
            (name == "reason" and not reason)
            or (name == "note" and not note)
            or (name == "passed" and body.passed is None)
            or (name == "extra_hours" and body.extra_hours is None)
            or (name == "category_code" and not (body.category_code or "").strip())
            or (name == "satisfaction" and body.satisfaction is None)
        )
        if missing:
            raise Invalid(
                f"“{t.zh}”需要填写 {name}",
                f"{t.action} needs {name}",
                code="missing_field",
                details={"field": name, "action": t.action},
            )


def _attachments(session: Session, principal: Principal, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Describe uploaded attachments for the log; an unknown id, or somebody else's upload the
    caller may not attach, is refused (the same answer) before anything is written."""
    from cityops.attachments.service import get_attachable

    described = []
    for attachment_id in dict.fromkeys(ids):
        try:
            row = get_attachable(session, principal, attachment_id)
        except NotFound:
            raise Invalid(
                f"附件 {attachment_id} 不存在，请先通过 /api/v1/attachments 上传",
                f"attachment {attachment_id} does not exist; upload it first with POST /api/v1/attachments",
                code="unknown_attachment",
                details={"field": "attachments", "id": str(attachment_id)},
            ) from None
        described.append(
            {"id": str(row.id), "filename": row.filename, "content_type": row.content_type, "size": row.size}
        )
    return described


def perform_action(
    session: Session,
    principal: Principal,
    ref: str | uuid.UUID,
    action: str,
    body: ActionInput | None = None,
    *,
    now: datetime | None = None,
    request_id: str | None = None,
) -> Case:
    """Perform ``action`` (e.g. "dispatch", "request-extension") on the case ``ref`` (id or code).

    Raises NotFound (unknown action, case not visible), Conflict (not allowed in this state,
    stale version), Forbidden (wrong role or department), Invalid (missing or bad fields).
    """
    name = normalise_action(action)
    body = body or ActionInput()
    now = now or utcnow()
    case = get_case(session, principal, ref)
    if body.version is not None and body.version != case.version:
        raise Conflict(
            "案件已被他人修改，请刷新后重试",
            "the case changed since you read it; reload and retry",
            code="version_mismatch",
            details={"version": case.version},
        )
    t = check(case, name)
    authorize(principal, case, t)
    return apply(session, principal, case, t, body, now=now, request_id=request_id)


def apply(
    session: Session,
    principal: Principal,
    case: Case,
    t: Transition,
    body: ActionInput,
    *,
    now: datetime,
    request_id: str | None = None,
) -> Case:
    """Perform the checked transition ``t`` on ``case``: validate the body, act, log, flush.

    The caller has found the case and checked the state (:func:`check`) and who acts. Besides
    :func:`perform_action` this serves the reporter's rating link, which proves who it is by
    its token rather than by signing in.
    """
    name = t.action
    note = _text(body.note, "note")
    # A reason may come as `reason` or, for simple clients, as `note`.
    reason = _text(body.reason, "reason") or note
    _require(t, note, reason, body)
    act = Act(session, principal, case, body, t, now, note, reason)
    from_state = case.state
    # No autoflush while acting: the handler's reads (tasks, calendar) would otherwise flush the
    # case half-changed, costing an extra UPDATE (and version bump) per action.
    with session.no_autoflush:
        to_state = HANDLERS[name](act)
        case.state = to_state
        journal.append(
            session,
            case,
            principal,
            name,
            from_state,
            to_state,
            at=now,
            note=note,
            attachments=_attachments(session, principal, body.attachments),
            data=act.data,
            request_id=request_id,
        )
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "案件刚被他人修改，请刷新后重试",
            "someone else changed the case at the same time; reload and retry",
            code="concurrent_update",
        ) from None
    for event in act.events:  # the subscribers see the change as written (same transaction)
        events.emit(session, event)
    return case


def add_attachments(
    session: Session,
    principal: Principal,
    ref: str | uuid.UUID,
    ids: list[uuid.UUID],
    *,
    note: str | None = None,
    now: datetime | None = None,
    request_id: str | None = None,
) -> Case:
    """Record photos sent with a report (or later by its reporter) as an "attach" log row.

    Not a transition: the state stays. Only someone who sees the case may attach, and only
    files that exist (uploaded first), so the log never points at a missing file.
    """
    now = now or utcnow()
    case = get_case(session, principal, ref)
    described = _attachments(session, principal, ids)
    if not described:
        return case
    with session.no_autoflush:
        journal.append(
            session,
            case,
            principal,
            "attach",
            case.state,
            case.state,
            at=now,
            note=_text(note, "note"),
            attachments=described,
            request_id=request_id,
        )
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(
            "案件刚被他人修改，请刷新后重试",
            "someone else changed the case at the same time; reload and retry",
            code="concurrent_update",
        ) from None
    return case

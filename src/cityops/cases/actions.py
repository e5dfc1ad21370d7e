"""What each lifecycle action does to the case beyond its state change.

Each handler receives an :class:`Act` (the case, the caller, the body, the time) after the
state machine and the permission checks have passed, changes the case's fields, queues the
notifications, and returns the next state. :mod:`cityops.cases.lifecycle` writes the log row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import cohandling, external, sla, supervision
from cityops.cases.events import CaseHandled, CaseRecategorised
from cityops.cases.models import Case, CaseLog
from cityops.cases.schemas import ActionInput
from cityops.cases.transitions import Transition, next_state
from cityops.config import get_settings
from cityops.errors import Conflict, Invalid, NotFound


@dataclass
class Act:
    session: Session
    principal: Principal
    case: Case
    body: ActionInput
    t: Transition
    now: datetime
    note: str | None
    reason: str | None
    data: dict[str, Any] = field(default_factory=dict)
    # Domain events for the capabilities above cases, emitted once the change is flushed.
    events: list[Any] = field(default_factory=list)

    def tell(self, topic: str, recipients: list[str], **extra: Any) -> None:
        c = self.case
        # The area lets the outbox show a role-wide notice only to staff whose scope holds the case.
        area = c.grid_code or c.community_code or c.street_code
        payload = {"case_id": str(c.id), "code": c.code, "area_code": area, **extra}
        external.notify(self.session, topic, payload, recipients)


def _dept(code: str | None) -> list[str]:
    return [f"department:{code}"] if code else []


DISPATCHERS = ["role:dispatcher"]


def _check_department(a: Act, code: str, field_name: str) -> str:
    row = external.department(a.session, code)
    if row is None or not row["active"]:
        raise Invalid(
            f"未知或已停用的部门：{code}",
            f"unknown or inactive department {code!r}",
            code="unknown_department",
            details={"field": field_name, "department_code": code},
        )
    return code


def file(a: Act) -> str:
    a.case.filed_at = a.now
    return next_state(a.t, a.case)


def reject(a: Act) -> str:
    a.data["reason"] = a.reason
    return next_state(a.t, a.case)


def dispatch(a: Act) -> str:
    lead = a.body.department_code or a.case.department_code
    if not lead:
        raise Invalid(
            "没有责任部门，请指定 department_code",
            "no responsible department; give department_code",
            details={"field": "department_code"},
        )
    lead = _check_department(a, lead, "department_code")
    assists: list[str] = []
    for code in a.body.assist_department_codes:
        if code != lead and code not in assists:
            assists.append(_check_department(a, code, "assist_department_codes"))
    cohandling.cancel_open_tasks(a.session, a.case)
    a.case.department_code = lead
    a.case.dispatched_at = a.now
    a.case.extension_requested = a.case.park_requested = False
    sla.start(a.session, a.case, a.now)
    cohandling.create_tasks(a.session, a.case, lead, assists, a.now)
    deadline = a.case.deadline.isoformat() if a.case.deadline else None
    a.data.update(department_code=lead, assist_department_codes=assists, deadline=deadline)
    a.data["category_code"] = a.case.category_code  # what accurate-dispatch figures count under
    a.tell("case.dispatched", _dept(lead), deadline=deadline, role="lead")
    for code in assists:
        a.tell("case.dispatched", _dept(code), deadline=deadline, role="assist")
    return next_state(a.t, a.case)


def accept(a: Act) -> str:
    a.case.accepted_at = a.now
    cohandling.mark_lead(a.session, a.case, "accepted", a.now)
    return next_state(a.t, a.case)


def return_(a: Act) -> str:
    a.case.returned_count = (a.case.returned_count or 0) + 1
    a.data.update(
        reason=a.reason,
        misrouted=a.body.misrouted,
        department_code=a.case.department_code,
        category_code=a.case.category_code,
    )
    if a.body.misrouted and a.body.category_code:
        # The handler's view of the right category: logged for the dispatcher, who confirms it with
        # `recategorize` (that is when it becomes training data, as a "misrouted_return").
        _check_category(a, a.body.category_code)
        a.data["suggested_category_code"] = a.body.category_code
    cohandling.cancel_open_tasks(a.session, a.case)
    # The clock stops: the case is the dispatcher's again until re-dispatched.
    a.case.deadline = a.case.warn_at = None
    a.tell("case.returned", DISPATCHERS, reason=a.reason, misrouted=a.body.misrouted)
    return next_state(a.t, a.case)


def handle(a: Act) -> str:
    cohandling.require_assists_done(a.session, a.case)
    a.case.handled_at = a.now
    cohandling.mark_lead(a.session, a.case, "handled", a.now, a.note)
    # The reply is scored by a subscriber above cases (record_reply_score writes the score back);
    # the log row this action appends is the case's next sequence number.
    a.events.append(
        CaseHandled(
            case_id=a.case.id,
            code=a.case.code,
            log_seq=(a.case.last_seq or 0) + 1,
            message=a.case.description,
            reply=a.note or "",
            dispatched_at=a.case.dispatched_at,
            handled_at=a.now,
        )
    )
    return next_state(a.t, a.case)


def _check_category(a: Act, code: str) -> str:
    try:
        external.get_category(a.session, code)  # cached
    except NotFound:
        raise external.unknown_category(code) from None
    return code


# Before dispatch, and after a return, the case is the dispatcher's: a new category means the
# responsibility list is asked again. Once a department works on it, the department stays.
_REROUTE_STATES = frozenset({"reported", "filed", "returned"})


def _last_return_misrouted(a: Act) -> bool:
    data = a.session.scalar(
        select(CaseLog.data)
        .where(CaseLog.case_id == a.case.id, CaseLog.action == "return")
        .order_by(CaseLog.seq.desc())
        .limit(1)
    )
    return bool((data or {}).get("misrouted"))


def recategorize(a: Act) -> str:
    case = a.case
    new = _check_category(a, (a.body.category_code or "").strip())
    old = case.category_code
    if new == old:
        raise Invalid(
            f"案件已是该类别：{new}",
            f"the case already has category {new!r}",
            code="same_category",
            details={"field": "category_code"},
        )
    case.category_code = new
    a.data.update(from_category_code=old, to_category_code=new)
    if case.state in _REROUTE_STATES:
        chain = (case.grid_code, case.community_code, case.street_code, get_settings().district_code)
        areas = [c for c in chain if c]
        try:
            department: str | None = external.responsible_department(a.session, new, areas)
        except (Invalid, NotFound):
            department = None  # no responsibility row: the dispatcher names one at dispatch
        a.data.update(from_department_code=case.department_code, to_department_code=department)
        case.department_code = department
    source = "misrouted_return" if case.state == "returned" and _last_return_misrouted(a) else "recategorized"
    a.data["correction_source"] = source
    a.events.append(
        CaseRecategorised(
            case_id=case.id,
            code=case.code,
            text=case.description,
            from_category_code=old,
            to_category_code=new,
            source=source,
        )
    )
    return next_state(a.t, case)


def verify(a: Act) -> str:
    if a.body.passed is None:
        raise Invalid("请给出核查结果 passed", "give passed: true or false", details={"field": "passed"})
    a.data["passed"] = a.body.passed
    if a.body.passed:
        a.case.verified_at = a.now
    else:
        cohandling.mark_lead(a.session, a.case, "accepted", a.now)
        a.tell("case.rework", _dept(a.case.department_code))
    return next_state(a.t, a.case, passed=a.body.passed)


def close(a: Act) -> str:
    a.case.closed_at = a.now
    supervision.resolve_open(a.session, a.case, a.now)
    recipients = [f"user:{a.case.reporter_user_id}"] if a.case.reporter_user_id else []
    a.tell("case.closed", recipients)
    return next_state(a.t, a.case)


def request_extension(a: Act) -> str:
    if a.body.extra_hours is None:
        raise Invalid(
            "请给出延长的小时数 extra_hours", "give extra_hours (> 0)", details={"field": "extra_hours"}
        )
    a.case.extension_requested = True
    a.case.extension_hours = a.body.extra_hours
    a.case.extension_reason = a.reason
    a.data.update(extra_hours=a.body.extra_hours, reason=a.reason)
    a.tell("case.extension_requested", DISPATCHERS, extra_hours=a.body.extra_hours)
    return next_state(a.t, a.case)


def approve_extension(a: Act) -> str:
    # The dispatcher may grant less (or more) than asked.
    hours = a.body.extra_hours or a.case.extension_hours or 0.0
    if hours <= 0:
        raise Invalid("延长小时数必须大于 0", "extra_hours must be > 0", details={"field": "extra_hours"})
    old = a.case.deadline
    sla.extend(a.session, a.case, hours, a.now)
    a.case.extension_requested = False
    a.case.extensions_granted = (a.case.extensions_granted or 0) + 1
    a.case.extended_hours = (a.case.extended_hours or 0.0) + hours
    new = a.case.deadline.isoformat() if a.case.deadline else None
    a.data.update(extra_hours=hours, old_deadline=old.isoformat() if old else None, deadline=new)
    a.tell("case.extension_approved", _dept(a.case.department_code), deadline=new)
    return next_state(a.t, a.case)


def deny_extension(a: Act) -> str:
    a.case.extension_requested = False
    a.tell("case.extension_denied", _dept(a.case.department_code))
    return next_state(a.t, a.case)


def park(a: Act) -> str:
    a.case.park_requested = True
    a.case.park_reason = a.reason
    a.data["reason"] = a.reason
    a.tell("case.park_requested", DISPATCHERS)
    return next_state(a.t, a.case)


def approve_park(a: Act) -> str:
    a.case.park_requested = False
    a.case.parked_from_state = a.case.state
    a.case.parked_at = a.now
    a.tell("case.parked", _dept(a.case.department_code))
    return next_state(a.t, a.case)


def deny_park(a: Act) -> str:
    a.case.park_requested = False
    a.tell("case.park_denied", _dept(a.case.department_code))
    return next_state(a.t, a.case)


def unpark(a: Act) -> str:
    to = next_state(a.t, a.case)
    paused = sla.resume(a.session, a.case, a.now)
    a.data.update(
        paused_seconds=paused,
        parked_at=a.case.parked_at.isoformat() if a.case.parked_at else None,
        deadline=a.case.deadline.isoformat() if a.case.deadline else None,
    )
    a.case.parked_at = None
    a.case.parked_from_state = None
    a.tell("case.unparked", _dept(a.case.department_code), deadline=a.data["deadline"])
    return to


def escalate(a: Act) -> str:
    a.case.escalated = True
    supervision.raise_item(a.session, a.case, "manual", a.principal.id, a.note or a.reason, a.now)
    a.tell("case.escalated", [*DISPATCHERS, *_dept(a.case.department_code)])
    return next_state(a.t, a.case)


def reopen(a: Act) -> str:
    days = get_settings().reopen_days
    if a.case.closed_at is None or a.now > a.case.closed_at + timedelta(days=days):
        raise Conflict(
            f"结案超过 {days} 天，不能重新办理，请重新上报",
            f"the case was closed more than {days} days ago and cannot be reopened; report it again",
            code="reopen_window_passed",
            details={"closed_at": a.case.closed_at.isoformat() if a.case.closed_at else None, "days": days},
        )
    if a.principal.role != "citizen" and not (a.note or a.reason):
        raise Invalid(
            "请写明市民的投诉内容", "give the citizen's complaint as note", details={"field": "note"}
        )
    case = a.case
    case.reopened_count = (case.reopened_count or 0) + 1
    case.closed_at = case.verified_at = case.handled_at = case.accepted_at = None
    case.dispatched_at = a.now
    cohandling.cancel_open_tasks(a.session, case)
    sla.start(a.session, case, a.now)
    cohandling.create_tasks(a.session, case, case.department_code or "", [], a.now)
    deadline = case.deadline.isoformat() if case.deadline else None
    a.data.update(department_code=case.department_code, deadline=deadline, reopened_count=case.reopened_count)
    a.tell("case.reopened", _dept(case.department_code), deadline=deadline)
    return next_state(a.t, case)


def task_action(a: Act) -> str:
    task = cohandling.act_on_task(a.session, a.case, a.principal.department_code, a.t.action, a.now, a.note)
    a.data["department_code"] = task.department_code
    if a.t.action == "handle_task":
        a.tell("case.assist_handled", _dept(a.case.department_code), department_code=task.department_code)
    return next_state(a.t, a.case)


HANDLERS: dict[str, Callable[[Act], str]] = {
    "file": file,
    "reject": reject,
    "dispatch": dispatch,
    "accept": accept,
    "return": return_,
    "handle": handle,
    "verify": verify,
    "close": close,
    "request_extension": request_extension,
    "approve_extension": approve_extension,
    "deny_extension": deny_extension,
    "park": park,
    "approve_park": approve_park,
    "deny_park": deny_park,
    "unpark": unpark,
    "escalate": escalate,
    "reopen": reopen,
    "accept_task": task_action,
    "handle_task": task_action,
    "recategorize": recategorize,
}

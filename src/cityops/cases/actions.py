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
from cityops.cases import cohandling, external, satisfaction, sla, stages, supervision
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


def _returned_by(a: Act) -> str | None:
    """The department that returned the case last (from the log), when it is in ``returned``."""
    if a.case.state != "returned":
        return None
    data = a.session.scalar(
        select(CaseLog.data)
        .where(CaseLog.case_id == a.case.id, CaseLog.action == "return")
        .order_by(CaseLog.seq.desc())
        .limit(1)
    )
    return (data or {}).get("department_code")


def dispatch(a: Act) -> str:
    returned_by = _returned_by(a)
    # After a return the case's department is the one that returned it, unless a recategorisation
    # looked up another; never send it back there without the dispatcher saying so.
    suggested = a.case.department_code if a.case.department_code != returned_by else None
    lead = a.body.department_code or suggested
    if not lead and returned_by:
        raise Invalid(
            f"案件已被 {external.department_name(a.session, returned_by)}（{returned_by}）退回，"
            "请指定新的处置部门 department_code",
            f"the case was returned by {returned_by}; name the department to send it to (department_code)",
            code="department_required",
            details={"field": "department_code", "returned_by": returned_by},
        )
    if not lead:
        raise Invalid(
            "没有责任部门，请指定 department_code",
            "no responsible department; give department_code",
            details={"field": "department_code"},
        )
    if returned_by:
        a.data.update(returned_by=returned_by, same_as_returned=lead == returned_by)
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
    # The department's clock stops here; verification runs on a clock of its own.
    sla.start_verification(a.session, a.case, a.now)
    a.data.update(
        on_time=a.case.deadline is None or a.now <= a.case.deadline,
        verify_deadline=a.case.verify_deadline.isoformat() if a.case.verify_deadline else None,
    )
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
    case = a.case
    a.data["passed"] = a.body.passed
    a.data["verify_on_time"] = case.verify_deadline is None or a.now <= case.verify_deadline
    if a.body.passed:
        case.verified_at = a.now
        case.verify_deadline = None
    else:
        # Rework gets a deadline of its own; the first deadline stays in the dispatch log row.
        a.data["old_deadline"] = case.deadline.isoformat() if case.deadline else None
        case.rework_count = (case.rework_count or 0) + 1
        case.extension_requested = case.park_requested = False
        sla.start_rework(a.session, case, a.now)
        cohandling.mark_lead(a.session, case, "accepted", a.now)
        deadline = case.deadline.isoformat() if case.deadline else None
        a.data.update(deadline=deadline, rework_count=case.rework_count)
        a.tell("case.rework", _dept(case.department_code), deadline=deadline)
    return next_state(a.t, a.case, passed=a.body.passed)


def close(a: Act) -> str:
    case = a.case
    case.closed_at = a.now
    supervision.resolve_open(a.session, case, a.now)
    # Ask the reporter to rate this closing (回访·评价): a new round with a link of its own.
    token = satisfaction.open_round(a.session, case, a.now)
    case.satisfaction = case.satisfaction_channel = case.satisfaction_at = None
    recipients = [f"user:{case.reporter_user_id}"] if case.reporter_user_id else []
    if case.reporter_phone:
        recipients.append(f"sms:{case.reporter_phone}")
    url = satisfaction.rating_url(token)
    # The link is in the message only (never in the log or the audit trail).
    a.tell(
        "case.closed",
        recipients,
        rating_url=url,
        sms_text=f"您反映的问题（{case.code}）已办结，请对处理结果评价：{url}",
    )
    a.data["rating_requested"] = bool(recipients)
    return next_state(a.t, case)


def _rated(a: Act, row: Any, result: str, channel: str, by: Any) -> str:
    """Record a rating; a dissatisfied one reopens the case when the setting and window allow."""
    case = a.case
    satisfaction.record_rating(case, row, result, a.note, channel, by, a.now)
    a.data.update(satisfaction=result, channel=channel, round=row.round)
    if result != "dissatisfied":
        return str(case.state)
    settings = get_settings()
    in_window = case.closed_at is not None and a.now <= case.closed_at + timedelta(days=settings.reopen_days)
    reopens = settings.dissatisfied_reopens and in_window
    a.data["reopens"] = reopens
    a.tell("case.rated_dissatisfied", [*DISPATCHERS, *_dept(case.department_code)], reopens=reopens)
    return _reopen_case(a) if reopens else str(case.state)


def rate(a: Act) -> str:
    row = satisfaction.ensure_round(a.session, a.case, a.now)
    satisfaction.check_open(row, a.now)
    by_link = a.principal.username == satisfaction.LINK_USERNAME
    return _rated(a, row, str(a.body.satisfaction), "link" if by_link else "app", None)


def callback(a: Act) -> str:
    body = a.body
    if not body.reached and body.satisfaction is not None:
        raise Invalid(
            "未接通时不能记录满意度",
            "a callback that did not reach the reporter has no satisfaction",
            details={"field": "satisfaction"},
        )
    satisfaction.record_callback(
        a.session, a.case, a.principal.id, body.reached, body.satisfaction, a.note, a.now
    )
    a.data.update(reached=body.reached, satisfaction=body.satisfaction)
    if body.satisfaction is None:
        return str(a.case.state)
    if a.case.satisfaction is not None:
        # The reporter has rated this closing already: their own word stays, the call is recorded.
        a.data["rating_kept"] = a.case.satisfaction
        return str(a.case.state)
    row = satisfaction.ensure_round(a.session, a.case, a.now)
    return _rated(a, row, body.satisfaction, "phone", a.principal.id)


def request_extension(a: Act) -> str:
    if a.body.extra_hours is None:
        raise Invalid(
            "请给出延长的小时数 extra_hours", "give extra_hours (> 0)", details={"field": "extra_hours"}
        )
    _check_extension_ceiling(a, a.body.extra_hours)
    a.case.extension_requested = True
    a.case.extension_hours = a.body.extra_hours
    a.case.extension_reason = a.reason
    a.data.update(extra_hours=a.body.extra_hours, reason=a.reason)
    a.tell("case.extension_requested", DISPATCHERS, extra_hours=a.body.extra_hours)
    return next_state(a.t, a.case)


def _check_extension_ceiling(a: Act, hours: float) -> None:
    """Invalid when ``hours`` more would take this clock's extensions above the category's ceiling."""
    ceiling = stages.max_extension_hours(a.session, a.case)
    used = a.case.clock_extended_hours or 0.0
    if used + hours > ceiling + 1e-9:
        left = max(0.0, ceiling - used)
        raise Invalid(
            f"延期超过上限：本时限最多可延长 {ceiling:g} 小时，已延长 {used:g} 小时，"
            f"最多还可延长 {left:g} 小时",
            f"extension above the limit: this deadline may be extended by at most {ceiling:g} hours "
            f"in total; {used:g} already granted, at most {left:g} more",
            code="extension_above_limit",
            details={
                "field": "extra_hours",
                "requested_hours": hours,
                "max_hours": ceiling,
                "granted_hours": used,
                "remaining_hours": left,
            },
        )


def approve_extension(a: Act) -> str:
    # The dispatcher may grant a different number than asked (within the ceiling).
    requested = a.case.extension_hours
    hours = a.body.extra_hours or requested or 0.0
    if hours <= 0:
        raise Invalid("延长小时数必须大于 0", "extra_hours must be > 0", details={"field": "extra_hours"})
    _check_extension_ceiling(a, hours)
    old = a.case.deadline
    sla.extend(a.session, a.case, hours, a.now)
    a.case.extension_requested = False
    # From now on the case shows what was granted, not what was asked for.
    a.case.extension_hours = hours
    a.case.extensions_granted = (a.case.extensions_granted or 0) + 1
    a.case.extended_hours = (a.case.extended_hours or 0.0) + hours
    a.case.clock_extended_hours = (a.case.clock_extended_hours or 0.0) + hours
    new = a.case.deadline.isoformat() if a.case.deadline else None
    a.data.update(
        extra_hours=hours,
        requested_hours=requested,
        old_deadline=old.isoformat() if old else None,
        deadline=new,
    )
    a.tell("case.extension_approved", _dept(a.case.department_code), deadline=new, extra_hours=hours)
    return next_state(a.t, a.case)


def deny_extension(a: Act) -> str:
    a.data["requested_hours"] = a.case.extension_hours
    a.case.extension_requested = False
    a.case.extension_hours = None
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
    return _reopen_case(a)


def _reopen_case(a: Act) -> str:
    """Back to the lead department with a fresh clock (a reopen, or a dissatisfied rating)."""
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
    return "dispatched"


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
    "rate": rate,
    "callback": callback,
}

"""Who may perform an action on a case: role, lead department, assisting task, reporter.

One rule serves both the check before acting (:func:`authorize`, 403) and the list of actions a
caller is offered (:func:`allowed_for`), so a button is shown exactly when pressing it passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cityops.accounts.principal import Principal
from cityops.cases.cohandling import OPEN_TASK_STATES
from cityops.cases.transitions import TRANSITIONS, Transition, url_name
from cityops.config import get_settings
from cityops.errors import Forbidden

# The state an assisting task must be in for each task action.
_TASK_STATE_NEEDED = {"accept_task": "dispatched", "handle_task": "accepted"}


def refusal(principal: Principal, case: Any, t: Transition) -> Forbidden | None:
    """Why ``principal`` may not perform ``t`` on ``case`` (role, department, reporter), or None.

    The assisting task itself is checked where it is acted on (``cohandling.act_on_task``).
    """
    if principal.role not in t.roles:
        return Forbidden(
            f"当前角色（{principal.role}）不能执行该操作，需要：{'、'.join(sorted(t.roles))}",
            f"role {principal.role!r} may not {t.action}; needs one of: {', '.join(sorted(t.roles))}",
            code="role_not_allowed",
            details={"role": principal.role, "allowed_roles": sorted(t.roles), "action": t.action},
        )
    if t.scope == "lead" and principal.department_code != case.department_code:
        return Forbidden(
            "只有主办部门可以执行该操作",
            "only the lead department may do this",
            code="not_lead_department",
            details={"action": t.action},
        )
    if t.scope == "reporter" and principal.role == "citizen" and case.reporter_user_id != principal.id:
        return Forbidden(
            "只有上报人可以执行该操作",
            "only the reporting citizen may do this",
            code="not_reporter",
            details={"action": t.action},
        )
    return None


def authorize(principal: Principal, case: Any, t: Transition) -> None:
    """Forbidden unless ``principal`` may perform ``t`` on ``case``."""
    problem = refusal(principal, case, t)
    if problem is not None:
        raise problem


def _possible(case: Any, t: Transition) -> bool:
    return case.state in t.sources and (t.guard is None or t.guard(case))


def _within(at: datetime | None, now: datetime, days: int) -> bool:
    return at is not None and now <= at + timedelta(days=days)


def allowed_for(principal: Principal, case: Any, tasks: Sequence[Any], now: datetime) -> list[str]:
    """The actions ``principal`` may perform on ``case`` now, spelled as the endpoints spell them.

    ``tasks`` are the case's co-handling tasks (any order; cancelled ones are ignored). Beyond
    state, flags, role and scope this applies the rules that would refuse the action whatever
    the body says: an assisting task in the right state, no open assisting task before the
    lead's ``handle``, the reopen window and the rating window.
    """
    live = [task for task in tasks if task.state != "cancelled"]
    mine = [
        task
        for task in live
        if task.role == "assist"
        and task.department_code == principal.department_code
        and task.state in OPEN_TASK_STATES
    ]
    assists_open = any(task.role == "assist" and task.state in OPEN_TASK_STATES for task in live)
    out: list[str] = []
    for t in TRANSITIONS:
        if not _possible(case, t) or refusal(principal, case, t) is not None:
            continue
        if t.scope == "task" and not any(task.state == _TASK_STATE_NEEDED[t.action] for task in mine):
            continue
        if t.action == "handle" and assists_open:
            continue
        if t.action == "reopen" and not _within(case.closed_at, now, get_settings().reopen_days):
            continue
        if t.action == "rate" and not _within(case.closed_at, now, get_settings().rating_days):
            continue
        out.append(url_name(t.action))
    return out

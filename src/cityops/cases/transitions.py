"""The case state machine as data: state × action → next state, and who may act.

Everything that decides whether an action is possible reads :data:`TRANSITIONS`; the docs table
in ``docs/cases.md`` is the same table in prose. Flags (extension requested, park requested,
escalated) are columns on the case, not states, so the main states stay few.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cityops.errors import Conflict

STATES: tuple[str, ...] = (
    "reported",
    "filed",
    "rejected",
    "dispatched",
    "accepted",
    "returned",
    "handled",
    "rework",
    "verified",
    "closed",
    "parked",
)
STATE_NAMES_ZH: dict[str, str] = {
    "reported": "已上报",
    "filed": "已立案",
    "rejected": "不予立案",
    "dispatched": "已派遣",
    "accepted": "处置中",
    "returned": "已退回",
    "handled": "已处置",
    "rework": "返工",
    "verified": "已核查",
    "closed": "已结案",
    "parked": "挂账",
}
FINAL_STATES = frozenset({"rejected", "closed"})
OPEN_STATES = frozenset(STATES) - FINAL_STATES
# States in which the department owes work, so the SLA clock runs (it pauses while parked).
CLOCK_STATES = frozenset({"dispatched", "accepted", "rework"})

SAME = "="  # the action leaves the state as it is (sets a flag)
RESTORE = "<"  # back to the state the case was in before it was parked

Guard = Callable[[Any], bool]


@dataclass(frozen=True)
class Transition:
    """One action: from which states, to which state, and which roles may perform it.

    ``alt_to`` is the other outcome of a two-way action (verify failed → rework; a dissatisfied
    rating that reopens the case), ``alt_when`` says in words when each outcome happens.
    ``guard`` is a condition on the case's flags; when it fails the action is not available.
    ``scope`` says whose action it is beyond the role: "lead" (handler of the lead
    department), "task" (handler of a department with an open co-handling task), "reporter"
    (for citizens: only on their own case) or "" (role only).
    """

    action: str
    sources: frozenset[str]
    to: str
    roles: frozenset[str]
    alt_to: str | None = None
    # When each outcome of a two-way action happens (for the docs table).
    alt_when: tuple[str, str] = ("passed", "failed")
    guard: Guard | None = None
    scope: str = ""
    requires: tuple[str, ...] = field(default=())
    zh: str = ""


def _t(action: str, sources: set[str] | frozenset[str], to: str, roles: set[str], **kw: Any) -> Transition:
    return Transition(action, frozenset(sources), to, frozenset(roles), **kw)


# The department works on the case: extension and parking may be asked for (in rework too, which
# has a deadline of its own).
_WORKING = {"dispatched", "accepted", "rework"}
# A wrong category can be fixed until the department has reported back; before dispatch (and
# after a return) the responsible department is looked up again for the new category.
_RECATEGORIZABLE = {"reported", "filed", "returned", "dispatched", "accepted"}

TRANSITIONS: tuple[Transition, ...] = (
    _t("file", {"reported"}, "filed", {"operator", "dispatcher"}, zh="立案"),
    _t("reject", {"reported"}, "rejected", {"operator", "dispatcher"}, requires=("reason",), zh="不予立案"),
    _t("dispatch", {"filed", "returned"}, "dispatched", {"dispatcher"}, zh="派遣"),
    _t("accept", {"dispatched"}, "accepted", {"handler"}, scope="lead", zh="接收"),
    _t("return", {"dispatched"}, "returned", {"handler"}, scope="lead", requires=("reason",), zh="退回"),
    _t(
        "handle",
        {"accepted", "rework"},
        "handled",
        {"handler"},
        scope="lead",
        requires=("note",),
        zh="处置反馈",
    ),
    _t(
        "verify",
        {"handled"},
        "verified",
        {"inspector", "dispatcher"},
        alt_to="rework",
        requires=("passed",),
        zh="核查",
    ),
    _t("close", {"verified"}, "closed", {"dispatcher", "operator"}, zh="结案"),
    _t(
        "request_extension",
        _WORKING,
        SAME,
        {"handler"},
        scope="lead",
        requires=("extra_hours", "reason"),
        guard=lambda c: not c.extension_requested,
        zh="申请延期",
    ),
    _t(
        "approve_extension",
        _WORKING,
        SAME,
        {"dispatcher"},
        guard=lambda c: c.extension_requested,
        zh="批准延期",
    ),
    _t(
        "deny_extension", _WORKING, SAME, {"dispatcher"}, guard=lambda c: c.extension_requested, zh="驳回延期"
    ),
    _t(
        "park",
        _WORKING,
        SAME,
        {"handler"},
        scope="lead",
        requires=("reason",),
        guard=lambda c: not c.park_requested,
        zh="申请挂账",
    ),
    _t("approve_park", _WORKING, "parked", {"dispatcher"}, guard=lambda c: c.park_requested, zh="批准挂账"),
    _t("deny_park", _WORKING, SAME, {"dispatcher"}, guard=lambda c: c.park_requested, zh="驳回挂账"),
    _t("unpark", {"parked"}, RESTORE, {"dispatcher"}, zh="解除挂账"),
    _t("escalate", OPEN_STATES, SAME, {"dispatcher", "leader"}, zh="督办"),
    _t("reopen", {"closed"}, "dispatched", {"citizen", "operator"}, scope="reporter", zh="重新办理"),
    _t("accept_task", {"dispatched", "accepted"}, SAME, {"handler"}, scope="task", zh="协办接收"),
    _t(
        "handle_task",
        {"dispatched", "accepted"},
        SAME,
        {"handler"},
        scope="task",
        requires=("note",),
        zh="协办反馈",
    ),
    _t(
        "rate",
        {"closed"},
        SAME,
        {"citizen"},
        alt_to="dispatched",
        alt_when=("rated", "dissatisfied, reopens"),
        scope="reporter",
        requires=("satisfaction",),
        guard=lambda c: c.satisfaction is None,
        zh="评价",
    ),
    _t(
        "callback",
        {"closed"},
        SAME,
        {"operator", "dispatcher"},
        alt_to="dispatched",
        alt_when=("recorded", "dissatisfied, reopens"),
        zh="回访",
    ),
    _t(
        "recategorize",
        _RECATEGORIZABLE,
        SAME,
        {"operator", "dispatcher"},
        requires=("category_code",),
        zh="改类",
    ),
)

BY_ACTION: dict[str, Transition] = {t.action: t for t in TRANSITIONS}
ACTIONS: tuple[str, ...] = tuple(BY_ACTION)


def url_name(action: str) -> str:
    """The endpoint spelling of an action (``request_extension`` → ``request-extension``)."""
    return action.replace("_", "-")


def allowed_actions(case: Any) -> list[str]:
    """The actions possible on ``case`` in its current state and flags (ignoring who asks)."""
    return [t.action for t in TRANSITIONS if case.state in t.sources and (t.guard is None or t.guard(case))]


def check(case: Any, action: str) -> Transition:
    """The transition for ``action`` on ``case``, or Conflict listing what is possible now."""
    t = BY_ACTION[action]
    if case.state in t.sources and (t.guard is None or t.guard(case)):
        return t
    allowed = [url_name(a) for a in allowed_actions(case)]
    state_zh = STATE_NAMES_ZH.get(case.state, case.state)
    raise Conflict(
        f"案件当前状态为“{state_zh}”，不能执行“{t.zh or action}”；可执行：{'、'.join(allowed) or '无'}",
        f"The case is {case.state!r}; {action!r} is not allowed now. Allowed: {', '.join(allowed) or 'none'}",
        code="transition_not_allowed",
        details={"state": case.state, "action": url_name(action), "allowed_actions": allowed},
    )


def next_state(t: Transition, case: Any, *, passed: bool | None = None) -> str:
    """The state after ``t`` (resolving SAME, RESTORE and the failed branch of verify)."""
    if t.to == SAME:
        return str(case.state)
    if t.to == RESTORE:
        return str(case.parked_from_state or "accepted")
    if t.alt_to is not None and passed is False:
        return t.alt_to
    return t.to


# Only actions that mean progress to the public (the public page, a citizen's view of the log);
# flags such as park requests stay internal.
PUBLIC_ACTIONS = frozenset(
    {
        "create",
        "file",
        "reject",
        "dispatch",
        "accept",
        "handle",
        "verify",
        "close",
        "approve_park",
        "unpark",
        "approve_extension",
        "reopen",
        "return",
        "rate",
    }
)

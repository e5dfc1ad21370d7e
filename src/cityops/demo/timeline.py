"""Play one generated report through the case lifecycle, with the real SLA clock.

Each report gets a script of actions (create, file, dispatch, accept, handle, verify, close and
the occasional reject, return, extension, park, rework and escalation) with increasing times,
deadlines from :mod:`cityops.cases.clock` and actors from the demo accounts. The script is cut
at ``now``: what has not happened yet is dropped, so recent cases are still open and the
case row is the projection of the log rows it keeps (its state is the last log's ``to_state``).
Marks without a log row (the SLA sweep's warning and overdue flags) happen at their instant.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cityops.cases import clock
from cityops.demo import texts
from cityops.demo.history import Report
from cityops.kit.workcal import LOCAL_TZ, WorkCalendar

SAME = "="  # the action keeps the state
AT = "@at"  # a field value meaning "the time of this event"
KEY_PREFIX = "demo-"  # idempotency keys of generated cases: how a reset finds them
MIN = timedelta(minutes=1)
REJECT_P = {"inspector": 0.02, "hotline": 0.08, "web": 0.12, "camera": 0.04}
ON_TIME_P = 0.95  # before the pick-up and hand-over delays, which make a few more late


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID | None
    name: str
    role: str


@dataclass
class Context:
    """Everything the player needs besides the report."""

    cal: WorkCalendar
    now: datetime
    actors: dict[str, Actor]
    limit: Callable[[str, str | None], clock.TimeLimit]
    department: Callable[[str, Report], str]
    alternative: Callable[[str, Report, str], str]


@dataclass
class _Event:
    at: datetime
    action: str | None  # None: a mark without a log row
    to: str
    actor: Actor | None = None
    note: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    task: tuple[Any, ...] | None = None
    supervision: tuple[str, uuid.UUID | None, str | None] | None = None


@dataclass
class Played:
    case: dict[str, Any]
    logs: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    supervisions: list[dict[str, Any]]


def _minutes(rng: random.Random, lo: float, hi: float) -> timedelta:
    return timedelta(minutes=rng.uniform(lo, hi))


def _lag(rng: random.Random, median_hours: float, cap_hours: float) -> timedelta:
    """A log-normal delay (most are short, a few take a day or two), at least ten minutes."""
    hours = min(rng.lognormvariate(0.0, 0.9) * median_hours, cap_hours)
    return timedelta(hours=max(hours, 1 / 6))


def _daytime(at: datetime, rng: random.Random, start: int = 8, end: int = 20) -> datetime:
    """``at`` when it falls between ``start`` and ``end`` o'clock local time, else the next morning."""
    local = at.astimezone(LOCAL_TZ)
    if start <= local.hour < end:
        return at
    day = local.date() + timedelta(days=1 if local.hour >= end else 0)
    morning = datetime(day.year, day.month, day.day, start, tzinfo=LOCAL_TZ)
    return (morning + _minutes(rng, 0, 50)).astimezone(at.tzinfo)


def _hours_limit(limit: clock.TimeLimit, hours: float) -> clock.TimeLimit:
    return clock.TimeLimit("emergency" if limit.kind == "emergency" else "working_hours", hours)


class _Script:
    """The actions of one case in the order they are written, kept strictly increasing in time."""

    def __init__(self, ctx: Context, rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        self.events: list[_Event] = []
        self.last: datetime | None = None

    def next(self, at: datetime) -> datetime:
        """``at``, or a little after the last action when ``at`` is not later than it."""
        if self.last is not None and at <= self.last:
            return self.last + timedelta(seconds=self.rng.randint(30, 600))
        return at

    def add(self, at: datetime, action: str | None, to: str, **kw: Any) -> datetime:
        if action is not None:
            at = self.next(at)
        fields = kw.pop("fields", {})
        ev = _Event(at, action, to, fields={k: at if v == AT else v for k, v in fields.items()}, **kw)
        self.events.append(ev)
        if action is not None:
            self.last = max(self.last or at, at)
        return at

    def after(self, at: datetime, limit: clock.TimeLimit, fraction: float) -> datetime:
        """``at`` plus ``fraction`` of the limit on its clock."""
        part = clock.TimeLimit(limit.kind, max(limit.value * fraction, 0.01))
        return clock.deadline(at, part, self.ctx.cal)

    def worktime(self, at: datetime, limit: clock.TimeLimit) -> datetime:
        """When a department can act at the earliest: at once for emergencies, else working time."""
        return at if limit.kind == "emergency" else self.ctx.cal.next_working_moment(at)


def _script(r: Report, ctx: Context, rng: random.Random) -> _Script:
    s = _Script(ctx, rng)
    a = ctx.actors
    reporter = {"inspector": a["inspector"], "hotline": a["operator"], "camera": a["system"]}.get(
        r.source, a[f"citizen{r.citizen}"] if r.citizen else a["operator"]
    )
    s.add(
        r.created_at,
        "create",
        "reported",
        actor=reporter,
        data={"source": r.source, "category_code": r.category_code},
    )
    filer = a["operator"]
    street_op = a.get(f"street-{r.grid.street_code}")
    if street_op is not None and r.source == "inspector" and rng.random() < 0.25:
        filer = street_op
    t = _daytime(r.created_at + _minutes(rng, 2, 40 if r.source == "inspector" else 90), rng, 7, 23)
    if rng.random() < REJECT_P[r.source]:
        reason = rng.choice(texts.REJECT_REASONS)
        s.add(t, "reject", "rejected", actor=filer, note=reason, data={"reason": reason})
        return s
    t = s.add(t, "file", "filed", actor=filer, fields={"filed_at": AT})
    limit = ctx.limit(r.category_code, r.grid.grade)
    dept = ctx.department(r.category_code, r)
    dispatcher = a["dispatcher"]

    def dispatch(at: datetime, code: str) -> tuple[datetime, datetime, datetime]:
        at = s.next(at)
        due = clock.deadline(at, limit, ctx.cal)
        warn = clock.warn_at(at, limit, ctx.cal, 0.8)
        at = s.add(
            at,
            "dispatch",
            "dispatched",
            actor=dispatcher,
            fields={
                "dispatched_at": at,
                "department_code": code,
                "deadline": due,
                "warn_at": warn,
                "limit_kind": limit.kind,
                "limit_value": limit.value,
                "warned": False,
                "overdue": False,
            },
            data={"department_code": code, "assist_department_codes": [], "deadline": due.isoformat()},
            task=("new", code, due),
        )
        return at, due, warn

    t, due, warn = dispatch(t + _minutes(rng, 3, 40), dept)
    started = t  # the clock starts at (the last) dispatch
    if rng.random() < 0.03:  # returned as misrouted, then dispatched to the right office
        reason = rng.choice(texts.RETURN_REASONS)
        t = s.add(
            s.worktime(t, limit) + _minutes(rng, 20, 180),
            "return",
            "returned",
            actor=a[f"handler-{dept}"],
            note=reason,
            task=("cancel",),
            data={"reason": reason, "misrouted": True, "department_code": dept},
            fields={"deadline": None, "warn_at": None, "returned_count": 1},
        )
        dept = ctx.alternative(r.category_code, r, dept)
        t, due, warn = dispatch(t + _minutes(rng, 10, 60), dept)
        started = t
    handler = a[f"handler-{dept}"]
    # Departments pick up within minutes to an hour or so, faster for short limits.
    pickup = min(_minutes(rng, 3, 90), timedelta(seconds=limit.seconds * rng.uniform(0.05, 0.25)))
    t = s.add(
        s.worktime(t, limit) + pickup,
        "accept",
        "accepted",
        actor=handler,
        fields={"accepted_at": AT},
        task=("state", "accepted"),
    )
    allowed = limit.seconds
    fate = rng.random()
    resume_from, counted_before = started, 0.0
    if fate < 0.02:  # parked (挂账) for weeks; a third stay parked
        reason = rng.choice(texts.PARK_REASONS)
        t = s.add(
            s.after(t, limit, rng.uniform(0.1, 0.5)),
            "park",
            SAME,
            actor=handler,
            note=reason,
            data={"reason": reason},
            fields={"park_requested": True, "park_reason": reason},
        )
        parked_at = s.add(
            t + _minutes(rng, 30, 240),
            "approve_park",
            "parked",
            actor=dispatcher,
            fields={"park_requested": False, "parked_from_state": "accepted", "parked_at": AT},
        )
        if rng.random() < 0.33:
            if due < parked_at:
                _overdue(s, due, handler)
            return s
        back = parked_at + timedelta(days=rng.uniform(5, 60))
        kind = limit.kind
        paused = clock.elapsed(parked_at, back, kind, ctx.cal).total_seconds()
        counted_before = clock.elapsed(resume_from, parked_at, kind, ctx.cal).total_seconds()
        due = clock.resume_deadline(due, parked_at, back, kind, ctx.cal)
        warn = clock.resume_deadline(warn, parked_at, back, kind, ctx.cal)
        s.add(
            back,
            "unpark",
            "accepted",
            actor=dispatcher,
            fields={
                "deadline": due,
                "warn_at": warn,
                "paused_seconds": paused,
                "parked_at": None,
                "parked_from_state": None,
            },
            data={"paused_seconds": paused, "parked_at": parked_at.isoformat(), "deadline": due.isoformat()},
        )
        resume_from = back
    elif fate < 0.06:  # an extension (延期) of one more limit's worth of hours
        hours = limit.value * (8 if limit.kind == "working_days" else 1)
        reason = rng.choice(texts.EXTENSION_REASONS)
        t = s.add(
            s.after(t, limit, rng.uniform(0.3, 0.7)),
            "request_extension",
            SAME,
            actor=handler,
            note=reason,
            data={"extra_hours": hours, "reason": reason},
            fields={"extension_requested": True, "extension_hours": hours, "extension_reason": reason},
        )
        old = due
        due = clock.deadline(due, _hours_limit(limit, hours), ctx.cal)
        warn = clock.deadline(warn, _hours_limit(limit, hours), ctx.cal)
        t = s.add(
            t + _minutes(rng, 20, 180),
            "approve_extension",
            SAME,
            actor=dispatcher,
            data={"extra_hours": hours, "old_deadline": old.isoformat(), "deadline": due.isoformat()},
            fields={
                "extension_requested": False,
                "extensions_granted": 1,
                "extended_hours": hours,
                "clock_extended_hours": hours,
                "deadline": due,
                "warn_at": warn,
            },
        )
        allowed += hours * 3600
    elif fate < 0.075:  # never handled: sits accepted until it is overdue and supervised
        _overdue(s, due, handler, escalate=True)
        return s
    share = rng.betavariate(2.0, 2.2) * 0.93 + 0.02 if rng.random() < ON_TIME_P else 1 + rng.expovariate(1.6)
    left = max(share * allowed - counted_before, 0.05 * allowed)
    handled = clock.deadline(resume_from, _hours_limit(limit, left / 3600), ctx.cal)
    handled = max(handled, t + _minutes(rng, 5, 15))
    if warn < handled and not due < handled:
        _mark(s, "warning", warn, {"warned": True})
        s.events[-1].data = {"deadline": due.isoformat()}
    late = due < handled
    if late:
        _overdue(s, due, handler, escalate=rng.random() < 0.4, before=handled)
    if rng.random() < 0.01 and s.last is not None and handled - s.last > timedelta(hours=1):
        # A leader presses a case that is taking a while (领导督办).
        at = s.last + (handled - s.last) * rng.uniform(0.2, 0.6)
        note = rng.choice(texts.ESCALATE_NOTES)
        s.add(
            at,
            "escalate",
            SAME,
            actor=a["leader"],
            note=note,
            fields={"escalated": True},
            supervision=("manual", a["leader"].id, note),
        )
    # The department's clock stops at handle; verification has a clock of its own (cases.stages).
    verify_limit = _hours_limit(limit, 1.0 if limit.kind == "emergency" else 2.0)
    t = s.add(
        handled,
        "handle",
        "handled",
        actor=handler,
        note=texts.handle_note(rng, r.category_name),
        fields={"handled_at": AT, "verify_deadline": clock.deadline(handled, verify_limit, ctx.cal)},
        data={"on_time": not late},
        task=("state", "handled"),
    )
    t = _daytime(t + _lag(rng, 8.0, 72.0), rng)
    if rng.random() < 0.06:  # verification fails once: rework, with a deadline of its own
        note = rng.choice(texts.VERIFY_FAIL)
        t = s.next(t)
        rdue = clock.deadline(t, limit, ctx.cal)
        t = s.add(
            t,
            "verify",
            "rework",
            actor=a["inspector"],
            note=note,
            task=("state", "accepted"),
            data={
                "passed": False,
                "old_deadline": due.isoformat(),
                "deadline": rdue.isoformat(),
                "rework_count": 1,
            },
            fields={
                "deadline": rdue,
                "warn_at": clock.warn_at(t, limit, ctx.cal, 0.8),
                "rework_count": 1,
                "warned": False,
                "overdue": False,
                "overdue_at": None,
                "verify_deadline": None,
                "paused_seconds": 0.0,
                "clock_extended_hours": 0.0,
            },
        )
        again = clock.deadline(t, clock.TimeLimit("working_hours", rng.uniform(1, 8)), ctx.cal)
        if t < rdue < again:
            _overdue(s, rdue, handler)
        t = s.add(
            again,
            "handle",
            "handled",
            actor=handler,
            note=texts.handle_note(rng, r.category_name),
            fields={"handled_at": AT, "verify_deadline": clock.deadline(again, verify_limit, ctx.cal)},
            data={"on_time": again <= rdue},
            task=("state", "handled"),
        )
        t = _daytime(t + _lag(rng, 2.0, 24.0), rng)
    t = s.add(
        t,
        "verify",
        "verified",
        actor=a["inspector"],
        note=rng.choice(texts.VERIFY_PASS),
        data={"passed": True},
        fields={"verified_at": AT, "verify_deadline": None},
    )
    closer = dispatcher if rng.random() < 0.7 else a["operator"]
    s.add(
        _daytime(t + _lag(rng, 4.0, 48.0), rng),
        "close",
        "closed",
        actor=closer,
        note=rng.choice(texts.CLOSE_NOTES),
        fields={"closed_at": AT},
        supervision=("resolve", None, None),
    )
    return s


def _mark(s: _Script, kind: str, at: datetime, fields: dict[str, Any]) -> datetime:
    """A mark of the SLA sweep ("warning" or "overdue"), which runs about once a minute."""
    at = at + timedelta(seconds=s.rng.randint(5, 60))
    fields = {k: at if v == AT else v for k, v in fields.items()}
    s.events.append(
        _Event(at, kind, SAME, actor=s.ctx.actors["system"], fields=fields, supervision=(kind, None, None))
    )
    return at


def _overdue(
    s: _Script, due: datetime, handler: Actor, *, escalate: bool = False, before: datetime | None = None
) -> None:
    """The SLA sweep's overdue mark at ``due`` and, maybe, a dispatcher's escalation after it."""
    _mark(s, "overdue", due, {"overdue": True, "overdue_at": AT, "warned": True})
    s.events[-1].data = {"deadline": due.isoformat()}
    if escalate:
        at = due + timedelta(hours=s.rng.uniform(1, 24))
        if before is None or at < before:
            note = s.rng.choice(texts.ESCALATE_NOTES)
            s.events.append(
                _Event(
                    at,
                    "escalate",
                    SAME,
                    actor=s.ctx.actors["dispatcher"],
                    note=note,
                    fields={"escalated": True},
                    supervision=("manual", s.ctx.actors["dispatcher"].id, note),
                )
            )


def play(r: Report, code: str, ctx: Context, rng: random.Random, defaults: dict[str, Any]) -> Played:
    """The case row, log rows, tasks and supervision items of ``r`` as they stand at ``ctx.now``."""
    events = sorted(_script(r, ctx, rng).events, key=lambda e: e.at)
    case = dict(defaults)
    case.update(
        id=r.id,
        code=code,
        state="reported",
        category_code=r.category_code,
        description=r.description,
        address=r.address,
        lon=r.lon,
        lat=r.lat,
        grid_code=r.grid.code,
        community_code=r.grid.community_code,
        street_code=r.grid.street_code,
        grade=r.grid.grade,
        source=r.source,
        reporter_name=r.reporter_name,
        reporter_phone=r.reporter_phone,
        created_at=r.created_at,
        updated_at=r.created_at,
        idempotency_key=f"{KEY_PREFIX}{r.index:06d}",
        reporter_user_id=ctx.actors[f"citizen{r.citizen}"].id if r.citizen else None,
    )
    logs: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    sups: list[dict[str, Any]] = []
    state = "reported"
    for ev in events:
        if ev.at > ctx.now:
            break
        case.update(ev.fields)
        if ev.task is not None:
            _task(tasks, ev, r.id)
        if ev.supervision is not None:
            kind, by, note = ev.supervision
            if kind == "resolve":
                for item in sups:
                    item["resolved_at"] = item["resolved_at"] or ev.at
            else:
                sups.append(
                    {
                        "case_id": r.id,
                        "kind": kind,
                        "raised_at": ev.at,
                        "raised_by": by,
                        "note": note,
                        "resolved_at": None,
                    }
                )
        if ev.action is None:
            continue
        to = state if ev.to == SAME else ev.to
        assert ev.actor is not None
        logs.append(
            {
                "case_id": r.id,
                "seq": len(logs) + 1,
                "at": ev.at,
                "actor_id": ev.actor.id,
                "actor_name": ev.actor.name,
                "actor_role": ev.actor.role,
                "action": ev.action,
                "from_state": None if ev.action == "create" else state,
                "to_state": to,
                "note": ev.note,
                "attachments": [],
                "data": ev.data,
            }
        )
        state = to
        case["updated_at"] = ev.at
    first = events[0]
    case.update(
        state=state,
        last_seq=len(logs),
        version=len(logs),
        created_by_id=first.actor.id if first.actor else None,
    )
    return Played(case, logs, tasks, sups)


def _task(tasks: list[dict[str, Any]], ev: _Event, case_id: uuid.UUID) -> None:
    assert ev.task is not None
    op = ev.task[0]
    if op == "new":
        tasks.append(
            {
                "case_id": case_id,
                "department_code": ev.task[1],
                "role": "lead",
                "state": "dispatched",
                "deadline": ev.task[2],
                "note": None,
                "created_at": ev.at,
                "accepted_at": None,
                "done_at": None,
            }
        )
        return
    task = tasks[-1]
    if op == "cancel":
        task["state"] = "cancelled"
    elif ev.task[1] == "accepted":
        task.update(state="accepted", accepted_at=task["accepted_at"] or ev.at, done_at=None)
    else:
        task.update(state="handled", done_at=ev.at, note=ev.note)

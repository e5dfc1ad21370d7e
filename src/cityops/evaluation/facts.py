"""One case → its evaluation fact: which day it counts on and the 0/1 flags (docs/evaluation.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cityops.cases.aggregates import CaseFact
from cityops.kit.workcal import LOCAL_TZ, WorkCalendar

# Channels through which the public (not a patrolling inspector) reported the problem: a filed
# case from one of them is a 监督举报核实 (a verified public report the inspectors had missed).
PUBLIC_SOURCES = frozenset({"hotline", "web", "open311", "enterprise"})


def fact_row(c: CaseFact, district: str, now: datetime, cal: WorkCalendar) -> dict[str, Any]:
    """The ``evaluation_facts`` row of ``c`` as of ``now``."""
    filed = c.filed_at is not None
    has_deadline = c.deadline is not None and c.dispatched_at is not None
    closed = c.state == "closed"
    # 应结案: the deadline has passed, or the case is closed already (it needed closing).
    due = has_deadline and (closed or c.deadline <= now)  # type: ignore[operator]
    handled = due and c.handled_at is not None
    on_time = handled and c.handled_at <= c.deadline  # type: ignore[operator]
    hours = 0.0
    if handled:
        worked = cal.working_seconds_between(c.dispatched_at, c.handled_at)  # type: ignore[arg-type]
        hours = max(worked - (c.paused_seconds or 0.0), 0.0) / 3600
    return {
        "case_id": c.id,
        "filed_day": c.filed_at.astimezone(LOCAL_TZ).date() if filed else None,  # type: ignore[union-attr]
        "due_day": c.deadline.astimezone(LOCAL_TZ).date() if has_deadline else None,  # type: ignore[union-attr]
        "deadline": c.deadline if has_deadline else None,
        "district_code": district,
        "street_code": c.street_code,
        "community_code": c.community_code,
        "grid_code": c.grid_code,
        "department_code": c.department_code,
        "inspector_code": str(c.created_by_id) if c.source == "inspector" and c.created_by_id else None,
        "category_code": c.category_code,
        "public_reports": int(filed and c.source in PUBLIC_SOURCES),
        "dispatched": int(filed and c.dispatched_at is not None),
        "accurate": int(filed and c.dispatched_at is not None and c.returned_count == 0),
        "due": int(due),
        "closed": int(due and closed),
        "closed_on_time": int(due and closed and on_time),
        "handled": int(handled),
        "handled_on_time": int(on_time),
        "reworked": int(due and c.reworked),
        "overdue": int(due and c.deadline < (c.handled_at or now)),  # type: ignore[operator]
        "handle_hours": hours,
        "handle_n": int(handled),
        "computed_at": now,
    }

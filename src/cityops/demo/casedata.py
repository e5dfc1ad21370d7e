"""Generate the demo case history and write it in bulk.

Inputs (grids, categories, time limits, the responsibility list, the demo accounts) are read
once into memory; every case is then played by :mod:`cityops.demo.timeline` without touching
the database, and the rows go in with ``session.execute(insert(Table), rows)`` in chunks.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import shapely
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cityops.accounts.models import User
from cityops.accounts.principal import SYSTEM
from cityops.areas import service as areas
from cityops.cases import clock
from cityops.cases.calendar import working_calendar
from cityops.cases.codes import format_code
from cityops.cases.models import Case, CaseCodeCounter, CaseLog, CaseTask, Supervision
from cityops.catalog import service as catalog
from cityops.demo import departments as depts
from cityops.demo.history import Grid, Report, sample_reports
from cityops.demo.timeline import Actor, Context, play
from cityops.kit.workcal import LOCAL_TZ

Tick = Callable[[int], None]
CHUNK = 2000

CASE_DEFAULTS: dict[str, Any] = {
    "address": None,
    "grid_code": None,
    "community_code": None,
    "street_code": None,
    "grade": None,
    "department_code": None,
    "reporter_user_id": None,
    "reporter_name": None,
    "reporter_phone": None,
    "created_by_id": None,
    "idempotency_key": None,
    "filed_at": None,
    "dispatched_at": None,
    "accepted_at": None,
    "handled_at": None,
    "verified_at": None,
    "closed_at": None,
    "limit_kind": None,
    "limit_value": None,
    "deadline": None,
    "warn_at": None,
    "warned": False,
    "overdue": False,
    "overdue_at": None,
    "escalated": False,
    "park_requested": False,
    "park_reason": None,
    "parked_at": None,
    "parked_from_state": None,
    "paused_seconds": 0.0,
    "extension_requested": False,
    "extension_hours": None,
    "extension_reason": None,
    "extensions_granted": 0,
    "extended_hours": 0.0,
    "reopened_count": 0,
    "returned_count": 0,
    "clock_extended_hours": 0.0,
    "verify_deadline": None,
    "verify_overdue": False,
    "rework_count": 0,
    "satisfaction": None,
    "satisfaction_channel": None,
    "satisfaction_at": None,
}


def load_grids(session: Session) -> list[Grid]:
    """Every unit grid with its community and street names (through the areas service)."""
    streets = {a.code: a.name for a in areas.list_areas(session, level="street")}
    communities = {a.code: (a.name, a.parent_code) for a in areas.list_areas(session, level="community")}
    rows = [a for a in areas.list_areas(session, level="grid") if a.geometry]
    geoms = shapely.from_geojson([a.geometry for a in rows])
    grids = []
    for a, geom in zip(rows, geoms, strict=True):
        community_name, street_code = communities.get(a.parent_code or "", ("", None))
        street_code = street_code or ""
        grids.append(
            Grid(
                code=a.code,
                community_code=a.parent_code or "",
                community_name=community_name,
                street_code=street_code,
                street_name=streets.get(street_code, ""),
                grade=a.grade or "B",
                geometry=geom,
            )
        )
    return grids


def _limits(session: Session, codes: list[str]) -> Callable[[str, str | None], clock.TimeLimit]:
    cache: dict[tuple[str, str | None], clock.TimeLimit] = {}
    table = {code: catalog.category_limits(session, code) for code in codes}

    def limit(code: str, grade: str | None) -> clock.TimeLimit:
        key = (code, grade)
        if key not in cache:
            limits = table[code]
            kind, value = limits.get(grade) or limits[None]
            cache[key] = clock.TimeLimit(cast(clock.LimitKind, kind), float(value))
        return cache[key]

    return limit


def _routing(
    session: Session, district: str
) -> tuple[Callable[[str, Report], str], Callable[[str, Report, str], str]]:
    rows, _ = catalog.list_responsibilities(session, limit=1_000_000)
    table = {(r.category_code, r.area_code): r.department_code for r in rows}

    def department(code: str, r: Report) -> str:
        for area in (r.grid.code, r.grid.community_code, r.grid.street_code, district):
            found = table.get((code, area))
            if found:
                return found
        return depts.PREFIX + "CGJ"

    def alternative(code: str, r: Report, current: str) -> str:
        office = depts.street_office_code(r.grid.street_code)
        return table.get((code, district), office) if current == office else office

    return department, alternative


def _actors(session: Session) -> dict[str, Actor]:
    users = session.execute(select(User.id, User.username, User.role).where(User.is_demo.is_(True))).all()
    actors = {u.username: Actor(u.id, u.username, u.role) for u in users}
    actors["system"] = Actor(SYSTEM.id, SYSTEM.username, "system")
    return actors


def _day_offsets(session: Session, since: datetime, prefix: str) -> dict[str, int]:
    """Highest number already used per day (codes of cases that are not ours), so ours follow."""
    used: dict[str, int] = defaultdict(int)
    for code in session.scalars(select(Case.code).where(Case.created_at >= since - timedelta(days=1))):
        if code.startswith(prefix) and "-" in code:
            day, number = code[len(prefix) :].split("-", 1)
            if number.isdigit():
                used[day] = max(used[day], int(number))
    return used


def _bump_counters(session: Session, last: dict[str, int], now: datetime) -> None:
    """Make the live code allocator continue after the generated numbers."""
    if session.get_bind().dialect.name == "postgresql":
        today = now.astimezone(LOCAL_TZ)
        for day in {(today - timedelta(days=d)).strftime("%Y%m%d") for d in (0, 1)}:
            if day in last:
                name = f"case_code_seq_{day}"
                session.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name}"))
                session.execute(
                    text(f"SELECT setval('{name}', GREATEST({last[day]}, (SELECT last_value FROM {name})))")
                )
        return
    for day, number in last.items():
        stmt = sqlite_insert(CaseCodeCounter).values(day=day, last=number)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"last": func.max(CaseCodeCounter.last, stmt.excluded.last)}
        )
        session.execute(stmt)


def generate_cases(
    session: Session,
    *,
    n: int,
    seed: int,
    now: datetime,
    district: str,
    prefix: str,
    tick: Tick | None = None,
) -> dict[str, int]:
    """Generate ``n`` cases of the year before ``now`` and insert them; returns row counts."""
    grids = load_grids(session)
    cats, _ = catalog.list_categories(session, kind="event", active=True, limit=100_000)
    categories = [(c.code, c.name) for c in cats]
    if not grids or not categories:
        return {"cases": 0, "case_logs": 0}
    limit = _limits(session, [c for c, _ in categories])
    department, alternative = _routing(session, district)
    ctx = Context(
        cal=working_calendar(session),
        now=now,
        actors=_actors(session),
        limit=limit,
        department=department,
        alternative=alternative,
    )
    reports = sample_reports(n, seed, now, grids, categories)
    used = _day_offsets(session, now - timedelta(days=366), prefix)
    rng = random.Random(seed + 1)
    totals = {"cases": 0, "case_logs": 0, "case_tasks": 0, "case_supervisions": 0}
    buffers: dict[str, list[dict[str, Any]]] = {"cases": [], "logs": [], "tasks": [], "sups": []}
    for i, r in enumerate(reports):
        day = r.created_at.astimezone(LOCAL_TZ).strftime("%Y%m%d")
        used[day] += 1
        p = play(r, format_code(prefix, day, used[day]), ctx, rng, CASE_DEFAULTS)
        buffers["cases"].append(p.case)
        buffers["logs"].extend(p.logs)
        buffers["tasks"].extend(p.tasks)
        buffers["sups"].extend(p.supervisions)
        if len(buffers["cases"]) >= CHUNK or i == len(reports) - 1:
            _flush(session, buffers, totals)
            if tick:
                tick(i + 1)
    _bump_counters(session, {d: k for d, k in used.items() if k}, now)
    session.flush()
    return totals


def _flush(session: Session, buffers: dict[str, list[dict[str, Any]]], totals: dict[str, int]) -> None:
    for key, table, total in (
        ("cases", Case, "cases"),
        ("logs", CaseLog, "case_logs"),
        ("tasks", CaseTask, "case_tasks"),
        ("sups", Supervision, "case_supervisions"),
    ):
        rows = buffers[key]
        if rows:
            # Core executemany, one statement per chunk: the ORM bulk path falls back to one
            # statement per row for these tables. Every row of a table has the same keys.
            session.execute(insert(cast(Table, table.__table__)), rows)
            totals[total] += len(rows)
        buffers[key] = []

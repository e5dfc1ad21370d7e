"""Write a year of plausible cases and their logs into PostgreSQL with COPY (a million in minutes).

Vectorised with numpy: creation times over the year before ``now``, grids weighted towards grade A,
categories with the demo's weights, the responsible department from the responsibility list and
deadlines on the real working calendar. Each case gets its log rows (create, file, dispatch,
accept, handle, verify, close as far as it got by ``now``); ~2 % are rejected, ~3 % were returned
once, ~9 % are handled late, and the youngest are still open. Used by bench_cockpit.py.
"""

from __future__ import annotations

import io
import json
import random
import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from cityops.areas import service as areas
from cityops.cases.calendar import working_calendar
from cityops.cases.models import Case, CaseSearchDoc, CaseSearchTerm
from cityops.cases.search import bigrams
from cityops.catalog import service as catalog
from cityops.db import make_sessionmaker, unit_of_work
from cityops.demo import texts

__all__ = ["write_cases"]


def _q(value: Any) -> str:
    """One COPY text field."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    s = str(value)
    return s.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


CASE_COLUMNS = (
    "id",
    "code",
    "state",
    "category_code",
    "description",
    "lon",
    "lat",
    "location_approximate",
    "grid_code",
    "community_code",
    "street_code",
    "grade",
    "department_code",
    "source",
    "created_by_id",
    "created_at",
    "updated_at",
    "filed_at",
    "dispatched_at",
    "accepted_at",
    "handled_at",
    "verified_at",
    "closed_at",
    "limit_kind",
    "limit_value",
    "deadline",
    "warn_at",
    "warned",
    "overdue",
    "escalated",
    "park_requested",
    "paused_seconds",
    "extension_requested",
    "extensions_granted",
    "extended_hours",
    "clock_extended_hours",
    "verify_overdue",
    "rework_count",
    "reopened_count",
    "returned_count",
    "last_seq",
    "version",
)
CHUNK = 50_000
LOG_COLUMNS = (
    "case_id",
    "seq",
    "at",
    "actor_name",
    "actor_role",
    "action",
    "from_state",
    "to_state",
    "attachments",
    "data",
)


def grid_rows(session: Any) -> list[tuple[str, str, str, str]]:
    """(grid, community, street, grade) of every unit grid."""
    return [
        (a.code, a.parent_code or a.code[:12], a.code[:9], a.grade or "B")
        for a in areas.list_areas(session, level="grid")
    ]


def responsibility_table(session: Any) -> dict[tuple[str, str | None], str]:
    """(category, street or None for the district row) → department."""
    rows, _ = catalog.list_responsibilities(session, limit=1_000_000)
    return {
        (r.category_code, r.area_code if len(r.area_code) == 9 else None): r.department_code for r in rows
    }


def write_cases(
    engine: Engine, n: int, now: datetime, seed: int = 1, *, search_index: bool = False
) -> dict[str, float]:
    """Generate ``n`` cases and COPY them (and their logs) in; returns counts and seconds.

    Descriptions come from the demo's templates (so full-text search finds realistic shares of
    cases); with ``search_index`` their bigram rows are COPYd into the search index as well,
    as the worker's ``index_search`` job would have written them.
    """
    started = time.perf_counter()
    rs = np.random.default_rng(seed)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as s:
        grids = grid_rows(s)
        cats, _ = catalog.list_categories(s, kind="event", active=True, limit=100_000)
        from cityops.demo.history import CATEGORY_WEIGHTS

        codes = [c.code for c in cats]
        weights = np.array([CATEGORY_WEIGHTS.get(c.name, 1.0) for c in cats])
        limits = {c.code: catalog.category_limits(s, c.code).get(None, ("working_hours", 8.0)) for c in cats}
        dept_of = responsibility_table(s)
        cal = working_calendar(s)
        inspector = s.scalar(text("SELECT id FROM users WHERE username = 'inspector'"))
        community_name = {a.code: a.name for a in areas.list_areas(s, level="community")}
    names = {c.code: c.name for c in cats}
    text_rng = random.Random(seed)
    grade_w = np.array([{"A": 3.0, "B": 1.6}.get(g[3], 1.0) for g in grids])
    gi = rs.choice(len(grids), size=n, p=grade_w / grade_w.sum())
    ci = rs.choice(len(codes), size=n, p=weights / weights.sum())
    secs = np.sort(rs.uniform(0, 365 * 86400, size=n))[::-1]
    created = [now - timedelta(seconds=float(x)) for x in secs]
    source = rs.choice(np.array(["inspector", "hotline", "web", "camera"]), size=n, p=[0.6, 0.25, 0.09, 0.06])
    fate = rs.random(n)
    share = np.where(rs.random(n) < 0.91, rs.beta(2.0, 2.2, n) * 0.93 + 0.02, 1 + rs.exponential(0.6, n))
    lon = rs.uniform(120.10, 120.20, n)
    lat = rs.uniform(30.26, 30.36, n)
    per_day: dict[str, int] = {}
    cases_buf, logs_buf, terms_buf = io.StringIO(), io.StringIO(), io.StringIO()
    n_terms = 0
    raw = rs.bytes(16 * n)
    ids = [raw[i * 16 : i * 16 + 16].hex() for i in range(n)]
    n_logs = 0
    copy_seconds = 0.0
    # Secondary indexes are dropped for the load and built once afterwards: much faster than
    # maintaining ten B-trees row by row.
    indexes = list(Case.__table__.indexes)
    if search_index:
        indexes += list(CaseSearchTerm.__table__.indexes)
    saved: list[tuple[str, str]] = []
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
        if search_index:  # its primary key and foreign key too: rebuilt once, checked once
            saved = [
                (r[0], r[1])
                for r in conn.execute(
                    text(
                        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = 'case_search_terms'::regclass AND contype IN ('p', 'f')"
                    )
                )
            ]
            for name, _ in saved:
                conn.execute(text(f'ALTER TABLE case_search_terms DROP CONSTRAINT "{name}"'))
    raw_conn = engine.raw_connection()
    for i in range(n):
        g = grids[gi[i]]
        cat = codes[ci[i]]
        kind, value = limits[cat]
        t0 = created[i]
        day = (t0 + timedelta(hours=8)).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        cid = ids[i]
        logs: list[tuple[Any, ...]] = [
            (t0, "create", None, "reported", {"source": str(source[i]), "category_code": cat})
        ]
        row: dict[str, Any] = {
            "state": "reported",
            "filed_at": None,
            "dispatched_at": None,
            "accepted_at": None,
            "handled_at": None,
            "verified_at": None,
            "closed_at": None,
            "deadline": None,
            "warn_at": None,
            "limit_kind": None,
            "limit_value": None,
            "returned": 0,
            "dept": None,
            "overdue": False,
        }
        filed = t0 + timedelta(minutes=15)
        if filed > now:
            pass
        elif fate[i] < 0.02:
            logs.append((filed, "reject", "reported", "rejected", {"reason": "重复上报"}))
            row["state"] = "rejected"
        else:
            logs.append((filed, "file", "reported", "filed", {}))
            row.update(state="filed", filed_at=filed)
            dept = dept_of.get((cat, g[2])) or dept_of.get((cat, None)) or "GS-CGJ"
            disp = filed + timedelta(minutes=20)
            if fate[i] > 0.97 and disp < now:  # returned once, dispatched again an hour later
                logs.append((disp, "dispatch", "filed", "dispatched", {"department_code": dept}))
                logs.append(
                    (disp + timedelta(minutes=30), "return", "dispatched", "returned", {"misrouted": True})
                )
                row["returned"] = 1
                disp = disp + timedelta(hours=1)
            if disp <= now:
                seconds = value * 3600 * (8 if kind == "working_days" else 1)
                due = (
                    disp + timedelta(seconds=seconds)
                    if kind == "emergency"
                    else cal.add_working_seconds(disp, seconds)
                )
                logs.append(
                    (
                        disp,
                        "dispatch",
                        logs[-1][3],
                        "dispatched",
                        {"department_code": dept, "deadline": due.isoformat()},
                    )
                )
                row.update(
                    state="dispatched",
                    dispatched_at=disp,
                    deadline=due,
                    dept=dept,
                    limit_kind=kind,
                    limit_value=value,
                    warn_at=disp + (due - disp) * 0.8,
                )
                acc = disp + min((due - disp) * 0.1, timedelta(hours=1))
                if acc <= now:
                    logs.append((acc, "accept", "dispatched", "accepted", {}))
                    row.update(state="accepted", accepted_at=acc)
                    handled = disp + (due - disp) * float(share[i]) + timedelta(minutes=5)
                    if handled <= now:
                        logs.append((handled, "handle", "accepted", "handled", {}))
                        row.update(state="handled", handled_at=handled)
                        ver = handled + timedelta(hours=3)
                        if ver <= now:
                            logs.append((ver, "verify", "handled", "verified", {"passed": True}))
                            row.update(state="verified", verified_at=ver)
                            closed = ver + timedelta(hours=2)
                            if closed <= now:
                                logs.append((closed, "close", "verified", "closed", {}))
                                row.update(state="closed", closed_at=closed)
                    row["overdue"] = due < (row["handled_at"] or now)
        last = logs[-1][0]
        place, values = texts.address(text_rng, g[2], community_name.get(g[1], ""))
        description = texts.describe(text_rng, names[cat], str(source[i]), place, values)
        if search_index:
            for gram in bigrams(description):
                terms_buf.write(f"{gram}\t{cid}\n")
                n_terms += 1
        case = (
            cid,
            f"GS{day}-{per_day[day]:05d}",
            row["state"],
            cat,
            description,
            round(float(lon[i]), 6),
            round(float(lat[i]), 6),
            False,
            g[0],
            g[1],
            g[2],
            g[3],
            row["dept"],
            str(source[i]),
            inspector if source[i] == "inspector" else None,
            t0,
            last,
            row["filed_at"],
            row["dispatched_at"],
            row["accepted_at"],
            row["handled_at"],
            row["verified_at"],
            row["closed_at"],
            row["limit_kind"],
            row["limit_value"],
            row["deadline"],
            row["warn_at"],
            row["overdue"],
            row["overdue"],
            False,
            False,
            0.0,
            False,
            0,
            0.0,
            0.0,
            False,
            0,
            0,
            row["returned"],
            len(logs),
            len(logs),
        )
        cases_buf.write("\t".join(_q(v) for v in case) + "\n")
        for seq, (at, action, frm, to, data) in enumerate(logs, start=1):
            logs_buf.write(
                f"{cid}\t{seq}\t{at.isoformat()}\tbench\tsystem\t{action}\t{_q(frm)}\t{to}\t[]\t"
                f"{_q(json.dumps(data, ensure_ascii=False))}\n"
            )
        n_logs += len(logs)
        if (i + 1) % CHUNK == 0 or i == n - 1:
            t = time.perf_counter()
            _copy(raw_conn, cases_buf, logs_buf, terms_buf if search_index else None, now)
            copy_seconds += time.perf_counter() - t
            cases_buf, logs_buf, terms_buf = io.StringIO(), io.StringIO(), io.StringIO()
    t = time.perf_counter()
    raw_conn.close()
    with engine.begin() as conn:
        for name, definition in sorted(saved, key=lambda c: "f" in c[1][:1].lower()):
            conn.execute(text(f'ALTER TABLE case_search_terms ADD CONSTRAINT "{name}" {definition}'))
        for index in indexes:
            index.create(conn)
    raw_conn = engine.raw_connection()
    cur = raw_conn.cursor()
    cur.execute("ANALYZE cases")
    cur.execute("ANALYZE case_logs")
    if search_index:
        cur.execute("ANALYZE case_search_terms")
        cur.execute("ANALYZE case_search_docs")
    raw_conn.commit()
    raw_conn.close()
    copy_seconds += time.perf_counter() - t
    total = time.perf_counter() - started
    return {
        "cases": n,
        "case_logs": n_logs,
        "search_terms": n_terms,
        "seconds": round(total, 1),
        "copy_seconds": round(copy_seconds, 1),
    }


def _copy(
    raw_conn: Any,
    cases_buf: io.StringIO,
    logs_buf: io.StringIO,
    terms_buf: io.StringIO | None,
    now: datetime,
) -> None:
    cur = raw_conn.cursor()
    for table, columns, buf in (("cases", CASE_COLUMNS, cases_buf), ("case_logs", LOG_COLUMNS, logs_buf)):
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buf.getvalue())
    if terms_buf is not None:
        with cur.copy(f"COPY {CaseSearchTerm.__tablename__} (term, case_id) FROM STDIN") as copy:
            copy.write(terms_buf.getvalue())
        stamp = now.isoformat()
        ids = "".join(f"{line.split(chr(9), 1)[0]}\t{stamp}\n" for line in cases_buf.getvalue().splitlines())
        with cur.copy(f"COPY {CaseSearchDoc.__tablename__} (case_id, indexed_at) FROM STDIN") as copy:
            copy.write(ids)
    raw_conn.commit()

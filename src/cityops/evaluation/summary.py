"""Keep ``evaluation_facts`` and ``evaluation_daily`` in step with the cases.

:func:`refresh` rewrites the facts of some cases and then the daily rows of every day those
facts touched before or after (so a moved deadline leaves its old day correct too).
:func:`rebuild` does it for every case. Both are what the worker runs; requests only read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from cityops.cases import aggregates
from cityops.evaluation.facts import fact_row
from cityops.evaluation.models import SUMMARY_DIMENSIONS, EvaluationDaily, EvaluationFact, EvaluationMonthly

FILED_MEASURES = ("public_reports", "dispatched", "accurate")
DUE_MEASURES = (
    "due",
    "closed",
    "closed_on_time",
    "handled",
    "handled_on_time",
    "reworked",
    "overdue",
    "handle_hours",
    "handle_n",
)
_CODE_COLUMN = {
    "district": EvaluationFact.district_code,
    "street": EvaluationFact.street_code,
    "community": EvaluationFact.community_code,
    "grid": EvaluationFact.grid_code,
    "department": EvaluationFact.department_code,
    "inspector": EvaluationFact.inspector_code,
    "category": EvaluationFact.category_code,
    "street_category": EvaluationFact.street_code + literal("|") + EvaluationFact.category_code,
}
_FACTS: Table = EvaluationFact.__table__  # type: ignore[assignment]
_DAILY: Table = EvaluationDaily.__table__  # type: ignore[assignment]
_MONTHLY: Table = EvaluationMonthly.__table__  # type: ignore[assignment]
_ALL_MEASURES = ("filed", *FILED_MEASURES, *DUE_MEASURES)


def _codes_of(row: Any) -> dict[str, str | None]:
    """The code a fact row counts under in each dimension."""
    street, category = row["street_code"], row["category_code"]
    return {
        "district": row["district_code"],
        "street": street,
        "community": row["community_code"],
        "grid": row["grid_code"],
        "department": row["department_code"],
        "inspector": row["inspector_code"],
        "category": category,
        "street_category": f"{street}|{category}" if street and category else None,
    }


Touched = dict[str, set[str]]


def _touch(touched: Touched, days: set[date], row: Any) -> None:
    days.update(d for d in (row["filed_day"], row["due_day"]) if d is not None)
    for dim, code in _codes_of(row).items():
        if code:
            touched.setdefault(dim, set()).add(code)


def _old_facts(session: Session, ids: list[uuid.UUID], touched: Touched, days: set[date]) -> None:
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for row in session.execute(select(_FACTS).where(EvaluationFact.case_id.in_(chunk))).mappings():
            _touch(touched, days, row)


def refresh(session: Session, case_ids: Iterable[uuid.UUID], district: str, now: datetime) -> int:
    """Recompute the facts of ``case_ids`` and the summary rows they touch, before and after.

    Only the (day, unit) and (month, unit) rows of the units those cases count under are
    rewritten, so a run costs what changed, not the size of the district.
    """
    ids = list(case_ids)
    if not ids:
        return 0
    days: set[date] = set()
    touched: Touched = {}
    _old_facts(session, ids, touched, days)
    cal = aggregates.calendar(session)
    rows = [fact_row(c, district, now, cal) for c in aggregates.case_facts(session, ids)]
    for start in range(0, len(ids), 1000):
        session.execute(delete(EvaluationFact).where(EvaluationFact.case_id.in_(ids[start : start + 1000])))
    for start in range(0, len(rows), 2000):
        session.execute(insert(_FACTS), rows[start : start + 2000])
    for row in rows:
        _touch(touched, days, row)
    rebuild_days(session, sorted(days), touched)
    return len(days)


def rebuild_days(session: Session, days: list[date], touched: Touched | None = None) -> None:
    """Rewrite the daily rows of ``days`` (only of the ``touched`` units, when given) from the facts."""
    for start in range(0, len(days), 200):
        chunk = days[start : start + 200]
        if touched is None:
            session.execute(delete(EvaluationDaily).where(EvaluationDaily.day.in_(chunk)))
        else:
            for dim, codes in touched.items():
                for part in _parts(codes):
                    session.execute(
                        delete(EvaluationDaily).where(
                            EvaluationDaily.day.in_(chunk),
                            EvaluationDaily.dim == dim,
                            EvaluationDaily.code.in_(part),
                        )
                    )
        _insert_grouped(
            session, EvaluationFact.filed_day.in_(chunk), EvaluationFact.due_day.in_(chunk), touched
        )
    rebuild_months(session, sorted({d.replace(day=1) for d in days}), touched)


def _parts(codes: set[str], size: int = 500) -> list[list[str]]:
    ordered = sorted(codes)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def rebuild_months(session: Session, months: list[date], touched: Touched | None = None) -> None:
    """Rewrite the monthly rows of ``months`` (first days) from the daily rows (of ``touched`` units)."""
    for first in months:
        end = (first + timedelta(days=32)).replace(day=1)
        scopes: list[Any] = (
            [None]
            if touched is None
            else [(dim, part) for dim, codes in touched.items() for part in _parts(codes)]
        )
        for scope in scopes:
            where = [EvaluationDaily.day >= first, EvaluationDaily.day < end]
            gone = [EvaluationMonthly.day == first]
            if scope is not None:
                where += [EvaluationDaily.dim == scope[0], EvaluationDaily.code.in_(scope[1])]
                gone += [EvaluationMonthly.dim == scope[0], EvaluationMonthly.code.in_(scope[1])]
            session.execute(delete(EvaluationMonthly).where(*gone))
            sel = (
                select(
                    literal(first).label("day"),
                    EvaluationDaily.dim,
                    EvaluationDaily.code,
                    EvaluationDaily.kind,
                    *(func.sum(getattr(EvaluationDaily, m)).label(m) for m in _ALL_MEASURES),
                )
                .where(*where)
                .group_by(EvaluationDaily.dim, EvaluationDaily.code, EvaluationDaily.kind)
            )
            session.execute(insert(_MONTHLY).from_select(["day", "dim", "code", "kind", *_ALL_MEASURES], sel))


def _insert_grouped(
    session: Session, filed_where: Any, due_where: Any, touched: Touched | None = None
) -> None:
    for dim in SUMMARY_DIMENSIONS:
        if touched is None:
            _insert_dim(session, dim, filed_where, due_where, None)
        else:
            for part in _parts(touched.get(dim, set())):
                _insert_dim(session, dim, filed_where, due_where, part)


def _insert_dim(
    session: Session, dim: str, filed_where: Any, due_where: Any, codes: list[str] | None
) -> None:
    zero = literal(0)
    code = _CODE_COLUMN[dim]
    only = code.in_(codes) if codes is not None else code.is_not(None)
    for kind, day_col, where, measures in (
        ("filed", EvaluationFact.filed_day, filed_where, ("filed", *FILED_MEASURES)),
        ("due", EvaluationFact.due_day, due_where, DUE_MEASURES),
    ):
        values: dict[str, Any] = {}
        for m in ("filed", *FILED_MEASURES, *DUE_MEASURES):
            if m not in measures:
                values[m] = zero
            elif m == "filed":
                values[m] = func.count()
            else:
                values[m] = func.sum(getattr(EvaluationFact, m))
        cols = [
            day_col.label("day"),
            literal(dim).label("dim"),
            code.label("code"),
            literal(kind).label("kind"),
        ]
        sel = (
            select(*cols, *(v.label(k) for k, v in values.items()))  # type: ignore[call-overload]
            .where(where, day_col.is_not(None), code.is_not(None), only)
            .group_by(day_col, code)
        )
        session.execute(insert(_DAILY).from_select(["day", "dim", "code", "kind", *values], sel))


def rebuild(session: Session, district: str, now: datetime) -> dict[str, int]:
    """Recompute every fact and every daily row from the cases (the first run, or a repair)."""
    session.execute(delete(EvaluationMonthly))
    session.execute(delete(EvaluationDaily))
    session.execute(delete(EvaluationFact))
    cal = aggregates.calendar(session)
    batch: list[dict[str, Any]] = []
    n = 0
    for c in aggregates.case_facts(session):
        batch.append(fact_row(c, district, now, cal))
        if len(batch) >= 5000:
            session.execute(insert(_FACTS), batch)
            n += len(batch)
            batch = []
    if batch:
        session.execute(insert(_FACTS), batch)
        n += len(batch)
    _insert_grouped(session, EvaluationFact.filed_day.is_not(None), EvaluationFact.due_day.is_not(None))
    all_days = list(session.scalars(select(EvaluationDaily.day).distinct()))
    rebuild_months(session, sorted({d.replace(day=1) for d in all_days}))
    return {"facts": n, "days": len(all_days)}


def due_between(session: Session, since: datetime, until: datetime) -> set[uuid.UUID]:
    """Cases whose deadline passed in (since, until]: their "due" and "overdue" flags change with time."""
    return set(
        session.scalars(
            select(EvaluationFact.case_id).where(
                EvaluationFact.deadline > since, EvaluationFact.deadline <= until
            )
        )
    )


def measure_sums(table: type[EvaluationDaily] | type[EvaluationMonthly] = EvaluationDaily) -> list[Any]:
    """SUM(...) of every measure of ``table``, labelled by its name (0 when empty)."""
    return [func.coalesce(func.sum(getattr(table, m)), 0).label(m) for m in _ALL_MEASURES]

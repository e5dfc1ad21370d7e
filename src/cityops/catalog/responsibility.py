"""The responsibility list (权责清单): which department handles a category in an area.

``responsible_department`` runs on every case creation, so it is one query served by the unique
(category_code, area_code) index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts import service as accounts
from cityops.catalog import limits
from cityops.catalog.models import Category, Responsibility
from cityops.errors import Invalid, NotFound


def _get_category(session: Session, code: str) -> None:
    from cityops.catalog.service import get_category

    get_category(session, code)


def responsible_department(session: Session, category_code: str, area_codes: Sequence[str]) -> str:
    """The department code responsible for ``category_code`` in the most specific matching area.

    ``area_codes`` go most specific first (grid, community, street, district). One indexed
    query (the unique (category_code, area_code) index). Raises Invalid
    ("no_responsible_department") when no row matches, NotFound for an unknown category.
    """
    codes = [c for c in area_codes if c]
    rows = (
        session.execute(
            select(Responsibility.area_code, Responsibility.department_code).where(
                Responsibility.category_code == category_code, Responsibility.area_code.in_(codes)
            )
        ).all()
        if codes
        else []
    )
    if rows:
        by_area = {r.area_code: r.department_code for r in rows}
        for area in codes:
            if area in by_area:
                return str(by_area[area])
    _get_category(session, category_code)
    area = codes[0] if codes else ""
    raise Invalid(
        f"类别 {category_code} 在区域 {area or '（未指定）'} 没有配置责任部门，请在权责清单中补充",
        f"No responsible department for category {category_code!r} in area {area!r}; "
        "add a row to the responsibility list",
        code="no_responsible_department",
        details={"category_code": category_code, "area_codes": codes},
    )


def responsibility_map(session: Session, category_code: str) -> dict[str, str]:
    """Every area → department row of one category (callers cache it to route from memory)."""
    rows = session.execute(
        select(Responsibility.area_code, Responsibility.department_code).where(
            Responsibility.category_code == category_code
        )
    ).all()
    return {str(r.area_code): str(r.department_code) for r in rows}


def list_responsibilities(
    session: Session,
    *,
    category_code: str | None = None,
    area_code: str | None = None,
    department_code: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Responsibility], int]:
    stmt = select(Responsibility)
    if category_code:
        stmt = stmt.where(Responsibility.category_code == category_code)
    if area_code:
        stmt = stmt.where(Responsibility.area_code == area_code)
    if department_code:
        stmt = stmt.where(Responsibility.department_code == department_code)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (Responsibility.category_code, Responsibility.area_code)
    rows = session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total


def check_responsibility_rows(
    session: Session, rows: Sequence[tuple[str, str, str]], *, known_categories: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Per-row problems of (category, area, department) triples; empty when all are fine."""
    categories = set(known_categories) | set(
        session.scalars(select(Category.code).where(Category.code.in_({r[0] for r in rows})))
    )
    departments = set(accounts.department_names(session, {r[2] for r in rows}))
    errors: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for i, (cat, area, dept) in enumerate(rows):
        if cat not in categories:
            errors.append(
                {"row": i, "field": "category_code", "message": f"类别 {cat} 不存在 / unknown category"}
            )
        if not area or not limits.LOCAL_CODE.match(area):
            errors.append(
                {"row": i, "field": "area_code", "message": f"区域代码 {area!r} 无效 / invalid area code"}
            )
        if dept not in departments:
            errors.append(
                {"row": i, "field": "department_code", "message": f"部门 {dept} 不存在 / unknown department"}
            )
        if (cat, area) in seen:
            errors.append(
                {
                    "row": i,
                    "field": "area_code",
                    "message": f"类别 {cat} 在区域 {area} 重复 / duplicate category and area",
                }
            )
        seen.add((cat, area))
    return errors


def upsert_responsibilities(session: Session, rows: Sequence[tuple[str, str, str]]) -> list[Responsibility]:
    """Insert or update (category, area) → department rows; all are checked before any is written."""
    errors = check_responsibility_rows(session, rows)
    if errors:
        raise Invalid(
            "权责清单有错误，未做任何修改",
            "The responsibility rows have errors; nothing was changed",
            code="invalid_rows",
            details={"errors": errors},
        )
    out = []
    for cat, area, dept in rows:
        row = session.scalar(
            select(Responsibility).where(
                Responsibility.category_code == cat, Responsibility.area_code == area
            )
        )
        if row is None:
            row = Responsibility(category_code=cat, area_code=area, department_code=dept)
            session.add(row)
        else:
            row.department_code = dept
        out.append(row)
    session.flush()
    return out


def get_responsibility(session: Session, row_id: int) -> Responsibility:
    """One row of the list; NotFound when there is none."""
    row = session.get(Responsibility, row_id)
    if row is None:
        raise NotFound(
            f"权责清单条目 {row_id} 不存在",
            f"Responsibility row {row_id} does not exist",
            details={"id": row_id},
        )
    return row


def delete_responsibility(session: Session, row_id: int) -> None:
    session.delete(get_responsibility(session, row_id))
    session.flush()

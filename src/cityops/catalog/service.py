"""Operations of the catalog: the directory, time limits and the responsibility list.

Every function takes a Session and never commits (one request or job is one transaction).
Department operations (:mod:`.departments`) and the responsibility list (:mod:`.responsibility`)
live in their own modules and are re-exported here, so callers use ``catalog.service`` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cityops.catalog import limits
from cityops.catalog.departments import (
    create_department,
    get_department,
    list_departments,
    update_department,
)
from cityops.catalog.models import GRADES, LIMIT_KINDS, Category, CategoryTimeLimit
from cityops.catalog.responsibility import (
    check_responsibility_rows,
    delete_responsibility,
    get_responsibility,
    list_responsibilities,
    responsibility_map,
    responsible_department,
    upsert_responsibilities,
)
from cityops.errors import Conflict, Invalid, NotFound

__all__ = [
    "category_limits",
    "check_responsibility_rows",
    "create_department",
    "create_local_category",
    "delete_responsibility",
    "get_category",
    "get_department",
    "get_responsibility",
    "list_categories",
    "list_departments",
    "list_responsibilities",
    "load_directory",
    "load_directory_entries",
    "require_category",
    "responsibility_map",
    "responsible_department",
    "set_stage_limits",
    "set_time_limits",
    "stage_limits",
    "time_limit_for",
    "unknown_category",
    "update_category",
    "update_department",
    "upsert_responsibilities",
]

LimitValue = tuple[str, float]


# --- directory ---------------------------------------------------------------------------


def load_directory(session: Session) -> int:
    """Load the shipped GB/T 47678.5 directory with default limits; returns categories added.

    Idempotent: existing categories and their limits are left as administrators edited them.
    """
    return load_directory_entries(session, limits.directory())


def load_directory_entries(session: Session, entries: Iterable[limits.DirectoryEntry]) -> int:
    """Add the standard categories of ``entries`` that are missing, with their default limits."""
    existing = set(session.scalars(select(Category.code)))
    with_limits = set(session.scalars(select(CategoryTimeLimit.category_code).distinct()))
    added = 0
    for entry in entries:
        default = limits.default_limit(entry)
        if entry.code not in existing:
            session.add(
                Category(
                    code=entry.code,
                    name=entry.name,
                    kind=entry.kind,
                    major_code=entry.major_code,
                    major_name=entry.major_name,
                    std_code=entry.std_code,
                    filing_criterion=default.filing_criterion,
                    closing_criterion=default.closing_criterion,
                    local=False,
                    active=True,
                    emergency=default.kind == "emergency",
                )
            )
            existing.add(entry.code)
            added += 1
        if entry.code not in with_limits:
            # Only a category with no limit at all gets the defaults, so a deleted override
            # is not brought back by the next load.
            session.add(
                CategoryTimeLimit(
                    category_code=entry.code, grade=None, kind=default.kind, value=default.value
                )
            )
            for grade, value in limits.graded(default.kind, default.value).items():
                session.add(
                    CategoryTimeLimit(category_code=entry.code, grade=grade, kind=default.kind, value=value)
                )
            with_limits.add(entry.code)
    session.flush()
    return added


# --- categories --------------------------------------------------------------------------


def get_category(session: Session, code: str) -> Category:
    """The category with ``code``; NotFound when there is none."""
    category = session.get(Category, code)
    if category is None:
        raise NotFound(
            f"类别 {code} 不存在",
            f"Category {code!r} does not exist",
            code="category_not_found",
            details={"category_code": code},
        )
    return category


def unknown_category(code: str, field: str = "category_code") -> Invalid:
    """The 422 for a request body naming a category that does not exist (bad input, not a bad URL)."""
    return Invalid(
        f"未知的案件类别：{code}",
        f"unknown category_code {code!r}; see the category directory",
        code="unknown_category",
        details={"field": field},
    )


def require_category(session: Session, code: str, field: str = "category_code") -> Category:
    """Like :func:`get_category` for a code that came in a request body: Invalid instead of NotFound."""
    try:
        return get_category(session, code)
    except NotFound:
        raise unknown_category(code, field) from None


def list_categories(
    session: Session,
    *,
    kind: str | None = None,
    q: str | None = None,
    local: bool | None = None,
    active: bool | None = None,
    major_code: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Category], int]:
    """One page of categories ordered by code, and the total matching."""
    stmt = select(Category)
    if kind is not None:
        stmt = stmt.where(Category.kind == kind)
    if local is not None:
        stmt = stmt.where(Category.local == local)
    if active is not None:
        stmt = stmt.where(Category.active == active)
    if major_code is not None:
        stmt = stmt.where(Category.major_code == major_code)
    if q:
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(or_(Category.code.like(pattern), Category.name.like(pattern)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Category.code).limit(limit).offset(offset)).all()
    return list(rows), total


def check_local_code(code: str) -> None:
    """A local code must be well-formed and must not look like a code of the standard."""
    if not limits.LOCAL_CODE.match(code):
        raise Invalid(
            "本地类别代码只能包含字母、数字、-、_，最长 16 位",
            "A local category code has 1-16 letters, digits, '-' or '_'",
            details={"field": "code", "code": code},
        )
    if limits.looks_standard(code):
        raise Invalid(
            f"代码 {code} 是国家标准代码格式（5 位数字或 C+5 位数字），本地类别请用 6 位以上或带前缀的代码",
            f"{code!r} is shaped like a GB/T 47678.5 code; use 6+ digits or a prefix for a local category",
            code="reserved_category_code",
            details={"field": "code", "code": code},
        )


def create_local_category(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str,
    time_limit: LimitValue,
    grade_limits: Mapping[str, LimitValue] | None = None,
    major_code: str = "",
    major_name: str = "",
    filing_criterion: str = "",
    closing_criterion: str = "",
    active: bool = True,
    emergency: bool = False,
) -> Category:
    """Create a local category (``local=True``) with its default limit and grade overrides."""
    check_local_code(code)
    _check_kind(kind)
    if session.get(Category, code) is not None:
        raise Conflict(
            f"类别 {code} 已存在",
            f"Category {code!r} already exists",
            code="category_exists",
            details={"category_code": code},
        )
    category = Category(
        code=code,
        name=name.strip(),
        kind=kind,
        major_code=major_code,
        major_name=major_name,
        std_code=None,
        filing_criterion=filing_criterion,
        closing_criterion=closing_criterion,
        local=True,
        active=active,
        emergency=emergency,
    )
    session.add(category)
    session.flush()
    set_time_limits(session, code, time_limit, grade_limits or {})
    return category


def update_category(
    session: Session,
    code: str,
    *,
    name: str | None = None,
    filing_criterion: str | None = None,
    closing_criterion: str | None = None,
    active: bool | None = None,
    emergency: bool | None = None,
) -> Category:
    """Change the editable fields of a category; None leaves a field as it is."""
    category = get_category(session, code)
    if name is not None:
        if not name.strip():
            raise Invalid("名称不能为空", "name must not be empty", details={"field": "name"})
        category.name = name.strip()
    if filing_criterion is not None:
        category.filing_criterion = filing_criterion
    if closing_criterion is not None:
        category.closing_criterion = closing_criterion
    if active is not None:
        category.active = active
    if emergency is not None:
        category.emergency = emergency
    session.flush()
    return category


def _check_kind(kind: str) -> None:
    if kind not in ("component", "event"):
        raise Invalid(
            "类型必须是 component（部件）或 event（事件）",
            "kind must be 'component' or 'event'",
            details={"field": "kind", "value": kind},
        )


# --- time limits -------------------------------------------------------------------------


def check_limit(kind: str, value: float, *, field: str = "time_limit") -> None:
    """Raise Invalid unless ``kind`` is a known limit kind and ``value`` a positive number."""
    if kind not in LIMIT_KINDS:
        raise Invalid(
            "时限类型必须是 emergency（应急）、working_hours（工作时）或 working_days（工作日）",
            "limit kind must be emergency, working_hours or working_days",
            details={"field": field, "kind": kind},
        )
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise Invalid(
            "时限值必须是大于 0 的数字",
            "limit value must be a number greater than 0",
            details={"field": field, "value": value},
        )


def _grade(grade: str | None) -> str | None:
    if grade is None or grade == "":
        return None
    normalised = grade.strip().upper()
    if normalised not in GRADES:
        raise Invalid(
            "区域等级必须是 A、B 或 C",
            "area grade must be A, B or C",
            details={"field": "grade", "value": grade},
        )
    return normalised


def time_limit_for(session: Session, category_code: str, grade: str | None) -> tuple[str, float]:
    """(kind, value) of the category's limit in an area of ``grade``; the grade override wins.

    NotFound for an unknown category; Invalid ("no_time_limit") when it has no limit.
    """
    g = _grade(grade)
    cond: ColumnElement[bool] = CategoryTimeLimit.grade.is_(None)
    if g is not None:
        cond = or_(cond, CategoryTimeLimit.grade == g)
    rows = session.execute(
        select(CategoryTimeLimit.grade, CategoryTimeLimit.kind, CategoryTimeLimit.value).where(
            CategoryTimeLimit.category_code == category_code, cond
        )
    ).all()
    if not rows:
        get_category(session, category_code)  # NotFound for an unknown category
        raise Invalid(
            f"类别 {category_code} 未设置处置时限",
            f"Category {category_code!r} has no time limit",
            code="no_time_limit",
            details={"category_code": category_code},
        )
    best = max(rows, key=lambda r: r.grade is not None)
    return best.kind, float(best.value)


def category_limits(session: Session, code: str) -> dict[str | None, LimitValue]:
    """All limits of a category keyed by grade (None = the default)."""
    rows = session.scalars(select(CategoryTimeLimit).where(CategoryTimeLimit.category_code == code))
    return {r.grade: (r.kind, float(r.value)) for r in rows}


def set_time_limits(
    session: Session,
    code: str,
    default: LimitValue | None,
    grade_limits: Mapping[str, LimitValue | None],
    *,
    replace: bool = False,
) -> dict[str | None, LimitValue]:
    """Set the default (when given) and per-grade limits; a grade mapped to None is removed.

    With ``replace`` the grade overrides not named in ``grade_limits`` are removed too.
    """
    get_category(session, code)
    wanted: dict[str | None, LimitValue | None] = {}
    if default is not None:
        check_limit(*default)
        wanted[None] = default
    for grade, lim in grade_limits.items():
        g = _grade(grade)
        if g is None:
            raise Invalid(
                "等级覆盖必须指明 A、B 或 C",
                "a grade override needs grade A, B or C",
                details={"field": "grade_limits"},
            )
        if lim is not None:
            check_limit(*lim, field=f"grade_limits.{g}")
        wanted[g] = lim
    rows = {
        r.grade: r
        for r in session.scalars(select(CategoryTimeLimit).where(CategoryTimeLimit.category_code == code))
    }
    if replace:
        for g in GRADES:
            wanted.setdefault(g, None)
    for g, lim in wanted.items():
        row = rows.get(g)
        if lim is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(CategoryTimeLimit(category_code=code, grade=g, kind=lim[0], value=float(lim[1])))
        else:
            row.kind, row.value = lim[0], float(lim[1])
    session.flush()
    if None not in category_limits(session, code):
        raise Invalid(
            "类别必须有默认时限",
            "a category needs a default time limit",
            code="no_time_limit",
            details={"category_code": code},
        )
    return category_limits(session, code)


# --- stage limits (verification, rework, extension ceiling) ------------------------------

STAGE_FIELDS = ("verify_limit_hours", "rework_limit_value", "max_extension_hours")


def stage_limits(session: Session, code: str) -> dict[str, float | None]:
    """The category's verification, rework and extension-ceiling settings (None = default)."""
    category = get_category(session, code)
    return {name: getattr(category, name) for name in STAGE_FIELDS}


def set_stage_limits(session: Session, code: str, values: Mapping[str, float | None]) -> Category:
    """Set the named stage settings; a value of None goes back to the default."""
    category = get_category(session, code)
    for name, value in values.items():
        if name not in STAGE_FIELDS:
            raise Invalid(
                f"未知的时限设置：{name}",
                f"unknown stage setting {name!r}; use one of {', '.join(STAGE_FIELDS)}",
                details={"field": name},
            )
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
            or value > 10_000
        ):
            raise Invalid(
                f"{name} 必须是 0 到 10000 之间的正数",
                f"{name} must be a number greater than 0 and at most 10000",
                details={"field": name, "value": value},
            )
        setattr(category, name, None if value is None else float(value))
    session.flush()
    return category

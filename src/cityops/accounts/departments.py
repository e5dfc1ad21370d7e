"""Departments and street offices (处置单位) that cases are sent to: the one implementation.

Accounts owns the ``departments`` table (users belong to a department, and accounts is below
catalog and cases, which refer to departments). The catalog's admin API and the demo loader call
these functions through ``accounts.service`` (``catalog.departments`` re-exports them). Never
commits. Every change is written to the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts import audit
from cityops.accounts.models import Department
from cityops.accounts.principal import Principal
from cityops.errors import Conflict, Invalid, NotFound

DEPARTMENT_KINDS = ("department", "street", "utility")


def _check_kind(kind: str) -> None:
    if kind not in DEPARTMENT_KINDS:
        raise Invalid(
            "部门类型必须是 department、street 或 utility",
            "department kind must be department, street or utility",
            details={"field": "kind", "value": kind},
        )


def create_department(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str = "department",
    area_code: str | None = None,
    phone: str | None = None,
    active: bool = True,
    actor: Principal | None = None,
) -> Department:
    """Add a department or street office; Invalid for a bad kind or blank code/name, Conflict
    when the code is taken."""
    _check_kind(kind)
    if not code.strip() or not name.strip():
        raise Invalid(
            "部门代码和名称不能为空",
            "department code and name are required",
            details={"fields": ["code", "name"]},
        )
    if session.get(Department, code) is not None:
        raise Conflict(
            f"部门 {code} 已存在",
            f"Department {code!r} already exists",
            code="department_exists",
            details={"department_code": code},
        )
    department = Department(
        code=code,
        name=name.strip(),
        kind=kind,
        area_code=area_code or None,
        phone=phone or None,
        active=active,
    )
    session.add(department)
    session.flush()
    audit.record(
        session, actor, "department.create", "department", code, {"name": department.name, "kind": kind}
    )
    return department


def get_department(session: Session, code: str) -> Department:
    """The department with ``code``; NotFound when there is none."""
    department = session.get(Department, code)
    if department is None:
        raise NotFound(
            f"部门 {code} 不存在",
            f"Department {code!r} does not exist",
            code="department_not_found",
            details={"department_code": code},
        )
    return department


def list_departments(
    session: Session,
    *,
    kind: str | None = None,
    active: bool | None = None,
    active_only: bool | None = None,
) -> list[Department]:
    """Departments ordered by code, optionally of one kind or activity (``active_only=True`` is
    the older spelling of ``active=True``)."""
    if active_only:
        active = True
    stmt = select(Department).order_by(Department.code)
    if kind is not None:
        stmt = stmt.where(Department.kind == kind)
    if active is not None:
        stmt = stmt.where(Department.active == active)
    return list(session.scalars(stmt))


def department_names(session: Session, codes: Iterable[str] | None = None) -> dict[str, str]:
    """``{code: name}`` of the given departments (all when ``codes`` is None), in one query."""
    stmt = select(Department.code, Department.name)
    if codes is not None:
        stmt = stmt.where(Department.code.in_(set(codes)))
    return {code: name for code, name in session.execute(stmt)}


_UNSET: object = object()


def update_department(
    session: Session,
    code: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    area_code: str | object | None = _UNSET,
    phone: str | object | None = _UNSET,
    active: bool | None = None,
    actor: Principal | None = None,
) -> Department:
    """Change a department; ``area_code``/``phone`` given as None clear the value."""
    department = get_department(session, code)
    changed: dict[str, object] = {}
    if name is not None:
        if not name.strip():
            raise Invalid("名称不能为空", "name must not be empty", details={"field": "name"})
        department.name = changed["name"] = name.strip()
    if kind is not None:
        _check_kind(kind)
        department.kind = changed["kind"] = kind
    if area_code is not _UNSET:
        department.area_code = changed["area_code"] = area_code or None  # type: ignore[assignment]
    if phone is not _UNSET:
        department.phone = phone or None  # type: ignore[assignment]
        changed["phone"] = "changed"  # a phone number is personal data: not in the audit details
    if active is not None:
        department.active = changed["active"] = active
    session.flush()
    audit.record(session, actor, "department.update", "department", code, changed)
    return department

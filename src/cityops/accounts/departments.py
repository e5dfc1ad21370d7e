"""Departments and street offices (处置单位) that cases are sent to. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts import audit
from cityops.accounts.models import Department
from cityops.accounts.principal import Principal
from cityops.errors import Conflict


def create_department(
    session: Session,
    *,
    code: str,
    name: str,
    kind: str = "department",
    area_code: str | None = None,
    phone: str | None = None,
    actor: Principal | None = None,
) -> Department:
    """Add a department or street office (处置单位); ``code`` must be new."""
    if session.get(Department, code) is not None:
        raise Conflict(
            f"处置单位编码已存在：{code}",
            f"A department with code {code!r} already exists",
            code="department_exists",
            details={"field": "code", "value": code},
        )
    department = Department(code=code, name=name, kind=kind, area_code=area_code, phone=phone, active=True)
    session.add(department)
    session.flush()
    audit.record(session, actor, "department.create", "department", code, {"name": name, "kind": kind})
    return department


def list_departments(session: Session, *, active_only: bool = True) -> list[Department]:
    """Departments ordered by code."""
    query = select(Department).order_by(Department.code)
    if active_only:
        query = query.where(Department.active.is_(True))
    return list(session.scalars(query))

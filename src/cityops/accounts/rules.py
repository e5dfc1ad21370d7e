"""Validation rules shared by the accounts operations (pure checks plus one lookup)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cityops.accounts.models import ROLES, Department
from cityops.accounts.principal import NEEDS_DEPARTMENT
from cityops.errors import Conflict, Invalid


def check_role(role: str) -> None:
    """Raise ``Invalid`` ("invalid_role") unless ``role`` is one of ``ROLES``."""
    if role not in ROLES:
        raise Invalid(
            f"未知角色：{role}，可选：{'、'.join(ROLES)}",
            f"Unknown role {role!r}; use one of: {', '.join(ROLES)}",
            code="invalid_role",
            details={"field": "role", "allowed": list(ROLES)},
        )


def check_username(username: str) -> str:
    """Return the trimmed user name or raise ``Invalid`` ("invalid_username")."""
    username = username.strip()
    if not 2 <= len(username) <= 64 or any(ch.isspace() for ch in username):
        raise Invalid(
            "用户名须为 2–64 个字符且不含空格",
            "The user name needs 2–64 characters and no spaces",
            code="invalid_username",
            details={"field": "username"},
        )
    return username


def check_scope(session: Session, role: str, department_code: str | None) -> None:
    """Handlers need a department; any department given must exist and be active."""
    if role in NEEDS_DEPARTMENT and not department_code:
        raise Invalid(
            "处置人员必须属于一个处置单位，请填写 department_code",
            "A handler must belong to a department; give department_code",
            code="department_required",
            details={"field": "department_code"},
        )
    if department_code is not None:
        department = session.get(Department, department_code)
        if department is None or not department.active:
            raise Invalid(
                f"处置单位不存在或已停用：{department_code}",
                f"No active department with code {department_code!r}",
                code="unknown_department",
                details={"field": "department_code", "value": department_code},
            )


def check_area(session: Session, area_code: str | None) -> None:
    """An area given for a user's scope must exist (the areas capability's service says so)."""
    if area_code is None:
        return
    from cityops.areas import service as areas
    from cityops.errors import NotFound

    try:
        areas.get_area(session, area_code)
    except NotFound:
        raise Invalid(
            f"区域不存在：{area_code}（请填写街道、社区或网格编码）",
            f"No area with code {area_code!r}; give a street, community or grid code",
            code="unknown_area",
            details={"field": "area_code", "value": area_code},
        ) from None


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE … ESCAPE '\\'``, with ``%``, ``_`` and ``\\`` in ``text`` matching
    only themselves (a search for "100%" must not match everyone)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def username_taken(username: str) -> Conflict:
    """The error for a user name that is already in use."""
    return Conflict(
        f"用户名已被使用：{username}",
        f"The user name {username!r} is already taken; choose another",
        code="username_taken",
        details={"field": "username", "value": username},
    )

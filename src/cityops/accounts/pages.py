"""The administrator's accounts pages: users and roles, departments, the audit trail.

- ``/admin/users``: users with filters (role, department, street, active, name) and totals;
  ``/admin/users/new`` create one; ``/admin/users/{id}`` change role, department, area and name,
  deactivate or reactivate, reset the password (a one-time password generated and shown once, or
  one the administrator types). The last active administrator cannot lose the role (the service
  says why).
- ``/admin/departments``: departments and street offices; create, edit, deactivate.
- ``/admin/audit``: the audit trail with filters (actor, action, object, period), paged, with
  totals; personal data in event details masked as in the API.

Every handler calls ``accounts.service`` (or ``accounts.audit``) as ``accounts/api.py`` does, with
the caller as the actor, so every change lands in the audit trail. Only ``admin`` may open them.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from fastapi import Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityops.accounts import audit, masking, rules, service
from cityops.accounts.models import ROLES
from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.errors import DomainError, Forbidden, Invalid
from cityops.kit.workcal import LOCAL_TZ
from cityops.web import templating
from cityops.web.deps import ReadSessionDep, SessionDep
from cityops.web.pagekit import (
    CsrfForm,
    Paging,
    domain_field_error,
    form_values,
    page_roles,
    page_router,
    parse_form,
    redirect,
)
from cityops.web.templating import N_

router = page_router(tags=["accounts"])
ADMIN = Depends(page_roles("admin"))
PAGE = 50
DEPARTMENT_KINDS = {"department": N_("职能部门"), "street": N_("街道办事处"), "utility": N_("公用事业单位")}


def _half(message: str, lang: str) -> str:
    zh, _sep, en = message.partition(" / ")
    return en if lang == "en" and en else zh


def _streets(session: Session) -> list[tuple[str, str]]:
    return [(a.code, a.name) for a in areas.list_areas(session, level="street")]


def _role_options() -> list[tuple[str, str]]:
    return [(r, templating.role_label(r)) for r in ROLES]


def _department_options(session: Session) -> list[tuple[str, str]]:
    return [(d.code, d.name) for d in service.list_departments(session, active=True)]


def _one_time_password() -> str:
    """Twelve characters from the URL-safe alphabet (72 bits): to be shown once and changed."""
    return secrets.token_urlsafe(9)


# --- users ------------------------------------------------------------------------------------------


@router.get("/admin/users")
def user_list(
    request: Request,
    session: ReadSessionDep,
    role: Literal["", "citizen", "inspector", "operator", "dispatcher", "handler", "leader", "admin"] = "",
    department_code: str = Query(default="", max_length=32),
    street: str = Query(default="", max_length=20, pattern=r"^\d*$"),
    active: Literal["", "1", "0"] = "",
    q: str = Query(default="", max_length=64),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    _admin: Principal = ADMIN,
) -> Response:
    users, total = service.list_users(
        session,
        role=role or None,
        department_code=department_code or None,
        area_prefix=street or None,
        active=None if active == "" else active == "1",
        search=q.strip() or None,
        limit=PAGE,
        offset=offset,
    )
    t = templating.t
    departments = dict(_department_options(session))
    fields = [
        {"name": "q", "label": t("用户名或姓名"), "type": "search"},
        {"name": "role", "label": t("角色"), "options": _role_options()},
        {"name": "department_code", "label": t("部门"), "options": sorted(departments.items())},
        {"name": "street", "label": t("街道"), "options": _streets(session)},
        {"name": "active", "label": t("状态"), "options": [("1", t("启用")), ("0", t("停用"))]},
    ]
    return templating.render(
        request,
        "accounts/users.html",
        {
            "users": users,
            "page": Paging(total=total, offset=offset, limit=PAGE),
            "fields": fields,
            "values": dict(request.query_params),
            "departments": service.department_names(session),
            "mask_name": masking.mask_name,
            "role_label": templating.role_label,
        },
    )


class UserForm(BaseModel):
    """The fields of the create and edit forms; blank department/area mean none."""

    role: str = Field(min_length=1, max_length=20)
    display_name: str = Field(default="", max_length=100)
    department_code: str | None = Field(default=None, max_length=32)
    area_code: str | None = Field(default=None, max_length=20)


class NewUserForm(UserForm):
    username: str = Field(min_length=2, max_length=64)
    password: str | None = Field(default=None, min_length=8, max_length=256)


def _user_form_context(session: Session, **extra: Any) -> dict[str, Any]:
    return {
        "role_options": _role_options(),
        "department_options": _department_options(session),
        "street_options": _streets(session),
        **extra,
    }


@router.get("/admin/users/new")
def user_new(request: Request, session: ReadSessionDep, _admin: Principal = ADMIN) -> Response:
    context = _user_form_context(session, values={"role": "operator"}, errors={})
    return templating.render(request, "accounts/user_new.html", context)


@router.post("/admin/users/new")
def user_create(request: Request, form: CsrfForm, session: SessionDep, admin: Principal = ADMIN) -> Response:
    """Create a user; without a typed password one is generated and shown once on the next page."""
    lang = templating.lang_of(request)
    values = form_values(form)
    values.pop("password", None)  # never echo a password back
    data, errors = parse_form(NewUserForm, form, lang)
    if data is not None:
        password = data.password or _one_time_password()
        try:
            user = service.create_user(
                session,
                username=data.username,
                password=password,
                role=data.role,
                display_name=data.display_name,
                department_code=data.department_code,
                area_code=data.area_code,
                actor=admin,
                request_id=getattr(request.state, "request_id", None),
            )
        except DomainError as exc:
            session.rollback()
            errors = domain_field_error(exc, lang)
        else:
            if data.password:
                return redirect(request, f"/admin/users/{user.id}", templating.t("用户已创建"))
            return _password_shown(request, session, user.id, password, created=True)
    context = _user_form_context(session, values=values, errors=errors)
    return templating.render(request, "accounts/user_new.html", context, status_code=422)


def _user_page(
    request: Request,
    session: Session,
    user_id: uuid.UUID,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    user = service.get_user(session, user_id)
    current = {
        "role": user.role,
        "display_name": user.display_name,
        "department_code": user.department_code or "",
        "area_code": user.area_code or "",
    }
    events, total = audit.list_events(session, subject_type="user", subject_id=str(user.id), limit=10)
    context = _user_form_context(
        session,
        user=user,
        values=values if values is not None else current,
        errors=errors or {},
        events=events,
        event_total=total,
        masked_name=masking.mask_name(user.display_name),
        **extra,
    )
    return templating.render(request, "accounts/user.html", context, status_code=status_code)


def _password_shown(
    request: Request, session: Session, user_id: uuid.UUID, password: str, created: bool = False
) -> Response:
    """The user's page with the new password shown once (never put in a cookie or a URL)."""
    message = templating.t("用户已创建") if created else templating.t("密码已重置")
    return _user_page(request, session, user_id, one_time_password=password, notice=message)


@router.get("/admin/users/{user_id}")
def user_detail(
    request: Request, session: ReadSessionDep, user_id: uuid.UUID, _admin: Principal = ADMIN
) -> Response:
    return _user_page(request, session, user_id)


@router.post("/admin/users/{user_id}")
def user_save(
    request: Request, form: CsrfForm, session: SessionDep, user_id: uuid.UUID, admin: Principal = ADMIN
) -> Response:
    """Change role, department, area and display name (a change of scope signs the user out)."""
    lang = templating.lang_of(request)
    data, errors = parse_form(UserForm, form, lang)
    if data is not None:
        try:
            service.update_user(
                session,
                user_id,
                {
                    "role": data.role,
                    "display_name": data.display_name,
                    "department_code": data.department_code,
                    "area_code": data.area_code,
                },
                actor=admin,
                request_id=getattr(request.state, "request_id", None),
            )
        except DomainError as exc:
            session.rollback()
            errors = domain_field_error(exc, lang)
        else:
            return redirect(request, f"/admin/users/{user_id}", templating.t("已保存"))
    return _user_page(request, session, user_id, form_values(form), errors, 422)


@router.post("/admin/users/{user_id}/active")
def user_active(
    request: Request, form: CsrfForm, session: SessionDep, user_id: uuid.UUID, admin: Principal = ADMIN
) -> Response:
    """Deactivate (every token of the user is refused from then on) or reactivate."""
    active = form.get("active") == "1"
    try:
        service.update_user(session, user_id, {"active": active}, actor=admin)
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        errors = {"active": _half(exc.message, templating.lang_of(request))}
        return _user_page(request, session, user_id, errors=errors, status_code=exc.status)
    return redirect(
        request, f"/admin/users/{user_id}", templating.t("已启用") if active else templating.t("已停用")
    )


@router.post("/admin/users/{user_id}/password")
def user_password(
    request: Request, form: CsrfForm, session: SessionDep, user_id: uuid.UUID, admin: Principal = ADMIN
) -> Response:
    """Reset the password: ``mode=generate`` makes a one-time password shown once on the page;
    ``mode=set`` takes the typed ``password`` (the policy of the service applies)."""
    lang = templating.lang_of(request)
    mode = form.get("mode")
    typed = str(form.get("password") or "")
    if mode == "set" and not typed:
        return _user_page(
            request, session, user_id, errors={"password": templating.t("请填写新密码")}, status_code=422
        )
    password = typed if mode == "set" else _one_time_password()
    try:
        service.update_user(session, user_id, {"password": password}, actor=admin)
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _user_page(
            request, session, user_id, errors=domain_field_error(exc, lang, "password"), status_code=422
        )
    if mode == "set":
        return redirect(request, f"/admin/users/{user_id}", templating.t("密码已重置"))
    return _password_shown(request, session, user_id, password)


# --- departments ------------------------------------------------------------------------------------


class DepartmentForm(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["department", "street", "utility"] = "department"
    area_code: str | None = Field(default=None, max_length=20)
    phone: str | None = Field(default=None, max_length=30)
    active: bool = False


class NewDepartmentForm(DepartmentForm):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]*$")


def _departments_page(
    request: Request,
    session: Session,
    kind: str = "",
    active: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = service.list_departments(
        session, kind=kind or None, active=None if active == "" else active == "1"
    )
    t = templating.t
    fields = [
        {"name": "kind", "label": t("类型"), "options": [(k, t(v)) for k, v in DEPARTMENT_KINDS.items()]},
        {"name": "active", "label": t("状态"), "options": [("1", t("启用")), ("0", t("停用"))]},
    ]
    return templating.render(
        request,
        "accounts/departments.html",
        {
            "rows": rows,
            "page": Paging(total=len(rows), offset=0, limit=max(len(rows), 1)),
            "fields": fields,
            "filters": dict(request.query_params),
            "kinds": DEPARTMENT_KINDS,
            "kind_options": [(k, t(v)) for k, v in DEPARTMENT_KINDS.items()],
            "values": values if values is not None else {"kind": "department", "active": "1"},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/admin/departments")
def department_list(
    request: Request,
    session: ReadSessionDep,
    kind: Literal["", "department", "street", "utility"] = "",
    active: Literal["", "1", "0"] = "",
    _admin: Principal = ADMIN,
) -> Response:
    return _departments_page(request, session, kind, active)


def _department_errors(session: Session, data: DepartmentForm) -> None:
    """An area named for a department must exist (the user rule: accounts.rules.check_area)."""
    rules.check_area(session, data.area_code)


@router.post("/admin/departments")
def department_create(
    request: Request, form: CsrfForm, session: SessionDep, admin: Principal = ADMIN
) -> Response:
    lang = templating.lang_of(request)
    data, errors = parse_form(NewDepartmentForm, form, lang)
    if data is not None:
        try:
            _department_errors(session, data)
            service.create_department(
                session,
                code=data.code,
                name=data.name,
                kind=data.kind,
                area_code=data.area_code,
                phone=data.phone,
                active=data.active,
                actor=admin,
            )
        except DomainError as exc:
            session.rollback()
            errors = domain_field_error(exc, lang, "code" if exc.status == 409 else "__all__")
        else:
            return redirect(request, "/admin/departments", templating.t("部门已创建"))
    return _departments_page(request, session, values=form_values(form), errors=errors, status_code=422)


def _department_page(
    request: Request,
    session: Session,
    code: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    department = service.get_department(session, code)
    users, user_total = service.list_users(session, department_code=code, limit=20)
    current = {
        "name": department.name,
        "kind": department.kind,
        "area_code": department.area_code or "",
        "phone": department.phone or "",
        "active": "1" if department.active else "",
    }
    return templating.render(
        request,
        "accounts/department.html",
        {
            "d": department,
            "values": values if values is not None else current,
            "errors": errors or {},
            "kind_options": [(k, templating.t(v)) for k, v in DEPARTMENT_KINDS.items()],
            "users": users,
            "user_total": user_total,
        },
        status_code=status_code,
    )


@router.get("/admin/departments/{code}")
def department_detail(
    request: Request, session: ReadSessionDep, code: str = Path(max_length=32), _admin: Principal = ADMIN
) -> Response:
    return _department_page(request, session, code)


@router.post("/admin/departments/{code}")
def department_save(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    code: str = Path(max_length=32),
    admin: Principal = ADMIN,
) -> Response:
    lang = templating.lang_of(request)
    service.get_department(session, code)
    data, errors = parse_form(DepartmentForm, form, lang)
    if data is not None:
        try:
            _department_errors(session, data)
            service.update_department(
                session,
                code,
                name=data.name,
                kind=data.kind,
                area_code=data.area_code,
                phone=data.phone,
                active=data.active,
                actor=admin,
            )
        except DomainError as exc:
            session.rollback()
            errors = domain_field_error(exc, lang)
        else:
            return redirect(request, f"/admin/departments/{code}", templating.t("已保存"))
    return _department_page(request, session, code, form_values(form), errors, 422)


# --- the audit trail --------------------------------------------------------------------------------


def _day(text: str, field: str) -> date | None:
    """A filter's day (blank: none); a 422 page for anything that is not YYYY-MM-DD."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            "日期格式应为 YYYY-MM-DD", "a day is written YYYY-MM-DD", details={"field": field}
        ) from None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


@router.get("/admin/audit")
def audit_trail(
    request: Request,
    session: ReadSessionDep,
    actor: str = Query(default="", max_length=64),
    action: str = Query(default="", max_length=64),
    subject_type: str = Query(default="", max_length=32),
    subject_id: str = Query(default="", max_length=64),
    since: str = Query(default="", max_length=10, description="first local day (YYYY-MM-DD)"),
    until: str = Query(default="", max_length=10, description="last local day, inclusive"),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = ADMIN,
) -> Response:
    """The audit trail, newest first (district-wide administrators only, as in the API)."""
    if not principal.is_district_wide:
        raise Forbidden(
            "审计记录仅限全区管理员和领导查看",
            "The audit trail is for district-wide administrators and leaders only",
            code="district_wide_only",
        )
    events, total = audit.list_events(
        session,
        actor=actor.strip() or None,
        action=action.strip() or None,
        subject_type=subject_type.strip() or None,
        subject_id=subject_id.strip() or None,
        since=_day_start(first) if (first := _day(since, "since")) else None,
        until=_day_start(last + timedelta(days=1)) if (last := _day(until, "until")) else None,
        limit=PAGE,
        offset=offset,
    )
    t = templating.t
    actions = audit.known_actions(session)
    fields = [
        {"name": "actor", "label": t("操作人"), "placeholder": "admin"},
        {"name": "action", "label": t("操作"), "options": [(a, a) for a in actions]},
        {"name": "subject_type", "label": t("对象类型"), "placeholder": "calendar"},
        {"name": "subject_id", "label": t("对象编号")},
        {"name": "since", "label": t("起始日期"), "type": "date"},
        {"name": "until", "label": t("截止日期"), "type": "date"},
    ]
    rows = [(e, masking.mask_texts(e.details or {})) for e in events]
    return templating.render(
        request,
        "accounts/audit.html",
        {
            "rows": rows,
            "page": Paging(total=total, offset=offset, limit=PAGE),
            "fields": fields,
            "values": dict(request.query_params),
        },
    )

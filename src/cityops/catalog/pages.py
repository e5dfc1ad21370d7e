"""The administrator's catalog pages: categories and their time limits, the responsibility list.

- ``/admin/categories``: the directory with search (code or name), kind and state filters;
  ``/admin/categories/{code}`` a category's detail and edit form; ``/admin/categories/{code}/limits``
  its time limits (the default, the grade A/B/C overrides, and the stage limits: verification,
  rework, the extension ceiling), as ``catalog.service`` defines them.
- ``/admin/responsibilities``: category × area → department, with filters and totals; add, edit,
  delete a row; the catalog workbook as Excel (``catalog.excel``), and its import, whose row errors
  (sheet, row, column) are listed on the page with nothing written when any row is wrong.

Every handler calls the same service functions as ``catalog/api.py``; only ``admin`` may open them.
"""

from __future__ import annotations

import math
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.catalog import excel, service
from cityops.catalog.departments import department_names, list_departments
from cityops.db import utcnow
from cityops.errors import DomainError, Invalid
from cityops.kit.workcal import LOCAL_TZ
from cityops.web import templating
from cityops.web.deps import ReadSessionDep, SessionDep
from cityops.web.openapi import XLSX
from cityops.web.pagekit import (
    CsrfForm,
    Paging,
    domain_field_error,
    form_files,
    form_values,
    page_roles,
    page_router,
    parse_form,
    redirect,
)
from cityops.web.templating import N_

router = page_router(tags=["catalog"])
ADMIN = Depends(page_roles("admin"))
PAGE = 50
GRADES = ("A", "B", "C")
LIMIT_KINDS = {
    "working_hours": N_("工作时"),
    "working_days": N_("工作日"),
    "emergency": N_("应急（连续小时）"),
}
CATEGORY_KINDS = {"event": N_("事件"), "component": N_("部件")}
STAGE_FIELDS = {
    "verify_limit_hours": N_("核查时限（小时）"),
    "rework_limit_value": N_("返工时限（按处置时限的单位）"),
    "max_extension_hours": N_("延期上限（小时）"),
}


def _half(message: str, lang: str) -> str:
    zh, _sep, en = message.partition(" / ")
    return en if lang == "en" and en else zh


# --- categories -----------------------------------------------------------------------------------


@router.get("/admin/categories")
def category_list(
    request: Request,
    session: ReadSessionDep,
    q: str | None = Query(default=None, max_length=50),
    kind: Literal["event", "component", ""] = "",
    active: Literal["1", "0", ""] = "",
    offset: int = Query(default=0, ge=0, le=1_000_000),
    _admin: Principal = ADMIN,
) -> Response:
    rows, total = service.list_categories(
        session,
        q=(q or "").strip() or None,
        kind=kind or None,
        active=None if active == "" else active == "1",
        limit=PAGE,
        offset=offset,
    )
    t = templating.t
    fields = [
        {"name": "q", "label": t("代码或名称"), "type": "search"},
        {"name": "kind", "label": t("类型"), "options": [(k, t(v)) for k, v in CATEGORY_KINDS.items()]},
        {"name": "active", "label": t("状态"), "options": [("1", t("启用")), ("0", t("停用"))]},
    ]
    limits = {c.code: service.category_limits(session, c.code).get(None) for c in rows}
    return templating.render(
        request,
        "catalog/categories.html",
        {
            "rows": rows,
            "limits": limits,
            "page": Paging(total=total, offset=offset, limit=PAGE),
            "fields": fields,
            "values": dict(request.query_params),
            "kinds": CATEGORY_KINDS,
            "limit_kinds": LIMIT_KINDS,
            "num": _number,
        },
    )


class CategoryForm(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    filing_criterion: str = Field(default="", max_length=2000)
    closing_criterion: str = Field(default="", max_length=2000)
    active: bool = False
    emergency: bool = False


def _category_values(category: Any) -> dict[str, str]:
    return {
        "name": category.name,
        "filing_criterion": category.filing_criterion or "",
        "closing_criterion": category.closing_criterion or "",
        "active": "1" if category.active else "",
        "emergency": "1" if category.emergency else "",
    }


def _category_page(
    request: Request,
    session: Session,
    code: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    category = service.get_category(session, code)
    limits = service.category_limits(session, code)
    rows, total = service.list_responsibilities(session, category_code=code, limit=20)
    return templating.render(
        request,
        "catalog/category.html",
        {
            "c": category,
            "default": limits.get(None),
            "grades": {g: limits.get(g) for g in GRADES},
            "stages": service.stage_limits(session, code),
            "stage_names": STAGE_FIELDS,
            "limit_kinds": LIMIT_KINDS,
            "kinds": CATEGORY_KINDS,
            "num": _number,
            "values": values if values is not None else _category_values(category),
            "errors": errors or {},
            "responsibilities": rows,
            "responsibility_total": total,
            "departments": department_names(session, {r.department_code for r in rows}),
        },
        status_code=status_code,
    )


@router.get("/admin/categories/{code}")
def category_detail(
    request: Request, session: ReadSessionDep, code: str = Path(max_length=16), _admin: Principal = ADMIN
) -> Response:
    return _category_page(request, session, code)


@router.post("/admin/categories/{code}")
def category_save(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    code: str = Path(max_length=16),
    _admin: Principal = ADMIN,
) -> Response:
    lang = templating.lang_of(request)
    data, errors = parse_form(CategoryForm, form, lang)
    if data is not None:
        try:
            service.update_category(
                session,
                code,
                name=data.name,
                filing_criterion=data.filing_criterion,
                closing_criterion=data.closing_criterion,
                active=data.active,
                emergency=data.emergency,
            )
        except Invalid as exc:
            session.rollback()
            errors = domain_field_error(exc, lang)
        else:
            return redirect(request, f"/admin/categories/{quote(code)}", templating.t("已保存"))
    return _category_page(request, session, code, form_values(form), errors, 422)


# --- time limits ----------------------------------------------------------------------------------


def _limit_values(session: Session, code: str) -> dict[str, str]:
    limits = service.category_limits(session, code)
    values: dict[str, str] = {}
    for grade in (None, *GRADES):
        lim = limits.get(grade)
        suffix = f"_{grade}" if grade else ""
        if lim:
            values["kind" + suffix] = lim[0]
            values["value" + suffix] = _number(lim[1])
    for name, value in service.stage_limits(session, code).items():
        values[name] = "" if value is None else _number(value)
    return values


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _positive(form: FormData, name: str, errors: dict[str, str], required: bool) -> float | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        if required:
            errors[name] = templating.t("请填写此项")
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or value > 10_000:
        errors[name] = templating.t("请填写大于 0、不超过 10000 的数字")
        return None
    return value


def _kind(form: FormData, name: str, errors: dict[str, str], required: bool) -> str | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        if required:
            errors[name] = templating.t("请选择时限类型")
        return None
    if raw not in LIMIT_KINDS:
        errors[name] = templating.t("时限类型无效")
        return None
    return raw


def _limits_page(
    request: Request,
    session: Session,
    code: str,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    category = service.get_category(session, code)
    return templating.render(
        request,
        "catalog/limits.html",
        {
            "c": category,
            "values": values if values is not None else _limit_values(session, code),
            "errors": errors or {},
            "grades": GRADES,
            "limit_options": [(k, templating.t(v)) for k, v in LIMIT_KINDS.items()],
            "stage_names": STAGE_FIELDS,
        },
        status_code=status_code,
    )


@router.get("/admin/categories/{code}/limits")
def limits_form(
    request: Request, session: ReadSessionDep, code: str = Path(max_length=16), _admin: Principal = ADMIN
) -> Response:
    return _limits_page(request, session, code)


@router.post("/admin/categories/{code}/limits")
def limits_save(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    code: str = Path(max_length=16),
    _admin: Principal = ADMIN,
) -> Response:
    """Replace the default limit and the grade overrides (a grade left blank has none), and set the
    stage limits (blank: the default of docs/cases.md), as ``PUT …/time-limits`` and ``PATCH`` do."""
    lang = templating.lang_of(request)
    service.get_category(session, code)
    errors: dict[str, str] = {}
    kind = _kind(form, "kind", errors, True)
    value = _positive(form, "value", errors, True)
    grades: dict[str, tuple[str, float]] = {}
    for grade in GRADES:
        g_kind = _kind(form, f"kind_{grade}", errors, False)
        g_value = _positive(form, f"value_{grade}", errors, bool(g_kind))
        if g_value is not None and g_kind is None and f"kind_{grade}" not in errors:
            errors[f"kind_{grade}"] = templating.t("请选择时限类型")
        if g_kind and g_value is not None:
            grades[grade] = (g_kind, g_value)
    stages = {name: _positive(form, name, errors, False) for name in STAGE_FIELDS}
    if not errors and kind is not None and value is not None:
        try:
            service.set_time_limits(session, code, (kind, value), grades, replace=True)
            service.set_stage_limits(session, code, stages)
        except Invalid as exc:
            session.rollback()
            field = str((exc.details or {}).get("field") or "__all__")
            field = {"time_limit": "value"}.get(field, field)
            if field.startswith("grade_limits."):
                field = "value_" + field.rsplit(".", 1)[1]
            errors = domain_field_error(exc, lang) | {field: _half(exc.message, lang)}
        else:
            return redirect(request, f"/admin/categories/{quote(code)}", templating.t("时限已保存"))
    errors.setdefault("__all__", templating.t("请检查填写的内容"))
    return _limits_page(request, session, code, form_values(form), errors, 422)


# --- the responsibility list ------------------------------------------------------------------------


class ResponsibilityForm(BaseModel):
    category_code: str = Field(min_length=1, max_length=16)
    area_code: str = Field(min_length=1, max_length=20)
    department_code: str = Field(min_length=1, max_length=32)


def _area_names(session: Session) -> dict[str, str]:
    return {code: name for code, name, _level, _parent in areas.tree_rows(session)}


def _responsibility_page(
    request: Request,
    session: Session,
    *,
    category_code: str = "",
    area_code: str = "",
    department_code: str = "",
    offset: int = 0,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    import_errors: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    rows, total = service.list_responsibilities(
        session,
        category_code=category_code.strip() or None,
        area_code=area_code.strip() or None,
        department_code=department_code or None,
        limit=PAGE,
        offset=offset,
    )
    _all, grand_total = service.list_responsibilities(session, limit=1)
    departments = {d.code: d.name for d in list_departments(session)}
    categories, _n = service.list_categories(session, limit=5000)
    t = templating.t
    fields = [
        {"name": "category_code", "label": t("类别代码"), "placeholder": "06010"},
        {"name": "area_code", "label": t("区域代码"), "placeholder": "330105005"},
        {"name": "department_code", "label": t("责任部门"), "options": sorted(departments.items())},
    ]
    return templating.render(
        request,
        "catalog/responsibilities.html",
        {
            "rows": rows,
            "page": Paging(total=total, offset=offset, limit=PAGE),
            "grand_total": grand_total,
            "fields": fields,
            "filters": dict(request.query_params),
            "departments": departments,
            "department_options": sorted(departments.items()),
            "categories": {c.code: c.name for c in categories},
            "areas": _area_names(session),
            "values": values or {},
            "errors": errors or {},
            "import_errors": import_errors,
        },
        status_code=status_code,
    )


@router.get("/admin/responsibilities")
def responsibility_list(
    request: Request,
    session: ReadSessionDep,
    category_code: str = Query(default="", max_length=16),
    area_code: str = Query(default="", max_length=20),
    department_code: str = Query(default="", max_length=32),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    _admin: Principal = ADMIN,
) -> Response:
    return _responsibility_page(
        request,
        session,
        category_code=category_code,
        area_code=area_code,
        department_code=department_code,
        offset=offset,
    )


def _row_errors(exc: DomainError, lang: str) -> dict[str, str]:
    """The service's per-row problems (``details.errors``) as errors next to the form's fields."""
    details = exc.details if isinstance(exc.details, dict) else {}
    found: dict[str, str] = {}
    for problem in details.get("errors") or []:
        found.setdefault(str(problem.get("field")), _half(str(problem.get("message", "")), lang))
    return found or domain_field_error(exc, lang)


def _save_row(session: Session, data: ResponsibilityForm, replacing: int | None = None) -> None:
    if replacing is not None:
        old = service.get_responsibility(session, replacing)
        if (old.category_code, old.area_code) != (data.category_code, data.area_code):
            service.delete_responsibility(session, replacing)
    service.upsert_responsibilities(session, [(data.category_code, data.area_code, data.department_code)])


@router.post("/admin/responsibilities")
def responsibility_add(
    request: Request, form: CsrfForm, session: SessionDep, _admin: Principal = ADMIN
) -> Response:
    """Add a row, or change the department of an existing category × area."""
    lang = templating.lang_of(request)
    data, errors = parse_form(ResponsibilityForm, form, lang)
    if data is not None:
        try:
            _save_row(session, data)
        except DomainError as exc:
            session.rollback()
            errors = _row_errors(exc, lang)
        else:
            return redirect(request, "/admin/responsibilities", templating.t("权责清单已保存"))
    return _responsibility_page(request, session, values=form_values(form), errors=errors, status_code=422)


@router.get("/admin/responsibilities/export.xlsx")
def responsibility_export(request: Request, session: ReadSessionDep, _admin: Principal = ADMIN) -> Response:
    """The catalog workbook (类别, 时限, 权责清单): edit it in Excel and import it again."""
    filename = f"{templating.t('权责清单')}-{utcnow().astimezone(LOCAL_TZ):%Y%m%d-%H%M}.xlsx"
    return Response(
        excel.export_workbook(session),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.post("/admin/responsibilities/import")
def responsibility_import(
    request: Request, form: CsrfForm, session: SessionDep, _admin: Principal = ADMIN
) -> Response:
    """Import the workbook: every row is checked first; any error lists them all (sheet, row,
    column) and nothing is written."""
    lang = templating.lang_of(request)
    files = form_files(form, "file")
    errors: dict[str, str] = {}
    if not files:
        errors["file"] = templating.t("请选择 Excel 文件（.xlsx）")
        return _responsibility_page(request, session, errors=errors, status_code=422)
    cap = int(request.app.state.settings.max_upload_bytes)
    data = files[0].file.read(cap + 1)
    if len(data) > cap:
        errors["file"] = templating.t("文件超过 %(mb)s MB", mb=cap // (1024 * 1024))
        return _responsibility_page(request, session, errors=errors, status_code=413)
    try:
        result = excel.import_workbook(session, data)
    except DomainError as exc:
        session.rollback()
        details = exc.details if isinstance(exc.details, dict) else {}
        rows = [{**e, "message": _half(str(e.get("message", "")), lang)} for e in details.get("errors") or []]
        errors["file"] = _half(exc.message, lang)
        return _responsibility_page(request, session, errors=errors, import_errors=rows, status_code=422)
    message = templating.t(
        "已导入：类别 %(c)s 条，时限 %(t)s 条，权责清单 %(r)s 条",
        c=result["categories"],
        t=result["time_limits"],
        r=result["responsibilities"],
    )
    return redirect(request, "/admin/responsibilities", message)


def _row_page(
    request: Request,
    session: Session,
    row_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    row = service.get_responsibility(session, row_id)
    departments = {d.code: d.name for d in list_departments(session)}
    return templating.render(
        request,
        "catalog/responsibility.html",
        {
            "row": row,
            "values": values
            or {
                "category_code": row.category_code,
                "area_code": row.area_code,
                "department_code": row.department_code,
            },
            "errors": errors or {},
            "department_options": sorted(departments.items()),
        },
        status_code=status_code,
    )


@router.get("/admin/responsibilities/{row_id}")
def responsibility_edit(
    request: Request, session: ReadSessionDep, row_id: int = Path(ge=1, le=2**31), _admin: Principal = ADMIN
) -> Response:
    return _row_page(request, session, row_id)


@router.post("/admin/responsibilities/{row_id}")
def responsibility_save(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    row_id: int = Path(ge=1, le=2**31),
    _admin: Principal = ADMIN,
) -> Response:
    lang = templating.lang_of(request)
    data, errors = parse_form(ResponsibilityForm, form, lang)
    if data is not None:
        try:
            _save_row(session, data, replacing=row_id)
        except DomainError as exc:
            session.rollback()
            errors = _row_errors(exc, lang)
        else:
            return redirect(request, "/admin/responsibilities", templating.t("权责清单已保存"))
    return _row_page(request, session, row_id, form_values(form), errors, 422)


@router.post("/admin/responsibilities/{row_id}/delete")
def responsibility_delete(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    row_id: int = Path(ge=1, le=2**31),
    _admin: Principal = ADMIN,
) -> Response:
    service.delete_responsibility(session, row_id)
    return redirect(request, "/admin/responsibilities", templating.t("已删除"))

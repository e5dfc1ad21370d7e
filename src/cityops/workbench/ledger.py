"""The case ledger (案卷台账) with filters, search, totals and Excel export; the case page; actions.

Every action button of every workbench posts to ``/cases/{code}/do/{action}``: the form becomes
the API's ``ActionInput``, photos are stored through ``attachments.service`` first, and the
case changes through ``cases.service.perform_action`` — the same checks as the API (state, role,
department, required fields). A refused action is shown on the case page with the reason, in
the page's language, and the transaction is rolled back: nothing half-written.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from openpyxl import Workbook
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityops.accounts.masking import mask_text
from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.areas.pages import display_crs, to_display
from cityops.attachments import service as attachments
from cityops.cases import service as cases
from cityops.cases import views
from cityops.cases.models import Case
from cityops.cases.public import access_token
from cityops.cases.queries import get_case_by_code_public, log_of, tasks_of
from cityops.cases.schemas import ActionInput
from cityops.cases.transitions import BY_ACTION, FINAL_STATES
from cityops.db import utcnow
from cityops.errors import DomainError, Forbidden, NotFound
from cityops.kit.workcal import LOCAL_TZ
from cityops.web import templating
from cityops.web.deps import ReadSessionDep, SessionDep
from cityops.web.openapi import XLSX
from cityops.web.pagekit import (
    CsrfForm,
    PagePrincipal,
    domain_field_error,
    field_errors,
    form_files,
    form_values,
    page_router,
    redirect,
    safe_next,
)
from cityops.web.templating import N_
from cityops.workbench.common import (
    ListQuery,
    Names,
    action_name,
    actions_for,
    filter_fields,
    page_of,
    state_name,
)

router = page_router(tags=["workbench"])

STAFF = ("operator", "dispatcher", "handler", "inspector", "leader", "admin")
templating.add_nav("/cases", N_("案卷台账"), ["operator", "dispatcher", "leader", "admin"], 60)
templating.add_nav("/cases", N_("我的上报"), ["citizen"], 60)

EXPORT_MAX_ROWS = 20_000


def _list_context(
    request: Request, session: Session, principal: Principal, query: ListQuery
) -> dict[str, Any]:
    names = Names(session)
    rows, page = page_of(session, principal, query)
    return {
        "names": names,
        "rows": rows,
        "page": page,
        "fields": filter_fields(names, with_department=principal.role != "handler"),
        "values": query.values(),
        "sort": query.sort,
        "state_name": state_name,
    }


@router.get("/cases")
def ledger(request: Request, principal: PagePrincipal, session: ReadSessionDep) -> Response:
    query = ListQuery.from_request(request)
    context = _list_context(request, session, principal, query)
    context["export_url"] = "/cases/export.xlsx" + (f"?{request.url.query}" if request.url.query else "")
    return templating.render(request, "workbench/ledger.html", context)


LEDGER_COLUMNS = (
    N_("案件编号"),
    N_("上报时间"),
    N_("问题类别"),
    N_("问题描述"),
    N_("地址"),
    N_("街道"),
    N_("网格"),
    N_("来源"),
    N_("状态"),
    N_("处置部门"),
    N_("派遣时间"),
    N_("处置时限"),
    N_("剩余工作时间（小时）"),
    N_("是否超时"),
    N_("是否督办"),
    N_("结案时间"),
)


def _excel_time(value: datetime | None) -> datetime | None:
    # Excel has no time zones: Beijing wall-clock time, as the people reading it expect.
    return value.astimezone(LOCAL_TZ).replace(tzinfo=None) if value else None


@router.get("/cases/export.xlsx")
def export_ledger(request: Request, principal: PagePrincipal, session: ReadSessionDep) -> Response:
    """The ledger with the page's filters as an Excel workbook (reporter data left out)."""
    if principal.role == "citizen":
        raise Forbidden("市民不能导出台账", "Citizens cannot export the ledger", code="role_not_allowed")
    query = ListQuery.from_request(request)
    names = Names(session)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(templating.t("案卷台账"))
    sheet.append([templating.t(c) for c in LEDGER_COLUMNS])
    written = 0
    yes, no = templating.t("是"), templating.t("否")
    while written < EXPORT_MAX_ROWS:
        query.offset = written
        rows, page = page_of(session, principal, query, limit=200)
        for row in rows:
            c = row.case
            sheet.append(
                [
                    c.code,
                    _excel_time(c.created_at),
                    names.category(c.category_code),
                    mask_text(c.description),
                    mask_text(c.address) or "",
                    names.street(c.street_code),
                    c.grid_code or "",
                    c.source,
                    state_name(c.state),
                    names.department(c.department_code) if c.department_code else "",
                    _excel_time(c.dispatched_at),
                    _excel_time(c.deadline),
                    round(row.remaining / 3600, 1) if row.remaining is not None else None,
                    yes if c.overdue else no,
                    yes if c.escalated else no,
                    _excel_time(c.closed_at),
                ]
            )
        written += len(rows)
        if len(rows) < 200 or (not page.capped and written >= page.total):
            break
    buffer = io.BytesIO()
    workbook.save(buffer)
    filename = f"{templating.t('案卷台账')}-{utcnow().astimezone(LOCAL_TZ):%Y%m%d-%H%M}.xlsx"
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


# --- the case page ----------------------------------------------------------------------------


def _visible_case(session: Session, principal: Principal, code: str) -> Case:
    """The case if ``principal`` may see it; a 403 page when it exists but is not theirs.

    The API answers 404 outside the caller's scope so as not to reveal that a case exists; a
    case code is public anyway (its public page answers for anyone), so the page may say "not
    yours" and a person understands why it does not open.
    """
    try:
        return cases.get_case(session, principal, code)
    except NotFound:
        try:
            get_case_by_code_public(session, code)
        except NotFound:
            raise NotFound("找不到该案件", f"No case {code}", code="case_not_found") from None
        raise Forbidden(
            "此案件不在您的职责范围内，无权查看",
            "This case is outside your responsibility; you may not open it",
            code="case_not_yours",
        ) from None


def _area_name(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    try:
        return str(areas.get_area(session, code).name)
    except NotFound:
        return code


def _photos(rows: list[Any]) -> list[dict[str, str]]:
    out = []
    for row in rows:
        for item in row.attachments or []:
            ident = item.get("id") if isinstance(item, dict) else item
            if ident:
                out.append({"id": str(ident), "action": row.action})
    return out


def case_context(
    request: Request, session: Session, principal: Principal, case: Case, **extra: Any
) -> dict[str, Any]:
    names = Names(session)
    # As the API shows it: a citizen reads the public history and its own entries; numbers in
    # notes are masked (cases.views.log_for).
    log = views.log_for(session, principal, case, log_of(session, case.id))
    tasks = [t for t in tasks_of(session, case.id) if t.state != "cancelled"]
    crs = display_crs(request)
    point = to_display(case.lon, case.lat, crs)
    secret = request.app.state.settings.secret_key
    view = views.view_case(session, principal, case, request_id=getattr(request.state, "request_id", None))
    context: dict[str, Any] = {
        "case": case,
        "view": view,
        "names": names,
        "log": log,
        "tasks": tasks,
        "photos": _photos(log),
        "remaining": cases.remaining_seconds(session, case, utcnow()),
        "actions": actions_for(session, principal, case),
        "action_name": action_name,
        "state_name": state_name,
        "by_action": BY_ACTION,
        "final": case.state in FINAL_STATES,
        "point": point,
        "community_name": _area_name(session, case.community_code),
        "grid_name": _area_name(session, case.grid_code),
        "values": {},
        "errors": {},
        "failed_action": None,
        "suggestions": [],
        "categories": sorted(names.categories.items()),
        "departments": sorted(names.departments.items()),
        # Staff who see the case may hand out its public link (as GET /cases/{ref}/public-link).
        "public_path": f"/p/cases/{case.code}?t={access_token(case.code, secret)}",
    }
    if case.state == "reported" and principal.role in ("operator", "dispatcher", "admin"):
        from cityops.workbench.operator import suggestions_for

        context["suggestions"] = suggestions_for(session, case)
    context.update(extra)
    return context


@router.get("/cases/{code}")
def case_page(code: str, request: Request, principal: PagePrincipal, session: SessionDep) -> Response:
    # SessionDep (a transaction): showing staff a case may write an audit row of the read.
    case = _visible_case(session, principal, code)
    return templating.render(request, "workbench/case.html", case_context(request, session, principal, case))


# --- actions ----------------------------------------------------------------------------------

_TEXT_FIELDS = ("note", "reason", "department_code", "category_code")


def action_input(form: FormData, attachment_ids: list[uuid.UUID]) -> ActionInput:
    """The form as the API's ActionInput (only the fields that were filled in)."""
    data: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            data[name] = value.strip()
    hours = form.get("extra_hours")
    if isinstance(hours, str) and hours.strip():
        data["extra_hours"] = hours.strip()
    passed = form.get("passed")
    if passed in ("1", "0"):
        data["passed"] = passed == "1"
    if form.get("misrouted") == "1":
        data["misrouted"] = True
    assists = [v for v in form.getlist("assist_department_codes") if isinstance(v, str) and v]
    if assists:
        data["assist_department_codes"] = assists
    if attachment_ids:
        data["attachments"] = attachment_ids
    return ActionInput.model_validate(data)


def store_photos(request: Request, session: Session, principal: Principal, form: FormData) -> list[uuid.UUID]:
    """Store the form's photos (size and real type checked by attachments.service)."""
    from cityops.attachments.api import get_storage

    settings = request.app.state.settings
    storage = get_storage(request)
    ids = []
    for upload in form_files(form, "photos"):
        data = upload.file.read(settings.max_upload_bytes + 1)
        stored = attachments.store_upload(
            session,
            storage,
            settings,
            principal,
            filename=upload.filename or "photo",
            declared_type=upload.content_type or "",
            data=data,
        )
        ids.append(stored.id)
    return ids


@router.post("/cases/{code}/do/{action}")
def do_action(
    code: str, action: str, request: Request, form: CsrfForm, principal: PagePrincipal, session: SessionDep
) -> Response:
    lang = templating.lang_of(request)
    case = _visible_case(session, principal, code)
    try:
        photo_ids = store_photos(request, session, principal, form)
        body = action_input(form, photo_ids)
        cases.perform_action(
            session, principal, case.id, action, body, request_id=getattr(request.state, "request_id", None)
        )
    except ValidationError as exc:
        session.rollback()
        return _refused(request, session, principal, code, action, form, field_errors(exc, lang), 422)
    except DomainError as exc:
        session.rollback()  # e.g. the photos were stored but the action was refused: nothing kept
        field = "photos" if exc.status in (413, 415) or exc.code == "empty_file" else "__all__"
        errors = domain_field_error(exc, lang, default_field=field)
        return _refused(request, session, principal, code, action, form, errors, exc.status)
    done = templating.t("已办理：%(a)s", a=action_name(action.replace("-", "_")))
    return redirect(request, safe_next(str(form.get("next") or ""), f"/cases/{code}"), done)


def _refused(
    request: Request,
    session: Session,
    principal: Principal,
    code: str,
    action: str,
    form: FormData,
    errors: dict[str, str],
    status: int,
) -> Response:
    """The case page again, the action's form open with its errors and what was typed."""
    case = _visible_case(session, principal, code)
    if "__all__" not in errors:
        errors["__all__"] = templating.t("请检查填写的内容")
    context = case_context(
        request, session, principal, case, values=form_values(form), errors=errors, failed_action=action
    )
    return templating.render(request, "workbench/case.html", context, status_code=status)

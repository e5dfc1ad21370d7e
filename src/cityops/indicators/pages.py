"""The indicator catalog's admin pages (指标目录管理): the catalog as domain → theme → indicator with
search, create / edit / delete one indicator, Excel export and all-or-nothing import, and
"compute now". Each row links to the cockpit's indicator page (history, definition, drill-down).

Every form goes through the service's own validation (``service.validate``): an unknown field in
a formula, a division by zero, thresholds out of order come back next to their field, in the
page's language, with what was typed kept (422). Nothing is written when anything is wrong.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.errors import DomainError, Invalid
from cityops.evaluation import periods
from cityops.indicators import excel, expr, service, sources
from cityops.indicators.levels import LABELS, ORDER
from cityops.indicators.models import DIRECTIONS, KINDS, PERIODS
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.openapi import XLSX
from cityops.web.pagekit import (
    CsrfForm,
    form_files,
    form_values,
    page_roles,
    page_router,
    redirect,
    safe_next,
)
from cityops.web.templating import N_

router = page_router(tags=["indicators"])
Admin = Depends(page_roles("admin"))
templating.add_nav("/admin/indicators", N_("指标目录"), ["admin"], order=70)
MAX_IMPORT_BYTES = 5 * 1024 * 1024
TEXT_FIELDS = ("code", "name", "domain", "theme", "unit", "period", "owner", "direction", "kind")
PERIOD_NAMES = {"day": N_("日"), "week": N_("周"), "month": N_("月")}
DIRECTION_NAMES = {"higher_better": N_("越高越好"), "lower_better": N_("越低越好")}
KIND_NAMES = {"expression": N_("公式"), "aggregate": N_("命名聚合")}


def _district(request: Request) -> str:
    return str(request.app.state.settings.district_code)


def _matches(ind: Any, q: str) -> bool:
    hay = " ".join((ind.code, ind.name, ind.domain, ind.theme, ind.owner, ind.definition)).lower()
    return all(word in hay for word in q.lower().split())


def _tree(inds: list[Any]) -> list[tuple[str, list[tuple[str, list[Any]]], int]]:
    """(domain, [(theme, indicators)], count), in the catalog's order (domain, theme, code)."""
    tree: dict[str, dict[str, list[Any]]] = {}
    for ind in inds:
        tree.setdefault(ind.domain, {}).setdefault(ind.theme, []).append(ind)
    return [(d, list(themes.items()), sum(len(x) for x in themes.values())) for d, themes in tree.items()]


def _catalog_page(
    request: Request,
    session: Session,
    *,
    q: str = "",
    domain: str = "",
    import_errors: list[dict[str, Any]] | None = None,
    import_error: str | None = None,
    status: int = 200,
) -> Response:
    every = service.list_catalog(session)
    shown = [i for i in every if (not domain or i.domain == domain) and (not q or _matches(i, q))]
    latest = service.latest_values(session, _district(request))
    telemetry = service.has_telemetry(session)
    return templating.render(
        request,
        "indicators/catalog.html",
        {
            "tree": _tree(shown),
            "shown": len(shown),
            "total": len(every),
            "q": q,
            "domain": domain,
            "domains": sorted({i.domain for i in every} | set(service.DOMAINS)),
            "latest": latest,
            "waiting": {i.code for i in shown if service.status_of(session, i, telemetry) != "ok"},
            "labels": LABELS,
            "periods": PERIOD_NAMES,
            "directions": DIRECTION_NAMES,
            "import_errors": import_errors or [],
            "import_error": import_error,
        },
        status_code=status,
    )


@router.get("/admin/indicators")
def catalog(
    request: Request, session: SessionDep, q: str = "", domain: str = "", principal: Principal = Admin
) -> Response:
    """The catalog, domain → theme → indicator, with search (code, name, theme, owner, formula)."""
    return _catalog_page(request, session, q=q.strip()[:100], domain=domain.strip()[:40])


@router.get("/admin/indicators/export.xlsx")
def export(session: SessionDep, principal: Principal = Admin) -> Response:
    return Response(
        excel.export(service.list_catalog(session)),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="indicators.xlsx"'},
    )


def _split(message: str, lang: str) -> str:
    zh, _, en = message.partition(" / ")
    return (en or zh) if lang == "en" else zh


@router.post("/admin/indicators/import")
def import_xlsx(
    request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Admin
) -> Response:
    """Add or replace the workbook's indicators (the export's columns): every row is checked first,
    and any bad row or column stops the import with nothing written."""
    lang = templating.lang_of(request)
    files = form_files(form, "file")
    if not files:
        return _catalog_page(
            request, session, import_error=templating.t("请选择要导入的 Excel 文件（.xlsx）"), status=422
        )
    data = files[0].file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return _catalog_page(request, session, import_error=templating.t("文件超过 5 MB"), status=413)
    try:
        n = service.import_rows(session, excel.read(data))
    except DomainError as exc:
        session.rollback()
        details = exc.details if isinstance(exc.details, dict) else {}
        rows = [{**e, "message": _split(str(e.get("message", "")), lang)} for e in details.get("errors", [])]
        return _catalog_page(
            request, session, import_errors=rows, import_error=_split(exc.message, lang), status=exc.status
        )
    return redirect(request, "/admin/indicators", templating.t("已导入 %(n)s 个指标", n=n))


# --- one indicator ------------------------------------------------------------------------------


def _values_of(ind: Any) -> dict[str, str]:
    limits = ind.thresholds or {}
    return {
        **{f: str(getattr(ind, f) or "") for f in TEXT_FIELDS},
        "definition": ind.definition,
        "description": ind.description or "",
        "active": "1" if ind.active else "",
        **{k: f"{limits[k]:g}" if k in limits else "" for k in ORDER},
    }


def _data_of(form: FormData, code: str | None = None) -> dict[str, Any]:
    values = form_values(form)
    thresholds: dict[str, Any] = {}
    for key in ORDER:
        raw = values.get(key, "").strip()
        if not raw:
            continue
        try:
            thresholds[key] = float(raw)
        except ValueError:
            thresholds[key] = raw  # levels.check says "must be a number" next to the field
    data: dict[str, Any] = {f: values.get(f, "") for f in TEXT_FIELDS}
    data.update(
        definition=values.get("definition", ""),
        description=values.get("description", ""),
        thresholds=thresholds,
        active=values.get("active") == "1",
    )
    if code is not None:
        data["code"] = code
    return data


def _field_of(exc: DomainError) -> str:
    """The form field a service error belongs to (thresholds: the level that is wrong)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    field = str(details.get("field") or "__all__")
    if field == "thresholds":
        if details.get("levels"):
            return str(details["levels"][-1])
        if details.get("level") in ORDER:
            return str(details["level"])
        return "blue"
    return field


def _form_page(
    request: Request,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    code: str | None = None,
    status: int = 200,
) -> Response:
    return templating.render(
        request,
        "indicators/form.html",
        {
            "code": code,
            "values": values,
            "errors": errors or {},
            "domains": service.DOMAINS,
            "periods": [(p, templating.t(PERIOD_NAMES[p])) for p in PERIODS],
            "directions": [(d, templating.t(DIRECTION_NAMES[d])) for d in DIRECTIONS],
            "kinds": [(k, templating.t(KIND_NAMES[k])) for k in KINDS],
            "fields": sorted(sources.KNOWN_FIELDS),
            "functions": sorted(expr.FUNCTIONS),
            "named": sorted(sources.NAMED),
            "order": ORDER,
            "labels": LABELS,
        },
        status_code=status,
    )


def _compute(request: Request, session: Session, code: str) -> tuple[float | None, str]:
    """Compute the indicator's current value for the district and its streets now; the district's."""
    ind = service.get_indicator(session, code)
    now = utcnow()
    district = _district(request)
    day = periods.today(now)
    for level in ("district", "street"):
        service.compute(
            session,
            level=level,
            day=day,
            district=district,
            now=now,
            area_codes=[district] if level == "district" else None,
            indicators=[ind],
        )
    v = service.latest_values(session, district, [code]).get(code)
    return (v.value if v else None, v.level if v else "normal")


def _saved_message(code: str, value: float | None, level: str) -> str:
    shown = f"{value:g}" if value is not None else templating.t("无数据")
    return templating.t(
        "已保存 %(code)s：当前值 %(v)s，等级 %(level)s", code=code, v=shown, level=templating.t(LABELS[level])
    )


@router.get("/admin/indicators/new")
def new_form(request: Request, principal: Principal = Admin) -> Response:
    return _form_page(
        request,
        values={"period": "month", "direction": "higher_better", "kind": "expression", "active": "1"},
    )


@router.post("/admin/indicators/new")
def create(request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Admin) -> Response:
    lang = templating.lang_of(request)
    try:
        ind = service.save(session, _data_of(form), create=True)
        code = ind.code
        value, level = _compute(request, session, code) if ind.active else (None, "normal")
    except Invalid as exc:
        session.rollback()
        errors = {_field_of(exc): _split(exc.message, lang)}
        return _form_page(request, values=form_values(form), errors=errors, status=422)
    return redirect(request, f"/admin/indicators?q={code}", _saved_message(code, value, level))


@router.get("/admin/indicators/{code}/edit")
def edit_form(code: str, request: Request, session: SessionDep, principal: Principal = Admin) -> Response:
    ind = service.get_indicator(session, code)
    return _form_page(request, values=_values_of(ind), code=ind.code)


@router.post("/admin/indicators/{code}/edit")
def edit(
    code: str, request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Admin
) -> Response:
    lang = templating.lang_of(request)
    service.get_indicator(session, code)  # 404 page for an unknown code
    try:
        ind = service.save(session, _data_of(form, code), create=False)
        value, level = _compute(request, session, code) if ind.active else (None, "normal")
    except Invalid as exc:
        session.rollback()
        errors = {_field_of(exc): _split(exc.message, lang)}
        return _form_page(
            request, values={**form_values(form), "code": code}, errors=errors, code=code, status=422
        )
    return redirect(request, f"/admin/indicators?q={code}", _saved_message(code, value, level))


@router.post("/admin/indicators/{code}/delete")
def delete(
    code: str, request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Admin
) -> Response:
    service.delete_indicator(session, code)
    return redirect(request, "/admin/indicators", templating.t("已删除指标 %(code)s", code=code))


@router.post("/admin/indicators/{code}/compute")
def compute_now(
    code: str, request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Admin
) -> Response:
    value, level = _compute(request, session, code)
    shown = f"{value:g}" if value is not None else templating.t("无数据")
    message = templating.t(
        "已计算 %(code)s：当前值 %(v)s，等级 %(level)s", code=code, v=shown, level=templating.t(LABELS[level])
    )
    return redirect(request, safe_next(str(form.get("next") or ""), "/admin/indicators"), message)

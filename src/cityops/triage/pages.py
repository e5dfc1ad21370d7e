"""Pages of the routing model's administration (issue 11): the category knowledge base (list
with search, edit a row, a local category's row, Excel export and import with every row's error,
the version history) and the routing model (versions with their held-out comparison, retrain on
demand, switch on and roll back, the gain over time, the calibrated per-category thresholds with
the expected share dispatched automatically and its expected precision, an override).

The same service functions as ``routing_api`` (the JSON face), with the same roles.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import Depends, Request, Response
from starlette.datastructures import UploadFile

from cityops.accounts.principal import Principal
from cityops.errors import Conflict, DomainError, NotFound
from cityops.triage import kb_service, learning, versions
from cityops.triage import service as triage
from cityops.triage.knowledge import KINDS, LIST_FIELDS
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.openapi import XLSX
from cityops.web.pagekit import (
    CsrfForm,
    Paging,
    domain_field_error,
    form_values,
    page_roles,
    page_router,
    redirect,
)
from cityops.web.templating import N_

router = page_router(tags=["triage"])

ADMIN = page_roles("admin")
READERS = page_roles("admin", "operator", "dispatcher")
# No header links: both pages are in the administrator's page list (components/admin.html).

PAGE = 50
EDIT_FIELDS = (
    "name",
    "kind",
    "family",
    "family_fallback",
    "object",
    "filing_criterion",
    "terms",
    "problems",
    "confusions",
    "routes_to",
)
FIELD_NAMES = {
    "code": N_("类别编码"),
    "name": N_("类别名称"),
    "kind": N_("类型"),
    "family": N_("小类族"),
    "family_fallback": N_("族通用类别"),
    "object": N_("部件/对象"),
    "filing_criterion": N_("立案条件"),
    "terms": N_("常用说法"),
    "problems": N_("问题说法"),
    "confusions": N_("易混类别"),
    "routes_to": N_("立案到"),
    "major_code": N_("大类编码"),
    "major_name": N_("大类名称"),
}
KIND_NAMES = {"event": N_("事件"), "component": N_("部件")}
ACTION_NAMES = {"update": N_("修改"), "import": N_("导入"), "remove": N_("移除")}
STATUS_NAMES = {
    "active": N_("在用"),
    "candidate": N_("候选"),
    "rejected": N_("未上线"),
    "retired": N_("已退役"),
}
TRIGGER_NAMES = {"on_demand": N_("手动"), "schedule": N_("定时"), "demo": N_("演示")}


def _message(text: str, lang: str) -> str:
    if " / " in text:
        zh, en = text.split(" / ", 1)
        return en if lang == "en" else zh
    return text


# --- knowledge base ----------------------------------------------------------------------------


def _list_page(
    request: Request,
    session: Any,
    *,
    q: str = "",
    family: str = "",
    kind: str = "",
    offset: int = 0,
    import_errors: list[dict[str, Any]] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rows = kb_service.effective_rows(session)
    families = sorted({r.family for r in rows if r.family})
    q = q.strip()[:40]
    if family:
        rows = [r for r in rows if r.family == family]
    if kind in KINDS:
        rows = [r for r in rows if r.kind == kind]
    if q:
        rows = [
            r
            for r in rows
            if q in r.code
            or q in r.name
            or any(q in t for t in r.terms)
            or any(q in t for t in r.problems)
            or q in r.filing_criterion
        ]
    offset = max(0, offset)
    lang = templating.lang_of(request)
    for err in import_errors or []:
        err["text"] = _message(str(err.get("message") or ""), lang)
        field = err.get("field")
        err["field_name"] = templating.t(FIELD_NAMES[field]) if field in FIELD_NAMES else ""
    return templating.render(
        request,
        "triage/knowledge_base.html",
        {
            "rows": rows[offset : offset + PAGE],
            "page": Paging(total=len(rows), offset=offset, limit=PAGE),
            "revision": kb_service.revision(session),
            "families": [(f, f) for f in families],
            "kinds": [(k, templating.t(KIND_NAMES[k])) for k in KINDS],
            "filters": {"q": q, "family": family, "kind": kind},
            "kind_names": KIND_NAMES,
            "import_errors": import_errors or [],
            "errors": errors or {},
        },
        status_code=status,
    )


@router.get("/triage/knowledge-base")
def knowledge_base(
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(READERS),
    q: str = "",
    family: str = "",
    kind: str = "",
    offset: int = 0,
) -> Response:
    """The 403+ codes with what they mean in people's words; search by code, name or a term."""
    return _list_page(request, session, q=q, family=family, kind=kind, offset=offset)


@router.get("/triage/knowledge-base/export.xlsx")
def knowledge_base_xlsx(session: SessionDep, principal: Principal = Depends(ADMIN)) -> Response:
    return Response(
        kb_service.export_xlsx(kb_service.effective_rows(session)),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="knowledge_base.xlsx"'},
    )


@router.post("/triage/knowledge-base/import")
async def knowledge_base_import(
    request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Depends(ADMIN)
) -> Response:
    """The export's workbook (or a CSV) edited: every row checked first; any error → nothing written
    and every row's error listed."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors = {"file": templating.t("请选择要导入的 Excel 或 CSV 文件")}
        return await anyio.to_thread.run_sync(lambda: _list_page(request, session, errors=errors, status=422))
    cap = int(getattr(request.app.state.settings, "max_upload_bytes", 10 * 1024 * 1024))
    data = await upload.read(cap + 1)
    filename = upload.filename

    def run() -> Response:
        lang = templating.lang_of(request)
        if len(data) > cap:
            return _list_page(request, session, errors={"file": templating.t("文件过大")}, status=422)
        try:
            rows = kb_service.read_upload(data, filename)
            problems = kb_service.check_rows(session, rows)
            if not problems:
                result = kb_service.upsert_rows(session, rows, principal.id, action="import")
        except DomainError as exc:
            session.rollback()
            return _list_page(request, session, errors={"file": _message(exc.message, lang)}, status=422)
        if problems:
            return _list_page(request, session, import_errors=problems, status=422)
        message = templating.t(
            "已导入 %(n)s 行，其中 %(c)s 行有变化；知识库版本 %(r)s",
            n=result["rows"],
            c=result["changed"],
            r=result["revision"],
        )
        return redirect(request, "/triage/knowledge-base", message)

    return await anyio.to_thread.run_sync(run)


@router.get("/triage/knowledge-base/history")
def knowledge_base_history(
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(ADMIN),
    code: str = "",
    offset: int = 0,
) -> Response:
    """Every change of the knowledge base, newest first: the version, who, when, what changed."""
    code = code.strip()[:20]
    offset = max(0, offset)
    total = kb_service.history_count(session, code or None)
    changes = [_change(r) for r in kb_service.history(session, code or None, PAGE, offset)]
    _names(session, changes)
    return templating.render(
        request,
        "triage/kb_history.html",
        {
            "changes": changes,
            "page": Paging(total=total, offset=offset, limit=PAGE),
            "revision": kb_service.revision(session),
            "code": code,
            "field_names": FIELD_NAMES,
            "action_names": ACTION_NAMES,
        },
    )


def _change(rev: Any) -> dict[str, Any]:
    before, after = rev.before or {}, rev.after or {}
    fields = [f for f in FIELD_NAMES if f != "code" and before.get(f) != after.get(f)]
    return {
        "revision": rev.id,
        "code": rev.code,
        "action": rev.action,
        "created_at": rev.created_at,
        "created_by": rev.created_by,
        "fields": [
            {"name": f, "before": _shown(before.get(f)), "after": _shown(after.get(f))}
            for f in fields
            if rev.action != "remove"
        ],
    }


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if value is True:
        return "✓"
    if value in (None, False):
        return ""
    return str(value)


def _names(session: Any, changes: list[dict[str, Any]]) -> None:
    from cityops.accounts import service as accounts

    cache: dict[Any, str] = {}
    for change in changes:
        uid = change["created_by"]
        if uid is None:
            change["who"] = "—"
            continue
        if uid not in cache:
            try:
                user = accounts.get_user(session, uid)
                cache[uid] = user.display_name or user.username
            except NotFound:
                cache[uid] = str(uid)[:8]
        change["who"] = cache[uid]


def _row_values(row: Any) -> dict[str, str]:
    d = row.as_csv_row()
    values = {k: d[k] for k in d}
    for k in LIST_FIELDS:
        values[k] = "\n".join(row.as_dict()[k]) if k != "confusions" else "|".join(row.confusions)
    return values


def _edit_page(
    request: Request,
    session: Any,
    code: str | None,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> Response:
    changes = [_change(r) for r in kb_service.history(session, code, 20)] if code else []
    _names(session, changes)
    return templating.render(
        request,
        "triage/kb_edit.html",
        {
            "code": code,
            "values": values,
            "errors": errors,
            "kinds": [(k, templating.t(KIND_NAMES[k])) for k in KINDS],
            "changes": changes,
            "field_names": FIELD_NAMES,
            "action_names": ACTION_NAMES,
            "revision": kb_service.revision(session),
        },
        status_code=status,
    )


@router.get("/triage/knowledge-base/new")
def knowledge_new(request: Request, session: SessionDep, principal: Principal = Depends(ADMIN)) -> Response:
    """A row for a local category (added to the catalog first)."""
    return _edit_page(request, session, None, {"kind": "event"}, {})


@router.get("/triage/knowledge-base/{code}")
def knowledge_edit(
    code: str, request: Request, session: SessionDep, principal: Principal = Depends(ADMIN)
) -> Response:
    row = kb_service.get_row(session, code)
    return _edit_page(request, session, code, _row_values(row), {})


@router.post("/triage/knowledge-base/{code}")
def knowledge_save(
    code: str,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(ADMIN),
) -> Response:
    """Save a row (``code`` = ``new``: the form's code, a local category); a 422 names the field."""
    lang = templating.lang_of(request)
    values = form_values(form)
    creating = code == "new"
    if not creating:
        kb_service.get_row(session, code)  # 404 page for a code the knowledge base has not
    target = (values.get("code") or "").strip() if creating else code
    errors: dict[str, str] = {}
    if creating and not target:
        errors["code"] = templating.t("请填写类别编码")
    elif creating:
        try:
            kb_service.get_row(session, target)
            errors["code"] = templating.t("知识库中已有该类别，请直接编辑")
        except NotFound:
            pass
    if errors:
        return _edit_page(request, session, None, values, errors, status=422)
    item: dict[str, Any] = {f: values.get(f, "") for f in EDIT_FIELDS}
    item["family_fallback"] = bool(form.get("family_fallback"))
    item["code"] = target
    try:
        result = kb_service.upsert_rows(session, [item], principal.id)
    except DomainError as exc:
        session.rollback()
        field = exc.details.get("field") if isinstance(exc.details, dict) else None
        errs = domain_field_error(exc, lang, default_field=str(field or "__all__"))
        return _edit_page(request, session, None if creating else code, values, errs, status=422)
    message = (
        templating.t("已保存；知识库版本 %(r)s", r=result["revision"])
        if result["changed"]
        else templating.t("没有变化")
    )
    return redirect(request, f"/triage/knowledge-base/{target}", message)


# --- routing model versions and thresholds ------------------------------------------------------


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def _gain_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The gain over time: each version's accuracy on the held-out corrections and the sanity set."""

    def pct(value: Any) -> float | None:
        return None if value is None else round(float(value) * 100, 1)

    names = {
        "corrections": templating.t("留出纠正样本准确率"),
        "sanity": templating.t("知识库核对集准确率"),
        "count": templating.t("累计纠正条数"),
    }
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": list(names.values())},
        "grid": {"left": 48, "right": 48, "top": 40, "bottom": 30},
        "xAxis": {"type": "category", "data": [f"v{r['version']}" for r in rows]},
        "yAxis": [
            {"type": "value", "min": 0, "max": 100, "name": "%"},
            {"type": "value", "name": templating.t("条"), "minInterval": 1},
        ],
        "series": [
            {
                "name": names["corrections"],
                "type": "line",
                "connectNulls": True,
                "data": [pct(r["comparison"].get("new_corrections_accuracy")) for r in rows],
            },
            {
                "name": names["sanity"],
                "type": "line",
                "data": [pct(r["comparison"].get("new_sanity_accuracy")) for r in rows],
            },
            {
                "name": names["count"],
                "type": "bar",
                "yAxisIndex": 1,
                "barMaxWidth": 18,
                "data": [r["corrections"] for r in rows],
            },
        ],
    }


def _category_names(session: Any) -> dict[str, str]:
    return {r.code: r.name for r in kb_service.effective_rows(session)}


@router.get("/triage/models")
def models_page(
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(ADMIN),
    q: str = "",
    offset: int = 0,
) -> Response:
    """Model versions with their comparison, the gain over time and the calibrated thresholds."""
    report = versions.gain_report(session)
    rows = report["versions"]
    thresholds = learning.thresholds_report(session, build=False)
    names = _category_names(session)
    categories = thresholds["categories"]
    q = q.strip()[:40]
    if q:
        categories = [
            c for c in categories if q in c["category_code"] or q in names.get(c["category_code"], "")
        ]
    offset = max(0, offset)
    return templating.render(
        request,
        "triage/models.html",
        {
            "report": report,
            "versions": list(reversed(rows)),
            "gain_chart": _gain_chart(rows),
            "thresholds": thresholds,
            "categories": categories[offset : offset + PAGE],
            "page": Paging(total=len(categories), offset=offset, limit=PAGE),
            "names": names,
            "q": q,
            "pct": _pct,
            "status_names": STATUS_NAMES,
            "trigger_names": TRIGGER_NAMES,
            "model_file": learning.model_path().is_file(),
        },
    )


@router.post("/triage/models/retrain")
def models_retrain(
    request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Depends(ADMIN)
) -> Response:
    """Train a candidate now (15–30 s); it goes live only when it is not worse, unless forced."""
    row = versions.train_version(
        session,
        trigger="on_demand",
        include_history=form.get("include_history") != "0",
        force=bool(form.get("force")),
    )
    if row.status == "active":
        return redirect(request, "/triage/models", templating.t("新版本 v%(v)s 已上线", v=row.version))
    return redirect(
        request,
        "/triage/models",
        templating.t("新版本 v%(v)s 不如当前版本，未上线", v=row.version),
        kind="warning",
    )


@router.post("/triage/models/rollback")
def models_rollback(
    request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Depends(ADMIN)
) -> Response:
    try:
        row = versions.rollback(session)
    except Conflict as exc:
        return redirect(
            request, "/triage/models", _message(exc.message, templating.lang_of(request)), "error"
        )
    return redirect(request, "/triage/models", templating.t("已回退到 v%(v)s", v=row.version))


@router.post("/triage/models/{version}/activate")
def models_activate(
    version: int,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(ADMIN),
) -> Response:
    try:
        row = versions.activate(session, version)
    except Conflict as exc:
        return redirect(
            request, "/triage/models", _message(exc.message, templating.lang_of(request)), "error"
        )
    return redirect(request, "/triage/models", templating.t("v%(v)s 已上线", v=row.version))


@router.post("/triage/thresholds")
def threshold_override(
    request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Depends(ADMIN)
) -> Response:
    """An administrator's threshold for one category (over the calibrated one)."""
    lang = templating.lang_of(request)
    code = str(form.get("category_code") or "").strip()[:20]
    raw = str(form.get("threshold") or "").strip()
    try:
        value = float(raw)
        if value != value:
            raise ValueError(raw)
    except ValueError:
        return redirect(request, "/triage/models#thresholds", templating.t("阈值必须在 0 到 1 之间"), "error")
    try:
        triage.set_threshold(session, code, value)
    except DomainError as exc:
        session.rollback()
        return redirect(request, "/triage/models#thresholds", _message(exc.message, lang), "error")
    return redirect(
        request, f"/triage/models?q={code}#thresholds", templating.t("已设置 %(c)s 的阈值", c=code)
    )

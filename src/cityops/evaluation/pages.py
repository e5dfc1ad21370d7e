"""Pages of evaluation: the rankings (亮榜晒绩) per period with the movement since the period
before and an Excel export, and the key tasks board (揭榜挂帅 · 亮榜晒绩 · 用榜奖惩).

Both call the same service functions as the API with the signed-in principal, so a street
leader sees their street, a department's handlers their department, citizens nothing (403).
Forms go through ``CsrfForm``; a refused form comes back with the error next to its field and
what was typed (422), the transaction rolled back.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityops.accounts.principal import Principal
from cityops.db import utcnow
from cityops.errors import Forbidden, Invalid
from cityops.evaluation import excel, keytasks, periods, service
from cityops.evaluation.models import DIMENSIONS
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.openapi import XLSX
from cityops.web.pagekit import CsrfForm, form_values, page_roles, page_router, redirect
from cityops.web.templating import N_

router = page_router(tags=["evaluation"])
STAFF = ("leader", "admin", "dispatcher", "operator", "inspector", "handler")
Staff = Depends(page_roles(*STAFF))
templating.add_nav("/evaluation", N_("亮榜晒绩"), STAFF, order=7)
templating.add_nav("/key-tasks", N_("揭榜挂帅"), STAFF, order=8)

BY_NAMES = {
    "department": N_("部门"),
    "street": N_("街道"),
    "community": N_("社区"),
    "grid": N_("网格"),
    "inspector": N_("监督员"),
    "district": N_("全区"),
}
STATE_NAMES = {"open": N_("待揭榜"), "taken": N_("已揭榜"), "done": N_("已完成"), "cancelled": N_("已撤销")}
MILESTONE_ROWS = 5


def _district(request: Request) -> str:
    return str(request.app.state.settings.district_code)


def _split(message: str, lang: str) -> str:
    zh, _, en = message.partition(" / ")
    return (en or zh) if lang == "en" else zh


# --- rankings (亮榜晒绩) -------------------------------------------------------------------------


def _default_by(principal: Principal) -> str:
    if principal.role == "handler":
        return "department"
    return "community" if principal.area_code else "street"


def _choices(principal: Principal) -> list[str]:
    if principal.role == "handler":
        return ["department"]
    if principal.area_code:
        return list(service.AREA_DIMS)
    return [d for d in DIMENSIONS if d != "district"]


def _period_links(label: str) -> dict[str, str]:
    """Links to the period before and after, and to this week / month / quarter / year."""
    now = utcnow()
    current = periods.parse(label, now)
    nxt = periods.containing(current.kind, current.end)
    out = {"previous": current.previous().label}
    if nxt.start <= periods.today(now):
        out["next"] = nxt.label
    for kind in ("week", "month", "quarter", "year"):
        out[kind] = periods.current(kind, now).label
    return out


@router.get("/evaluation")
def rankings(
    request: Request,
    session: SessionDep,
    by: str | None = None,
    period: str | None = None,
    principal: Principal = Staff,
) -> Response:
    """The ranking of one dimension in one period, with movement and the units' key tasks."""
    lang = templating.lang_of(request)
    by = (by or _default_by(principal)).strip()
    errors: dict[str, str] = {}
    result: dict[str, Any] | None = None
    try:
        result = service.evaluate(
            session, principal, by=by, period=(period or "").strip() or None, district=_district(request)
        )
    except Invalid as exc:
        field = "by" if (exc.details or {}).get("field") == "by" else "period"
        errors[field] = _split(exc.message, lang)
    tasks: dict[str, dict[str, Any]] = {}
    if result is not None and by in ("department", "street", "community"):
        current = periods.parse(result["period"], utcnow())
        tasks = {r["unit"]: r for r in keytasks.ranking(session, principal, current)}
    status = 422 if errors else 200
    return templating.render(
        request,
        "evaluation/rankings.html",
        {
            "by": by,
            "period": result["period"] if result else (period or ""),
            "result": result,
            "errors": errors,
            "values": {"by": by, "period": period or (result["period"] if result else "")},
            "choices": [(d, templating.t(BY_NAMES[d])) for d in _choices(principal)],
            "by_names": BY_NAMES,
            "links": _period_links(result["period"]) if result else {},
            "tasks": tasks,
        },
        status_code=status,
    )


@router.get("/evaluation/export.xlsx")
def export(
    request: Request,
    session: SessionDep,
    by: str | None = None,
    period: str | None = None,
    principal: Principal = Staff,
) -> Response:
    result = service.evaluate(
        session,
        principal,
        by=by or _default_by(principal),
        period=period or None,
        district=_district(request),
    )
    name = f"evaluation-{result['by']}-{result['period']}.xlsx"
    return Response(
        excel.workbook(result),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the key tasks board (揭榜挂帅) --------------------------------------------------------------


def _unit(principal: Principal) -> str | None:
    if principal.role == "citizen":
        return None
    return principal.department_code or principal.area_code


def _board(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    state: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    open_form: str | None = None,
    status: int = 200,
) -> Response:
    state = state if state in keytasks.STATES else ""
    tasks = keytasks.board(session, state or None, principal)
    units = keytasks.unit_names(session, [x["taken_by_unit"] for x in tasks if x["taken_by_unit"]])
    ranking = keytasks.ranking(session, principal)
    for task in tasks:
        task["percent"] = round(task["progress"] * 100)
        task["bar"] = int(task["progress"] * 10) * 10
        task["unit_name"] = units.get(task["taken_by_unit"] or "", task["taken_by_unit"])
    return templating.render(
        request,
        "evaluation/key_tasks.html",
        {
            "tasks": tasks,
            "ranking": ranking,
            "state": state,
            "states": STATE_NAMES,
            "can_post": principal.role in keytasks.POSTERS,
            "my_unit": _unit(principal),
            "values": values or {},
            "errors": errors or {},
            "open_form": open_form,
            "rows": range(1, MILESTONE_ROWS + 1),
            "today": periods.today(utcnow()).isoformat(),
        },
        status_code=status,
    )


@router.get("/key-tasks")
def board(request: Request, session: SessionDep, state: str = "", principal: Principal = Staff) -> Response:
    """Every key task the person sees, nearest deadline first, with progress; the units' ranking."""
    return _board(request, session, principal, state=state)


_MILESTONE_FIELD = re.compile(r"^milestones\[(\d+)\]\.(title|due|weight)$")


def _posting(form: FormData, lang: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted task as the service's arguments, or field errors for what cannot be read."""
    values = form_values(form)
    errors: dict[str, str] = {}

    def day(name: str) -> date | None:
        raw = values.get(name, "").strip()
        if not raw:
            errors[name] = templating.t("请填写日期")
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors[name] = templating.t("日期格式应为 YYYY-MM-DD")
            return None

    deadline = day("deadline")
    milestones = []
    for i in range(1, MILESTONE_ROWS + 1):
        title = values.get(f"m{i}_title", "").strip()
        due_raw = values.get(f"m{i}_due", "").strip()
        weight = values.get(f"m{i}_weight", "").strip() or "1"
        if not title and not due_raw:
            continue
        if not title:
            errors[f"m{i}_title"] = templating.t("请填写节点名称")
        try:
            w = float(weight)
        except ValueError:
            errors[f"m{i}_weight"] = templating.t("权重须是数字")
            w = 1.0
        milestones.append({"title": title, "due": day(f"m{i}_due"), "weight": w, "row": i})
    if not milestones and "m1_title" not in errors:
        errors["m1_title"] = templating.t("至少填写一个节点")
    for name in ("title", "goal"):
        if not values.get(name, "").strip():
            errors[name] = templating.t("请填写此项")
    return {
        "title": values.get("title", ""),
        "goal": values.get("goal", ""),
        "deadline": deadline,
        "milestones": milestones,
    }, errors


@router.post("/key-tasks")
def post_task(
    request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Staff
) -> Response:
    """A leader posts a key task (goal, deadline, milestones)."""
    lang = templating.lang_of(request)
    if principal.role not in keytasks.POSTERS:
        raise Forbidden("只有领导可以发布重点任务", "only leaders post key tasks", code="role_not_allowed")
    data, errors = _posting(form, lang)
    if not errors:
        rows = [m.pop("row") for m in data["milestones"]]
        try:
            keytasks.post(session, principal, **data)
        except Invalid as exc:
            session.rollback()
            field = str((exc.details or {}).get("field") or "__all__")
            found = _MILESTONE_FIELD.match(field)
            if found:
                field = f"m{rows[int(found.group(1))]}_{found.group(2)}"
            elif field == "milestones":
                field = "m1_title"
            errors[field] = _split(exc.message, lang)
    if errors:
        return _board(
            request, session, principal, values=form_values(form), errors=errors, open_form="post", status=422
        )
    return redirect(request, "/key-tasks", templating.t("已发布重点任务：%(t)s", t=data["title"].strip()))


def _task_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid("任务编号无效", "invalid task id", details={"field": "id"}) from None


@router.post("/key-tasks/{task_id}/take")
def take(
    task_id: str, request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Staff
) -> Response:
    """A unit takes on an open task (揭榜)."""
    task = keytasks.take(session, principal, _task_id(task_id))
    return redirect(request, f"/key-tasks#task-{task.id}", templating.t("已揭榜：%(t)s", t=task.title))


@router.post("/key-tasks/{task_id}/milestones/{seq}/done")
def report(
    task_id: str,
    seq: int,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Staff,
) -> Response:
    """The taking unit reports a milestone done with a note; the last one completes the task."""
    lang = templating.lang_of(request)
    tid = _task_id(task_id)
    note = str(form.get("note") or "")
    try:
        task = keytasks.report(session, principal, tid, seq, note)
    except Invalid as exc:
        session.rollback()
        key = f"note-{tid}-{seq}"
        return _board(
            request,
            session,
            principal,
            values={key: note},
            errors={key: _split(exc.message, lang)},
            status=422,
        )
    text = templating.t("已完成") if task.state == "done" else templating.t("已报进度")
    return redirect(request, f"/key-tasks#task-{task.id}", f"{text}：{task.title}")


@router.post("/key-tasks/{task_id}/cancel")
def cancel(
    task_id: str, request: Request, form: CsrfForm, session: SessionDep, principal: Principal = Staff
) -> Response:
    task = keytasks.cancel(session, principal, _task_id(task_id))
    return redirect(request, "/key-tasks", templating.t("已撤销：%(t)s", t=task.title))

"""The administrator's working-calendar page: ``/admin/calendar``.

A month of the district's working calendar as the case clock sees it (working days, days off,
the administrators' overrides marked), the overrides of the year with a remove button, a form to
add one (a holiday, or a working day on a weekend), the import of a year's official schedule (the
State Council's notice as CSV or JSON, ``cases.calendar.parse_schedule_text``, all or nothing),
and the calendar's status (the years the holiday package and the imports know, the warnings of
``/api/v1/calendar/status``). The same ``cases.calendar`` functions as ``cases/api.py``; every
change is audited there.
"""

from __future__ import annotations

import calendar as monthcal
from datetime import date, timedelta
from typing import Literal

from fastapi import Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import calendar
from cityops.db import utcnow
from cityops.errors import DomainError, Invalid
from cityops.kit.workcal import LOCAL_TZ, package_last_year
from cityops.web import templating
from cityops.web.deps import ReadSessionDep, SessionDep
from cityops.web.pagekit import (
    CsrfForm,
    domain_field_error,
    form_files,
    form_values,
    page_roles,
    page_router,
    parse_form,
    redirect,
)

router = page_router(tags=["cases"])
ADMIN = Depends(page_roles("admin"))
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def _half(message: str, lang: str) -> str:
    zh, _sep, en = message.partition(" / ")
    return en if lang == "en" and en else zh


def _month_days(session: Session, first: date) -> list[list[dict[str, object] | None]]:
    """The month as weeks (Monday first) of day cells; None pads the first and last week."""
    cal = calendar.working_calendar(session)
    overrides = {o.day: o for o in calendar.list_overrides(session, first.year)}
    weeks: list[list[dict[str, object] | None]] = []
    for week in monthcal.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        row: list[dict[str, object] | None] = []
        for day in week:
            if day.month != first.month:
                row.append(None)
                continue
            override = overrides.get(day)
            row.append(
                {
                    "day": day,
                    "workday": cal.is_workday(day),
                    "weekend": day.weekday() >= 5,
                    "override": override,
                }
            )
        weeks.append(row)
    return weeks


def _calendar_page(
    request: Request,
    session: Session,
    month: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    today = utcnow().astimezone(LOCAL_TZ).date()
    first = date(int(month[:4]), int(month[5:7]), 1) if month else today.replace(day=1)
    if not 2000 <= first.year <= 2100:
        raise Invalid("月份超出范围", "month out of range", details={"field": "month"})
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return templating.render(
        request,
        "cases/calendar.html",
        {
            "first": first,
            "today": today,
            "previous": previous.strftime("%Y-%m"),
            "following": following.strftime("%Y-%m"),
            "weeks": _month_days(session, first),
            "overrides": calendar.list_overrides(session, first.year),
            "years": calendar.imported_years(session),
            "package_last_year": package_last_year(),
            "warnings": calendar.calendar_warnings(session),
            "values": values if values is not None else {"kind": "holiday"},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/admin/calendar")
def calendar_page(
    request: Request,
    session: ReadSessionDep,
    month: str | None = Query(default=None, pattern=MONTH_PATTERN),
    _admin: Principal = ADMIN,
) -> Response:
    return _calendar_page(request, session, month)


class OverrideForm(BaseModel):
    day: date
    kind: Literal["holiday", "workday"]
    note: str | None = Field(default=None, max_length=200)


@router.post("/admin/calendar/overrides")
def override_add(request: Request, form: CsrfForm, session: SessionDep, admin: Principal = ADMIN) -> Response:
    """Mark a day as a day off or a working day (replaces an earlier override of that day)."""
    lang = templating.lang_of(request)
    data, errors = parse_form(OverrideForm, form, lang)
    if data is not None and not 2000 <= data.day.year <= 2100:
        errors = {"day": templating.t("日期须在 2000–2100 年之间")}
    elif data is not None:
        calendar.set_override(session, admin, data.day, data.kind == "workday", data.note)
        label = templating.t("调休上班") if data.kind == "workday" else templating.t("放假")
        message = templating.t("已设置 %(d)s 为%(k)s", d=data.day.isoformat(), k=label)
        return redirect(request, f"/admin/calendar?month={data.day:%Y-%m}", message)
    month = str(form.get("month") or "")
    return _calendar_page(
        request, session, month if len(month) == 7 else None, form_values(form), errors, 422
    )


@router.post("/admin/calendar/overrides/{day}/delete")
def override_delete(
    request: Request, form: CsrfForm, session: SessionDep, day: date = Path(), admin: Principal = ADMIN
) -> Response:
    """Remove an override: the day falls back to the official calendar."""
    calendar.delete_override(session, admin, day)
    message = templating.t("已取消 %(d)s 的调整", d=day.isoformat())
    return redirect(request, f"/admin/calendar?month={day:%Y-%m}", message)


@router.post("/admin/calendar/import")
def schedule_import(
    request: Request, form: CsrfForm, session: SessionDep, admin: Principal = ADMIN
) -> Response:
    """Import a year's official schedule (CSV ``date,kind,name`` or JSON), all or nothing."""
    lang = templating.lang_of(request)
    values = form_values(form)
    files = form_files(form, "file")
    if not files:
        return _calendar_page(
            request, session, None, values, {"file": templating.t("请选择放假安排文件（CSV 或 JSON）")}, 422
        )
    data = files[0].file.read(256 * 1024 + 1)
    if len(data) > 256 * 1024:
        return _calendar_page(request, session, None, values, {"file": templating.t("文件过大")}, 413)
    try:
        text = data.decode("utf-8-sig")
        days = calendar.parse_schedule_text(text, files[0].filename or "schedule.csv")
        result = calendar.import_schedule(session, admin, days, source=(values.get("source") or "")[:200])
    except UnicodeDecodeError:
        errors = {"file": templating.t("文件须为 UTF-8 编码的文本")}
        return _calendar_page(request, session, None, values, errors, 422)
    except DomainError as exc:
        session.rollback()
        errors = domain_field_error(exc, lang, "file")
        errors = {"file": _half(exc.message, lang)} if "file" not in errors else errors
        return _calendar_page(request, session, None, values, errors, 422)
    years = "、".join(map(str, result["years"]))
    message = templating.t("已导入 %(y)s 年的放假安排（%(n)s 天）", y=years, n=result["days"])
    return redirect(request, f"/admin/calendar?month={days[0][0]:%Y-%m}", message)

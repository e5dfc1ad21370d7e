"""Pages for the people out in the district, phone first.

- Handlers (处置单位): ``/tasks`` — my department's cases with the working time left, accept,
  return as misrouted with a reason, ask for more time or parking, report the handling with
  photos. Each button posts to the case's action address (``workbench.ledger``).
- Inspectors (监督员): ``/inspect/report`` — report what I see (photo, the device's place or a
  tap on the map, a category picked with a search box, text); ``/verify`` (in ``dispatch``)
  lists my verification tasks on a map.
"""

from __future__ import annotations

from fastapi import Depends, Request, Response

from cityops.accounts.principal import Principal
from cityops.web import templating
from cityops.web.deps import ReadSessionDep, SessionDep
from cityops.web.pagekit import CsrfForm, page_roles, page_router, redirect
from cityops.web.templating import N_
from cityops.workbench.common import ListQuery, Names, page_of, state_name
from cityops.workbench.reporting import new_form_key, submit_report

router = page_router(tags=["workbench"])

templating.add_nav("/tasks", N_("我的任务"), ["handler"], 10)
templating.add_nav("/inspect/report", N_("上报问题"), ["inspector"], 10)

WORKING = "dispatched,accepted,rework"


@router.get("/tasks")
def my_tasks(
    request: Request, session: ReadSessionDep, principal: Principal = Depends(page_roles("handler"))
) -> Response:
    """My department's open cases (lead or co-handling), least working time left first."""
    query = ListQuery.from_request(request, state=WORKING, sort="deadline")
    names = Names(session)
    rows, page = page_of(session, principal, query)
    return templating.render(
        request,
        "workbench/tasks.html",
        {"rows": rows, "page": page, "names": names, "state_name": state_name, "values": query.values()},
    )


def _report_page(
    request: Request,
    session: ReadSessionDep | SessionDep,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    names = Names(session)
    return templating.render(
        request,
        "workbench/inspect_report.html",
        {
            "values": {"key": new_form_key(), **values},
            "errors": errors,
            "categories": sorted(names.categories.items()),
            "max_mb": request.app.state.settings.max_upload_bytes // (1024 * 1024),
        },
        status_code=status,
    )


@router.get("/inspect/report")
def inspector_report_form(
    request: Request, session: ReadSessionDep, principal: Principal = Depends(page_roles("inspector"))
) -> Response:
    return _report_page(request, session, {}, {})


@router.post("/inspect/report")
def inspector_report(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles("inspector")),
) -> Response:
    outcome = submit_report(request, session, principal, form, source="inspector")
    if outcome.case is None:
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return _report_page(request, session, values, outcome.errors, outcome.status)
    message = templating.t("已上报：%(code)s", code=outcome.case.code)
    return redirect(request, f"/cases/{outcome.case.code}", message)

"""The dispatcher's and shift lead's workbench (派遣员 / 值班长).

- ``/dispatch``: filed and returned cases with the department the responsibility list suggests;
  dispatch (with co-handling departments) or send a returned case to another department.
- ``/approvals``: extension and parking requests and returns, in one list.
- ``/supervision``: overdue and nearly overdue cases, least remaining working time first;
  escalate (督办) with a note.
- ``/verify``: handled cases waiting for verification (also the inspector's list).

Every button posts to the case's action address (``workbench.ledger``), so the checks are the
API's.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import Depends, Request, Response

from cityops.accounts.principal import Principal
from cityops.areas.pages import display_crs, to_display
from cityops.web import templating
from cityops.web.deps import ReadSessionDep
from cityops.web.pagekit import page_roles, page_router
from cityops.web.templating import N_
from cityops.workbench.common import ListQuery, Names, filter_fields, page_of, paged, state_name

router = page_router(tags=["workbench"])

DISPATCHERS = ("dispatcher", "admin")
SUPERVISORS = ("dispatcher", "leader", "admin")
VERIFIERS = ("dispatcher", "inspector", "admin")
OPEN = "dispatched,accepted,rework,returned,parked"

templating.add_nav("/dispatch", N_("派遣"), ["dispatcher", "admin"], 20)
templating.add_nav("/approvals", N_("审批"), ["dispatcher", "admin"], 21)
templating.add_nav("/supervision", N_("督办"), ["dispatcher", "leader", "admin"], 22)
templating.add_nav("/verify", N_("核查"), ["dispatcher", "inspector", "admin"], 23)


def _render(
    request: Request,
    template: str,
    session: ReadSessionDep,
    principal: Principal,
    query: ListQuery,
    **extra: object,
) -> Response:
    names = Names(session)
    rows, page = page_of(session, principal, query)
    context = {
        "rows": rows,
        "page": page,
        "names": names,
        "fields": filter_fields(names, with_state=False),
        "values": query.values(),
        "state_name": state_name,
        "departments": sorted(names.departments.items()),
        "path": request.url.path,
        **extra,
    }
    return templating.render(request, template, context)


@router.get("/dispatch")
def dispatch_desk(
    request: Request, session: ReadSessionDep, principal: Principal = Depends(page_roles(*DISPATCHERS))
) -> Response:
    query = ListQuery.from_request(request, state="filed,returned")
    return _render(request, "workbench/dispatch.html", session, principal, query)


@router.get("/approvals")
def approvals(
    request: Request, session: ReadSessionDep, principal: Principal = Depends(page_roles(*DISPATCHERS))
) -> Response:
    query = ListQuery.from_request(request, state=OPEN, sort="deadline")
    rows, page = paged(session, principal, query, replace(query.filters(), needs_approval=True))
    names = Names(session)
    return templating.render(
        request,
        "workbench/approvals.html",
        {
            "rows": rows,
            "page": page,
            "names": names,
            "fields": filter_fields(names, with_state=False),
            "values": query.values(),
            "state_name": state_name,
            "departments": sorted(names.departments.items()),
        },
    )


@router.get("/supervision")
def supervision(
    request: Request, session: ReadSessionDep, principal: Principal = Depends(page_roles(*SUPERVISORS))
) -> Response:
    """Overdue cases (or, with ?warned=1, nearly overdue ones), least time left first."""
    query = ListQuery.from_request(request, state=OPEN, sort="deadline")
    if query.warned:
        query.overdue = False
    elif query.overdue is None:
        query.overdue = True
    tab = "warned" if query.warned else "overdue"
    return _render(request, "workbench/supervision.html", session, principal, query, tab=tab)


@router.get("/verify")
def verify_list(
    request: Request, session: ReadSessionDep, principal: Principal = Depends(page_roles(*VERIFIERS))
) -> Response:
    """Handled cases to verify, with their places on a map (the inspector's phone page)."""
    query = ListQuery.from_request(request, state="handled", sort="deadline")
    names = Names(session)
    rows, page = page_of(session, principal, query)
    crs = display_crs(request)
    markers = []
    for row in rows:
        shown = to_display(row.case.lon, row.case.lat, crs)
        if shown:
            markers.append(
                {"lon": shown[0], "lat": shown[1], "label": row.case.code, "href": f"/cases/{row.case.code}"}
            )
    return templating.render(
        request,
        "workbench/verify.html",
        {"rows": rows, "page": page, "names": names, "markers": markers, "state_name": state_name},
    )

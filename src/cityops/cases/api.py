"""HTTP handlers of the cases capability under /api/v1; each calls one service operation."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from cityops.accounts.principal import Principal
from cityops.cases import calendar, record, satisfaction, service, views
from cityops.cases.queries import CaseFilters, log_of
from cityops.cases.schemas import (
    ActionInput,
    CalendarImportIn,
    CalendarImportOut,
    CalendarOverrideIn,
    CalendarOverrideOut,
    CalendarStatus,
    CalendarWarning,
    CalendarYearOut,
    CallbackOut,
    CaseCreate,
    CaseOut,
    CasePage,
    LogOut,
    PublicLinkOut,
    SatisfactionDetail,
    SatisfactionRound,
)
from cityops.cases.transitions import ACTIONS
from cityops.kit.times import TIME_HELP, LocalDateTime
from cityops.kit.workcal import package_last_year
from cityops.web.deps import (
    SessionDep,
    current_principal,
    require_roles,
    single_statement_session,
)

router = APIRouter(prefix="/api/v1", tags=["cases"])

PrincipalDep = Annotated[Principal, Depends(current_principal)]
CREATORS = ("citizen", "inspector", "operator", "dispatcher", "admin")
LOG_REVEAL_HELP = "show phone and ID numbers typed into notes in clear (the read is audited)"
STAFF = ("operator", "dispatcher", "leader", "admin", "handler", "inspector")
REVEAL_HELP = "show reporter name and phone in clear (operators, dispatchers, admins; the read is audited)"


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _json(out: CaseOut, status_code: int = 200) -> Response:
    # The hottest endpoints hand back ready JSON: FastAPI would otherwise validate the already
    # validated CaseOut again, in another worker thread. response_model still documents it.
    return Response(out.model_dump_json(), status_code=status_code, media_type="application/json")


@router.post("/cases", status_code=201, response_model=CaseOut)
def create_case(
    body: CaseCreate,
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(require_roles(*CREATORS)),
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Report a problem; a retry with the same Idempotency-Key returns the first case.

    A replay answers like the first time (201) with ``Idempotent-Replayed: true``, whether the
    idempotency middleware or the key on the case row found it (decision 0003).
    """
    if idempotency_key is None:
        # The hot path's opt-out (decision 0004): one statement on PostgreSQL, no BEGIN/COMMIT.
        # (The SessionDep session then stays unused; closing it touches no connection.)
        with single_statement_session(request) as quick:
            case, created = service.create_case_idempotent(quick, principal, body)
            out = views.view_case(quick, principal, case, request_id=_request_id(request))
        return _json(out, 201)
    # A keyed retry needs a transaction: a savepoint settles retries that race each other.
    case, created = service.create_case_idempotent(session, principal, body, idempotency_key=idempotency_key)
    out = views.view_case(session, principal, case, request_id=_request_id(request))
    response = _json(out, 201)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("/cases", response_model=CasePage)
def list_cases(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    state: str | None = None,
    category_code: str | None = None,
    street_code: str | None = None,
    grid_code: str | None = None,
    department_code: str | None = None,
    overdue: bool | None = None,
    escalated: bool | None = None,
    created_from: Annotated[LocalDateTime | None, Query(description=TIME_HELP)] = None,
    created_to: Annotated[LocalDateTime | None, Query(description=TIME_HELP)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    reveal: Annotated[bool, Query(description=REVEAL_HELP)] = False,
    q: Annotated[str | None, Query(max_length=50, description="full-text search in the description")] = None,
    sort: Annotated[
        Literal["newest", "deadline"],
        Query(description="newest first (cursor pages) or least remaining working time first (offset pages)"),
    ] = "newest",
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="with sort=deadline")] = 0,
    with_total: Annotated[bool, Query(description="also count all matching cases (one COUNT)")] = False,
) -> CasePage:
    """Visible cases, newest first with an opaque cursor, or by remaining working time."""
    filters = CaseFilters(
        state,
        category_code,
        street_code,
        grid_code,
        department_code,
        overdue,
        escalated,
        created_from,
        created_to,
        text=q,
    )
    total: int | None = None
    next_cursor: str | None = None
    if sort == "deadline":
        rows, total = service.page_cases(
            session, principal, filters, sort="deadline", offset=offset, limit=limit
        )
    else:
        rows, next_cursor = service.list_cases(session, principal, filters, cursor=cursor, limit=limit)
        if with_total:
            total = service.count_cases(session, principal, filters)
    return CasePage(
        items=views.view_cases(session, principal, rows, request_id=_request_id(request), reveal=reveal),
        next_cursor=next_cursor,
        total=total,
    )


@router.get("/cases/{ref}", response_model=CaseOut)
def get_case(
    ref: str,
    request: Request,
    principal: PrincipalDep,
    reveal: Annotated[bool, Query(description=REVEAL_HELP)] = False,
) -> Response:
    """One case by id or code."""
    # The busiest read: no ORM (cases.record) and the single-statement opt-out (decision 0004).
    with single_statement_session(request) as session:
        case = record.read_case(session, principal, ref)
        out = views.view_case(session, principal, case, request_id=_request_id(request), reveal=reveal)
    return _json(out)


@router.get("/cases/{ref}/log", response_model=list[LogOut])
def get_log(
    ref: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    reveal: Annotated[bool, Query(description=LOG_REVEAL_HELP)] = False,
) -> list[LogOut]:
    """The case log, oldest first; its reporter sees the public history plus its own entries."""
    case = service.get_case(session, principal, ref)
    rows = log_of(session, case.id)
    return views.log_for(session, principal, case, rows, request_id=_request_id(request), reveal=reveal)


@router.get("/cases/{ref}/satisfaction", response_model=SatisfactionDetail)
def get_satisfaction(
    ref: str, session: SessionDep, principal: Principal = Depends(require_roles(*STAFF))
) -> SatisfactionDetail:
    """Every closing's rating (满意度) and every phone callback (回访) of the case."""
    case = service.get_case(session, principal, ref)
    rounds, callbacks = satisfaction.detail(session, case.id)
    names = satisfaction.RESULT_NAMES_ZH
    return SatisfactionDetail(
        rounds=[
            SatisfactionRound.model_validate(
                {
                    **{k: getattr(r, k) for k in SatisfactionRound.model_fields if k != "result_name"},
                    "result_name": names.get(r.result or ""),
                }
            )
            for r in rounds
        ],
        callbacks=[CallbackOut.model_validate(c, from_attributes=True) for c in callbacks],
    )


def _qr(code: str, request: Request) -> segno.QRCode:
    # The public page's link with its access token (cases.public): scanning shows the details.
    from cityops.cases.public import public_url

    return segno.make(public_url(code, request.app.state.settings), error="m")


@router.get("/cases/{ref}/public-link", response_model=PublicLinkOut)
def public_link(ref: str, request: Request, session: SessionDep, principal: PrincipalDep) -> PublicLinkOut:
    """The public page's link with its access token (what the QR code holds), for whoever may
    read the case: the reporter can share it; the case code alone shows only the state."""
    from cityops.cases.public import public_url

    code = service.get_case(session, principal, ref).code
    return PublicLinkOut(url=public_url(code, request.app.state.settings))


@router.get("/cases/{ref}/qr.png", response_class=Response)
def qr_png(ref: str, request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """The QR code of the case's public page (PNG)."""
    buf = io.BytesIO()
    _qr(service.get_case(session, principal, ref).code, request).save(buf, kind="png", scale=6)
    return Response(buf.getvalue(), media_type="image/png")


@router.get("/cases/{ref}/qr.svg", response_class=Response)
def qr_svg(ref: str, request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """The QR code of the case's public page (SVG)."""
    code = service.get_case(session, principal, ref).code
    return Response(_qr(code, request).svg_inline(scale=6), media_type="image/svg+xml")


@router.post("/cases/{ref}/{action}", response_model=CaseOut)
def perform_action(
    ref: str,
    action: Annotated[str, Path(json_schema_extra={"enum": [a.replace("_", "-") for a in ACTIONS]})],
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    body: ActionInput | None = None,
) -> Response:
    """A lifecycle action (file, dispatch, accept, …); 409 lists what is allowed instead."""
    case = service.perform_action(session, principal, ref, action, body, request_id=_request_id(request))
    return _json(views.view_case(session, principal, case, request_id=_request_id(request)))


# -- working calendar overrides -----------------------------------------------------------------


@router.get("/calendar/overrides", response_model=list[CalendarOverrideOut])
def list_overrides(
    session: SessionDep,
    _principal: Principal = Depends(require_roles(*STAFF)),
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> list[CalendarOverrideOut]:
    """The admin corrections of the working calendar (holidays and working weekends)."""
    return [
        CalendarOverrideOut.model_validate(r, from_attributes=True)
        for r in calendar.list_overrides(session, year)
    ]


@router.put("/calendar/overrides/{day}", response_model=CalendarOverrideOut)
def put_override(
    day: date,
    body: CalendarOverrideIn,
    session: SessionDep,
    principal: Principal = Depends(require_roles("admin")),
) -> CalendarOverrideOut:
    """Mark ``day`` as a working day or a day off (replaces an earlier override)."""
    row = calendar.set_override(session, principal, day, body.is_workday, body.note)
    return CalendarOverrideOut.model_validate(row, from_attributes=True)


@router.delete("/calendar/overrides/{day}", status_code=204, response_class=Response)
def delete_override(
    day: date, session: SessionDep, principal: Principal = Depends(require_roles("admin"))
) -> Response:
    """Remove the override; the day falls back to the official calendar."""
    calendar.delete_override(session, principal, day)
    return Response(status_code=204)


@router.get("/calendar/status", response_model=CalendarStatus)
def calendar_status(
    session: SessionDep, _principal: Principal = Depends(require_roles(*STAFF))
) -> CalendarStatus:
    """Years the calendar knows (chinese_calendar, imported schedules) and deadline warnings."""
    return CalendarStatus(
        package_last_year=package_last_year(),
        imported_years=[
            CalendarYearOut(year=y.year, source=y.source, days=y.days)
            for y in calendar.imported_years(session)
        ],
        warnings=[CalendarWarning(**w) for w in calendar.calendar_warnings(session)],
    )


@router.post("/calendar/import", response_model=CalendarImportOut)
def import_calendar(
    body: CalendarImportIn, session: SessionDep, principal: Principal = Depends(require_roles("admin"))
) -> CalendarImportOut:
    """Import a year's official schedule (holidays and adjusted working days) as overrides."""
    days = calendar.parse_schedule(d.model_dump() for d in body.days)
    return CalendarImportOut(**calendar.import_schedule(session, principal, days, source=body.source))

"""The public case page (no sign-in): anyone holding the case code may follow its progress.

Shows the state, category, street, dates and the history of actions with their times — never
notes, attachments, actors or reporter data, because those may contain personal data.
"""

from __future__ import annotations

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cityops.cases import external
from cityops.cases.queries import get_case_by_code_public, log_of
from cityops.cases.schemas import PublicCaseOut, PublicLogOut
from cityops.cases.transitions import BY_ACTION, STATE_NAMES_ZH
from cityops.config import get_settings
from cityops.errors import NotFound
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import MaybePrincipal, page_router

router = APIRouter(tags=["cases-public"])
# The HTML page renders its errors as pages (a 404 page for an unknown code), in the layout.
pages_router = page_router(tags=["cases-public"])
# Only actions that mean progress to the public; flags such as park requests stay internal.
_PUBLIC_ACTIONS = frozenset(
    {
        "create",
        "file",
        "reject",
        "dispatch",
        "accept",
        "handle",
        "verify",
        "close",
        "approve_park",
        "unpark",
        "approve_extension",
        "reopen",
        "return",
    }
)


def public_url(code: str) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/p/cases/{code}"


def public_view(session: Session, code: str) -> PublicCaseOut:
    """What the public may know about the case ``code`` (NotFound for an unknown code)."""
    case = get_case_by_code_public(session, code)
    history = [
        PublicLogOut(
            at=row.at,
            action=row.action,
            action_name="上报"
            if row.action == "create"
            else (BY_ACTION[row.action].zh if row.action in BY_ACTION else row.action),
            to_state=row.to_state,
            state_name=STATE_NAMES_ZH.get(row.to_state, row.to_state),
        )
        for row in log_of(session, case.id)
        if row.action in _PUBLIC_ACTIONS
    ]
    return PublicCaseOut(
        code=case.code,
        state=case.state,
        state_name=STATE_NAMES_ZH.get(case.state, case.state),
        category_code=case.category_code,
        category_name=external.category_name(session, case.category_code),
        street_code=case.street_code,
        created_at=case.created_at,
        dispatched_at=case.dispatched_at,
        deadline=case.deadline,
        closed_at=case.closed_at,
        history=history,
        url=public_url(case.code),
    )


def _area_name(session: Session, code: str | None) -> str | None:
    """The public name of an area (a street's name means more to a citizen than its code)."""
    if not code:
        return None
    from cityops.areas import service as areas

    try:
        return str(areas.get_area(session, code).name)
    except NotFound:
        return None


@router.get("/api/v1/public/cases/{code}", response_model=PublicCaseOut)
def public_case_json(code: str, session: SessionDep) -> PublicCaseOut:
    """The public view of a case as JSON."""
    return public_view(session, code)


@pages_router.get("/p/cases/{code}", response_class=HTMLResponse)
def public_case_page(
    code: str, session: SessionDep, request: Request, _viewer: MaybePrincipal
) -> HTMLResponse:
    """The public page of a case (Chinese), with its QR code, in the site's layout."""
    view = public_view(session, code)
    qr_svg = segno.make(view.url, error="m").svg_inline(scale=4, title=f"案件 {view.code} 二维码")
    return templating.render(
        request,
        "public_case.html",
        {"case": view, "qr_svg": qr_svg, "street_name": _area_name(session, view.street_code)},
    )

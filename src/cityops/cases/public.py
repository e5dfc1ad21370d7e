"""The public case page (no sign-in): anyone holding the case code may follow its progress.

Shows the state, category, street, dates and the history of actions with their times — never
notes, attachments, actors or reporter data, because those may contain personal data.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import segno
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from cityops.cases import external
from cityops.cases.queries import get_case_by_code_public, log_of
from cityops.cases.schemas import PublicCaseOut, PublicLogOut
from cityops.cases.transitions import BY_ACTION, PUBLIC_ACTIONS, STATE_NAMES_ZH
from cityops.config import get_settings
from cityops.errors import NotFound
from cityops.kit.workcal import LOCAL_TZ
from cityops.web.deps import get_session

router = APIRouter(tags=["cases-public"])
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def _local(value: datetime | None) -> str:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if value else "—"


_env.filters["local"] = _local


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
        if row.action in PUBLIC_ACTIONS
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


@router.get("/p/cases/{code}", response_class=HTMLResponse)
def public_case_page(code: str, session: SessionDep) -> HTMLResponse:
    """The public page of a case (Chinese), with its QR code."""
    view = public_view(session, code)
    qr_svg = segno.make(view.url, error="m").svg_inline(scale=4, title=f"案件 {view.code} 二维码")
    html = _env.get_template("public_case.html").render(
        case=view, qr_svg=qr_svg, street_name=_area_name(session, view.street_code)
    )
    return HTMLResponse(html)

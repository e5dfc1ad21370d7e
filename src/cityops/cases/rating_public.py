"""The reporter's rating link (回访·评价): ``/p/rate/{token}`` (page) and its JSON twin.

No sign-in: the token sent at closing (SMS or in-app message) is the credential; it is 32 random
bytes, stored only as a hash, valid for one closing and ``CITYOPS_RATING_DAYS`` days. The page
says only what the public case page says, plus the form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from cityops.cases import service
from cityops.cases.public import public_url
from cityops.cases.satisfaction import RESULT_NAMES_ZH
from cityops.cases.schemas import RatingIn, RatingView
from cityops.db import utcnow
from cityops.errors import DomainError
from cityops.web.deps import get_session

router = APIRouter(tags=["cases-public"])
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("/api/v1/public/ratings/{token}", response_model=RatingView)
def get_rating(token: str, session: SessionDep) -> RatingView:
    """The case a rating link is for, and its rating if given."""
    return service.rating_view(session, token)


@router.post("/api/v1/public/ratings/{token}", response_model=RatingView)
def post_rating(token: str, body: RatingIn, request: Request, session: SessionDep) -> RatingView:
    """Rate the closing: satisfied / basically_satisfied / dissatisfied, with a comment."""
    return service.rate_by_token(
        session, token, body.satisfaction, body.comment, request_id=_request_id(request)
    )


def _page(view: RatingView, error: str | None = None, status: int = 200) -> HTMLResponse:
    html = _env.get_template("rate.html").render(
        view=view,
        error=error,
        open=view.satisfaction is None and view.state == "closed" and utcnow() <= view.expires_at,
        options=list(RESULT_NAMES_ZH.items()),
        case_url=public_url(view.code),
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/p/rate/{token}", response_class=HTMLResponse)
def rating_page(token: str, session: SessionDep) -> HTMLResponse:
    """The rating form (Chinese)."""
    return _page(service.rating_view(session, token))


@router.post("/p/rate/{token}", response_class=HTMLResponse)
def rating_form(
    token: str,
    request: Request,
    session: SessionDep,
    satisfaction: Annotated[str, Form(max_length=24)],
    comment: Annotated[str | None, Form(max_length=2000)] = None,
) -> HTMLResponse:
    """The form's submission; a refusal (already rated, expired) is shown on the page."""
    try:
        view = service.rate_by_token(session, token, satisfaction, comment, request_id=_request_id(request))
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _page(
            service.rating_view(session, token), error=exc.message.split(" / ")[0], status=exc.status
        )
    return _page(view)

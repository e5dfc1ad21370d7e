"""The reporter's rating link (回访·评价): ``/p/rate/{token}`` (page) and its JSON twin.

No sign-in: the token sent at closing (SMS or in-app message) is the credential; it is 32 random
bytes, stored only as a hash, valid for one closing and ``CITYOPS_RATING_DAYS`` days. The page
says only what the public case page says, plus the form. Both share the public pages' rate
limit per address; the form is CSRF-checked like every page form.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from cityops.cases import service
from cityops.cases.public import PUBLIC_ERRORS, public_url, rate_limited
from cityops.cases.satisfaction import RESULT_NAMES_ZH
from cityops.cases.schemas import RatingIn, RatingView
from cityops.db import utcnow
from cityops.errors import DomainError
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import CsrfForm, page_router

router = APIRouter(tags=["cases-public"], dependencies=[Depends(rate_limited)])
pages_router = page_router(tags=["cases-public"], dependencies=[Depends(rate_limited)])
NO_STORE = {"Cache-Control": "no-store"}  # the page's address is the credential


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("/api/v1/public/ratings/{token}", response_model=RatingView, responses=PUBLIC_ERRORS)
def get_rating(token: str, session: SessionDep) -> RatingView:
    """The case a rating link is for, and its rating if given."""
    return service.rating_view(session, token)


@router.post("/api/v1/public/ratings/{token}", response_model=RatingView, responses=PUBLIC_ERRORS)
def post_rating(token: str, body: RatingIn, request: Request, session: SessionDep) -> RatingView:
    """Rate the closing: satisfied / basically_satisfied / dissatisfied, with a comment."""
    rid = _request_id(request)
    return service.rate_by_token(session, token, body.satisfaction, body.comment, request_id=rid)


def _page(request: Request, view: RatingView, error: str | None = None, status: int = 200) -> HTMLResponse:
    context = {
        "view": view,
        "error": error,
        "open": view.satisfaction is None and view.state == "closed" and utcnow() <= view.expires_at,
        "options": list(RESULT_NAMES_ZH.items()),
        "case_url": public_url(view.code, request.app.state.settings),
    }
    return templating.render(request, "cases/rate.html", context, status_code=status, headers=NO_STORE)


@pages_router.get("/p/rate/{token}", response_class=HTMLResponse)
def rating_page(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    """The rating form (Chinese)."""
    return _page(request, service.rating_view(session, token))


@pages_router.post("/p/rate/{token}", response_class=HTMLResponse)
def rating_form(token: str, request: Request, session: SessionDep, form: CsrfForm) -> HTMLResponse:
    """The form's submission; a refusal (already rated, expired, no choice) is shown on the page."""
    choice, comment = str(form.get("satisfaction") or ""), str(form.get("comment") or "")[:2000] or None
    try:
        view = service.rate_by_token(session, token, choice, comment, request_id=_request_id(request))
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        view = service.rating_view(session, token)
        return _page(request, view, error=exc.message.split(" / ")[0], status=exc.status)
    return _page(request, view)

"""The public case page (no sign-in): anyone holding the QR link may follow the case's progress.

Case codes are sequential, so the code alone shows only that a case exists and its state. The
QR link carries an access token, ``/p/cases/{code}?t=<token>``: an HMAC of the code under the
secret key (nothing to store; changing ``CITYOPS_SECRET_KEY`` invalidates printed links). With
it the page shows the state, category, street, dates and the history of actions with their
times — never notes, attachments, actors or reporter data, because those may contain personal
data. Both endpoints share a rate limit per client address (``CITYOPS_PUBLIC_REQUESTS_PER_MINUTE``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cityops.cases import external
from cityops.cases.queries import get_case_by_code_public, log_of
from cityops.cases.satisfaction import RESULT_NAMES_ZH
from cityops.cases.schemas import PublicCaseOut, PublicLogOut
from cityops.cases.transitions import BY_ACTION, PUBLIC_ACTIONS, STATE_NAMES_ZH
from cityops.config import Settings, get_settings
from cityops.errors import NotFound, TooManyRequests
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.openapi import error_responses
from cityops.web.pagekit import MaybePrincipal, page_router

# Only actions that mean progress to the public (cases.transitions, shared with the citizen's log).
_PUBLIC_ACTIONS = frozenset(PUBLIC_ACTIONS)


def access_token(code: str, secret_key: str) -> str:
    """The QR link's token for case ``code``: 128 bits of HMAC-SHA256, URL-safe."""
    digest = hmac.new(secret_key.encode(), f"cityops-public-case:{code}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def token_matches(code: str, token: str | None, secret_key: str) -> bool:
    return bool(token) and hmac.compare_digest(str(token), access_token(code, secret_key))


def public_url(code: str, settings: Settings | None = None) -> str:
    """The link printed as the case's QR code (with its access token)."""
    settings = settings or get_settings()
    token = access_token(code, settings.secret_key)
    return f"{settings.public_base_url.rstrip('/')}/p/cases/{code}?t={token}"


class _RateLimit:
    """Requests per client address per minute, in this process (a fixed one-minute window).

    Kept in memory: a database write per public hit would cost more than the page. With several
    server processes each allows the limit, which still stops bulk enumeration.
    """

    MAX_ADDRESSES = 100_000

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.window = 0
        self.counts: dict[str, int] = {}

    def hit(self, address: str, now: float) -> int:
        """0 when allowed, else the seconds until the next window."""
        window = int(now // 60)
        if window != self.window or len(self.counts) >= self.MAX_ADDRESSES:
            self.window, self.counts = window, {}
        count = self.counts.get(address, 0) + 1
        self.counts[address] = count
        if count <= self.per_minute:
            return 0
        return max(1, math.ceil((window + 1) * 60 - now))


async def rate_limited(request: Request) -> None:
    """Dependency: 429 ``rate_limited`` with Retry-After past the limit (runs on the event loop)."""
    settings: Settings = request.app.state.settings
    limiter: _RateLimit | None = getattr(request.app.state, "public_rate_limit", None)
    if limiter is None or limiter.per_minute != settings.public_requests_per_minute:
        limiter = request.app.state.public_rate_limit = _RateLimit(settings.public_requests_per_minute)
    wait = limiter.hit(request.client.host if request.client else "", time.time())
    if wait:
        raise TooManyRequests(
            f"查询过于频繁，请在 {wait} 秒后重试",
            f"Too many requests from your address; retry in {wait} seconds",
            code="rate_limited",
            retry_after=wait,
        )


router = APIRouter(tags=["cases-public"], dependencies=[Depends(rate_limited)])
# The HTML page renders its errors as pages (a 404 page for an unknown code), in the layout.
pages_router = page_router(tags=["cases-public"], dependencies=[Depends(rate_limited)])
TokenQuery = Annotated[
    str | None,
    Query(alias="t", max_length=64, description="the access token of the QR link; without it only the state"),
]


def public_view(
    session: Session, code: str, token: str | None = None, settings: Settings | None = None
) -> PublicCaseOut:
    """What the public may know about the case ``code`` (NotFound for an unknown code).

    Without the right ``token`` only the code and state.
    """
    settings = settings or get_settings()
    case = get_case_by_code_public(session, code)
    state_name = STATE_NAMES_ZH.get(case.state, case.state)
    if not token_matches(case.code, token, settings.secret_key):
        return PublicCaseOut(code=case.code, state=case.state, state_name=state_name, details=False)
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
        state_name=state_name,
        details=True,
        category_code=case.category_code,
        category_name=external.category_name(session, case.category_code),
        street_code=case.street_code,
        created_at=case.created_at,
        dispatched_at=case.dispatched_at,
        deadline=case.deadline,
        closed_at=case.closed_at,
        satisfaction=case.satisfaction,
        satisfaction_name=RESULT_NAMES_ZH.get(case.satisfaction or ""),
        history=history,
        url=public_url(case.code, settings),
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


PUBLIC_ERRORS = error_responses(404, 422, 429)


@router.get("/api/v1/public/cases/{code}", response_model=PublicCaseOut, responses=PUBLIC_ERRORS)
def public_case_json(code: str, request: Request, session: SessionDep, t: TokenQuery = None) -> PublicCaseOut:
    """The public view of a case as JSON (details only with the QR link's token ``t``)."""
    return public_view(session, code, t, request.app.state.settings)


@pages_router.get("/p/cases/{code}", response_class=HTMLResponse)
def public_case_page(
    code: str, session: SessionDep, request: Request, _viewer: MaybePrincipal, t: TokenQuery = None
) -> HTMLResponse:
    """The public page of a case (Chinese), in the site's layout; its QR code only with the token."""
    view = public_view(session, code, t, request.app.state.settings)
    qr_svg = None
    if view.url:  # the QR code repeats the link with its token, so only with the token
        qr_svg = segno.make(view.url, error="m").svg_inline(scale=4, title=f"案件 {view.code} 二维码")
    return templating.render(
        request,
        "public_case.html",
        {"case": view, "qr_svg": qr_svg, "street_name": _area_name(session, view.street_code)},
    )

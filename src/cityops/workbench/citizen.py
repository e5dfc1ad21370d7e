"""The citizen's report form (``/report``): no sign-in, photos, a place on the map or an address.

After sending, the citizen gets the case code, a QR code and the link of the public page
(``/p/cases/{code}``). The form is rate-limited per client address. Reports sent without
sign-in are created by one synthetic citizen principal ("web-form"), so they are never
attributed to a real account; a signed-in citizen reports as themselves and finds the case
under "my reports".
"""

from __future__ import annotations

import uuid

import segno
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from cityops.accounts.principal import Principal
from cityops.cases.public import access_token, public_url
from cityops.cases.queries import get_case_by_code_public
from cityops.errors import NotFound
from cityops.web import templating
from cityops.web.deps import ReadSessionDep, SessionDep
from cityops.web.pagekit import CsrfForm, MaybePrincipal, page_router, redirect
from cityops.web.templating import N_
from cityops.workbench.ratelimit import SlidingWindow
from cityops.workbench.reporting import new_form_key, submit_report

router = page_router(tags=["citizen"])

templating.add_nav("/report", N_("反映问题"), ["citizen"], 10)

# Who creates a report sent without sign-in; a fixed id that no account has (accounts use uuid4).
WEB_FORM = Principal(
    id=uuid.UUID("00000000-0000-4000-8000-00000000f0a1"), username="web-form", role="citizen"
)

# The receipt page shows the QR link with its access token, so only the browser that sent the
# report may open it: the codes it reported are kept in a signed cookie.
RECEIPT_COOKIE = "cityops_reported"
RECEIPT_MAX = 20


def _receipts(request: Request) -> list[str]:
    raw = request.cookies.get(RECEIPT_COOKIE)
    if not raw:
        return []
    try:
        codes = URLSafeSerializer(request.app.state.settings.secret_key, salt="cityops-receipt").loads(raw)
    except BadSignature:
        return []
    return [str(c) for c in codes][-RECEIPT_MAX:] if isinstance(codes, list) else []


def _remember(request: Request, response: Response, code: str) -> None:
    codes = [c for c in _receipts(request) if c != code] + [code]
    value = URLSafeSerializer(request.app.state.settings.secret_key, salt="cityops-receipt").dumps(
        codes[-RECEIPT_MAX:]
    )
    response.set_cookie(
        RECEIPT_COOKIE, value, max_age=30 * 86400, httponly=True, samesite="lax", path="/report"
    )


# Five reports per ten minutes per client address.
FORM_LIMIT = SlidingWindow(limit=5, seconds=600)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _form_page(
    request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    return templating.render(
        request,
        "workbench/report.html",
        {
            "values": {"key": new_form_key(), **values},
            "errors": errors,
            "max_mb": request.app.state.settings.max_upload_bytes // (1024 * 1024),
        },
        status_code=status,
    )


@router.get("/report")
def report_form(request: Request, _viewer: MaybePrincipal) -> Response:
    return _form_page(request, {}, {})


@router.post("/report")
def report_submit(request: Request, form: CsrfForm, session: SessionDep, viewer: MaybePrincipal) -> Response:
    FORM_LIMIT.check(_client(request))
    principal = viewer if viewer is not None and viewer.role == "citizen" else WEB_FORM
    if form.get("join"):  # "me too" on a likely duplicate the form suggested (intake)
        from cityops.intake.pages import join_from_form

        joined = join_from_form(request, session, principal, form)
        if joined:
            # The joiner follows the case they joined like their own report: same receipt.
            message = templating.t("已加入，办理结果会一并通知您")
            response = redirect(request, f"/report/sent/{joined}", message)
            _remember(request, response, joined)
            return response
    outcome = submit_report(request, session, principal, form, source="web")
    if outcome.case is None:
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        return _form_page(request, values, outcome.errors, outcome.status)
    response = redirect(request, f"/report/sent/{outcome.case.code}", templating.t("已收到您的反映，谢谢！"))
    _remember(request, response, outcome.case.code)
    return response


@router.get("/report/sent/{code}")
def report_sent(code: str, request: Request, session: ReadSessionDep, _viewer: MaybePrincipal) -> Response:
    """The case code, its QR code and the public page's link — for the browser that reported it."""
    if code not in _receipts(request):
        raise NotFound("找不到该回执", "No such receipt", code="receipt_not_found")
    case = get_case_by_code_public(session, code)
    settings = request.app.state.settings
    url = public_url(case.code, settings)
    qr_svg = segno.make(url, error="m").svg_inline(scale=5, title=templating.t("案件二维码"))
    return templating.render(
        request,
        "workbench/report_sent.html",
        {
            "code": case.code,
            "url": url,
            "path_url": f"/p/cases/{case.code}?t={access_token(case.code, settings.secret_key)}",
            "qr_svg": qr_svg,
        },
    )

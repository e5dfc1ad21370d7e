"""The pages every user meets first: ``/`` → sign-in or the role's home, sign-in, sign-out, language.

Sign-in checks the name and password with the same service as ``POST /api/v1/auth/login`` and
sets the same HttpOnly ``cityops_session`` cookie; the page form adds what a person needs on top:
a CSRF token, the error next to the field in the page's language, and the way back to the page
that asked for sign-in (``next``).
"""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import BaseModel, Field

from cityops.accounts import service as accounts
from cityops.errors import DomainError
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import (
    CsrfForm,
    MaybePrincipal,
    error_page,
    form_values,
    page_router,
    parse_form,
    redirect,
    safe_next,
)

router = page_router(tags=["pages"])

# Where "/" sends a signed-in user; capabilities may point a role elsewhere (ROLE_HOME[role] = …).
ROLE_HOME: dict[str, str] = {}
DEFAULT_HOME = "/home"


def home_of(role: str) -> str:
    return ROLE_HOME.get(role, DEFAULT_HOME)


@router.get("/")
def root(request: Request, principal: MaybePrincipal) -> Response:
    if principal is None:
        return redirect(request, "/login")
    return redirect(request, home_of(principal.role))


@router.get("/login")
def login_page(
    request: Request, principal: MaybePrincipal, next: str | None = None, expired: bool = False
) -> Response:
    if principal is not None and not expired:
        return redirect(request, safe_next(next, home_of(principal.role)))
    return templating.render(
        request,
        "login.html",
        {"next": safe_next(next, ""), "expired": expired, "values": {}, "errors": {}},
    )


class LoginForm(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    next: str | None = None


@router.post("/login")
def login_submit(request: Request, form: CsrfForm, session: SessionDep) -> Response:
    lang = templating.lang_of(request)
    values = form_values(form)
    values.pop("password", None)  # never echo a password back
    data, errors = parse_form(LoginForm, form, lang)
    settings = request.app.state.settings
    if data is not None:
        try:
            user = accounts.authenticate(session, data.username, data.password, settings)
        except DomainError as exc:
            errors = {"password": exc.message.split(" / ", 1)[1 if lang == "en" else 0]}
        else:
            response = redirect(request, safe_next(data.next, home_of(user.role)))
            response.set_cookie(
                templating.SESSION_COOKIE,
                accounts.issue_token(user, settings),
                max_age=settings.token_ttl_seconds,
                httponly=True,
                samesite="lax",
                secure=settings.public_base_url.startswith("https://"),
                path="/",
            )
            return response
    return templating.render(
        request,
        "login.html",
        {"next": safe_next(values.get("next"), ""), "expired": False, "values": values, "errors": errors},
        status_code=422,
    )


@router.post("/logout")
def logout(request: Request, form: CsrfForm) -> Response:
    response = redirect(request, "/login", templating.t("已退出登录", templating.lang_of(request)))
    response.delete_cookie(templating.SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.post("/lang")
def switch_language(request: Request, form: CsrfForm) -> Response:
    """Remember the chosen language in a cookie (a year) and go back to the page."""
    lang = form.get("lang")
    if lang not in templating.LANGS:
        return error_page(request, 422, "不支持的语言 / Unsupported language")
    response = redirect(request, safe_next(str(form.get("next") or ""), "/"))
    response.set_cookie(templating.LANG_COOKIE, str(lang), max_age=365 * 86400, samesite="lax", path="/")
    return response

"""What every ``pages.py`` uses: the page router, sign-in and role checks, CSRF, forms, errors.

A page router (``page_router()``) differs from an API router in what its errors look like:
any error a handler raises — a domain error, a validation error, an unexpected exception — is
rendered as an HTML page in the layout (403, 404, 409/422 with the reason, 500 never with a stack
trace), a missing or expired sign-in becomes a redirect to ``/login?next=…`` (for htmx, an
``HX-Redirect``), and every page gets the page security headers. The transaction is rolled back
before the error page is drawn (the session dependency sees the error first), so a refused
action never half-writes anything.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from cityops.accounts.principal import Principal
from cityops.errors import DomainError, Forbidden, Unauthorized
from cityops.web import templating
from cityops.web.deps import optional_principal
from cityops.web.errors import ERROR_TYPES_ZH

log = logging.getLogger("cityops.web.pages")

M = TypeVar("M", bound=BaseModel)


class SignInRequired(Exception):
    """Raised by page dependencies when nobody (or an expired session) is signed in."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign in required")
        self.expired = expired


# --- page headers -------------------------------------------------------------------------------


def page_headers(request: Request, response: Response) -> None:
    """Pages show personal work lists: never stored. (CSP without inline scripts, nosniff,
    frame-ancestors and the referrer policy come for every response from ``web.security``.)"""
    response.headers.setdefault("Cache-Control", "no-store")


# --- error pages -------------------------------------------------------------------------------

_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权访问",
    404: "找不到该页面",
    405: "不支持的操作",
    409: "当前状态下不能执行此操作",
    413: "上传内容过大",
    415: "不支持的文件类型",
    422: "填写内容有误",
    429: "操作太频繁",
    500: "出了点问题",
    503: "服务暂时不可用",
}


def _split_message(message: str, lang: str) -> str:
    """Our messages are "中文 / English": show the half of the page's language."""
    if " / " in message:
        zh, en = message.split(" / ", 1)
        return en if lang == "en" else zh
    return message


def wants_html(request: Request) -> bool:
    """A browser (it asks for text/html); scripts and API clients get the JSON error shape."""
    return "text/html" in request.headers.get("accept", "") or bool(request.headers.get("hx-request"))


def error_page(
    request: Request,
    status: int,
    message: str | None = None,
    code: str | None = None,
    retry_after: int | None = None,
) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    if not wants_html(request):
        from fastapi.responses import JSONResponse

        zh = templating.t(_TITLES.get(status, "请求有误"), "zh-CN")
        en = templating.t(_TITLES.get(status, "请求有误"), "en")
        body = {
            "error": {"code": code or f"http_{status}", "message": message or f"{zh} / {en}", "details": {}}
        }
        return JSONResponse(body, status_code=status, headers=headers)
    lang = templating.lang_of(request)
    shown = _split_message(message, lang) if message else None
    response = templating.render(
        request,
        "errors/error.html",
        {
            "status": status,
            "title": templating.t(_TITLES.get(status, "请求有误"), lang),
            "message": shown,
            "code": code,
            "request_id": getattr(request.state, "request_id", None),
        },
        status_code=status,
        headers=headers,
    )
    page_headers(request, response)
    return response


def _sign_in_redirect(request: Request, expired: bool) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        # After signing in, go back to the page the form was on, not to the POST address.
        referer = urlsplit(request.headers.get("referer", ""))
        target = referer.path + (f"?{referer.query}" if referer.query else "") if referer.path else "/"
    if request.headers.get("hx-request"):
        current = urlsplit(request.headers.get("hx-current-url", ""))
        target = current.path or target
    url = f"/login?next={quote(target, safe='/')}" + ("&expired=1" if expired else "")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


class PageRoute(APIRoute):
    """An APIRoute whose errors are pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            # Texts made in the handler (flash messages, form errors) follow the page's language;
            # the handler's worker thread inherits this context.
            templating.set_language(templating.lang_of(request))
            try:
                response = await original(request)
            except SignInRequired as exc:
                return _sign_in_redirect(request, exc.expired)
            except Unauthorized as exc:
                return _sign_in_redirect(request, exc.code in ("token_expired", "token_revoked"))
            except DomainError as exc:
                return error_page(
                    request, exc.status, exc.message, exc.code, getattr(exc, "retry_after", None)
                )
            except RequestValidationError as exc:
                fields = "、".join(
                    ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
                    for e in exc.errors()
                )
                return error_page(request, 422, f"请求内容有误：{fields} / Invalid request: {fields}")
            except HTTPException as exc:
                return error_page(request, exc.status_code, None, f"http_{exc.status_code}")
            except Exception:
                log.exception("unhandled error on page %s %s", request.method, request.url.path)
                return error_page(
                    request, 500, "服务器内部错误，已记录，请稍后重试 / Internal error; it has been logged"
                )
            page_headers(request, response)
            return response

        return handler


def page_router(**kwargs: Any) -> APIRouter:
    """The router of a capability's pages (excluded from the OpenAPI schema)."""
    kwargs.setdefault("include_in_schema", False)
    return APIRouter(route_class=PageRoute, **kwargs)


# --- who is signed in --------------------------------------------------------------------------


async def page_principal(request: Request) -> Principal:
    """The signed-in user of a page; a redirect to sign-in when none or when expired."""
    if not request.cookies.get(templating.SESSION_COOKIE) and not request.headers.get("authorization"):
        raise SignInRequired(expired=False)
    try:
        principal = await optional_principal(request)
    except Unauthorized as exc:
        raise SignInRequired(expired=True) from exc
    if principal is None:
        raise SignInRequired(expired=False)
    return principal


async def maybe_principal(request: Request) -> Principal | None:
    """The signed-in user if any (public pages show the header for them); never raises."""
    try:
        return await optional_principal(request)
    except Unauthorized:
        return None


def page_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """The signed-in user, who must have one of ``roles`` (else the 403 page)."""

    async def check(principal: Principal = Depends(page_principal)) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                "您的角色无权打开此页面",
                "Your role may not open this page",
                code="role_not_allowed",
            )
        return principal

    return check


PagePrincipal = Annotated[Principal, Depends(page_principal)]
MaybePrincipal = Annotated[Principal | None, Depends(maybe_principal)]


# --- CSRF-checked forms ------------------------------------------------------------------------


class CsrfRefused(Forbidden):
    pass


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token (field or ``X-CSRF-Token`` header) matches the cookie."""
    form = await request.form()
    cookie = request.cookies.get(templating.CSRF_COOKIE) or ""
    sent = request.headers.get(templating.CSRF_HEADER) or form.get(templating.CSRF_FIELD) or ""
    if not isinstance(sent, str) or len(cookie) < 32 or not hmac.compare_digest(cookie, sent):
        raise CsrfRefused(
            "表单已失效（缺少安全令牌），请刷新页面后重新提交",
            "The form has expired (its security token is missing); reload the page and send it again",
            code="csrf_failed",
        )
    return form


CsrfForm = Annotated[FormData, Depends(checked_form)]


def form_values(form: FormData) -> dict[str, str]:
    """The form's text fields (what the user typed, to show it again after an error)."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != templating.CSRF_FIELD}


def form_files(form: FormData, name: str) -> list[UploadFile]:
    """The non-empty files posted in field ``name``."""
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]


def field_errors(exc: ValidationError, lang: str) -> dict[str, str]:
    """A pydantic error as {field: message in the page's language} for the form macros."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err.get("loc", ())) or "__all__"
        if lang == "en":
            text = str(err.get("msg", "invalid"))
        else:
            text = ERROR_TYPES_ZH.get(str(err.get("type", "")), "取值无效")
            ctx = err.get("ctx") or {}
            if err.get("type") == "missing":
                text = "请填写此项"
            elif err.get("type") == "string_too_short" and "min_length" in ctx:
                text = "请填写" if ctx["min_length"] == 1 else f"至少 {ctx['min_length']} 个字"
            elif err.get("type") == "string_too_long" and "max_length" in ctx:
                text = f"最多 {ctx['max_length']} 个字"
        errors.setdefault(name, text)
    return errors


def parse_form(
    model: type[M], form: FormData | Mapping[str, Any], lang: str
) -> tuple[M | None, dict[str, str]]:
    """Validate ``form`` as ``model``: (the model, {}) or (None, field errors)."""
    # An empty field counts as not filled in ("missing"), as a person means it.
    data = {k: v for k, v in form.items() if isinstance(v, str) and v.strip() != ""}
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, field_errors(exc, lang)


def domain_field_error(exc: DomainError, lang: str, default_field: str = "__all__") -> dict[str, str]:
    """A service's ``Invalid`` (with ``details["field"]``) as a form error next to that field."""
    details = exc.details if isinstance(exc.details, dict) else {}
    name = str(details.get("field") or default_field)
    return {name: _split_message(exc.message, lang)}


def redirect(request: Request, url: str, message: str | None = None, kind: str = "success") -> Response:
    """303 to ``url`` (a path on this site) with an optional flash message; htmx follows it too."""
    if not url.startswith("/") or url.startswith(("//", "/\\")):
        url = "/"
    response: Response
    if request.headers.get("hx-request"):
        response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if message:
        templating.flash(request, response, message, kind)
    return response


def safe_next(value: str | None, default: str = "/") -> str:
    """A ``next`` parameter only if it is a path on this site (no open redirect)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and "\n" not in value:
        return value
    return default


# --- lists -------------------------------------------------------------------------------------


class Paging(BaseModel):
    """Where a list page is: the total (counted in SQL), this page's offset and size.

    ``capped``: the count stopped at ``total`` and there are more ("more than ``total``"); the
    pager then shows no number of pages. :meth:`counted` builds it from a capped count.
    """

    total: int
    offset: int = 0
    limit: int = 50
    capped: bool = False

    @classmethod
    def counted(cls, total: int, *, offset: int, limit: int, bound: int | None) -> Paging:
        """From a count that stopped after ``bound + 1`` (``cases.queries.count_cases(cap=…)``)."""
        if bound is not None and total > bound:
            return cls(total=bound, offset=offset, limit=limit, capped=True)
        return cls(total=total, offset=offset, limit=limit)

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))

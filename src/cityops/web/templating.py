"""The one Jinja2 environment of every page: loader, filters, message catalogue, ``render``.

Templates: ``web/templates/`` (the base layout ``base.html`` and the components in
``components/``) and every capability's ``<capability>/templates/`` folder, whose files live in a
sub-folder named after the capability (``cases/templates/cases/detail.html`` is rendered as
``"cases/detail.html"``). New capabilities are found at import time; nothing to register.

Language: Simplified Chinese first; the message ids *are* the Chinese texts, and English comes
from the one catalogue ``web/locale/en/LC_MESSAGES/messages.po``, compiled in memory on first
use (no build step, no network). ``{{ _("待受理") }}`` in templates, ``t("待受理", lang)`` in Python.
See docs/howto/add-a-page.md.
"""

from __future__ import annotations

import gettext
import io
import secrets
import threading
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from fastapi import Request
from fastapi.responses import HTMLResponse
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cityops.accounts.masking import mask_text
from cityops.accounts.principal import Principal
from cityops.kit.workcal import LOCAL_TZ

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # src/cityops
WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
LOCALE_DIR = WEB_DIR / "locale"

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
LANG_COOKIE = "cityops_lang"
CSRF_COOKIE = "cityops_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FLASH_COOKIE = "cityops_flash"
SESSION_COOKIE = "cityops_session"  # set by accounts (api.login and the sign-in page)


def template_dirs() -> list[Path]:
    """``web/templates`` first, then each capability's ``templates`` folder (sorted, stable)."""
    dirs = [WEB_DIR / "templates"]
    dirs += sorted(p for p in PACKAGE_DIR.glob("*/templates") if p.is_dir() and p.parent != WEB_DIR)
    return dirs


# --- the message catalogue ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang``; Chinese (the message ids) needs none."""
    if lang == DEFAULT_LANG:
        return gettext.NullTranslations()
    po_path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=lang.replace("-", "_"))
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


# The language of the page being rendered; set by ``render`` (templates run in one thread).
_current_lang: ContextVar[str] = ContextVar("cityops_lang", default=DEFAULT_LANG)


def set_language(lang: str) -> None:
    """The language of texts made with ``t`` in this request's context (set by the page router)."""
    _current_lang.set(lang if lang in LANGS else DEFAULT_LANG)


def t(message: str, lang: str | None = None, **params: Any) -> str:
    """Translate the Chinese ``message`` into ``lang`` (default: the page being rendered)."""
    text = translations(lang or _current_lang.get()).gettext(message)
    return text % params if params else text


def N_(message: str) -> str:
    """Mark a Chinese message id for the catalogue without translating it yet (nav labels, tiles)."""
    return message


def _gettext(message: str, **params: Any) -> str:
    return t(message, **params)


def _ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text = translations(_current_lang.get()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


def lang_of(request: Request) -> str:
    """The page language: the ``cityops_lang`` cookie, else Chinese."""
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGS else DEFAULT_LANG


# --- filters -----------------------------------------------------------------------------------


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware UTC datetime in Beijing time ("—" for none)."""
    return value.astimezone(LOCAL_TZ).strftime(fmt) if value else "—"


def working_duration(seconds: float | None) -> str:
    """Working time left (or over, when negative) as "1 天 3 小时" / "1 d 3 h"."""
    if seconds is None:
        return "—"
    over = seconds < 0
    left = abs(int(seconds))
    # A working day of the case clock counts 8 working hours.
    days, rest = divmod(left, 8 * 3600)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = t("%(d)s 天 %(h)s 小时", d=days, h=hours)
    elif hours:
        text = t("%(h)s 小时 %(m)s 分", h=hours, m=minutes)
    else:
        text = t("%(m)s 分钟", m=minutes)
    return t("超时 %(x)s", x=text) if over else text


def _query(request: Request, **changes: Any) -> str:
    """The current URL's query string with ``changes`` (None removes a key): for pagers, sorts."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    from urllib.parse import urlencode

    return "?" + urlencode(params) if params else "?"


# --- navigation by role --------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str  # a Chinese message id
    roles: frozenset[str]
    order: int = 50


_NAV: list[NavItem] = []
_NAV_LOCK = threading.Lock()


def add_nav(href: str, label: str, roles: Iterable[str], order: int = 50) -> None:
    """Put a link into the header navigation of ``roles`` (each capability's pages.py calls this)."""
    item = NavItem(href, label, frozenset(roles), order)
    with _NAV_LOCK:
        if item not in _NAV:
            _NAV.append(item)
            _NAV.sort(key=lambda i: (i.order, i.href))


def nav_for(role: str | None) -> list[NavItem]:
    return [item for item in _NAV if role in item.roles]


# --- the environment ---------------------------------------------------------------------------


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(p) for p in template_dirs()]),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["local"] = local_time
    env.filters["working"] = working_duration
    # Phone and ID numbers typed into free text, masked as in every API view (accounts.masking).
    env.filters["masked"] = mask_text
    env.globals["t"] = t
    return env


env = _build_env()


# --- CSRF (double submit: a random cookie and the same value in every form / htmx header) -------


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (made on first use, set as a cookie by ``render``)."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or ""
        if len(token) < 32:
            token = secrets.token_urlsafe(32)
            request.state.csrf_new = True
        request.state.csrf_token = token
    return str(token)


def set_csrf_cookie(request: Request, response: Any) -> None:
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf_token,
            httponly=True,
            samesite="lax",
            path="/",
            secure=request.url.scheme == "https",
        )


# --- flash messages (one signed cookie, shown once on the next page) ---------------------------


def _flash_signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(request.app.state.settings.secret_key, salt="cityops-flash")


def flash(request: Request, response: Any, message: str, kind: str = "success") -> None:
    """Show ``message`` (already translated, or a Chinese id) on the next page rendered."""
    pending = list(getattr(request.state, "flash_out", []))
    pending.append([kind, message])
    request.state.flash_out = pending
    response.set_cookie(
        FLASH_COOKIE,
        _flash_signer(request).dumps(pending),
        httponly=True,
        samesite="lax",
        path="/",
        max_age=300,
    )


def take_flashes(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = _flash_signer(request).loads(raw)
    except BadSignature:
        return []
    request.state.flash_taken = True
    return [(str(k), str(m)) for k, m in items][:5] if isinstance(items, list) else []


# --- rendering ----------------------------------------------------------------------------------


def role_label(role: str | None, lang: str | None = None) -> str:
    return t(ROLE_NAMES.get(role or "", role or ""), lang)


ROLE_NAMES = {
    "citizen": "市民",
    "inspector": "监督员",
    "operator": "受理员",
    "dispatcher": "派遣员",
    "handler": "处置人员",
    "leader": "领导",
    "admin": "管理员",
}


_SCOPE_NAMES: dict[tuple[int, str], tuple[str, float]] = {}
_SCOPE_TTL = 300.0


def scope_name(request: Request, principal: Principal) -> str | None:
    """The header's "area": the user's department or area by name (cached for a few minutes)."""
    import time

    code = principal.department_code or principal.area_code
    if not code:
        return None
    key = (id(request.app.state.engine), code)
    hit = _SCOPE_NAMES.get(key)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    from cityops.db import unit_of_work
    from cityops.errors import NotFound

    name = code
    try:
        with unit_of_work(request.app.state.sessionmaker) as session:
            if principal.department_code:
                from cityops.catalog.departments import get_department

                name = get_department(session, code).name
            else:
                from cityops.areas.service import get_area

                name = get_area(session, code).name
    except NotFound:
        pass
    _SCOPE_NAMES[key] = (name, time.monotonic() + _SCOPE_TTL)
    return name


def base_context(request: Request) -> dict[str, Any]:
    principal: Principal | None = getattr(request.state, "principal", None)
    settings = request.app.state.settings
    return {
        "request": request,
        "lang": lang_of(request),
        "principal": principal,
        "role_name": role_label(principal.role, lang_of(request)) if principal else None,
        "area_name": scope_name(request, principal) if principal else None,
        "nav": nav_for(principal.role if principal else None),
        "flashes": take_flashes(request),
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "query": lambda **changes: _query(request, **changes),
        "tile_url": getattr(settings, "map_tile_url", None) or "",
        "tile_crs": getattr(settings, "map_tile_crs", "wgs84") or "wgs84",
        "path": request.url.path,
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` in the request's language with the layout's context."""
    data = base_context(request)
    if context:
        data.update(context)
    token = _current_lang.set(data["lang"])
    try:
        html = env.get_template(template).render(data)
    finally:
        _current_lang.reset(token)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    set_csrf_cookie(request, response)
    if getattr(request.state, "flash_taken", False) and not getattr(request.state, "flash_out", None):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response

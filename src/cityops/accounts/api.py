"""HTTP handlers of the accounts capability: sign-in, the current user, user admin, audit.

Handlers stay thin: they call ``service`` and shape the answer. Every handler shares the
request's session, so a handler's changes and its audit events commit together.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.orm import Session

from cityops.accounts import audit, masking, service
from cityops.accounts.models import User
from cityops.accounts.principal import Principal
from cityops.accounts.schemas import (
    AuditEventOut,
    AuditPage,
    SessionOut,
    TokenOut,
    UserCreate,
    UserOut,
    UserPage,
    UserUpdate,
)
from cityops.config import Settings
from cityops.errors import Forbidden, Unauthorized
from cityops.kit.times import TIME_HELP, LocalDateTime
from cityops.web.deps import SessionDep, current_principal, get_settings_dep, require_roles
from cityops.web.openapi import error_responses

router = APIRouter(prefix="/api/v1", tags=["accounts"])

SESSION_COOKIE = "cityops_session"


def _request_id(request: Request) -> str | None:
    # The app's middleware may set one; otherwise take the proxy's header.
    return getattr(request.state, "request_id", None) or request.headers.get("x-request-id")


def _user_out(
    session: Session, principal: Principal, user: User, *, reveal: bool, request_id: str | None
) -> UserOut:
    """Mask name and phone unless the caller asked to reveal them and may (audited)."""
    fields = masking.personal_fields(
        session,
        principal,
        subject_type="user",
        subject_id=str(user.id),
        name=user.display_name,
        phone=user.phone,
        reveal=reveal,
        request_id=request_id,
    )
    shown = reveal and masking.reveal_allowed(principal)
    return _to_out(user, fields["name"] or "", fields["phone"], masked=not shown)


def _to_out(user: User, name: str, phone: str | None, *, masked: bool) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=name,
        role=user.role,
        department_code=user.department_code,
        area_code=user.area_code,
        phone=phone,
        active=user.active,
        is_demo=user.is_demo,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        masked=masked,
    )


# --- sign-in ---------------------------------------------------------------------------------


def _authenticate(
    request: Request, session: Session, form: OAuth2PasswordRequestForm, settings: Settings
) -> User:
    """Sign in through the throttle; a refused password's count and audit row are committed."""
    address = request.client.host if request.client else None
    try:
        return service.authenticate(session, form.username, form.password, settings, address=address)
    except Unauthorized:
        session.commit()  # the request fails, but the failure must be remembered
        raise


@router.post(
    "/auth/token",
    response_model=TokenOut,
    summary="Get a bearer token (OAuth2 password)",
    responses=error_responses(401, 422, 429),
)
def issue_token(
    session: SessionDep,
    request: Request,
    form: OAuth2PasswordRequestForm = Depends(),
    settings: Settings = Depends(get_settings_dep),
) -> TokenOut:
    """A signed bearer token. After 5 wrong passwords for an account (20 from one address) each
    further attempt waits 2, 4, 8, … seconds (at most 15 minutes): 429 with ``Retry-After``."""
    user = _authenticate(request, session, form, settings)
    return TokenOut(
        access_token=service.issue_token(user, settings),
        expires_in=settings.token_ttl_seconds,
        role=user.role,
        department_code=user.department_code,
    )


@router.post(
    "/auth/login",
    response_model=SessionOut,
    summary="Sign in for pages (session cookie)",
    responses={303: {"description": "Signed in; redirect to `next`"}, **error_responses(401, 422, 429)},
)
def login(
    session: SessionDep,
    request: Request,
    form: OAuth2PasswordRequestForm = Depends(),
    next_url: str | None = Form(default=None, alias="next"),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    """Set the HttpOnly ``cityops_session`` cookie; redirect (303) to ``next`` when given.

    ``next`` must be a path on this site ("/cases"), so the form cannot be used as an open
    redirect to another site.
    """
    user = _authenticate(request, session, form, settings)
    body = SessionOut(
        username=user.username,
        role=user.role,
        department_code=user.department_code,
        area_code=user.area_code,
        expires_in=settings.token_ttl_seconds,
    )
    response: Response
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        response = RedirectResponse(next_url, status_code=status.HTTP_303_SEE_OTHER)
    else:
        response = JSONResponse(body.model_dump())
    response.set_cookie(
        SESSION_COOKIE,
        service.issue_token(user, settings),
        max_age=settings.token_ttl_seconds,
        httponly=True,  # scripts never see the token
        samesite="lax",  # other sites cannot make a signed-in POST
        secure=settings.public_base_url.startswith("https://"),
        path="/",
    )
    return response


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: revoke the token or session, clear the cookie",
    responses=error_responses(422),
)
def logout(
    request: Request,
    session: SessionDep,
    everywhere: bool = Query(default=False, description="also revoke every other token of this user"),
    settings: Settings = Depends(get_settings_dep),
) -> Response:
    """Revoke the bearer token and/or session cookie that came with the request (refused from
    then on, in other server processes within 30 seconds); ``everywhere`` revokes all of them."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        service.sign_out(session, header[7:].strip(), settings, everywhere=everywhere)
    service.sign_out(session, request.cookies.get(SESSION_COOKIE), settings, everywhere=everywhere)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.post(
    "/auth/revoke",
    summary="Revoke a token (RFC 7009)",
    response_model=dict[str, str],
    responses=error_responses(422),
)
def revoke(
    session: SessionDep,
    token: str = Form(max_length=4096, description="the access token to revoke"),
    settings: Settings = Depends(get_settings_dep),
) -> dict[str, str]:
    """Revoke ``token`` without using it to sign in. As RFC 7009 says, the answer is 200 even
    for an unknown or invalid token, so the endpoint tells nothing about tokens."""
    service.sign_out(session, token, settings)
    return {}


@router.get("/auth/me", response_model=UserOut, summary="The signed-in user")
def me(
    session: SessionDep,
    principal: Principal = Depends(current_principal),
) -> UserOut:
    user = service.get_user(session, principal.id)
    # One's own name and phone are not someone else's personal data: unmasked, not audited.
    return _to_out(user, user.display_name, user.phone, masked=False)


# --- user administration (admin only) --------------------------------------------------------

admin_only = require_roles("admin")


@router.get("/users", response_model=UserPage, summary="List users")
def list_users(
    request: Request,
    session: SessionDep,
    role: str | None = None,
    department_code: str | None = None,
    area_code: str | None = None,
    active: bool | None = None,
    q: str | None = Query(default=None, description="part of the user name or display name"),
    reveal: bool = Query(default=False, description="show names and phones unmasked (audited)"),
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(admin_only),
) -> UserPage:
    users, total = service.list_users(
        session,
        role=role,
        department_code=department_code,
        area_code=area_code,
        active=active,
        search=q,
        limit=limit,
        offset=offset,
    )
    rid = _request_id(request)
    items = [_user_out(session, principal, u, reveal=reveal, request_id=rid) for u in users]
    return UserPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Create a user")
def create_user(
    body: UserCreate,
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(admin_only),
) -> UserOut:
    user = service.create_user(session, **body.model_dump(), actor=principal, request_id=_request_id(request))
    return _user_out(session, principal, user, reveal=False, request_id=None)


@router.get("/users/{user_id}", response_model=UserOut, summary="One user")
def get_user(
    user_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    reveal: bool = Query(default=False, description="show name and phone unmasked (audited)"),
    principal: Principal = Depends(admin_only),
) -> UserOut:
    user = service.get_user(session, user_id)
    return _user_out(session, principal, user, reveal=reveal, request_id=_request_id(request))


@router.patch("/users/{user_id}", response_model=UserOut, summary="Change role, scope, state or password")
def update_user(
    user_id: uuid.UUID,
    body: UserUpdate,
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(admin_only),
) -> UserOut:
    user = service.update_user(
        session,
        user_id,
        body.model_dump(exclude_unset=True),
        actor=principal,
        request_id=_request_id(request),
    )
    return _user_out(session, principal, user, reveal=False, request_id=None)


# --- audit trail (admin and leader) ----------------------------------------------------------


@router.get("/audit", response_model=AuditPage, summary="Search the audit trail")
def list_audit(
    session: SessionDep,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor: str | None = Query(default=None, description="user name or user id"),
    action: str | None = None,
    since: LocalDateTime | None = Query(default=None, description="inclusive; " + TIME_HELP),
    until: LocalDateTime | None = Query(default=None, description="exclusive; " + TIME_HELP),
    limit: int = Query(default=50, ge=1, le=200),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    principal: Principal = Depends(require_roles("admin", "leader")),
) -> AuditPage:
    """The audit trail (district-wide callers only: it names cases of every street). Phone and
    ID numbers quoted in event details (a return reason, say) are masked."""
    if not principal.is_district_wide:
        raise Forbidden(
            "审计记录仅限全区管理员和领导查看",
            "The audit trail is for district-wide administrators and leaders only",
            code="district_wide_only",
        )
    events, total = audit.list_events(
        session,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    items = [AuditEventOut.model_validate(e) for e in events]
    for item in items:
        item.details = masking.mask_texts(item.details)
    return AuditPage(items=items, total=total, limit=limit, offset=offset)

"""Accounts operations: users, sign-in, tokens → principals. Never commits (the caller does).

``principal_from_token`` runs on every request; it trusts the signed claims and asks only
whether the user is still active on their current token version, through the small cache in
``tokens`` (see docs/accounts.md for the measurements).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cityops.accounts import audit, passwords, rules, throttle, tokens
from cityops.accounts.audit import record as record_audit
from cityops.accounts.departments import (
    DEPARTMENT_KINDS,
    create_department,
    department_names,
    get_department,
    list_departments,
    update_department,
)
from cityops.accounts.masking import mask_name, mask_phone, reveal_allowed
from cityops.accounts.models import Department, User
from cityops.accounts.principal import NEEDS_DEPARTMENT, Principal
from cityops.config import Settings, UnsafeSettings
from cityops.db import utcnow
from cityops.errors import Conflict, Invalid, NotFound, Unauthorized

# Departments live in their own module; re-exported so other capabilities use one service.
__all__ = [
    "DEPARTMENT_KINDS",
    "assert_no_demo_accounts_outside_demo",
    "authenticate",
    "create_department",
    "create_user",
    "create_users_bulk",
    "department_names",
    "get_department",
    "get_user",
    "issue_token",
    "list_departments",
    "list_users",
    "mask_name",
    "mask_phone",
    "principal_for",
    "principal_from_token",
    "record_audit",
    "reveal_allowed",
    "update_department",
    "update_user",
]


# --- users ---------------------------------------------------------------------------------


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    department_code: str | None = None,
    area_code: str | None = None,
    phone: str | None = None,
    is_demo: bool = False,
    actor: Principal | None = None,
    request_id: str | None = None,
) -> User:
    """Create a user with an argon2-hashed password (≈50 ms); audited as "user.create"."""
    username = rules.check_username(username)
    rules.check_role(role)
    passwords.check_password_policy(password)
    rules.check_scope(session, role, department_code)
    rules.check_area(session, area_code)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise rules.username_taken(username)
    user = User(
        username=username,
        password_hash=passwords.hash_password(password),
        role=role,
        display_name=display_name,
        department_code=department_code,
        area_code=area_code,
        phone=phone,
        is_demo=is_demo,
        active=True,
        token_version=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        "user",
        str(user.id),
        {
            "username": username,
            "role": role,
            "department_code": department_code,
            "area_code": area_code,
            "is_demo": is_demo,
        },
        request_id,
    )
    return user


def create_users_bulk(
    session: Session, rows: Iterable[Mapping[str, Any]], password_hash: str, *, actor: Principal | None = None
) -> list[User]:
    """Create many users sharing one password (demo data), hashing it at most once.

    ``password_hash`` is normally ``passwords.hash_password(shared)`` computed once by the
    caller; a plain password is also accepted and hashed here, once. argon2 costs ~50 ms per
    hash, so 50 users stay well under a second. Each row takes the keyword arguments of
    ``create_user`` except ``password``; ``is_demo`` defaults to True. Rows are validated (roles,
    departments, duplicate names) with two queries before anything is added.
    """
    items = [dict(row) for row in rows]
    if not passwords.is_password_hash(password_hash):
        # Demo passwords are published anyway; real (non-demo) accounts get the usual policy.
        if any(not row.get("is_demo", True) for row in items):
            passwords.check_password_policy(password_hash)
        password_hash = passwords.hash_password(password_hash)
    names = [rules.check_username(str(row["username"])) for row in items]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise rules.username_taken(duplicates[0])
    taken = session.scalars(select(User.username).where(User.username.in_(names))).first()
    if taken is not None:
        raise rules.username_taken(taken)
    wanted = {row["department_code"] for row in items if row.get("department_code")}
    known = set(
        session.scalars(
            select(Department.code).where(Department.code.in_(wanted), Department.active.is_(True))
        )
    )
    for area_code in sorted({str(row["area_code"]) for row in items if row.get("area_code")}):
        rules.check_area(session, area_code)
    users = []
    for name, row in zip(names, items, strict=True):
        rules.check_role(row["role"])
        department_code = row.get("department_code")
        if (row["role"] in NEEDS_DEPARTMENT and not department_code) or (
            department_code and department_code not in known
        ):
            rules.check_scope(session, row["role"], department_code)  # raises the precise error
        users.append(
            User(
                username=name,
                password_hash=password_hash,
                role=row["role"],
                display_name=row.get("display_name", ""),
                department_code=department_code,
                area_code=row.get("area_code"),
                phone=row.get("phone"),
                is_demo=row.get("is_demo", True),
                active=True,
                token_version=0,
            )
        )
    session.add_all(users)
    session.flush()
    audit.record(session, actor, "user.bulk_create", "user", "*", {"usernames": names})
    return users


def get_user(session: Session, user_id: uuid.UUID) -> User:
    """The user with ``user_id``, or ``NotFound``."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", "No such user", code="user_not_found", details={"id": str(user_id)})
    return user


def list_users(
    session: Session,
    *,
    role: str | None = None,
    department_code: str | None = None,
    area_code: str | None = None,
    active: bool | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
    area_prefix: str | None = None,
) -> tuple[list[User], int]:
    """Users matching the filters ordered by user name, and the total count for paging.

    ``area_prefix`` keeps users whose area lies in that area (a street: the street itself, its
    communities and grids, since a code starts with its parents' codes)."""
    if not 1 <= limit <= 200 or offset < 0:
        raise Invalid(
            "分页参数无效：limit 须在 1–200 之间，offset 不能为负",
            "Bad paging: limit must be 1–200 and offset not negative",
            details={"limit": limit, "offset": offset},
        )
    conditions: list[Any] = []
    if role:
        conditions.append(User.role == role)
    if department_code:
        conditions.append(User.department_code == department_code)
    if area_code:
        conditions.append(User.area_code == area_code)
    if area_prefix:
        conditions.append(User.area_code.startswith(area_prefix, autoescape=True))
    if active is not None:
        conditions.append(User.active.is_(active))
    if search:
        pattern = rules.like_pattern(search.strip())
        conditions.append(
            or_(User.username.ilike(pattern, escape="\\"), User.display_name.ilike(pattern, escape="\\"))
        )
    total = session.scalar(select(func.count()).select_from(User).where(*conditions)) or 0
    users = session.scalars(
        select(User).where(*conditions).order_by(User.username).limit(limit).offset(offset)
    )
    return list(users), total


_UPDATABLE = frozenset(
    {"role", "department_code", "area_code", "active", "password", "display_name", "phone"}
)
_NOT_NULL = frozenset({"role", "active", "password", "display_name"})
# Changing any of these changes what a token may do, so older tokens are revoked.
_REVOKING = frozenset({"role", "department_code", "area_code", "active", "password"})


def update_user(
    session: Session,
    user_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    actor: Principal | None = None,
    request_id: str | None = None,
) -> User:
    """Apply ``changes`` (a PATCH body: only the keys given change) and audit "user.update".

    Keys: role, department_code, area_code, active, password (a reset), display_name, phone.
    Changing role, scope, password or the active flag revokes the user's existing tokens.
    The last active administrator cannot be demoted or disabled.
    """
    unknown = sorted(set(changes) - _UPDATABLE)
    if unknown:
        raise Invalid(
            f"不能修改这些字段：{'、'.join(unknown)}",
            f"These fields cannot be changed: {', '.join(unknown)}",
            details={"fields": unknown, "allowed": sorted(_UPDATABLE)},
        )
    cleared = sorted(key for key in _NOT_NULL if key in changes and changes[key] is None)
    if cleared:
        raise Invalid(
            f"这些字段不能为空：{'、'.join(cleared)}",
            f"These fields cannot be empty: {', '.join(cleared)}",
            details={"fields": cleared},
        )
    user = get_user(session, user_id)
    role = changes.get("role", user.role)
    department_code = changes.get("department_code", user.department_code)
    rules.check_role(role)
    if "role" in changes or "department_code" in changes:
        rules.check_scope(session, role, department_code)
    if changes.get("area_code") is not None:
        rules.check_area(session, changes["area_code"])
    if "password" in changes:
        passwords.check_password_policy(changes["password"])
    loses_admin = user.role == "admin" and user.active and (role != "admin" or changes.get("active") is False)
    if loses_admin:
        others = session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", User.active.is_(True), User.id != user.id)
        )
        if not others:
            raise Conflict(
                "不能停用或降级最后一个管理员",
                "The last active administrator cannot be disabled or given another role",
                code="last_admin",
            )
    changed = []
    for key, value in changes.items():
        if key == "password":
            user.password_hash = passwords.hash_password(value)
            changed.append(key)
        elif getattr(user, key) != value:
            setattr(user, key, value)
            changed.append(key)
    if _REVOKING.intersection(changed):
        user.token_version += 1
    session.flush()
    tokens.forget_on_commit(session, user.id)
    # Names of changed fields, and new values only where they are not personal data.
    shown = {k: changes[k] for k in changed if k in {"role", "department_code", "area_code", "active"}}
    audit.record(
        session, actor, "user.update", "user", str(user.id), {"changed": changed, **shown}, request_id
    )
    return user


# --- sign-in and tokens ----------------------------------------------------------------------


def _invalid_credentials() -> Unauthorized:
    return Unauthorized(
        "用户名或密码错误",
        "Wrong user name or password",
        code="invalid_credentials",
    )


def principal_for(user: User) -> Principal:
    """The ``Principal`` a user acts as."""
    return Principal(
        id=user.id,
        username=user.username,
        role=user.role,
        department_code=user.department_code,
        area_code=user.area_code,
    )


def authenticate(
    session: Session,
    username: str,
    password: str,
    settings: Settings,
    *,
    address: str | None = None,
    now: datetime | None = None,
) -> User:
    """Check a user name and password (≈50 ms, the same for unknown names); audit "auth.login".

    Raises ``TooManyRequests`` (429, "too_many_attempts") while the account or the client
    ``address`` is throttled (accounts.throttle), without looking at the password. Raises
    ``Unauthorized`` with code "invalid_credentials" (wrong name, wrong password or a disabled
    account — deliberately indistinguishable) or "demo_account_disabled". A wrong password is
    counted and audited ("auth.login_failed") in ``session``: the caller must commit it even
    though the request fails (``accounts.api`` does).
    """
    now = now or utcnow()
    throttle.check(session, username, address, now)
    user = session.scalar(select(User).where(User.username == username.strip()))
    candidate = password[: passwords.MAX_LENGTH]  # an enormous password must not cost more
    if (
        not passwords.verify_password(user.password_hash if user else None, candidate)
        or len(password) > passwords.MAX_LENGTH
        or user is None
        or not user.active
    ):
        throttle.record_failure(session, username, address, now)
        audit.record(
            session,
            None,
            "auth.login_failed",
            "user",
            str(user.id) if user else username.strip()[:64],
            {"username": username.strip()[:64], "address": address},
        )
        raise _invalid_credentials()
    throttle.clear_account(session, username)
    if user.is_demo and not settings.demo_mode:
        raise Unauthorized(
            "演示账号仅在演示模式下可用",
            "Demo accounts can sign in only when the server runs in demo mode (CITYOPS_DEMO_MODE)",
            code="demo_account_disabled",
        )
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now
    audit.record(session, principal_for(user), "auth.login", "user", str(user.id), {"address": address})
    return user


def issue_token(user: User, settings: Settings) -> str:
    """A signed bearer token for ``user``, valid for ``settings.token_ttl_seconds``."""
    claims = tokens.TokenClaims(
        user_id=user.id,
        username=user.username,
        role=user.role,
        department_code=user.department_code,
        area_code=user.area_code,
        version=user.token_version,
        is_demo=user.is_demo,
    )
    return tokens.encode(claims, settings)


def sign_out(session: Session, token: str | None, settings: Settings, *, everywhere: bool = False) -> None:
    """Revoke ``token`` (a bearer token or session cookie); ``everywhere``: all the user's tokens.

    An invalid or expired token is ignored: signing out must always succeed.
    """
    if not token:
        return
    try:
        claims = tokens.decode(token, settings)
    except Unauthorized:
        return
    tokens.revoke(session, claims, settings.token_ttl_seconds)
    if everywhere:
        user = session.get(User, claims.user_id)
        if user is not None:
            user.token_version += 1  # every token carries the version it was issued with
            tokens.forget_on_commit(session, user.id)
    audit.record(
        session, _principal_of(claims), "auth.logout", "user", str(claims.user_id), {"everywhere": everywhere}
    )


def _claims(token: str, settings: Settings) -> tokens.TokenClaims:
    claims = tokens.decode(token, settings)
    if claims.is_demo and not settings.demo_mode:
        raise Unauthorized(
            "演示账号仅在演示模式下可用，请使用正式账号登录",
            "Demo accounts work only in demo mode; sign in with a regular account",
            code="demo_account_disabled",
        )
    return claims


def cached_principal(token: str, settings: Settings) -> Principal | None:
    """Like :func:`principal_from_token` without touching the database.

    Returns None when the user's current state is not cached (call ``principal_from_token``
    then); raises ``Unauthorized`` for bad, expired or revoked tokens. The web layer calls this
    on the event loop, so it must never do I/O.
    """
    claims = _claims(token, settings)
    if not tokens.check_current_cached(claims):
        return None
    return _principal_of(claims)


def principal_from_token(session: Session, token: str, settings: Settings) -> Principal:
    """The caller a bearer token or session cookie stands for; called on every request.

    Raises ``Unauthorized``: "token_expired", "invalid_token", "token_revoked" (disabled user or
    changed role/scope/password) or "demo_account_disabled".
    """
    claims = _claims(token, settings)
    tokens.check_current(session, claims)
    return _principal_of(claims)


def _principal_of(claims: tokens.TokenClaims) -> Principal:
    return Principal(
        id=claims.user_id,
        username=claims.username,
        role=claims.role,
        department_code=claims.department_code,
        area_code=claims.area_code,
    )


def assert_no_demo_accounts_outside_demo(session: Session, settings: Settings) -> None:
    """Refuse to serve (``UnsafeSettings``) when active demo accounts exist outside demo mode.

    Demo accounts have published passwords; the server calls this at start-up. Disabled demo
    accounts are allowed, so an operator can fix the situation by deactivating them.
    """
    if settings.demo_mode:
        return
    count = session.scalar(
        select(func.count()).select_from(User).where(User.is_demo.is_(True), User.active.is_(True))
    )
    if count:
        raise UnsafeSettings(
            f"数据库中有 {count} 个启用的演示账号，但未开启演示模式：请停用这些账号，"
            "或设置 CITYOPS_DEMO_MODE=true。 / "
            f"The database has {count} active demo account(s) but demo mode is off: deactivate "
            "them, or set CITYOPS_DEMO_MODE=true for a demo server."
        )

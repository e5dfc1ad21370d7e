"""Signed, expiring bearer tokens and the check that their holder is still allowed in.

Tokens are itsdangerous ``URLSafeTimedSerializer`` payloads with the salt "cityops-token".

A token carries everything a request needs to build its ``Principal`` — user id, user name,
role, department, area — plus the user's token version. The signature makes those claims
trustworthy, so checking a token needs no database read; only "is this user still active and is
this still their current token version" is asked, through a 30-second in-process cache.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from cityops.accounts.models import RevokedToken, User
from cityops.config import Settings
from cityops.errors import Unauthorized

SALT = "cityops-token"


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says about its holder."""

    user_id: uuid.UUID
    username: str
    role: str
    department_code: str | None
    area_code: str | None
    version: int
    is_demo: bool = False
    # Random per token, so one token can be revoked (sign-out) without touching the others.
    token_id: str | None = None
    issued_at: float = 0.0  # Unix seconds, from the signature


def new_token_id() -> str:
    return secrets.token_hex(8)


@lru_cache(maxsize=8)
def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    # Building a serializer derives keys; caching it per secret saves that on every request.
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def _serializer_at(secret_key: str, issued_at: int) -> URLSafeTimedSerializer:
    """A serializer whose clock says ``issued_at`` (tests and token back-dating only)."""

    class _FixedClock(TimestampSigner):
        def get_timestamp(self) -> int:
            return issued_at

    return URLSafeTimedSerializer(secret_key, salt=SALT, signer=_FixedClock)


def encode(claims: TokenClaims, settings: Settings, *, issued_at: int | None = None) -> str:
    """Sign ``claims``; ``issued_at`` (Unix seconds) is for tests that need an old token."""
    payload: dict[str, Any] = {
        "u": str(claims.user_id),
        "n": claims.username,
        "r": claims.role,
        "d": claims.department_code,
        "a": claims.area_code,
        "v": claims.version,
        "x": claims.is_demo,
        "j": claims.token_id or new_token_id(),
    }
    serializer = (
        _serializer(settings.secret_key)
        if issued_at is None
        else _serializer_at(settings.secret_key, issued_at)
    )
    token: str = serializer.dumps(payload)
    return token


def _invalid() -> Unauthorized:
    return Unauthorized(
        "登录令牌无效，请重新登录",
        "The sign-in token is not valid; sign in again",
        code="invalid_token",
    )


# Verifying a signature costs more than the rest of a cached request; a token is immutable, so
# its verified claims are remembered (with the time it was signed, to keep expiry exact).
_DECODED_MAX = 20_000
_decoded: dict[tuple[str, str], tuple[TokenClaims, float]] = {}


def _expired() -> Unauthorized:
    return Unauthorized(
        "登录已过期，请重新登录",
        "Your sign-in has expired; sign in again",
        code="token_expired",
    )


def decode(token: str, settings: Settings) -> TokenClaims:
    """Verify signature and age; raise ``Unauthorized`` ("token_expired" / "invalid_token")."""
    key = (settings.secret_key, token)
    hit = _decoded.get(key)
    if hit is not None:
        claims, signed_at = hit
        if time.time() - signed_at > settings.token_ttl_seconds:
            _decoded.pop(key, None)
            raise _expired()
        return claims
    try:
        payload, signed = _serializer(settings.secret_key).loads(
            token, max_age=settings.token_ttl_seconds, return_timestamp=True
        )
    except SignatureExpired as exc:  # subclass of BadSignature, so it must come first
        raise _expired() from exc
    except BadData as exc:
        raise _invalid() from exc
    claims = replace(_claims_of(payload), issued_at=signed.timestamp())
    if len(_decoded) >= _DECODED_MAX:
        _decoded.clear()
    _decoded[key] = (claims, signed.timestamp())
    return claims


def _claims_of(payload: Any) -> TokenClaims:
    try:
        return TokenClaims(
            user_id=uuid.UUID(payload["u"]),
            username=str(payload["n"]),
            role=str(payload["r"]),
            department_code=payload.get("d"),
            area_code=payload.get("a"),
            version=int(payload["v"]),
            is_demo=bool(payload.get("x", False)),
            token_id=str(payload["j"]) if payload.get("j") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        # Correctly signed but not our shape: another use of the same secret and salt.
        raise _invalid() from exc


# --- revocation check ----------------------------------------------------------------------

ACTIVE_CACHE_TTL = 30.0
_ACTIVE_CACHE_MAX = 50_000


class _ActiveCache:
    """user id → (active, token version, expiry); locked because sync dependencies run in threads."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[uuid.UUID, tuple[bool, int, float]] = {}
        self._tokens = {}
        self._lock = threading.Lock()

    def get(self, user_id: uuid.UUID) -> tuple[bool, int] | None:
        entry = self._entries.get(user_id)
        if entry is None or entry[2] < time.monotonic():
            return None
        return entry[0], entry[1]

    def put(self, user_id: uuid.UUID, active: bool, version: int) -> None:
        with self._lock:
            if len(self._entries) >= _ACTIVE_CACHE_MAX:
                self._entries.clear()  # crude but bounded; a refill costs one PK read per user
            self._entries[user_id] = (active, version, time.monotonic() + self.ttl)

    def forget(self, user_id: uuid.UUID | None = None) -> None:
        with self._lock:
            if user_id is None:
                self._entries.clear()
                self._tokens.clear()
            else:
                self._entries.pop(user_id, None)

    # Token ids checked against ``revoked_tokens``: id → (revoked, expiry). Kept as long as the
    # user state, so a revocation in another process is seen within ``ttl`` seconds.
    _tokens: dict[str, tuple[bool, float]]

    def token_state(self, token_id: str) -> bool | None:
        entry = self._tokens.get(token_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put_token(self, token_id: str, revoked: bool) -> None:
        with self._lock:
            if len(self._tokens) >= _ACTIVE_CACHE_MAX:
                self._tokens.clear()
            self._tokens[token_id] = (revoked, time.monotonic() + self.ttl)


_active_cache = _ActiveCache(ACTIVE_CACHE_TTL)


def forget(user_id: uuid.UUID | None = None) -> None:
    """Drop the cached state of one user (after a change) or of everyone (tests)."""
    _active_cache.forget(user_id)


def forget_on_commit(session: Session, user_id: uuid.UUID) -> None:
    """Drop a user's cached state now and again when ``session`` commits.

    Clearing only now would let a concurrent request re-cache the old, still committed state
    for a whole TTL; clearing again after commit closes that window in this process.
    """
    _active_cache.forget(user_id)
    event.listen(session, "after_commit", lambda _session: _active_cache.forget(user_id), once=True)


def check_current_cached(claims: TokenClaims) -> bool:
    """True when the cache says the token is current; False when only the database can tell.

    Raises ``Unauthorized`` when the cache already knows the token is revoked.
    """
    state = _active_cache.get(claims.user_id)
    if state is None:
        return False
    active, version = state
    if not active or version != claims.version:
        raise _revoked()
    if claims.token_id is not None:
        revoked = _active_cache.token_state(claims.token_id)
        if revoked is None:
            return False
        if revoked:
            raise _revoked()
    return True


def check_current(session: Session, claims: TokenClaims) -> None:
    """Raise ``Unauthorized`` unless the user is active and the token has their current version.

    One primary-key read of two columns on a cache miss, nothing on a hit. Role, department or
    password changes bump the version, so a token with stale claims is refused here.
    """
    state = _active_cache.get(claims.user_id)
    revoked = _active_cache.token_state(claims.token_id) if claims.token_id else False
    if state is None or revoked is None:
        # One statement for both questions: the user's state and whether this token was revoked.
        revoked_q = (
            select(RevokedToken.token_id).where(RevokedToken.token_id == claims.token_id).exists()
            if claims.token_id
            else None
        )
        columns: list[Any] = [User.active, User.token_version]
        if revoked_q is not None:
            columns.append(revoked_q.label("revoked"))
        row = session.execute(select(*columns).where(User.id == claims.user_id)).one_or_none()
        if row is None:
            raise _invalid()
        state = (bool(row.active), int(row.token_version))
        _active_cache.put(claims.user_id, *state)
        if claims.token_id:
            revoked = bool(row.revoked)
            _active_cache.put_token(claims.token_id, revoked)
    active, version = state
    if not active or version != claims.version or revoked:
        raise _revoked()


def revoke(session: Session, claims: TokenClaims, ttl_seconds: int) -> None:
    """Revoke one token (sign-out): a row in ``revoked_tokens``, checked on every use.

    This process refuses the token at once; others when their cached check (``ACTIVE_CACHE_TTL``
    seconds) runs out. Rows of tokens that have expired anyway are deleted here.
    """
    if claims.token_id is None:
        return
    now = datetime.now(UTC)
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if session.get(RevokedToken, claims.token_id) is None:
        expires = datetime.fromtimestamp(claims.issued_at + ttl_seconds, UTC)
        session.add(
            RevokedToken(token_id=claims.token_id, user_id=claims.user_id, expires_at=expires, revoked_at=now)
        )
    token_id = claims.token_id
    event.listen(session, "after_commit", lambda _s: _active_cache.put_token(token_id, True), once=True)


def _revoked() -> Unauthorized:
    return Unauthorized(
        "账号已停用或权限已变更，请重新登录",
        "Your account was disabled or its access changed; sign in again",
        code="token_revoked",
    )

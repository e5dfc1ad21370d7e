"""``Idempotency-Key`` for POST requests: a retried request replays the first answer.

Follows Stripe and the IETF idempotency-key draft (decision 0003):

* **Scope.** A key belongs to its caller: the signed-in user (from the verified token or
  session cookie, so a user's second token shares their keys), or, for an anonymous caller, a
  fingerprint of the client address *and the request body*, so one anonymous caller can never
  receive another's answer.
* **Fingerprint.** Method, path, query, content type and a hash of the body are stored with the
  key; the same key with a different request answers 422 ``idempotency_key_reused``.
* **Replay.** A true retry gets the first answer again, with its original status (201 for a
  creation) and ``Idempotent-Replayed: true``. Only successful (2xx) answers are kept: a refused
  request changed nothing, so its retry simply runs again.
* **In flight.** The key is claimed before the handler runs; a second request with the key while
  the first still runs answers 409 ``idempotency_request_in_progress`` with ``Retry-After``.
* **Nothing secret.** Sign-in endpoints never take part (they issue credentials), answers that
  set a cookie are never kept, no response headers are kept, and the caller is stored as a user
  id or a hash, never as a credential. Records expire after 24 hours.

The case service additionally stores the key on the case row (unique), so even if storing an
answer fails, a retry cannot create a second case.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import LargeBinary, String, delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops.db import Base, UTCDateTime, unit_of_work, utcnow
from cityops.web.middleware import error_body

MAX_KEY_LENGTH = 200
# Endpoints that issue or drop credentials: a replay would hand one caller another's token.
NEVER_REPLAYED = frozenset(
    {"/api/v1/auth/token", "/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/revoke"}
)
KEEP_FOR = timedelta(hours=24)
# A claim older than this whose answer never came belongs to a process that died.
STALE_CLAIM = timedelta(seconds=60)
IN_PROGRESS = 0  # the status of a claimed key whose answer is not known yet
log = logging.getLogger("cityops.web")


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    # "user:<uuid>" or "anon:<hash of address and fingerprint>"; never a credential.
    caller: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    # sha256 of method, path, query, content type and body: a reused key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int] = mapped_column()
    content_type: Mapped[str] = mapped_column(String(100), default="application/json")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def fingerprint_of(scope: Scope, headers: dict[bytes, bytes], body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (
        scope["method"].encode(),
        scope["path"].encode(),
        scope.get("query_string", b""),
        headers.get(b"content-type", b"").split(b";")[0].strip().lower(),
    ):
        digest.update(part + b"\0")
    digest.update(hashlib.sha256(body).digest())
    return digest.hexdigest()


def _credential(headers: dict[bytes, bytes]) -> str | None:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    cookie = headers.get(b"cookie")
    if cookie:
        return cookie_parser(cookie.decode("latin-1")).get("cityops_session")
    return None


def caller_of(scope: Scope, headers: dict[bytes, bytes], fingerprint: str, settings: Any) -> str | None:
    """Who the key belongs to; None when credentials came but are not valid (the app answers 401)."""
    from cityops.accounts import tokens
    from cityops.errors import Unauthorized

    credential = _credential(headers)
    if credential is not None:
        try:
            return f"user:{tokens.decode(credential, settings).user_id}"
        except Unauthorized:
            return None
    client = (scope.get("client") or ("", 0))[0] or ""
    return "anon:" + hashlib.sha256(f"{client}\0{fingerprint}".encode()).hexdigest()[:59]


async def _send_error(
    send: Send, status: int, code: str, zh: str, en: str, retry_after: int | None = None
) -> None:
    extra = [(b"retry-after", str(retry_after).encode())] if retry_after else []
    await _send(send, status, error_body(code, zh, en), "application/json", replayed=False, extra=extra)


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The whole request body (the outer body-size guard bounds it), or a disconnect message."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, factory_getter: Any, settings_getter: Any = None) -> None:
        self.app = app
        self.factory_getter = factory_getter
        self.settings_getter = settings_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key_bytes = headers.get(b"idempotency-key")
        if key_bytes is None or scope["path"] in NEVER_REPLAYED:
            await self.app(scope, receive, send)
            return
        key = key_bytes.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            await _send_error(
                send,
                422,
                "invalid_idempotency_key",
                f"Idempotency-Key 必须是 1 到 {MAX_KEY_LENGTH} 个字符",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            )
            return
        body, disconnect = await _read_body(receive)
        if disconnect is not None:
            return  # the client went away before sending its request
        replay_receive = _replaying(body, receive)
        fingerprint = fingerprint_of(scope, headers, body)
        settings = self.settings_getter() if self.settings_getter else None
        caller = caller_of(scope, headers, fingerprint, settings) if settings is not None else None
        if caller is None:
            await self.app(scope, replay_receive, send)
            return
        factory: sessionmaker[Session] = self.factory_getter()
        path = scope["path"]
        try:
            outcome, stored = await run_in_threadpool(_claim, factory, caller, key, path, fingerprint)
        except SQLAlchemyError:
            log.exception("idempotency lookup failed on %s", path)
            await _send_error(
                send,
                503,
                "unavailable",
                "数据库暂时不可用，请稍后重试",
                "The database is unavailable; retry shortly",
                5,
            )
            return
        if outcome == "reused":
            await _send_error(
                send,
                422,
                "idempotency_key_reused",
                "该 Idempotency-Key 已用于另一个请求（地址或内容不同），请换一个新的键",
                "This Idempotency-Key was used for a different request (path or body differ); use a new key",
            )
            return
        if outcome == "busy":
            await _send_error(
                send,
                409,
                "idempotency_request_in_progress",
                "使用该 Idempotency-Key 的请求仍在处理中，请稍后重试",
                "A request with this Idempotency-Key is still being processed; retry shortly",
                1,
            )
            return
        if outcome == "replay" and stored is not None:
            await _send(send, stored.status, stored.body, stored.content_type, replayed=True)
            return

        captured: dict[str, Any] = {"body": b"", "status": 500, "headers": {}}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = dict(message.get("headers") or [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            status, response_headers = captured["status"], captured["headers"]
            keep = 200 <= status < 300 and b"set-cookie" not in response_headers
            content_type = response_headers.get(b"content-type", b"application/json").decode("latin-1")[:100]
            await run_in_threadpool(
                _finish, factory, caller, key, path, status if keep else None, captured["body"], content_type
            )


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _claim(
    factory: sessionmaker[Session], caller: str, key: str, path: str, fingerprint: str
) -> tuple[str, IdempotencyRecord | None]:
    """Claim ``key`` for this request: "new", "replay" (with the record), "reused" or "busy"."""
    for _attempt in range(3):
        now = utcnow()
        with unit_of_work(factory) as session:
            stored = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.caller == caller, IdempotencyRecord.key == key
                )
            )
            if stored is not None:
                expired = stored.created_at < now - KEEP_FOR
                abandoned = stored.status == IN_PROGRESS and stored.created_at < now - STALE_CLAIM
                if not (expired or abandoned):
                    session.expunge(stored)
                    if stored.fingerprint != fingerprint or stored.path != path:
                        return "reused", None
                    return ("busy", None) if stored.status == IN_PROGRESS else ("replay", stored)
                session.delete(stored)
                session.flush()
        try:
            with unit_of_work(factory) as session:
                session.add(
                    IdempotencyRecord(
                        caller=caller,
                        key=key,
                        method="POST",
                        path=path,
                        fingerprint=fingerprint,
                        status=IN_PROGRESS,
                        body=b"",
                        created_at=now,
                    )
                )
            return "new", None
        except IntegrityError:
            continue  # a concurrent request claimed it first: look again
    return "busy", None


def _finish(
    factory: sessionmaker[Session],
    caller: str,
    key: str,
    path: str,
    status: int | None,
    body: bytes,
    content_type: str,
) -> None:
    """Keep a successful answer for replays, or release the key (``status`` None) for a retry."""
    try:
        with unit_of_work(factory) as session:
            where = (IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
            if status is None:
                session.execute(
                    delete(IdempotencyRecord).where(*where, IdempotencyRecord.status == IN_PROGRESS)
                )
                return
            stored = session.scalar(select(IdempotencyRecord).where(*where))
            if stored is not None:
                stored.status, stored.body, stored.content_type = status, body, content_type
    except SQLAlchemyError:
        # The answer has been sent already. A retry then runs the handler again once the claim
        # goes stale, which is safe for creations: the case row carries the key too.
        log.exception("could not store the answer for an Idempotency-Key on %s", path)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    *,
    replayed: bool,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    headers.extend(extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""``Idempotency-Key`` for POST requests: a retried request replays the first answer.

The first successful (non-5xx) response for a (caller, key) pair is stored; a retry with the same
key and the same method and path gets that response again instead of running twice. The case
service additionally stores the key on the case row (unique), so even two retries racing each
other cannot create a second case.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops.db import Base, UTCDateTime, unit_of_work, utcnow
from cityops.web.middleware import error_body

MAX_KEY_LENGTH = 200
log = logging.getLogger("cityops.web")


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"

    caller: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column()
    content_type: Mapped[str] = mapped_column(String(100), default="application/json")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _caller(scope: Scope) -> str:
    """Identify the caller by a hash of its credentials, so keys of different users never collide."""
    headers = dict(scope.get("headers") or [])
    credential = headers.get(b"authorization") or headers.get(b"cookie") or b"anonymous"
    return hashlib.sha256(credential).hexdigest()[:64]


async def _send_error(send: Send, status: int, code: str, zh: str, en: str) -> None:
    body = error_body(code, zh, en)
    await _send(send, status, body, "application/json", replayed=False)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, factory_getter: Any) -> None:
        self.app = app
        self.factory_getter = factory_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key_bytes = dict(scope.get("headers") or []).get(b"idempotency-key")
        if key_bytes is None:
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
        factory: sessionmaker[Session] = self.factory_getter()
        caller, path = _caller(scope), scope["path"]
        try:
            stored = await run_in_threadpool(_find, factory, caller, key)
        except SQLAlchemyError:
            log.exception("idempotency lookup failed on %s", path)
            await _send_error(
                send,
                503,
                "unavailable",
                "数据库暂时不可用，请稍后重试",
                "The database is unavailable; retry shortly",
            )
            return
        if stored is not None:
            if stored.method != scope["method"] or stored.path != path:
                await _send_error(
                    send,
                    422,
                    "idempotency_key_reused",
                    "该 Idempotency-Key 已用于另一个请求，请换一个新的键",
                    "This Idempotency-Key was used for a different request; use a new key",
                )
            else:
                await _send(send, stored.status, stored.body, stored.content_type, replayed=True)
            return

        captured: dict[str, Any] = {"body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = dict(message.get("headers") or [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, capture)
        status = captured.get("status", 500)
        if status < 500:
            content_type = captured.get("headers", {}).get(b"content-type", b"application/json").decode()
            await run_in_threadpool(
                _store, factory, caller, key, path, status, captured["body"], content_type
            )


def _find(factory: sessionmaker[Session], caller: str, key: str) -> IdempotencyRecord | None:
    with unit_of_work(factory) as session:
        return session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
        )


def _store(
    factory: sessionmaker[Session],
    caller: str,
    key: str,
    path: str,
    status: int,
    body: bytes,
    content_type: str,
) -> None:
    try:
        with unit_of_work(factory) as session:
            session.add(
                IdempotencyRecord(
                    caller=caller,
                    key=key,
                    method="POST",
                    path=path,
                    status=status,
                    body=body,
                    content_type=content_type,
                )
            )
    except IntegrityError:
        pass  # a concurrent retry stored it first; both answers came from the same case
    except SQLAlchemyError:
        # The answer has been sent already. A retry then runs the handler again, which is safe
        # for creations: the case row carries the key too and the service replays it.
        log.exception("could not store the answer for an Idempotency-Key on %s", path)


async def _send(send: Send, status: int, body: bytes, content_type: str, *, replayed: bool) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

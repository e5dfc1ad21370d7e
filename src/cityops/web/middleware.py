"""Pure ASGI middleware: request ids with structured access logs, and request guards.

Written as plain ASGI callables rather than BaseHTTPMiddleware, which costs a task and a
queue per request and would show up in the throughput figures.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cityops.access")

# Bodies that endpoints accept; anything else is refused with 415 before it reaches a handler.
ACCEPTED_BODY_TYPES = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/geo+json",
    # Open311 clients may post XML (read with defusedxml in intake.open311_api).
    "text/xml",
    "application/xml",
)


NO_STORE = (b"cache-control", b"no-store")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, so logs can be shipped and queried as-is."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger("cityops")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def error_body(code: str, zh: str, en: str, details: Any = None) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": f"{zh} / {en}", "details": details or {}}})


async def send_error(
    send: Send,
    status: int,
    body: bytes,
    request_id: str | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    headers.extend(extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit; rendered as 413 ``too_large``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes")
        self.limit = limit
        self.body = too_large_body(limit)


def too_large_body(limit: int) -> bytes:
    return error_body(
        "too_large",
        f"请求体过大（上限 {limit} 字节）",
        f"The request body is larger than the limit of {limit} bytes",
        {"limit_bytes": limit},
    )


def limited_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` that counts body bytes and raises ``BodyTooLarge`` past ``limit``.

    Counting here, not trusting Content-Length, stops chunked bodies too: the server reads no
    further than the limit, and nothing behind (authentication, handlers) runs for such a body.
    """
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_within_limit


class RequestContextMiddleware:
    """Give every request an id (or keep the caller's X-Request-ID) and log one line for it."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        access_log: bool = True,
        security_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        # Added to every response unless the route sent the same header (web.security).
        self.security_headers = security_headers or []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = given or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()

        refusal = self._refuse(scope, headers)
        if refusal is not None:
            status, body = refusal
            await send_error(send, status, body, request_id, [*self.security_headers, NO_STORE])
            self._log(scope, status, started, request_id)
            return
        static = scope["path"].startswith("/static/")

        status_holder = {"status": 500}
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
                status_holder["status"] = message["status"]
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.security_headers if h[0] not in present)
                if not static and b"cache-control" not in present:
                    headers.append(NO_STORE)  # answers are per caller and may carry personal data
                message["headers"] = headers
            await send(message)

        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            receive = limited_receive(receive, self.max_body_bytes)
        try:
            await self.app(scope, receive, send_with_id)
        except BodyTooLarge as exc:
            # Raised outside a handler (the idempotency middleware reads bodies itself).
            if started_response:
                raise
            await send_error(send_with_id, 413, exc.body)
        finally:
            self._log(scope, status_holder["status"], started, request_id)

    def _refuse(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, bytes] | None:
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return None
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return 413, too_large_body(self.max_body_bytes)  # declared too large: refuse unread
        if length in (None, b"0") and b"transfer-encoding" not in headers:
            return None
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if content_type not in ACCEPTED_BODY_TYPES:
            return 415, error_body(
                "unsupported_media_type",
                f"不支持的内容类型“{content_type or '（未提供）'}”，请使用 application/json",
                f"Unsupported content type {content_type or '(none)'!r}; send application/json",
                {"content_type": content_type, "accepted": list(ACCEPTED_BODY_TYPES)},
            )
        return None

    def _log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        if not self.access_log:
            return
        log.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
            },
        )

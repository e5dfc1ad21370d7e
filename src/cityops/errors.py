"""Domain errors carry an HTTP status, a stable code and a bilingual message.

The web layer turns them into ``{"error": {"code", "message", "details"}}``; domain code
raises them and never builds HTTP responses itself.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, zh: str, en: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(f"{zh} / {en}")
        self.message = f"{zh} / {en}"
        if code:
            self.code = code
        self.details = details if details is not None else {}


class Invalid(DomainError):
    """The input is wrong; the message says what to fix."""

    status = 422
    code = "invalid"


class NotFound(DomainError):
    """Missing, or outside the caller's scope (we do not reveal which)."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The action is not allowed in the current state."""

    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedMedia(DomainError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(DomainError):
    """Too many attempts; ``retry_after`` (seconds) becomes the Retry-After header."""

    status = 429
    code = "too_many_requests"

    def __init__(
        self, zh: str, en: str, *, retry_after: int, code: str | None = None, details: Any = None
    ) -> None:
        details = {"retry_after_seconds": retry_after, **(details or {})}
        super().__init__(zh, en, code=code, details=details)
        self.retry_after = retry_after

"""What the OpenAPI document says about errors and sign-in, in one place.

Routes declare the error answers they give with :func:`error_responses` (``responses=...``);
:func:`complete_openapi` adds, for every route, the answers the shared machinery gives anyway
(401/403 where a sign-in is needed, 404 for paths with parameters, 413/415 for bodies, 422 for
bad input, 503 when the database is away), declares the bearer and cookie security schemes,
and replaces FastAPI's own validation-error shape with the real ``{"error": {...}}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. `validation_failed`")
    message: str = Field(description="「中文 / English」: what was wrong and how to fix it")
    details: dict[str, Any] = Field(default_factory=dict, description="fields, limits, allowed values, …")


class ErrorOut(BaseModel):
    """Every error answer: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


DESCRIPTIONS = {
    400: "Bad request",
    401: "Not signed in, or the token is invalid, expired or revoked",
    403: "Signed in, but this role or scope may not do this",
    404: "Not found, or outside the caller's scope (not revealed which)",
    409: "Not allowed in the current state, or a conflicting change",
    413: "The request body is larger than the limit",
    415: "Unsupported content type",
    422: "Invalid input: `details` names the fields",
    429: "Too many requests: wait the seconds in `Retry-After`",
    503: "The database is unavailable: retry shortly",
}

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the shared error shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorOut, "description": DESCRIPTIONS.get(status, "Error")}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out

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

from cityops.web.idempotency import NEVER_REPLAYED


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


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that answers an Excel workbook."""
    return {200: {"content": {XLSX: {}}, "description": description}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the shared error shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorOut, "description": DESCRIPTIONS.get(status, "Error")}
        if status in (429, 503):
            entry["headers"] = _RETRY_AFTER
        out[status] = entry
    return out


# --- the whole document -----------------------------------------------------------------------

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "`POST /api/v1/auth/token` (OAuth2 password form) gives the token",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "cityops_session",
        "description": "the HttpOnly session cookie set by `POST /api/v1/auth/login` (pages)",
    },
}
SIGNED_IN: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"cookieAuth": []}]

# Text limits the server takes from settings (cases.service / cases.lifecycle check them):
# (schema, field) → setting. The document is built from the running settings, so it says what
# this server enforces; the shapes only cap sizes generously.
SETTING_LIMITS = {
    ("CaseCreate", "description"): "max_description_chars",
    ("ActionInput", "note"): "max_note_chars",
    ("ActionInput", "reason"): "max_note_chars",
}

_BODY_METHODS = {"post", "put", "patch"}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "a retry with the same key replays the first successful answer with its original status "
        "and `Idempotent-Replayed: true`; the same key with a different request is 422 "
        "`idempotency_key_reused` (decision 0003)"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _document_idempotency(op: dict[str, Any]) -> None:
    params = op.setdefault("parameters", [])
    if not any(p.get("name", "").lower() == "idempotency-key" for p in params):
        params.append(IDEMPOTENCY_KEY)
    for key, entry in op.get("responses", {}).items():
        if key.startswith("2"):
            entry.setdefault("headers", {}).update(REPLAYED)


def _calls(dependant: Any) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _route_needs(route: Any) -> tuple[bool, bool]:
    """(needs a signed-in caller, restricted to some roles) from the route's dependency tree."""
    from cityops.web.deps import current_principal

    calls = _calls(route.dependant)
    signed_in = current_principal in calls
    by_role = any("require_roles" in getattr(c, "__qualname__", "") for c in calls)
    return signed_in or by_role, by_role


def _set_limits(schemas: dict[str, Any], settings: Any) -> None:
    for (schema, field), setting in SETTING_LIMITS.items():
        prop = schemas.get(schema, {}).get("properties", {}).get(field)
        if prop is None:
            continue
        limit = int(getattr(settings, setting))
        for variant in [prop, *prop.get("anyOf", [])]:
            if variant.get("type") == "string":
                variant["maxLength"] = limit


def _error_entry(status: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "description": DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    if status in (429, 503):
        entry["headers"] = _RETRY_AFTER
    return entry


def complete_openapi(app: Any, settings: Any) -> dict[str, Any]:
    """FastAPI's document plus security, the shared error answers and the configured limits."""
    from fastapi.openapi.utils import get_openapi
    from fastapi.routing import APIRoute, iter_route_contexts

    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorOut"] = error_schema
    components["securitySchemes"] = SECURITY_SCHEMES
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _set_limits(schemas, settings)

    for context in iter_route_contexts(app.routes):  # included routers' routes too
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        signed_in, by_role = _route_needs(route)
        path = spec["paths"].get(context.path_format or route.path_format, {})
        for method in route.methods or ():
            op = path.get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            statuses: set[int] = {503}
            if method == "POST" and (context.path_format or route.path_format) not in NEVER_REPLAYED:
                _document_idempotency(op)
            if signed_in:
                op["security"] = SIGNED_IN
                statuses |= {401, 403}
            if "{" in (context.path_format or route.path_format):
                statuses.add(404)
            if op.get("parameters") or "requestBody" in op:
                statuses.add(422)
            if method.lower() in _BODY_METHODS:
                statuses |= {409, 413, 415, 422}
            if by_role:
                statuses.add(403)
            for key, entry in list(responses.items()):
                # A route's own error answers: always JSON, also where the route's answer is HTML.
                if key.isdigit() and int(key) >= 400 and "ErrorOut" in str(entry):
                    responses[key] = _error_entry(int(key))
            for status in sorted(statuses):
                key = str(status)
                if key == "422" or key not in responses:  # FastAPI's own 422 has another shape
                    responses[key] = _error_entry(status)
    app.openapi_schema = spec
    return spec

"""Checks every request gets before its handler: no NUL character anywhere.

PostgreSQL cannot store U+0000 in text (psycopg answers with an error that reads like a number
problem) while SQLite stores it silently, so one database would keep what the other refuses. A NUL
is never meaningful in a report, a name or a search, so it is refused here, in one place, for
every route: in the path, the query string, a form and anywhere inside a JSON body (keys too).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from cityops.errors import Invalid


def _nul_error(where: str) -> Invalid:
    return Invalid(
        f"请求中含有 NUL 字符（\\u0000），请删除后重试：{where}",
        f"The request contains a NUL character (\\u0000); remove it: {where}",
        code="nul_character",
        details={"field": where},
    )


def _find_nul(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or key) in a JSON value holding a NUL, else None."""
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = _find_nul(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _find_nul(item, f"{path}.{i}" if path else str(i))
            if found:
                return found
    return None


async def refuse_nul_characters(request: Request) -> None:
    """App-wide dependency: 422 ``nul_character`` for a NUL in the path, query, form or JSON."""
    # scope["path"] is the decoded path (what request.url.path would build a whole URL to give).
    if "\x00" in request.scope.get("path", ""):
        raise _nul_error("path")
    query = request.scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in request.query_params.multi_items():
            if "\x00" in name or "\x00" in value:
                raise _nul_error(name.replace("\x00", ""))
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/json", "application/geo+json"):
        # FastAPI has read the body already (it is cached on the request); the JSON escape for NUL
        # is the cheap first test, parsing only confirms it (an escaped backslash is no NUL).
        body = await request.body()
        if b"\\u0000" in body:
            try:
                found = _find_nul(orjson.loads(body))
            except orjson.JSONDecodeError:
                return  # FastAPI answers the malformed JSON itself
            if found:
                raise _nul_error(found)
    elif content_type == "application/x-www-form-urlencoded":
        if getattr(request, "_form", None) is not None:  # FastAPI parsed it for Form() parameters
            pairs = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
        else:
            # Read (and cache) the bytes rather than the stream, so a handler that reads the body
            # itself (Open311's form) still can.
            from urllib.parse import parse_qsl

            raw = (await request.body()).decode("utf-8", "replace")
            pairs = parse_qsl(raw, keep_blank_values=True)
        for field, item in pairs:
            if "\x00" in item or "\x00" in field:
                raise _nul_error(field.replace("\x00", ""))

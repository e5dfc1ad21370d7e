"""Open311 GeoReport v2 at /open311/v2/, every resource in ``.json`` and ``.xml``.

Errors follow the spec (a list of code/description; 400, 403, 404), not cityops' own shape, so
existing Open311 clients understand them. XML is written with ElementTree (escaped); a POST
body in XML is read with defusedxml, which refuses entity expansion and external entities.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import anyio.to_thread
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from cityops.db import unit_of_work
from cityops.errors import DomainError, Invalid, NotFound
from cityops.intake import open311

# Open311 is specified by GeoReport v2 (and validated against its JSON Schemas in the tests); its
# .json/.xml answers are not the native API's shapes, so it stays out of /openapi.json.
router = APIRouter(prefix="/open311/v2", tags=["open311"], include_in_schema=False)

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
MAX_FORM_BYTES = 64 * 1024
# Element names of lists in XML: the list's root and its items.
XML_NAMES = {
    "discovery": ("discovery", None),
    "services": ("services", "service"),
    "definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
    "tokens": ("service_requests", "request"),
    "errors": ("errors", "error"),
}
_ITEM_NAMES = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(el, k, v)
    elif isinstance(value, list):
        for item in value:
            _xml_value(el, _ITEM_NAMES.get(name, "item"), item)
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = str(value)


def to_xml(kind: str, data: Any) -> bytes:
    root_name, item_name = XML_NAMES[kind]
    root = ET.Element(root_name)
    if isinstance(data, list):
        for item in data:
            el = ET.SubElement(root, item_name or "item")
            for k, v in item.items():
                _xml_value(el, k, v)
    else:
        for k, v in data.items():
            _xml_value(root, k, v)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(
        root, encoding="utf-8", xml_declaration=False
    )


def _answer(fmt: str, kind: str, data: Any, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(to_xml(kind, data), status_code=status, media_type=XML_TYPE)
    return JSONResponse(data, status_code=status, media_type=JSON_TYPE)


def _error(fmt: str, exc: DomainError) -> Response:
    status, body = open311.error_list(exc)
    return _answer(fmt if fmt in ("json", "xml") else "json", "errors", body, status)


def _fmt(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise NotFound(
            "格式只能是 .json 或 .xml", "format must be .json or .xml", details={"format": fmt[:10]}
        )
    return fmt


async def _run(request: Request, fmt: str, kind: str, fn: Any, status: int = 200) -> Response:
    try:
        _fmt(fmt)

        def work() -> Any:
            with unit_of_work(request.app.state.sessionmaker) as session:
                return fn(session)

        return _answer(fmt, kind, await anyio.to_thread.run_sync(work), status)
    except DomainError as exc:
        return _error(fmt, exc)


@router.get("/discovery.{fmt}")
async def discovery(fmt: str, request: Request) -> Response:
    base = request.app.state.settings.public_base_url
    return await _run(request, fmt, "discovery", lambda _s: open311.discovery(base))


@router.get("/services.{fmt}")
async def services(fmt: str, request: Request) -> Response:
    return await _run(request, fmt, "services", open311.services)


@router.get("/services/{code}.{fmt}")
async def service_definition(code: str, fmt: str, request: Request) -> Response:
    return await _run(request, fmt, "definition", lambda s: open311.service_definition(s, code))


@router.get("/requests.{fmt}")
async def list_requests(fmt: str, request: Request) -> Response:
    params = dict(request.query_params)
    return await _run(request, fmt, "requests", lambda s: open311.list_requests(s, params))


@router.get("/requests/{request_id}.{fmt}")
async def get_request(request_id: str, fmt: str, request: Request) -> Response:
    ext = request.query_params.get("extensions", "").lower() == "true"
    return await _run(request, fmt, "requests", lambda s: open311.get_request(s, request_id, extensions=ext))


@router.get("/tokens/{token}.{fmt}")
async def get_token(token: str, fmt: str, request: Request) -> Response:
    return await _run(request, fmt, "tokens", lambda s: open311.get_token(s, token))


async def _form(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Invalid("请求过大", "request too large", code="too_large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("text/xml", "application/xml"):
        try:
            root = fromstring(body, forbid_dtd=True)
        except (DefusedXmlException, ET.ParseError, ValueError):
            raise Invalid(
                "XML 无效或不安全（不接受 DTD/实体）",
                "invalid or unsafe XML (no DTD or entities)",
                code="bad_xml",
            ) from None
        return {child.tag: (child.text or "").strip() for child in root}
    if kind == "application/json":
        import orjson

        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Invalid("JSON 无效", "invalid JSON") from None
        if not isinstance(data, dict):
            raise Invalid("需要 JSON 对象", "a JSON object is required")
        return {str(k): v for k, v in data.items()}
    if kind in ("", "application/x-www-form-urlencoded"):
        # Parsed from the bytes already read: the body-limit middleware hands the body over once.
        from urllib.parse import parse_qsl

        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise Invalid("表单编码无效（需要 UTF-8）", "the form is not UTF-8") from None
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request) -> Response:
    try:
        _fmt(fmt)
        form = await _form(request)
        settings = request.app.state.settings
        open311.check_api_key(
            form.get("api_key") or request.query_params.get("api_key"),
            demo_mode=settings.demo_mode,
            keys=list(settings.open311_api_keys),
        )
    except DomainError as exc:
        return _error(fmt, exc)
    return await _run(request, fmt, "requests", lambda s: [open311.post_request(s, form)], status=201)

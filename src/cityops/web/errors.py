"""Render every error as ``{"error": {"code", "message", "details"}}``, bilingual, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException

from cityops.errors import DomainError
from cityops.web.middleware import BodyTooLarge

log = logging.getLogger("cityops.web")

HTTP_MESSAGES = {
    404: ("找不到该地址", "No such endpoint"),
    405: ("该地址不支持此请求方法", "This method is not allowed here"),
    401: ("请先登录", "Sign in first"),
    403: ("无权访问", "Forbidden"),
}

ERROR_TYPES_ZH = {
    "missing": "缺少必填字段",
    "float_parsing": "必须是数字",
    "float_type": "必须是数字",
    "int_parsing": "必须是整数",
    "string_too_long": "文本过长",
    "string_too_short": "文本过短",
    "json_invalid": "不是有效的 JSON",
    "bool_parsing": "必须是 true 或 false",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "finite_number": "必须是有限数字",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "uuid_parsing": "不是有效的编号",
    "model_attributes_type": "请求体必须是 JSON 对象",
    "dict_type": "请求体必须是 JSON 对象",
}


def _body(code: str, message: str, details: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers = {"Retry-After": str(retry_after)}
        return JSONResponse(
            _body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(
                {
                    "field": field,
                    "type": err.get("type"),
                    "message": f"{ERROR_TYPES_ZH.get(err.get('type', ''), '取值无效')} / {err.get('msg')}",
                }
            )
        fields = "、".join(p["field"] or "请求体" for p in problems)
        names = ", ".join(p["field"] or "body" for p in problems)
        message = f"请求内容有误：{fields} / Invalid request: check {names}"
        return JSONResponse(_body("validation_failed", message, {"errors": problems}), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if isinstance(exc, BodyTooLarge):  # raised while the body was read (web.middleware)
            return Response(exc.body, status_code=413, media_type="application/json")
        if _wants_page(request):  # a person's browser on an unknown address: a 404 page
            from cityops.web.pagekit import error_page

            return error_page(request, exc.status_code, None, f"http_{exc.status_code}")
        zh, en = HTTP_MESSAGES.get(exc.status_code, ("请求有误", str(exc.detail)))
        if isinstance(exc.detail, str) and exc.status_code not in HTTP_MESSAGES:
            en = exc.detail
        return JSONResponse(
            _body(f"http_{exc.status_code}", f"{zh} / {en}", {}),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # A constraint caught what validation missed (usually a concurrent duplicate); nothing was written.
        log.warning("integrity error: %s", exc.orig)
        return JSONResponse(
            _body(
                "conflict",
                "数据冲突（可能是重复提交），未写入任何内容，请刷新后重试 / "
                "The change conflicts with existing data (perhaps a duplicate); nothing was written",
                {},
            ),
            status_code=409,
        )

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # A value passed validation but not the database's types (a number beyond 64 bits).
        log.warning("value out of range: %s", exc)
        return JSONResponse(
            _body(
                "out_of_range",
                "请求中的数值超出允许范围，未写入任何内容 / "
                "A number in the request is out of range; nothing was written",
                {},
            ),
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    async def db_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc.orig)
        return JSONResponse(
            _body(
                "unavailable", "数据库暂时不可用，请稍后重试 / The database is unavailable; retry shortly", {}
            ),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            _body(
                "internal_error",
                "服务器内部错误，已记录，请稍后重试 / Internal error; it has been logged",
                {"request_id": getattr(request.state, "request_id", None)},
            ),
            status_code=500,
        )

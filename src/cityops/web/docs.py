"""``/docs`` (Swagger UI) and ``/redoc`` from the project's own static files: they work offline.

The vendor files come from npm (``make vendor``: web/static/vendor/swagger-ui, vendor/redoc).
Swagger UI starts from a small static script (web/static/docs/swagger-init.js) instead of
FastAPI's inline one, so scripts stay ``'self'``-only here too. Both UIs set inline styles (Redoc
injects its CSS at run time) and Redoc searches in a blob worker, so these two pages alone get a
CSP that allows inline *styles* and blob workers; scripts remain limited to the site's own files.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

from cityops.config import Settings
from cityops.web.security import content_security_policy

VENDOR = "/static/vendor"
FAVICON = "/static/docs/favicon.svg"

_SWAGGER_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} — API 文档 / API docs</title>
  <link rel="icon" href="{favicon}">
  <link rel="stylesheet" href="{vendor}/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
  <script src="{vendor}/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/static/docs/swagger-init.js"></script>
</body>
</html>
"""


def docs_policy(settings: Settings) -> str:
    return content_security_policy(
        settings, **{"style-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:"}
    )


def install_docs(app: FastAPI, settings: Settings) -> None:
    """Serve ``/docs`` and ``/redoc`` (create the app with ``docs_url=None, redoc_url=None``)."""
    headers = {"Content-Security-Policy": docs_policy(settings)}
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        html = _SWAGGER_PAGE.format(title=app.title, favicon=FAVICON, vendor=VENDOR, openapi_url=openapi_url)
        return HTMLResponse(html, headers=headers)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API 文档 / API docs",
            redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
        return HTMLResponse(bytes(page.body), headers=headers)

"""The FastAPI application factory."""

from __future__ import annotations

import functools
import gc
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from inspect import iscoroutinefunction
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette._utils import get_route_path
from starlette.routing import Match

from cityops import __version__
from cityops.config import Settings, UnsafeSettings, get_settings
from cityops.db import make_engine, make_sessionmaker
from cityops.web.deps import finish_in_handler_thread
from cityops.web.docs import install_docs
from cityops.web.errors import install_error_handlers
from cityops.web.idempotency import IdempotencyMiddleware
from cityops.web.middleware import RequestContextMiddleware
from cityops.web.openapi import complete_openapi
from cityops.web.security import security_headers
from cityops.web.validation import refuse_nul_characters

log = logging.getLogger("cityops.web")

# Every capability's routers, "module:attribute". Order only affects the OpenAPI listing.
ROUTERS = (
    # /api/v1/cases/at-risk must come before cases' /api/v1/cases/{id}, which would take "at-risk" as an id.
    "cityops.evaluation.api:risk_router",
    # The busiest routes first: FastAPI tries included routers in order on every request.
    "cityops.cases.api:router",
    "cityops.cases.public:router",
    "cityops.cases.public:pages_router",
    "cityops.cases.rating_public:router",
    "cityops.cases.rating_public:pages_router",
    "cityops.accounts.api:router",
    "cityops.areas.api:router",
    "cityops.catalog.api:router",
    "cityops.catalog.api:router_departments",
    "cityops.outbox.api:router",
    "cityops.attachments.api:router",
    "cityops.triage.api:router",
    "cityops.triage.api:warnings_router",
    "cityops.triage.routing_api:router",
    "cityops.evaluation.api:router",
    "cityops.indicators.api:router",
    "cityops.cockpit.api:router",
    "cityops.evaluation.api:keytasks_router",
    "cityops.intake.api:router",
    "cityops.intake.open311_api:router",
    "cityops.intake.pages:router",
    "cityops.intake.registry_pages:router",
    "cityops.intake.hotline_pages:router",
    # Pages (HTML): sign-in, homes, workbenches; errors render as pages (web.pagekit).
    "cityops.web.pages:router",
    "cityops.areas.pages:router",
    "cityops.workbench.pages:router",
    "cityops.cockpit.pages:router",
    "cityops.indicators.pages:router",
    "cityops.evaluation.pages:router",
    "cityops.catalog.pages:router",
    "cityops.accounts.pages:router",
    "cityops.cases.pages:router",
    "cityops.triage.pages:router",
)


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def refuse_unsafe_serving(settings: Settings, engine: Engine) -> None:
    """Raise ``UnsafeSettings`` when serving would be unsafe outside demo mode.

    Checks the secret key and that no active demo account (published password) exists. A
    database that is not migrated yet has no accounts; `/readyz` reports it instead.
    """
    if settings.demo_mode:
        return
    settings.check_safe_for_serving()
    from cityops.accounts.models import User
    from cityops.accounts.service import assert_no_demo_accounts_outside_demo
    from cityops.db import unit_of_work

    if not inspect(engine).has_table(User.__tablename__):
        return
    with unit_of_work(make_sessionmaker(engine)) as session:
        assert_no_demo_accounts_outside_demo(session, settings)


def _include_routers(app: FastAPI) -> None:
    for target in ROUTERS:
        module_name, attr = target.split(":")
        router = getattr(importlib.import_module(module_name), attr)
        _commit_in_handler_thread(router)
        _skip_by_prefix(router)
        app.include_router(router)


def _skip_by_prefix(router: APIRouter) -> None:
    """Let a request pass a router none of whose paths can match it, without trying each route.

    FastAPI (0.165) matches an included router by trying all of its routes' patterns, so every
    request tried most of the app's ~250 routes: 60 % of the CPU of ``GET /healthz`` and about
    0.5 ms of every API call (profiled in-process). A route's path up to its first ``{`` is a
    literal its requests start with, so a router whose literals the path starts with none of
    cannot match (not even partly, as a 405 does) and answers "no match" at once. Everything
    else is matched by FastAPI as before.
    """
    if getattr(router, "_cityops_prefixes", None) is not None:
        return  # routers are module singletons; create_app may run many times
    prefixes = tuple(sorted({str(getattr(r, "path", "")).split("{", 1)[0] for r in router.routes}))
    router._cityops_prefixes = prefixes  # type: ignore[attr-defined]
    if "" in prefixes:
        return  # a route without a literal start: nothing to skip safely
    original = router.matches

    def matches(scope: Any) -> Any:
        if scope.get("type") in ("http", "websocket") and not get_route_path(scope).startswith(prefixes):
            return Match.NONE, {}
        return original(scope)

    router.matches = matches  # type: ignore[method-assign]


def _commit_in_handler_thread(router: APIRouter) -> None:
    """Make every sync handler commit its session before it returns.

    FastAPI validates a sync handler's response in another worker thread *before* the session
    dependency exits. A transaction that still held a lock (SQLite's write lock, a row lock)
    while waiting for that thread could deadlock with handlers that hold every thread and wait
    for the lock. Committing at the end of the handler, in its own thread, releases locks first;
    the dependency's commit then has nothing left to do.
    """
    for route in router.routes:
        call = getattr(getattr(route, "dependant", None), "call", None)
        if not isinstance(route, APIRoute) or call is None or iscoroutinefunction(call):
            continue
        if getattr(call, "_cityops_commits", False):
            continue  # routers are module singletons; create_app may run many times

        @functools.wraps(call)
        def committing(*args: Any, __call: Any = call, **kwargs: Any) -> Any:
            result = __call(*args, **kwargs)
            for value in kwargs.values():
                if isinstance(value, Session):
                    finish_in_handler_thread(value)
            return result

        committing._cityops_commits = True  # type: ignore[attr-defined]
        # Included routers build their effective routes from `endpoint`; the signature is kept
        # by functools.wraps, so dependency analysis sees the handler's own parameters.
        route.endpoint = committing
        route.dependant.call = committing


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app; ``engine`` lets tests and benchmarks hand in their own database."""
    settings = settings or get_settings()
    # One settings object: the domain's get_settings() now answers with the app's own.
    get_settings.configure(settings)
    engine = engine or make_engine(settings.database_url)
    from cityops.wiring import wire

    wire()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Handlers are sync and run in worker threads; more threads than the database pool can
        # serve only add GIL contention and queueing, so the limit follows the setting.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        # The same refusal as `cityops serve`, for servers started without the CLI
        # (`uvicorn cityops.web.app:create_app --factory`, gunicorn, ...).
        try:
            refuse_unsafe_serving(app.state.settings, app.state.engine)
        except UnsafeSettings as exc:
            log.error("refusing to start: %s", exc)
            raise
        worker = None
        subscribers: list[Any] = []
        if settings.worker_in_process and app.state.start_worker:
            from cityops.worker import Worker, default_jobs, start_subscribers

            worker = Worker(app.state.sessionmaker, default_jobs(settings))
            worker.start_thread()
            subscribers = start_subscribers(app.state.sessionmaker, settings)
        # Everything loaded at startup (models, the grid index, caches) lives as long as the
        # process; frozen, it is no longer walked by every full garbage collection.
        gc.freeze()
        yield
        if worker is not None:
            worker.stop()
            for subscriber in subscribers:
                subscriber.stop()

    app = FastAPI(
        title="cityops",
        version=__version__,
        description="城市运行一网统管、政务服务一网通办、亲清服务 / City operations in one network",
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry hooks cost a provider check and span bookkeeping on every
        # request even with no exporter; cityops logs each request itself (web.middleware).
        telemetry=None if settings.opentelemetry else _NO_TELEMETRY,
        docs_url=None,  # web.docs serves both from the project's own static files
        redoc_url=None,
        # One place refuses a NUL character in any request (web/validation.py).
        dependencies=[Depends(refuse_nul_characters)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.start_worker = True

    install_error_handlers(app)
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    _add_health(app)
    install_docs(app, settings)
    app.openapi = functools.partial(complete_openapi, app, settings)  # type: ignore[method-assign]
    app.add_middleware(
        IdempotencyMiddleware,
        factory_getter=lambda: app.state.sessionmaker,
        settings_getter=lambda: app.state.settings,
    )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_upload_bytes + 64 * 1024,
        security_headers=security_headers(settings),
    )
    return app


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"], include_in_schema=True)
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (also the trivial endpoint the benchmarks compare with)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(request: Request) -> Any:
        """Readiness: the database answers and its schema is at the newest migration."""
        from cityops.migrate import is_current

        engine: Engine = request.app.state.engine
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = is_current(engine)
        except Exception as exc:  # readiness must answer, not raise
            return JSONResponse({"status": "unavailable", "database": repr(exc)[:200]}, status_code=503)
        if not current:
            return JSONResponse(
                {"status": "unavailable", "database": "schema not migrated; run `cityops migrate`"},
                status_code=503,
            )
        from cityops.cases.calendar import readiness_warnings

        # Ready, but say so when a deadline may fall in a year the holiday calendar does not know.
        return {"status": "ready", "database": engine.dialect.name, "warnings": readiness_warnings(engine)}

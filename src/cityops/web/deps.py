"""FastAPI dependencies shared by every capability's api.py.

``SessionDep`` is the one way a handler gets its session: one transaction per request, committed
after the handler returns and rolled back on any error, so a failed request never half-writes
anything. It uses ``scope="function"``: FastAPI's default scope would run the commit after the
response has been sent, so a client could be told "201 Created" for a report whose commit then
failed, or read its own change before it is visible. The one opt-out is
``single_statement_session``, for the two single-statement hot paths (decision 0004).

The dependencies themselves are ``async``: FastAPI runs every *sync* dependency in a worker
thread, and a request used to hop threads five or six times before its handler ran. Now a
request costs two hops (the handler, and commit-and-close); only a cache miss of the token
check does database work on the event loop's behalf, and it too goes to a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from cityops.accounts.principal import Principal
from cityops.config import Settings
from cityops.errors import Forbidden, Unauthorized


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


# Commits and rollbacks get threads of their own. If they queued for the handlers' threads, a
# transaction holding a lock (SQLite's write lock, a row lock) could wait for a thread while
# every thread waits for that lock: the server would hang until the lock timeout.
_FINISH_LIMITER = anyio.CapacityLimiter(32)


_FINISHED = "cityops_finished"


def finish_in_handler_thread(session: Session) -> None:
    """Commit and close at the end of a sync handler, in its own thread (see web.app)."""
    _commit_and_close(session)
    session.info[_FINISHED] = True


async def _finish(session: Session) -> None:
    if session.info.get(_FINISHED):
        return
    if not session.in_transaction():  # never used: closing touches no connection, so no thread
        session.close()
        return
    await anyio.to_thread.run_sync(_commit_and_close, session, limiter=_FINISH_LIMITER)


def _session_dependency(
    factory_of: Callable[[Any], sessionmaker[Session]],
) -> Callable[[Request], AsyncIterator[Session]]:
    """A FastAPI dependency giving one session of ``factory_of(app.state)`` per request."""

    async def dependency(request: Request) -> AsyncIterator[Session]:
        # Creating a session touches no connection; the first statement (in the handler's thread)
        # does. (Not delegated to a shared generator: FastAPI throws the handler's error into this
        # one, and it must reach the rollback below.)
        session: Session = factory_of(request.app.state)()
        try:
            yield session
        except BaseException:
            await anyio.to_thread.run_sync(_rollback_and_close, session, limiter=_FINISH_LIMITER)
            raise
        await _finish(session)  # async handlers and dependencies end up committing here

    return dependency


# One transaction per request, committed before the response is sent.
get_session = _session_dependency(lambda state: state.sessionmaker)


def _single_statement_factory(state: Any) -> sessionmaker[Session]:
    """``state.sessionmaker``'s twin for :func:`single_statement_session` (built once per factory).

    On PostgreSQL its sessions run in autocommit (no BEGIN/COMMIT round trips). Elsewhere it is
    ``state.sessionmaker`` itself: SQLite's transactions cost no round trip, and a creation there
    is three statements that must stay atomic. A factory bound to a connection (a test's outer
    transaction) keeps its transaction too.
    """
    base: sessionmaker[Session] = state.sessionmaker
    cached = getattr(state, "single_statement_sessionmaker", None)
    if cached is not None and cached[0] is base:
        return cached[1]
    bind = base.kw.get("bind")
    derived = (
        sessionmaker(**{**base.kw, "bind": bind.execution_options(isolation_level="AUTOCOMMIT")})
        if isinstance(bind, Engine) and bind.dialect.name == "postgresql"
        else base
    )
    state.single_statement_sessionmaker = (base, derived)
    return derived


# The one way handlers ask for a session: one transaction per request, committed before the
# response is sent.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def single_statement_session(request: Request) -> AbstractContextManager[Session]:
    """The one opt-out from ``SessionDep`` (docs/decisions/0004): a session without BEGIN/COMMIT.

    Only for the two hot paths whose work is a single statement, each pinned by a test: the case
    read (``GET /api/v1/cases/{id}``: one SELECT, at most one audit row) and a creation without an
    ``Idempotency-Key`` (``POST /api/v1/cases``: one statement on PostgreSQL). Opened inside the
    sync handler, in its thread: as a generator dependency the session cost FastAPI more
    bookkeeping per request than the read's own query. Everything else uses ``SessionDep``.
    """
    from cityops.db import unit_of_work

    return unit_of_work(_single_statement_factory(request.app.state))


# Older names, kept for one release so branches written against them still merge and run. They
# are the one dependency and the one opt-out above; use those.
get_read_session = get_session
ReadSessionDep = SessionDep
read_session = single_statement_session


def _bearer_or_cookie(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get("cityops_session")


def _principal_from_database(request: Request, token: str) -> Principal:
    from cityops.accounts import service as accounts
    from cityops.db import unit_of_work

    with unit_of_work(request.app.state.sessionmaker) as session:
        return accounts.principal_from_token(session, token, request.app.state.settings)


async def optional_principal(request: Request) -> Principal | None:
    """The caller if a valid token or session cookie came with the request."""
    from cityops.accounts import service as accounts

    token = _bearer_or_cookie(request)
    if token is None:
        return None
    principal = accounts.cached_principal(token, request.app.state.settings)
    if principal is None:
        # The user's active flag is not cached: one primary-key read in a short transaction of its
        # own, off the event loop. Requests with a cached caller need no session for this.
        principal = await run_in_threadpool(_principal_from_database, request, token)
    request.state.principal = principal
    return principal


async def current_principal(principal: Principal | None = Depends(optional_principal)) -> Principal:
    if principal is None:
        raise Unauthorized(
            "请先登录（缺少或无效的令牌）",
            "Sign in first: the bearer token is missing or invalid",
            code="not_authenticated",
        )
    return principal


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: the caller must have one of ``roles``."""

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                f"当前角色（{principal.role}）无权执行此操作，需要：{'、'.join(roles)}",
                f"Role {principal.role!r} may not do this; needs one of: {', '.join(roles)}",
                code="role_not_allowed",
                details={"role": principal.role, "allowed_roles": list(roles)},
            )
        return principal

    return check

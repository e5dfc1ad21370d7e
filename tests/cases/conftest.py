"""Fixtures of the cases tests: a fresh migrated database per test with a tiny district, on
SQLite and (when ``CITYOPS_TEST_DATABASE_URL`` is set) on PostgreSQL.

The district 330105 has two streets; street 330105001 has one community with two square grids
(grade A and B), street 330105002 one community with one grid (grade C). Categories, limits,
the responsibility list and departments go in through the catalog service.

Callers are plain ``Principal`` objects (``make_principal``); API tests send them as an
``X-Test-Principal`` header that a dependency override resolves, so no password hashing is
needed per test.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from tests.conftest import BACKENDS, empty_database, new_database

from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.areas.models import Area
from cityops.catalog import service as catalog
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker
from cityops.kit import caches
from cityops.migrate import upgrade
from cityops.web import deps
from cityops.web.errors import install_error_handlers

SH = ZoneInfo("Asia/Shanghai")

STREET = "330105001"
COMMUNITY = "330105001001"
GRID_A = "330105001001001"
GRID_B = "330105001001002"
STREET2 = "330105002"
GRID_C = "330105002001001"

# Points inside each grid (WGS-84).
IN_A = (120.105, 30.305)
IN_B = (120.115, 30.305)
IN_C = (120.125, 30.305)
OUTSIDE = (121.5, 31.2)

GARBAGE = "LOC-GARBAGE"  # working hours, 4 h (2 h in grade A grids) — street office CGJ / district HWC
COVER = "LOC-COVER"  # emergency, 2 h — water department SW
NORESP = "LOC-NORESP"  # working days, 1 — nobody is responsible


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai local instant as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


def _square(x: float, y: float, size: float = 0.01) -> str:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def seed(session: Session) -> None:
    """The tiny district, departments, categories, limits and responsibility rows."""
    session.add_all(
        [
            Area(code="330105", name="拱墅区", level="district"),
            Area(code=STREET, name="米市巷街道", level="street", parent_code="330105"),
            Area(code=STREET2, name="湖墅街道", level="street", parent_code="330105"),
            Area(code=COMMUNITY, name="米市巷社区", level="community", parent_code=STREET),
            Area(code="330105002001", name="湖墅社区", level="community", parent_code=STREET2),
            Area(
                code=GRID_A,
                name="网格A",
                level="grid",
                parent_code=COMMUNITY,
                grade="A",
                geometry=_square(120.10, 30.30),
            ),
            Area(
                code=GRID_B,
                name="网格B",
                level="grid",
                parent_code=COMMUNITY,
                grade="B",
                geometry=_square(120.11, 30.30),
            ),
            Area(
                code=GRID_C,
                name="网格C",
                level="grid",
                parent_code="330105002001",
                grade="C",
                geometry=_square(120.12, 30.30),
            ),
        ]
    )
    session.flush()
    for code, name in (("CGJ", "区城管局"), ("HWC", "区环卫处"), ("SW", "区水务局"), ("JT", "区交通局")):
        catalog.create_department(session, code=code, name=name)
    catalog.create_local_category(
        session,
        code=GARBAGE,
        name="暴露垃圾",
        kind="event",
        time_limit=("working_hours", 4),
        grade_limits={"A": ("working_hours", 2)},
    )
    catalog.create_local_category(
        session, code=COVER, name="井盖缺失", kind="component", time_limit=("emergency", 2), emergency=True
    )
    catalog.create_local_category(
        session, code=NORESP, name="其他", kind="event", time_limit=("working_days", 1)
    )
    catalog.upsert_responsibilities(
        session, [(GARBAGE, STREET, "CGJ"), (GARBAGE, "330105", "HWC"), (COVER, "330105", "SW")]
    )
    session.commit()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Every test restores the same database, cache generation included: a value cached by an
    # earlier test under a generation this test reaches again would look valid. Drop them all.
    caches.clear_all()
    yield
    caches.clear_all()


@pytest.fixture(scope="session", params=BACKENDS)
def _template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, sqlite3.Connection | None]]:
    """One migrated, seeded database per backend for the whole run (SQLite; PostgreSQL too
    when ``CITYOPS_TEST_DATABASE_URL`` is set), plus, on SQLite, a snapshot of it.

    Keeping the engine lets process-wide caches keyed by engine (the areas grid index) be
    built once. On SQLite each test gets a fresh copy of the snapshot (backup API, ~1 ms); on
    PostgreSQL the tables are emptied and seeded again.
    """
    if request.param == "postgresql":
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        engine, cleanup = new_database("postgresql", tmp_path_factory.mktemp("cases"), f"cases_{worker}")
        yield engine, None
        areas.invalidate_index(engine)
        cleanup()
        return
    # In memory on one shared connection (StaticPool), so the test app's threads see it too.
    engine = make_engine("sqlite://", poolclass=StaticPool)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        seed(s)
    snapshot = sqlite3.connect(":memory:")
    raw = engine.raw_connection()
    raw.driver_connection.backup(snapshot)  # type: ignore[union-attr]
    raw.close()
    yield engine, snapshot
    snapshot.close()
    areas.invalidate_index(engine)
    engine.dispose()


def _reset_postgres(engine: Engine) -> None:
    empty_database(engine)
    with make_sessionmaker(engine)() as s:
        seed(s)


@pytest.fixture
def engine(_template: tuple[Engine, sqlite3.Connection | None]) -> Engine:
    """The test database, restored from the seeded snapshot (or re-seeded on PostgreSQL)."""
    engine, snapshot = _template
    if snapshot is None:
        _reset_postgres(engine)
        return engine
    raw = engine.raw_connection()
    snapshot.backup(raw.driver_connection)  # type: ignore[arg-type]
    raw.close()
    return engine


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    s = factory()
    yield s
    s.rollback()
    s.close()


_counter = itertools.count(1)


@pytest.fixture
def make_principal() -> Callable[..., Principal]:
    def make(
        role: str,
        department_code: str | None = None,
        area_code: str | None = None,
        username: str | None = None,
    ) -> Principal:
        return Principal(
            id=uuid.uuid4(),
            username=username or f"{role}{next(_counter)}",
            role=role,
            department_code=department_code,
            area_code=area_code,
        )

    return make


_principals: dict[str, Principal] = {}


def as_header(principal: Principal) -> dict[str, str]:
    """The header that makes the test app treat the request as ``principal``."""
    _principals[str(principal.id)] = principal
    return {"X-Test-Principal": str(principal.id)}


def build_app(factory: sessionmaker[Session]) -> FastAPI:
    """The cases routers wired like the real app factory does, with a test sign-in."""
    from cityops.attachments.api import router as attachments_router
    from cityops.cases.api import router
    from cityops.cases.public import pages_router as public_pages_router
    from cityops.cases.public import router as public_router
    from cityops.cases.rating_public import pages_router as rating_pages_router
    from cityops.cases.rating_public import router as rating_router

    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(public_router)
    app.include_router(rating_router)
    app.include_router(rating_pages_router)
    app.include_router(public_pages_router)
    app.include_router(attachments_router)
    app.state.sessionmaker = factory
    app.state.settings = Settings(storage_dir=Path(tempfile.mkdtemp(prefix="cityops-cases-files-")))

    def principal_from_header(request: Request) -> Principal | None:
        key = request.headers.get("x-test-principal")
        return _principals.get(key) if key else None

    app.dependency_overrides[deps.optional_principal] = principal_from_header
    return app


@pytest.fixture
def client(factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(build_app(factory), raise_server_exceptions=False) as c:
        yield c

"""Shared fixtures: real databases built through the real migrations, one rollback per test.

Every storage test that uses ``db_session`` runs on SQLite and, when
``CITYOPS_TEST_DATABASE_URL`` points at a PostgreSQL server (``.ci/run`` sets it), on PostgreSQL
too. Each pytest-xdist worker gets its own database.

Tests whose code commits (an app, a CLI) use ``db_clean_engine``: the same database, emptied
after the test. Tests that need a database of their own (seeded once per module, say) call
``new_database``. Nothing builds a schema with ``create_all``: every database goes through the
migrations.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from cityops.all_models import load_all
from cityops.cases import codes
from cityops.db import make_engine
from cityops.kit import caches
from cityops.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CITYOPS_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("CITYOPS_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session", autouse=True)
def _wired() -> None:
    """The capabilities' event subscribers, as the app, worker and CLI wire them at start-up."""
    from cityops.wiring import wire

    wire()


@pytest.fixture(autouse=True)
def _settings_per_test() -> Iterator[None]:
    """An app built in a test makes its settings the process's; the next test starts as before."""
    from cityops.config import get_settings

    saved = get_settings.configured
    yield
    get_settings.configure(saved)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data folder; tests that need it skip when it is absent (a user's clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def _pg_database(worker: str) -> tuple[str, Engine, str]:
    assert PG_URL
    name = f"cityops_test_{worker}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)).set(database=name)
    return name, admin, url.render_as_string(hide_password=False)


def new_database(backend: str, tmp: Path, worker: str = "main") -> tuple[Engine, Callable[[], None]]:
    """Create an empty database of ``backend``, migrate it, return (engine, cleanup)."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp / f'test-{uuid.uuid4().hex[:6]}.db'}")
        upgrade(engine)
        return engine, engine.dispose
    name, admin, url = _pg_database(worker)
    engine = make_engine(url, pool_size=5, max_overflow=5)
    upgrade(engine)

    def cleanup() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, cleanup


def forget_caches(engine: Engine | None = None) -> None:
    """Drop the process-wide caches that remember database contents (areas index, lookups)."""
    caches.clear_all()  # the areas index, catalog lookups, the calendar, remembered generations


def empty_database(engine: Engine) -> None:
    """Delete every row, keeping the migrated schema: the clean-up of tests whose code commits."""
    tables = list(reversed(load_all().metadata.sorted_tables))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Fail loudly instead of hanging when a test left a transaction holding row locks.
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            sequences = conn.execute(
                text("SELECT sequencename FROM pg_sequences WHERE sequencename LIKE 'case_code_seq_%'")
            ).scalars()
            for name in list(sequences):
                conn.execute(text(f"DROP SEQUENCE {name}"))
        for table in tables:
            conn.execute(table.delete())
    codes._known_sequences.clear()
    forget_caches(engine)


@pytest.fixture(scope="session", params=BACKENDS)
def db_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database per backend, shared by the tests of one worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    engine, cleanup = new_database(request.param, tmp_path_factory.mktemp(request.param), worker)
    yield engine
    forget_caches(engine)
    cleanup()


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = db_engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
        forget_caches(db_engine)


@pytest.fixture
def db_engine_session(db_engine: Engine) -> Iterator[Session]:
    """A session bound to the shared engine itself (not to a connection), rolled back afterwards.

    For code that reads ``session.get_bind().url`` (the triage caches key on it), which a
    connection-bound ``db_session`` does not have. The test must not commit.
    """
    session = Session(bind=db_engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        forget_caches(db_engine)


@pytest.fixture
def db_clean_engine(db_engine: Engine) -> Iterator[Engine]:
    """The shared migrated database for a test whose code commits; emptied again afterwards.

    Tests that drive an app or a CLI (which open their own sessions and commit) use this one
    instead of ``db_session``. The database is empty when the test starts.
    """
    forget_caches(db_engine)
    try:
        yield db_engine
    finally:
        empty_database(db_engine)

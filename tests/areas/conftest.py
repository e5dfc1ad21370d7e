"""Database fixtures of the areas tests, on top of the shared migrated databases (tests/conftest.py).

``areas_session`` is the shared rollback session; ``areas_engine`` is the shared database for
tests whose code commits (it is emptied afterwards); ``demo_factory`` is a database per backend
with the shipped demo tree, loaded once per module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import BACKENDS, new_database

from cityops.areas import service
from cityops.db import make_sessionmaker


@pytest.fixture()
def areas_engine(db_clean_engine: Engine) -> Engine:
    return db_clean_engine


@pytest.fixture()
def areas_session(db_session: Session) -> Session:
    return db_session


@pytest.fixture(scope="module", params=BACKENDS)
def demo_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """A database with the shipped demo tree loaded once per module."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    engine, cleanup = new_database(request.param, tmp_path_factory.mktemp("areas-demo"), worker)
    factory = make_sessionmaker(engine)
    with factory() as session:
        service.load_demo_areas(session)
        session.commit()
    yield factory
    service.invalidate_index(engine)
    cleanup()


@pytest.fixture()
def demo_session(demo_factory: sessionmaker[Session]) -> Iterator[Session]:
    with demo_factory() as session:
        yield session
        session.rollback()

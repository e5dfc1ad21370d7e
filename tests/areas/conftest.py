"""Local database fixtures for the areas tests (in-memory SQLite with the areas table)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from cityops.areas import service
from cityops.areas.models import Area
from cityops.db import Base, make_engine, make_sessionmaker


def _new_engine() -> Engine:
    # StaticPool: one connection, so the in-memory database is shared with TestClient threads.
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine, tables=[Area.__table__])
    return engine


@pytest.fixture()
def areas_engine() -> Iterator[Engine]:
    engine = _new_engine()
    yield engine
    service.invalidate_index(engine)
    engine.dispose()


@pytest.fixture()
def areas_session(areas_engine: Engine) -> Iterator[Session]:
    factory = make_sessionmaker(areas_engine)
    with factory() as session:
        yield session
        session.rollback()


@pytest.fixture(scope="module")
def demo_factory() -> Iterator[sessionmaker[Session]]:
    """A database with the shipped demo tree loaded once per module."""
    engine = _new_engine()
    factory = make_sessionmaker(engine)
    with factory() as session:
        service.load_demo_areas(session)
        session.commit()
    yield factory
    service.invalidate_index(engine)
    engine.dispose()


@pytest.fixture()
def demo_session(demo_factory: sessionmaker[Session]) -> Iterator[Session]:
    with demo_factory() as session:
        yield session
        session.rollback()

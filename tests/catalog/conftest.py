"""Fixtures of the catalog tests: an in-memory database with the directory loaded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

import cityops.accounts.models
import cityops.catalog.models  # noqa: F401  (registers the tables on Base.metadata)
from cityops.accounts.models import Department
from cityops.catalog import service
from cityops.db import Base, make_engine, make_sessionmaker


@pytest.fixture()
def factory() -> Iterator[sessionmaker[Session]]:
    # One shared connection, so every session (and the test app) sees the same in-memory database.
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture()
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    s = factory()
    yield s
    s.close()


@pytest.fixture()
def loaded(session: Session) -> Session:
    """A session whose database holds the directory and three departments."""
    service.load_directory(session)
    session.add_all(
        [
            Department(code="CGJ", name="区城管局", kind="department"),
            Department(code="HWC", name="区环卫处", kind="department"),
            Department(code="MZQ", name="米市巷街道", kind="street", area_code="330105001"),
        ]
    )
    session.flush()
    return session


@pytest.fixture()
def standards_dir() -> Path:
    """../shared/data/standards, skipping the test when it is absent (a user's clone)."""
    root = os.environ.get("CITYOPS_SHARED_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[3] / "shared" / "data"
    path = base / "standards"
    if not path.is_dir():
        pytest.skip("../shared/data/standards is not available")
    return path

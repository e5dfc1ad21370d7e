"""Fixtures of the catalog tests: the shared migrated database (SQLite and PostgreSQL, see
tests/conftest.py), emptied after each test because the code under test commits."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.accounts.models import Department
from cityops.catalog import service
from cityops.db import make_sessionmaker


@pytest.fixture()
def factory(db_clean_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(db_clean_engine)


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

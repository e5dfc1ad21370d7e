"""Fixtures for the accounts tests: the shared migrated database, users and a small app.

The database is the one of tests/conftest.py (SQLite and, when configured, PostgreSQL), empty
when each test starts and emptied after it, so tests never see each other's rows. Real argon2 hashes are
used (≈50 ms each); fixtures create few users so the suite stays quick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.accounts import service, tokens
from cityops.accounts.api import router
from cityops.accounts.models import User
from cityops.config import Settings
from cityops.db import make_sessionmaker
from cityops.web.errors import install_error_handlers

PASSWORD = "correct-horse-1"


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    # The active-flag cache is process-wide; tests must not see users of earlier tests.
    tokens.forget()
    yield
    tokens.forget()


@pytest.fixture
def settings() -> Settings:
    return Settings(secret_key="test-secret-key-0123456789", demo_mode=False, token_ttl_seconds=3600)


@pytest.fixture
def engine(db_clean_engine: Engine) -> Engine:
    """The shared database; the code under test commits, so it is emptied after the test."""
    return db_clean_engine


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    session = factory()
    yield session
    session.rollback()
    session.close()


MakeUser = Callable[..., User]


@pytest.fixture
def password() -> str:
    """The password every fixture user has."""
    return PASSWORD


@pytest.fixture
def make_user(session: Session) -> MakeUser:
    """Factory: ``make_user("op1", "operator", **create_user_kwargs)`` creates and commits a user."""

    def make(username: str, role: str, **kwargs: Any) -> User:
        user = service.create_user(session, username=username, password=PASSWORD, role=role, **kwargs)
        session.commit()
        return user

    return make


@pytest.fixture
def department(session: Session) -> str:
    service.create_department(session, code="D-CG", name="区城管局", kind="department")
    session.commit()
    return "D-CG"


@pytest.fixture
def admin(make_user: MakeUser) -> User:
    return make_user("admin1", "admin", display_name="王管理", phone="13812345678")


def build_app(factory: sessionmaker[Session], settings: Settings) -> FastAPI:
    """A minimal app around the accounts router, as the real app factory will wire it."""
    app = FastAPI()
    app.include_router(router)
    app.state.sessionmaker = factory
    app.state.settings = settings
    install_error_handlers(app)  # the real error shape and headers (Retry-After, WWW-Authenticate)
    return app


@pytest.fixture
def client(factory: sessionmaker[Session], settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(factory, settings)) as client:
        yield client


@pytest.fixture
def bearer(client: TestClient) -> Callable[[str], dict[str, str]]:
    """``bearer("admin1")`` signs in through the API and returns the Authorization header."""

    def sign_in(username: str) -> dict[str, str]:
        response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return sign_in

"""The app refuses to start unsafely outside demo mode, also when started without `cityops serve`.

The checks run in the lifespan start-up (TestClient runs it on ``__enter__``); ``create_app``
itself never refuses, so tests and benchmarks can build apps freely.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, new_database

from cityops.accounts import service as accounts
from cityops.accounts.models import User
from cityops.config import DEFAULT_SECRET, Settings, UnsafeSettings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.web.app import create_app

SECRET = "a-real-secret-key-for-this-test-0123"


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    engine, cleanup = new_database(request.param, tmp_path, "startup")
    yield engine
    cleanup()


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "worker_in_process": False,
        "storage_dir": tmp_path / "files",
        "demo_mode": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _add_demo_account(engine: Engine, *, active: bool = True) -> None:
    with unit_of_work(make_sessionmaker(engine)) as session:
        user = accounts.create_user(
            session, username="operator", password="demo-password", role="operator", is_demo=True
        )
        if not active:
            session.execute(update(User).where(User.id == user.id).values(active=False))


def test_default_secret_refused_at_startup(engine: Engine, tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, secret_key=DEFAULT_SECRET), engine=engine)  # building is fine
    with pytest.raises(UnsafeSettings, match="CITYOPS_SECRET_KEY"), TestClient(app):
        pass


def test_short_secret_refused_at_startup(engine: Engine, tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, secret_key="short"), engine=engine)
    with pytest.raises(UnsafeSettings, match="CITYOPS_SECRET_KEY"), TestClient(app):
        pass


def test_active_demo_account_refused_at_startup(engine: Engine, tmp_path: Path) -> None:
    _add_demo_account(engine)
    app = create_app(_settings(tmp_path, secret_key=SECRET), engine=engine)
    with pytest.raises(UnsafeSettings, match="demo account"), TestClient(app):
        pass


def test_safe_settings_start(engine: Engine, tmp_path: Path) -> None:
    _add_demo_account(engine, active=False)  # a deactivated demo account is allowed
    app = create_app(_settings(tmp_path, secret_key=SECRET), engine=engine)
    with TestClient(app) as client:
        assert client.get("/readyz").json()["status"] == "ready"


def test_demo_mode_starts_with_default_secret_and_demo_accounts(engine: Engine, tmp_path: Path) -> None:
    _add_demo_account(engine)
    app = create_app(_settings(tmp_path, demo_mode=True, secret_key=DEFAULT_SECRET), engine=engine)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200


def test_unmigrated_database_starts_but_is_not_ready(tmp_path: Path) -> None:
    # No tables yet, so no demo accounts: the server starts and /readyz says what to do.
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with TestClient(create_app(_settings(tmp_path, secret_key=SECRET), engine=empty)) as client:
            response = client.get("/readyz")
        assert response.status_code == 503 and "migrate" in response.json()["database"]
    finally:
        empty.dispose()


def test_plain_uvicorn_refuses_the_default_secret(tmp_path: Path) -> None:
    """`uvicorn cityops.web.app:create_app --factory` (no CLI) exits instead of serving."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
    env.update(
        CITYOPS_DATABASE_URL=f"sqlite:///{tmp_path / 'plain.db'}",
        CITYOPS_WORKER_IN_PROCESS="false",
        CITYOPS_STORAGE_DIR=str(tmp_path / "files"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "uvicorn", "cityops.web.app:create_app", "--factory", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "CITYOPS_SECRET_KEY" in output and "Application startup failed" in output

"""An app on a fresh migrated database per test module (the app commits, so no shared rollback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, new_database

from cityops.config import Settings
from cityops.web.app import create_app


@pytest.fixture(scope="module", params=BACKENDS)
def api_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine, cleanup = new_database(request.param, tmp_path_factory.mktemp("api"), "web")
    yield engine
    cleanup()


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        demo_mode=True, storage_dir=Path(tmp_path_factory.mktemp("files")), worker_in_process=False
    )


@pytest.fixture(scope="module")
def client(api_engine: Engine, api_settings: Settings) -> Iterator[TestClient]:
    app = create_app(api_settings, engine=api_engine)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client

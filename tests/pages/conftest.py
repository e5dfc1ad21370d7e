"""The demo world (departments, accounts, areas; a few cases) behind a TestClient, per module.

Page tests sign in through the sign-in form as a person would; ``signed_in(client, "operator")``
returns a client whose cookie jar holds that user's session and CSRF cookies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, new_database

from cityops.config import Settings
from cityops.demo.loader import load_demo
from cityops.web.app import create_app

# What a browser asks for: error pages are HTML for it (API clients get the JSON error shape).
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module", params=BACKENDS)
def demo_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp = tmp_path_factory.mktemp("pages")
    engine, cleanup = new_database(request.param, tmp, "pages")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp / "files")
    load_demo(engine, settings, n_cases=60, progress=False)
    yield engine
    cleanup()


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        demo_mode=True, worker_in_process=False, storage_dir=Path(tmp_path_factory.mktemp("files"))
    )


@pytest.fixture(scope="module")
def app_client(demo_engine: Engine, demo_settings: Settings) -> Iterator[TestClient]:
    app = create_app(demo_settings, engine=demo_engine)
    with TestClient(app, raise_server_exceptions=False, headers=BROWSER) as client:
        yield client


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = "demo", next_url: str = "") -> None:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    response = client.post(
        "/login",
        data={"username": username, "password": password, "next": next_url, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def new_client(demo_engine: Engine, demo_settings: Settings) -> Iterator[TestClient]:
    """A browser of its own (empty cookie jar) on the module's app."""
    app = create_app(demo_settings, engine=demo_engine)
    with TestClient(app, raise_server_exceptions=False, headers=BROWSER) as client:
        yield client

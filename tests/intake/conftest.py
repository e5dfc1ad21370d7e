"""Fixtures of the intake tests: the Gongshu demo world without history (areas, catalog,
departments, responsibility list, accounts, the demo camera, merchant and sensors), one per
module and backend, with an app client that signs in as the demo accounts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, forget_caches, new_database

from cityops.config import Settings
from cityops.demo.loader import load_demo
from cityops.intake.camera import sign
from cityops.intake.demo import DEMO_CAMERA, DEMO_CAMERA_SECRET
from cityops.web.app import create_app


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Settings]]:
    tmp = tmp_path_factory.mktemp("intake")
    engine, cleanup = new_database(request.param, tmp, "intake")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=Path(tmp / "files"))
    load_demo(engine, settings, n_cases=0, progress=False)
    yield engine, settings
    forget_caches(engine)
    cleanup()


@pytest.fixture(scope="module")
def client(world: tuple[Engine, Settings]) -> Iterator[TestClient]:
    engine, settings = world
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as c:
        yield c


_TOKENS: dict[tuple[int, str], dict[str, str]] = {}


def auth(client: TestClient, username: str) -> dict[str, str]:
    key = (id(client), username)
    if key not in _TOKENS:
        r = client.post("/api/v1/auth/token", data={"username": username, "password": "demo"})
        assert r.status_code == 200, r.text
        _TOKENS[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return _TOKENS[key]


def signed_alarm(
    body: dict[str, Any],
    *,
    camera: str = DEMO_CAMERA,
    secret: str = DEMO_CAMERA_SECRET,
    ts: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(time.time()) if ts is None else ts)
    return raw, {
        "X-Cityops-Camera": camera,
        "X-Cityops-Timestamp": stamp,
        "X-Cityops-Signature": sign(secret, stamp, raw),
        "Content-Type": "application/json",
    }

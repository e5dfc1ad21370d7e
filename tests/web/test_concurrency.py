"""Many concurrent writers on few handler threads must all succeed, not deadlock.

A sync handler's response is validated in another worker thread before the request's
dependencies exit. If the commit waited until then, a transaction holding SQLite's write lock
could wait for a thread while every thread waited for that lock (until the 30 s busy timeout,
then "database is locked"). Handlers therefore commit in their own thread before returning.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient
from shapely.geometry import shape
from sqlalchemy import select
from tests.conftest import new_database

from cityops.areas.models import Area
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.web.app import create_app


def test_concurrent_creates_on_two_threads_all_succeed(tmp_path: Path) -> None:
    engine, cleanup = new_database("sqlite", tmp_path, "concurrency")
    try:
        settings = Settings(
            demo_mode=True, worker_in_process=False, web_threads=2, storage_dir=tmp_path / "f"
        )
        load_demo(engine, settings, n_cases=0, progress=False)
        with unit_of_work(make_sessionmaker(engine)) as session:
            geometries = session.scalars(select(Area.geometry).where(Area.level == "grid").limit(12)).all()
        points = [shape(json.loads(g)).representative_point() for g in geometries]
        with TestClient(create_app(settings, engine=engine)) as client:
            token = client.post("/api/v1/auth/token", data={"username": "dispatcher", "password": "demo"})
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

            def create(i: int) -> int:
                body = {
                    "description": f"垃圾堆放 {i}",
                    "lon": points[i].x,
                    "lat": points[i].y,
                    "category_code": "06010",
                }
                return client.post("/api/v1/cases", headers=headers, json=body).status_code

            with ThreadPoolExecutor(max_workers=12) as pool:
                statuses = list(pool.map(create, range(12)))
        assert statuses == [201] * 12
    finally:
        cleanup()

"""The cache registry's generation: an admin edit committed through one engine (another process,
another server) is seen by the caches of every other engine on the same database within a second.

Each test uses two engines on one database, like two processes; one test runs a real second
process (`cityops import-areas`) next to a cached grid index, the case the issue describes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.conftest import BACKENDS, empty_database, new_database

from cityops.areas import service as areas
from cityops.areas.models import Area
from cityops.cases import calendar, external
from cityops.catalog import service as catalog
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.errors import Invalid
from cityops.kit import caches

POINT = (120.105, 30.305)


def _square(x: float, y: float, size: float = 0.01) -> dict[str, object]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module", params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database; yields its URL (SQLite file or PostgreSQL)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    engine, cleanup = new_database(request.param, tmp_path_factory.mktemp("caches"), f"caches_{worker}")
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    yield url
    cleanup()


@pytest.fixture
def two(database: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database, as two processes would have; the tree without grids."""
    a, b = make_engine(database), make_engine(database)
    empty_database(a)
    with unit_of_work(make_sessionmaker(a)) as s:
        s.add_all(
            [
                Area(code="330105", name="拱墅区", level="district"),
                Area(code="330105001", name="米市巷街道", level="street", parent_code="330105"),
                Area(code="330105001001", name="米市巷社区", level="community", parent_code="330105001"),
            ]
        )
    caches.clear_all()
    yield a, b
    caches.clear_all()
    a.dispose()
    b.dispose()


def _locate(engine: Engine) -> str | None:
    with unit_of_work(make_sessionmaker(engine)) as s:
        try:
            return areas.locate(s, *POINT).grid_code
        except Invalid:
            return None


def _grid_collection(code: str = "330105001001001") -> dict[str, object]:
    feature = {
        "type": "Feature",
        "properties": {
            "code": code,
            "name": "网格1",
            "level": "grid",
            "parent_code": "330105001001",
            "grade": "A",
        },
        "geometry": _square(120.10, 30.30),
    }
    return {"type": "FeatureCollection", "features": [feature]}


def _eventually(check: object, expected: object, seconds: float = 5.0) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = check()  # type: ignore[operator]
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_an_edit_through_one_engine_reaches_the_other_within_the_check_interval(
    two: tuple[Engine, Engine],
) -> None:
    a, b = two
    assert _locate(b) is None  # b builds (and caches) an index without grids
    with unit_of_work(make_sessionmaker(a)) as s:
        areas.import_geojson(s, _grid_collection())
    # Within CHECK_SECONDS in principle; the wait allows for a slow, shared machine.
    assert _eventually(lambda: _locate(b), "330105001001001") == "330105001001001"
    assert _locate(a) == "330105001001001"  # the editing engine at once


def test_the_editing_process_sees_its_own_edit_at_once(two: tuple[Engine, Engine]) -> None:
    a, _ = two
    assert _locate(a) is None
    with unit_of_work(make_sessionmaker(a)) as s:
        areas.import_geojson(s, _grid_collection())
    assert _locate(a) == "330105001001001"


def test_catalog_and_department_edits_reach_other_engines(two: tuple[Engine, Engine]) -> None:
    a, b = two
    with unit_of_work(make_sessionmaker(a)) as s:
        catalog.create_department(s, code="CGJ", name="区城管局")
        catalog.create_local_category(
            s, code="LOC-X", name="旧名", kind="event", time_limit=("working_hours", 4)
        )
        catalog.upsert_responsibilities(s, [("LOC-X", "330105", "CGJ")])

    def seen() -> tuple[str, str | None, str, tuple[str, float]]:
        with unit_of_work(make_sessionmaker(b)) as s:
            return (
                external.category_name(s, "LOC-X"),
                external.department_name(s, "CGJ"),
                external.responsible_department(s, "LOC-X", ["330105"]),
                external.time_limit_for(s, "LOC-X", None),
            )

    assert seen() == ("旧名", "区城管局", "CGJ", ("working_hours", 4.0))
    with unit_of_work(make_sessionmaker(a)) as s:
        catalog.update_category(s, "LOC-X", name="新名")
        catalog.update_department(s, "CGJ", name="区城市管理局")
        catalog.create_department(s, code="HWC", name="区环卫处")
        catalog.upsert_responsibilities(s, [("LOC-X", "330105", "HWC")])
        catalog.set_time_limits(s, "LOC-X", ("working_hours", 8), {})
    expected = ("新名", "区城市管理局", "HWC", ("working_hours", 8.0))
    assert _eventually(seen, expected) == expected


def test_calendar_overrides_reach_other_engines(two: tuple[Engine, Engine]) -> None:
    from datetime import date

    from cityops.accounts.principal import SYSTEM

    a, b = two
    day = date(2027, 1, 4)  # a Monday

    def workday() -> bool:
        with unit_of_work(make_sessionmaker(b)) as s:
            return calendar.working_calendar(s).is_workday(day)

    assert workday() is True
    with unit_of_work(make_sessionmaker(a)) as s:
        calendar.set_override(s, SYSTEM, day, False, "调休")
    assert _eventually(workday, False) is False


def test_import_areas_in_another_process_reaches_a_running_server(
    two: tuple[Engine, Engine], tmp_path: Path
) -> None:
    _, b = two
    assert _locate(b) is None  # the "server" has its index
    path = tmp_path / "grid.geojson"
    path.write_text(json.dumps(_grid_collection()), encoding="utf-8")
    env = {**os.environ, "CITYOPS_DATABASE_URL": b.url.render_as_string(hide_password=False)}
    done = subprocess.run(
        [sys.executable, "-m", "cityops.cli", "import-areas", str(path)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert _eventually(lambda: _locate(b), "330105001001001") == "330105001001001"


def test_the_check_reads_the_generation_at_most_once_per_interval(
    two: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, b = two
    reads = []
    real = caches.read_generation
    monkeypatch.setattr(caches, "read_generation", lambda s: reads.append(1) or real(s))
    with unit_of_work(make_sessionmaker(b)) as s:
        for _ in range(1000):
            caches.generation(s)
    assert len(reads) == 1


def test_a_rolled_back_edit_bumps_nothing(two: tuple[Engine, Engine]) -> None:
    a, b = two
    with make_sessionmaker(b)() as s:
        before = caches.read_generation(s)
    with make_sessionmaker(a)() as s:
        catalog.create_department(s, code="TMP", name="临时")
        s.rollback()
    with make_sessionmaker(b)() as s:
        assert caches.read_generation(s) == before


def test_bumps_count_every_edit(two: tuple[Engine, Engine]) -> None:
    a, _ = two
    factory = make_sessionmaker(a)
    with factory() as s:
        start = caches.read_generation(s)
    for i in range(3):
        with unit_of_work(factory) as s:
            catalog.create_department(s, code=f"D{i}", name=f"部门{i}")
    session: Session
    with factory() as session:
        assert caches.read_generation(session) == start + 3

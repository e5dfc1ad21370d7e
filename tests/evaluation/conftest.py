"""A small demo district (600 generated cases) per backend, with the evaluation summary built once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.conftest import BACKENDS, new_database

from cityops.areas import service as areas
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.evaluation.tasks import refresh_evaluation

NOW = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
DEMO = Settings(demo_mode=True, worker_in_process=False)


@pytest.fixture(scope="package", params=BACKENDS)
def demo_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine, cleanup = new_database(request.param, tmp_path_factory.mktemp("evaluation"), "evaluation")
    load_demo(engine, DEMO, n_cases=600, seed=11, progress=False, now=NOW)
    with unit_of_work(make_sessionmaker(engine)) as session:
        refresh_evaluation(session, NOW)
    yield engine
    areas.invalidate_index(engine)
    cleanup()


@pytest.fixture()
def demo_session(demo_engine: Engine) -> Iterator[Session]:
    s = make_sessionmaker(demo_engine)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()

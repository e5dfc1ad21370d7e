"""The migrations build exactly the schema the models describe, on every backend, and go down
to an empty database and up again."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, new_database

from cityops.all_models import load_all
from cityops.migrate import alembic_config, is_current, upgrade


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, load_all().metadata))


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models_and_go_down_and_up_again(backend: str, tmp_path: Path) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    engine, cleanup = new_database(backend, tmp_path, f"migrations_{worker}")  # empty → head
    try:
        assert is_current(engine)
        assert _tables(engine) == set(load_all().metadata.tables)
        assert _differences(engine) == []

        _downgrade(engine, "base")
        assert _tables(engine) == set()
        assert not is_current(engine)

        upgrade(engine)
        assert is_current(engine)
        assert _differences(engine) == []
    finally:
        cleanup()

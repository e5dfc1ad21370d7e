"""The import/export helpers behind `cityops import-catalog` / `cityops export-catalog`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.catalog import cli
from cityops.catalog.models import Category


def test_csv_import_then_xlsx_export_and_import(factory: sessionmaker[Session], tmp_path: Path) -> None:
    engine = factory.kw["bind"]
    shipped = Path(str(resources.files("cityops.catalog") / "data" / "gb47678_5_category_directory.csv"))
    assert cli.import_catalog(shipped, engine=engine) == {"categories": 403}
    out = tmp_path / "catalog.xlsx"
    assert cli.export_catalog(out, engine=engine) > 0
    assert cli.import_catalog(out, engine=engine)["categories"] == 403
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Category)) == 403


def test_bad_file_exits_and_writes_nothing(factory: sessionmaker[Session], tmp_path: Path) -> None:
    engine = factory.kw["bind"]
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(typer.Exit):
        cli.import_catalog(bad, engine=engine)
    assert cli.load_directory(engine=engine) == 403
    assert cli.load_directory(engine=engine) == 0

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


# --- issue 8 item 21: a file that holds nothing to import is refused, naming what is missing ---


def _exit_code(
    path: Path, factory: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    with pytest.raises(typer.Exit) as exited:
        cli.import_catalog(path, engine=factory.kw["bind"])
    captured = capsys.readouterr()
    return exited.value.exit_code, captured.out + captured.err


def test_a_csv_with_a_wrong_header_and_no_rows_is_refused(
    factory: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "directory.csv"
    bad.write_text("类型,代码,名称\n", encoding="utf-8")
    code, out = _exit_code(bad, factory, capsys)
    assert code == 1
    for column in ("kind", "major_code", "major_name", "code5", "name"):
        assert column in out
    assert "imported" not in out


def test_a_csv_with_the_header_but_no_rows_is_refused(
    factory: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "directory.csv"
    empty.write_text("kind,major_code,major_name,code5,name\n", encoding="utf-8")
    code, out = _exit_code(empty, factory, capsys)
    assert code == 1 and "没有数据行" in out and "no rows" in out


def test_a_workbook_with_wrong_headers_and_no_rows_is_refused(
    factory: sessionmaker[Session], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "权责清单"
    ws.append(["类别", "区域", "部门"])
    path = tmp_path / "catalog.xlsx"
    wb.save(path)
    code, out = _exit_code(path, factory, capsys)
    assert code == 1 and "类别代码" in out and "区域代码" in out and "责任部门代码" in out

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "权责清单"
    ws.append(["类别代码", "区域代码", "责任部门代码"])
    wb.save(path)
    code, out = _exit_code(path, factory, capsys)
    assert code == 1 and "没有数据行" in out

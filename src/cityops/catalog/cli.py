"""Command-line helpers of the catalog, mounted by cityops.cli as import-catalog / export-catalog.

Each command is one transaction: an import with any bad row writes nothing and prints every
problem with its sheet and row number.
"""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import Engine

from cityops.errors import DomainError

app = typer.Typer(help="类别目录、时限与权责清单 / categories, time limits and the responsibility list")


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from cityops.config import get_settings
    from cityops.db import make_engine

    return make_engine(get_settings().database_url)


def _report(exc: DomainError) -> None:
    typer.secho(exc.message, fg=typer.colors.RED, err=True)
    details = exc.details if isinstance(exc.details, dict) else {}
    for e in details.get("errors", []):
        where = f"{e.get('sheet', '')} 第 {e.get('row', '?')} 行 {e.get('column', e.get('field', ''))}"
        typer.echo(f"  {where}: {e.get('message', '')}", err=True)
    raise typer.Exit(1)  # the input was refused (2 is for usage and settings errors)


def import_catalog(path: Path, *, engine: Engine | None = None) -> dict[str, int]:
    """Import an .xlsx workbook (类别/时限/权责清单) or a directory CSV into the database."""
    from cityops.catalog import excel
    from cityops.db import make_sessionmaker, unit_of_work

    suffix = path.suffix.lower()
    try:
        with unit_of_work(make_sessionmaker(_engine(engine))) as session:
            if suffix == ".csv":
                added = excel.import_directory_csv(session, path.read_text(encoding="utf-8-sig"))
                result = {"categories": added}
            elif suffix in (".xlsx", ".xlsm"):
                result = excel.import_workbook(session, path.read_bytes())
            else:
                typer.secho("只支持 .xlsx 或目录 .csv / only .xlsx or a directory .csv", fg="red", err=True)
                raise typer.Exit(2)
    except DomainError as exc:
        _report(exc)
        raise  # unreachable: _report exits
    typer.echo("导入完成 / imported: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    return result


def export_catalog(path: Path, *, engine: Engine | None = None) -> int:
    """Write the whole catalog to an .xlsx workbook; returns the bytes written."""
    from cityops.catalog import excel
    from cityops.db import make_sessionmaker, unit_of_work

    with unit_of_work(make_sessionmaker(_engine(engine))) as session:
        data = excel.export_workbook(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    typer.echo(f"已导出 / exported: {path} ({len(data)} bytes)")
    return len(data)


def load_directory(*, engine: Engine | None = None) -> int:
    """Load the shipped GB/T 47678.5 directory with default limits (safe to run again)."""
    from cityops.catalog import service
    from cityops.db import make_sessionmaker, unit_of_work

    with unit_of_work(make_sessionmaker(_engine(engine))) as session:
        added = service.load_directory(session)
    typer.echo(f"已加载标准目录 / directory loaded: {added} new categories")
    return added


@app.command("import")
def import_command(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help=".xlsx or directory .csv"),
) -> None:
    """Import categories, time limits and the responsibility list."""
    import_catalog(path)


@app.command("export")
def export_command(path: Path = typer.Argument(..., dir_okay=False, help="output .xlsx")) -> None:
    """Export the whole catalog to Excel."""
    export_catalog(path)


@app.command("load-directory")
def load_directory_command() -> None:
    """Load the shipped GB/T 47678.5 directory and default time limits."""
    load_directory()

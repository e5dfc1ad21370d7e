"""`cityops import-areas` and `cityops load-demo-areas`: typer commands with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.areas import service
from cityops.errors import DomainError

app = typer.Typer(help="区域（街道、社区、单元网格）/ areas")
console = Console()


def _engine(database_url: str | None = None) -> Engine:
    from cityops.config import get_settings
    from cityops.db import make_engine

    return make_engine(database_url or get_settings().database_url)


def _session_factory(engine: Engine | None) -> sessionmaker[Session]:
    from cityops.db import make_sessionmaker

    return make_sessionmaker(engine or _engine())


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def import_areas_command(
    path: Path,
    level: str | None = None,
    crs: str = "wgs84",
    code_property: str = "code",
    name_property: str = "name",
    parent_code_property: str = "parent_code",
    grade_property: str = "grade",
    *,
    engine: Engine | None = None,
) -> int:
    """Import a GeoJSON FeatureCollection file into the areas table in one transaction.

    Returns the number of areas written; raises DomainError (nothing written) on bad input.
    """
    from cityops.db import unit_of_work

    try:
        collection = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"无法读取 GeoJSON 文件 / cannot read GeoJSON file {path}: {exc}") from None
    with _progress() as bar, unit_of_work(_session_factory(engine)) as session:
        task = bar.add_task(f"导入 / importing {Path(path).name}", total=None)
        result = service.import_geojson(
            session,
            collection,
            level=level,
            crs=crs,
            code_property=code_property,
            name_property=name_property,
            parent_code_property=parent_code_property,
            grade_property=grade_property,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(f"新增 created {result.created}，更新 updated {result.updated}")
    return result.total


@app.command("import-areas")
def import_areas(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="GeoJSON FeatureCollection"),
    level: str | None = typer.Option(
        None, help="district|street|community|grid; default: each feature's level"
    ),
    crs: str = typer.Option("wgs84", help="wgs84 | gcj02 (GCJ-02 is converted to WGS-84)"),
    code_property: str = typer.Option("code"),
    name_property: str = typer.Option("name"),
    parent_code_property: str = typer.Option("parent_code"),
    grade_property: str = typer.Option("grade"),
    database_url: str | None = typer.Option(None, envvar="CITYOPS_DATABASE_URL"),
) -> None:
    """导入区域 GeoJSON / import areas from a GeoJSON file."""
    try:
        import_areas_command(
            path,
            level,
            crs,
            code_property,
            name_property,
            parent_code_property,
            grade_property,
            engine=_engine(database_url),
        )
    except DomainError as err:
        console.print(f"[red]{err.message}[/red]")
        raise typer.Exit(code=1) from None


@app.command("load-demo-areas")
def load_demo_areas(database_url: str | None = typer.Option(None, envvar="CITYOPS_DATABASE_URL")) -> None:
    """载入拱墅区演示区域 / load the shipped Gongshu demo areas."""
    from cityops.db import unit_of_work

    with _progress() as bar, unit_of_work(_session_factory(_engine(database_url))) as session:
        task = bar.add_task("演示区域 / demo areas", total=None)
        n = service.load_demo_areas(session, progress=lambda d, t: bar.update(task, completed=d, total=t))
    console.print(f"已载入 loaded {n} areas")

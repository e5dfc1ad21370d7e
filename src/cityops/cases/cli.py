"""Command-line operations of the cases capability (mounted by :mod:`cityops.cli`)."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import Engine

from cityops.accounts.principal import SYSTEM
from cityops.cases import calendar
from cityops.db import make_sessionmaker, unit_of_work


def import_calendar_command(path: Path, *, source: str | None, engine: Engine) -> None:
    """Import an official schedule file in one transaction and print what it covers."""
    days = calendar.parse_schedule_text(path.read_text(encoding="utf-8-sig"), path.name)
    with unit_of_work(make_sessionmaker(engine)) as session:
        result = calendar.import_schedule(session, SYSTEM, days, source=source or path.name)
        warnings = calendar.calendar_warnings(session)
    years = ", ".join(map(str, result["years"]))
    typer.echo(f"已导入 {result['days']} 天（{years} 年） / imported {result['days']} days for {years}")
    for warning in warnings:
        typer.secho(warning["message"], fg=typer.colors.YELLOW)

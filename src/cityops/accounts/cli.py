"""Command-line account management: ``cityops create-user`` (mounted by ``cityops.cli``)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

from cityops.accounts import service
from cityops.accounts.principal import Principal, synthetic_principal
from cityops.config import get_settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.errors import DomainError


def _cli_actor() -> Principal:
    # The audit trail names the operating-system account that ran the command.
    try:
        who = getpass.getuser()
    except Exception:  # no login name in some containers
        who = "unknown"
    return synthetic_principal(f"cli:{who}"[:64], "admin")


def create_user_command(
    username: Annotated[str, typer.Argument(help="sign-in name")],
    role: Annotated[str, typer.Option(help="citizen|inspector|operator|dispatcher|handler|leader|admin")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, envvar="CITYOPS_NEW_USER_PASSWORD"
        ),
    ],
    department: Annotated[str | None, typer.Option(help="department code (required for handlers)")] = None,
    area: Annotated[str | None, typer.Option(help="area code (street staff)")] = None,
    display_name: Annotated[str, typer.Option(help="name shown in the app")] = "",
    engine: Annotated[Engine | None, typer.Option(hidden=True, parser=lambda _: None)] = None,
) -> None:
    """Create a user account (the password is asked for twice and never echoed)."""
    # ``engine`` lets cityops.cli and the tests pass their database; otherwise CITYOPS_DATABASE_URL.
    engine = engine or make_engine(get_settings().database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            user = service.create_user(
                session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                department_code=department,
                area_code=area,
                actor=_cli_actor(),
            )
            user_id = user.id
    except DomainError as exc:
        typer.secho(exc.message, fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"已创建用户 / user created: {username} ({role}) id={user_id}")

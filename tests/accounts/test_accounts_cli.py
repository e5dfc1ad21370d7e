"""``cityops create-user``: the password prompt, the created row, and a refused bad role."""

from __future__ import annotations

import typer
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.accounts.cli import create_user_command
from cityops.accounts.models import AuditEvent, User


def _app(engine: Engine) -> typer.Typer:
    app = typer.Typer()

    @app.command("create-user")
    def create_user(
        username: str,
        role: str = typer.Option(...),
        password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
        department: str | None = None,
    ) -> None:
        # Mirrors how cityops.cli mounts the command, with the test database.
        create_user_command(
            username=username, role=role, password=password, department=department, engine=engine
        )

    @app.command()
    def noop() -> None:  # a second command keeps typer in multi-command mode
        pass

    return app


def test_create_user_prompts_for_password(engine: Engine, session: Session) -> None:
    result = CliRunner().invoke(
        _app(engine), ["create-user", "ops1", "--role", "operator"], input="long-password\nlong-password\n"
    )
    assert result.exit_code == 0, result.output
    assert "long-password" not in result.output  # hidden input
    user = session.scalars(select(User).where(User.username == "ops1")).one()
    assert user.role == "operator" and user.password_hash.startswith("$argon2")
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.create")).one()
    assert event.actor_name.startswith("cli:")


def test_create_user_bad_role_fails_cleanly(engine: Engine, session: Session) -> None:
    result = CliRunner().invoke(
        _app(engine), ["create-user", "x1", "--role", "boss"], input="long-password\nlong-password\n"
    )
    assert result.exit_code == 1
    assert "Unknown role" in result.output
    assert session.scalars(select(User)).all() == []


def test_command_mounts_directly() -> None:
    app = typer.Typer()
    app.command("create-user")(create_user_command)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["create-user", "--help"])
    assert result.exit_code == 0 and "--role" in result.output

"""The `cityops` command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cityops.config import UnsafeSettings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(help="cityops：城市运行一网统管 / city operations in one network", no_args_is_help=True)


@app.callback()
def _start() -> None:
    # Every command runs with the capabilities' event subscribers in place (cityops.wiring).
    from cityops.wiring import wire

    wire()


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _engine() -> Engine:
    from cityops.db import make_engine

    return make_engine(get_settings().database_url)


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest migration (safe to run again)."""
    from cityops.migrate import upgrade

    settings = get_settings()
    upgrade(_engine())
    typer.echo(f"数据库已是最新结构 / database migrated: {settings.database_url.split('@')[-1]}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    workers: int = typer.Option(1, help="server processes (each runs the in-process worker unless disabled)"),
    access_log: bool = typer.Option(
        False, help="uvicorn's own access log (cityops logs every request anyway)"
    ),
) -> None:
    """Serve the web app and API (the background worker runs in-process by default)."""
    import uvicorn

    from cityops.web.app import refuse_unsafe_serving

    settings = get_settings()
    try:
        refuse_unsafe_serving(settings, _engine())
    except UnsafeSettings as exc:
        _fail(str(exc))
    from cityops.web.middleware import configure_logging

    configure_logging(settings.log_level)
    typer.echo(f"cityops 正在运行 / serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    options: dict[str, Any] = {"access_log": access_log, "log_level": settings.log_level.lower()}
    from cityops.web import server

    if workers > 1 and server.supported():
        # One listening socket per process, so connections spread over them (see web.server).
        try:
            code = server.serve_processes(host, port, workers, options)
        except OSError as exc:
            _fail(f"无法监听 {host}:{port} / cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(code)
    uvicorn.run(server.APP, factory=True, host=host, port=port, workers=workers, **options)


@app.command()
def worker(once: bool = typer.Option(False, help="run every job once and exit")) -> None:
    """Run the background worker (SLA sweep, outbox delivery, surge sweep) as its own process."""
    from cityops.db import make_sessionmaker
    from cityops.web.middleware import configure_logging
    from cityops.worker import Worker, default_jobs

    settings = get_settings()
    configure_logging(settings.log_level)
    factory = make_sessionmaker(_engine())
    w = Worker(factory, default_jobs(settings))
    if once:
        results = w.run_due()
        typer.echo(json.dumps(results, ensure_ascii=False, default=str))
        if "failed" in results.values():
            raise typer.Exit(1)
        return
    from cityops.worker import start_subscribers

    subscribers = start_subscribers(factory, settings)
    try:
        w.run_forever()
    except KeyboardInterrupt:
        w.stop()
    finally:
        for subscriber in subscribers:
            subscriber.stop()


@app.command()
def demo(
    reset: bool = typer.Option(False, help="drop the demo data and load it again"),
    cases: int = typer.Option(20000, help="number of historical cases to generate"),
    seed: int = typer.Option(20261126, help="random seed, so every demo looks the same"),
) -> None:
    """Load the Gongshu demo: areas, catalog, departments, accounts and a year of cases."""
    from cityops.demo.loader import load_demo

    settings = get_settings()
    if not settings.demo_mode:
        _fail(
            "演示数据只能在演示模式下加载：请设置 CITYOPS_DEMO_MODE=true / "
            "Demo data loads only in demo mode: set CITYOPS_DEMO_MODE=true"
        )
    from cityops.migrate import upgrade

    engine = _engine()
    upgrade(engine)
    summary = load_demo(engine, settings, reset=reset, n_cases=cases, seed=seed)
    for key, value in summary.items():
        typer.echo(f"  {key}: {value}")
    _warm_routing_model(engine)


def _warm_routing_model(engine: Any) -> None:
    """Build the knowledge-base routing model now (once per knowledge base, kept on disk), so
    the first report after `make demo` is answered at once."""
    try:
        from cityops.triage import versions
    except ModuleNotFoundError:
        return
    from cityops.db import make_sessionmaker, unit_of_work

    with unit_of_work(make_sessionmaker(engine)) as session:
        model = versions.kb_only_model(session)
    typer.echo(f"  routing_model: knowledge base, {len(model.labels)} classes")


@app.command("import-areas")
def import_areas(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="GeoJSON FeatureCollection"),
    level: str | None = typer.Option(
        None, help="district | street | community | grid; default: each feature's `level` property"
    ),
    crs: str = typer.Option("wgs84", help="coordinate system of the file: wgs84 | gcj02"),
) -> None:
    """Import areas from a GeoJSON file (GCJ-02 is converted to WGS-84 on the way in)."""
    from cityops.areas.cli import import_areas_command
    from cityops.errors import DomainError

    try:
        import_areas_command(path, level=level, crs=crs, engine=_engine())
    except DomainError as exc:  # nothing was written: the import is one transaction
        typer.secho(exc.message, fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


@app.command("import-catalog")
def import_catalog(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help=".xlsx or directory .csv"),
) -> None:
    """Import categories, time limits and the responsibility list from Excel (or the directory CSV)."""
    from cityops.catalog.cli import import_catalog as run

    run(path, engine=_engine())


@app.command("export-catalog")
def export_catalog(path: Path = typer.Argument(..., dir_okay=False, help="output .xlsx")) -> None:
    """Export categories, time limits and the responsibility list to Excel."""
    from cityops.catalog.cli import export_catalog as run

    run(path, engine=_engine())


@app.command("import-calendar")
def import_calendar(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help=".csv (date,kind,name) or .json"),
    source: str | None = typer.Option(None, help="the notice, e.g. 国办发明电〔2026〕x号"),
) -> None:
    """Import a year's official holiday schedule (holiday / workday days) as calendar overrides."""
    from cityops.cases.cli import import_calendar_command
    from cityops.errors import DomainError

    try:
        import_calendar_command(path, source=source, engine=_engine())
    except DomainError as exc:  # nothing was written: the import is one transaction
        typer.secho(exc.message, fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


@app.command("create-user")
def create_user(
    username: str = typer.Argument(...),
    role: str = typer.Option(..., help="citizen|inspector|operator|dispatcher|handler|leader|admin"),
    department: str | None = typer.Option(None, help="department code (handlers)"),
    area: str | None = typer.Option(None, help="area code (street staff)"),
    display_name: str = typer.Option("", help="name shown in the app"),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, envvar="CITYOPS_NEW_USER_PASSWORD"
    ),
) -> None:
    """Create a user account."""
    from cityops.accounts.cli import create_user_command

    create_user_command(
        username=username,
        role=role,
        password=password,
        department=department,
        area=area,
        display_name=display_name,
        engine=_engine(),
    )


@app.command("list-departments")
def list_departments(
    all_: bool = typer.Option(False, "--all", help="include departments that are switched off"),
) -> None:
    """List the departments (code, kind, name); in demo mode `handler-<code>` signs in as each."""
    from cityops.accounts import service as accounts
    from cityops.db import make_sessionmaker, unit_of_work

    with unit_of_work(make_sessionmaker(_engine())) as session:
        rows = accounts.list_departments(session, active=None if all_ else True)
        demo = get_settings().demo_mode
        for d in rows:
            account = f"  handler-{d.code}" if demo else ""
            typer.echo(f"{d.code}\t{d.kind}\t{d.name}{'' if d.active else '（停用 / off）'}{account}")
    if not rows:
        typer.echo("还没有处置单位 / no departments yet (cityops demo, or POST /api/v1/departments)")


def _mount_triage() -> None:
    try:
        from cityops.triage.cli import app as triage_app
    except ModuleNotFoundError as exc:  # only while the triage capability is absent from a checkout
        if exc.name and exc.name.startswith("cityops.triage"):
            return
        raise
    app.add_typer(triage_app, name="triage", help="文本分类与分派 / text classification and routing")


_mount_triage()


@app.command()
def simulate(
    url: str = typer.Option("http://127.0.0.1:8000", help="the demo server (camera alarms go here)"),
    mqtt: str = typer.Option("mqtt://127.0.0.1:1883", help="the MQTT broker (telemetry goes here)"),
    seconds: float = typer.Option(600, help="how long to run"),
    interval: float = typer.Option(2.0, help="seconds between telemetry rounds"),
) -> None:
    """Publish realistic demo telemetry (water level, manhole tilt, smoke, air, noise, elevators)
    and the demo camera's signed alarms, so the demo is alive."""
    from cityops.intake.simulate import run

    sent = run(base_url=url, mqtt_url=mqtt, seconds=seconds, interval=interval, echo=typer.echo)
    typer.echo(json.dumps(sent))


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


if __name__ == "__main__":
    main()

"""Every `cityops` command, end to end, on temporary SQLite databases.

Commands read their settings from ``CITYOPS_*`` variables through the lru_cached
``get_settings``; ``Cli.run`` sets the variables for one invocation and clears the cache before
and after it. ``serve`` is also started once as a real process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from cityops.accounts.models import User
from cityops.areas import service as areas
from cityops.areas.models import Area
from cityops.cases import calendar, external
from cityops.catalog.models import Category
from cityops.cli import app
from cityops.config import get_settings
from cityops.db import make_engine, make_sessionmaker
from cityops.kit.coords import gcj02_to_wgs84

GOOD_SECRET = "a-test-secret-of-enough-length-42"


class Cli:
    """Runs `cityops` in-process against one SQLite file with a clean ``CITYOPS_*`` environment."""

    def __init__(self, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.url = f"sqlite:///{db_path}"
        for key in list(os.environ):
            if key.startswith("CITYOPS_") and key not in ("CITYOPS_TEST_DATABASE_URL", "CITYOPS_SHARED_DATA"):
                monkeypatch.delenv(key)
        # Passed on every run, so two of these can be used in one test.
        self.env = {
            "CITYOPS_DATABASE_URL": self.url,
            "CITYOPS_STORAGE_DIR": str(db_path.parent / "files"),
            "CITYOPS_WORKER_IN_PROCESS": "false",
        }
        self._engines: list[Engine] = []

    def run(self, *args: str, input: str | None = None, **env: str) -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args), input=input, env={**self.env, **env})
        finally:
            get_settings.cache_clear()

    def engine(self) -> Engine:
        engine = make_engine(self.url)
        self._engines.append(engine)
        return engine

    def count(self, model: type, *where: object) -> int:
        with make_sessionmaker(self.engine())() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()
        get_settings.cache_clear()
        areas.invalidate_index(None)
        external.clear_cache()
        calendar.invalidate()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    runner = Cli(tmp_path / "cli.db", monkeypatch)
    yield runner
    runner.close()


@pytest.fixture
def migrated(cli: Cli) -> Cli:
    result = cli.run("migrate")
    assert result.exit_code == 0, result.output
    return cli


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, Result]]:
    """One database with the demo (200 cases) loaded by `cityops demo`, shared by this module."""
    with pytest.MonkeyPatch.context() as mp:
        runner = Cli(tmp_path_factory.mktemp("demo") / "demo.db", mp)
        result = runner.run("demo", "--cases", "200", CITYOPS_DEMO_MODE="true")
        yield runner, result
        runner.close()


# --- help and mounting -------------------------------------------------------------------------


def test_help_lists_every_command(cli: Cli) -> None:
    result = cli.run("--help")
    assert result.exit_code == 0, result.output
    for command in (
        "migrate",
        "serve",
        "worker",
        "demo",
        "import-areas",
        "import-catalog",
        "export-catalog",
        "create-user",
        "triage",
    ):
        assert command in result.output


def test_triage_is_mounted(cli: Cli) -> None:
    result = cli.run("triage", "--help")
    assert result.exit_code == 0, result.output
    assert "train" in result.output and "predict" in result.output


# --- migrate -----------------------------------------------------------------------------------


def test_migrate_twice_is_idempotent(cli: Cli) -> None:
    from cityops.migrate import is_current

    first = cli.run("migrate")
    assert first.exit_code == 0, first.output
    assert "database migrated" in first.output
    second = cli.run("migrate")
    assert second.exit_code == 0, second.output
    assert is_current(cli.engine())


# --- demo --------------------------------------------------------------------------------------


def test_demo_loads_in_demo_mode(demo_db: tuple[Cli, Result]) -> None:
    cli, result = demo_db
    assert result.exit_code == 0, result.output
    assert "cases_added: 200" in result.output
    assert "status: loaded" in result.output
    assert cli.count(User, User.is_demo.is_(True)) > 0
    assert cli.count(Area, Area.level == "street") == 18


def test_demo_again_is_a_no_op(demo_db: tuple[Cli, Result]) -> None:
    cli, _ = demo_db
    result = cli.run("demo", "--cases", "200", CITYOPS_DEMO_MODE="true")
    assert result.exit_code == 0, result.output
    assert "already loaded" in result.output


def test_demo_refused_outside_demo_mode(cli: Cli) -> None:
    result = cli.run("demo", "--cases", "10")
    assert result.exit_code == 2
    assert "CITYOPS_DEMO_MODE=true" in result.output
    assert "演示模式" in result.output
    assert not Path(cli.url.removeprefix("sqlite:///")).exists()  # refused before touching the database


# --- import-areas ------------------------------------------------------------------------------


def _square(lon: float, lat: float, size: float) -> list[list[list[float]]]:
    return [[[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]]


def _collection(*features: tuple[str, str, list[list[list[float]]]], **props: str) -> dict[str, object]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": code, "name": name, **props},
                "geometry": {"type": "Polygon", "coordinates": ring},
            }
            for code, name, ring in features
        ],
    }


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_areas_street_gcj02_and_grid_wgs84(migrated: Cli, tmp_path: Path) -> None:
    cli = migrated
    district = _write(
        tmp_path / "district.geojson", _collection(("330105", "拱墅区", _square(120.10, 30.28, 0.1)))
    )
    gcj_ring = _square(120.12, 30.30, 0.02)
    streets = _write(tmp_path / "streets.geojson", _collection(("330105001", "测试街道", gcj_ring)))
    community = _write(
        tmp_path / "community.geojson",
        _collection(("330105001001", "测试社区", _square(120.121, 30.301, 0.01))),
    )
    grids = _write(
        tmp_path / "grids.geojson",
        _collection(
            ("330105001001001", "网格一", _square(120.122, 30.302, 0.002)),
            ("330105001001002", "网格二", _square(120.125, 30.302, 0.002)),
            grade="A",
        ),
    )

    for path, extra in (
        (district, ["--level", "district"]),
        (streets, ["--level", "street", "--crs", "gcj02"]),
        (community, ["--level", "community", "--crs", "wgs84"]),
        (grids, ["--level", "grid"]),
    ):
        result = cli.run("import-areas", str(path), *extra)
        assert result.exit_code == 0, result.output
    assert "created 2" in result.output

    with make_sessionmaker(cli.engine())() as session:
        street = areas.get_area(session, "330105001")
        grid = areas.get_area(session, "330105001001002")
        assert grid.level == "grid" and grid.grade == "A" and grid.parent_code == "330105001001"
    # GCJ-02 is converted: the stored street lies where the converted corner says, not the input.
    corner_lon, corner_lat = gcj02_to_wgs84(120.12, 30.30)
    stored = json.loads(street.geometry)
    nearest = min(stored["coordinates"][0], key=lambda p: (p[0] - corner_lon) ** 2 + (p[1] - corner_lat) ** 2)
    assert nearest == [pytest.approx(corner_lon, abs=1e-6), pytest.approx(corner_lat, abs=1e-6)]
    assert abs(corner_lon - 120.12) > 1e-3  # GCJ-02 is offset by a few hundred metres here

    # Importing the same file again updates instead of duplicating.
    again = cli.run("import-areas", str(grids), "--level", "grid")
    assert again.exit_code == 0, again.output
    assert "updated 2" in again.output
    assert cli.count(Area) == 5


def test_import_areas_bad_file_writes_nothing(migrated: Cli, tmp_path: Path) -> None:
    cli = migrated
    # The first feature is fine, the second's code is not a district code: the file is refused.
    bad = _write(
        tmp_path / "bad.geojson",
        _collection(
            ("330105", "拱墅区", _square(120.1, 30.28, 0.1)),
            ("33010500100100", "坏网格", _square(120.1, 30.3, 0.01)),
        ),
    )
    result = cli.run("import-areas", str(bad))  # the level comes from each feature ...
    assert result.exit_code != 0
    assert "level" in result.output  # ... and neither has one
    result = cli.run("import-areas", str(bad), "--level", "district")
    assert result.exit_code == 1
    assert "feature #2" in result.output and "6 digits" in result.output
    assert "Traceback" not in result.output
    assert cli.count(Area) == 0

    not_json = tmp_path / "broken.geojson"
    not_json.write_text("{not json", encoding="utf-8")
    result = cli.run("import-areas", str(not_json), "--level", "grid")
    assert result.exit_code == 2
    assert "cannot read GeoJSON" in result.output

    wrong_crs = cli.run("import-areas", str(bad), "--level", "district", "--crs", "bd09")
    assert wrong_crs.exit_code == 1 and "gcj02" in wrong_crs.output

    missing = cli.run("import-areas", str(tmp_path / "nope.geojson"), "--level", "grid")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert cli.count(Area) == 0


# --- export-catalog / import-catalog -----------------------------------------------------------


def _sheets(path: Path) -> dict[str, list[tuple[object, ...]]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: sorted(ws.iter_rows(values_only=True), key=repr) for ws in book.worksheets}
    finally:
        book.close()


def test_catalog_export_import_round_trip(demo_db: tuple[Cli, Result], tmp_path: Path) -> None:
    cli, _ = demo_db
    first = tmp_path / "out" / "catalog.xlsx"
    result = cli.run("export-catalog", str(first))
    assert result.exit_code == 0, result.output
    assert first.stat().st_size > 0

    result = cli.run("import-catalog", str(first))
    assert result.exit_code == 0, result.output
    assert "categories 403" in result.output and "responsibilities" in result.output
    assert cli.count(Category) == 403

    second = tmp_path / "again.xlsx"
    assert cli.run("export-catalog", str(second)).exit_code == 0
    assert _sheets(first) == _sheets(second)


def test_import_catalog_refuses_a_bad_workbook(
    migrated: Cli, demo_db: tuple[Cli, Result], tmp_path: Path
) -> None:
    # The demo's workbook names departments this empty database does not have: every bad row is
    # listed with its sheet and row, and nothing is written.
    exported = tmp_path / "demo-catalog.xlsx"
    assert demo_db[0].run("export-catalog", str(exported)).exit_code == 0
    result = migrated.run("import-catalog", str(exported))
    assert result.exit_code == 1
    assert "nothing was imported" in result.output and "权责清单 第 2 行" in result.output
    assert migrated.count(Category) == 0

    garbage = tmp_path / "garbage.xlsx"
    garbage.write_bytes(b"not a workbook")
    result = migrated.run("import-catalog", str(garbage))
    assert result.exit_code == 1 and "Traceback" not in result.output
    text = tmp_path / "catalog.txt"
    text.write_text("x", encoding="utf-8")
    result = migrated.run("import-catalog", str(text))
    assert result.exit_code == 2 and ".xlsx" in result.output


# --- create-user -------------------------------------------------------------------------------


def test_create_user_with_password_from_env(migrated: Cli) -> None:
    result = migrated.run(
        "create-user",
        "ops1",
        "--role",
        "operator",
        "--display-name",
        "值班员",
        CITYOPS_NEW_USER_PASSWORD="a-long-password",
    )
    assert result.exit_code == 0, result.output
    assert "user created: ops1 (operator)" in result.output
    assert "a-long-password" not in result.output
    with make_sessionmaker(migrated.engine())() as session:
        user = session.scalars(select(User).where(User.username == "ops1")).one()
    assert user.role == "operator" and user.display_name == "值班员" and not user.is_demo
    assert user.password_hash.startswith("$argon2")


def test_create_user_prompts_when_no_env(migrated: Cli) -> None:
    result = migrated.run(
        "create-user", "ops2", "--role", "leader", input="another-password\nanother-password\n"
    )
    assert result.exit_code == 0, result.output
    assert "another-password" not in result.output
    assert migrated.count(User, User.username == "ops2") == 1


def test_create_user_bad_role_and_short_password(migrated: Cli) -> None:
    bad_role = migrated.run(
        "create-user", "x1", "--role", "boss", CITYOPS_NEW_USER_PASSWORD="a-long-password"
    )
    assert bad_role.exit_code == 1
    assert "Unknown role 'boss'" in bad_role.output and "未知角色" in bad_role.output
    short = migrated.run("create-user", "x2", "--role", "operator", CITYOPS_NEW_USER_PASSWORD="short")
    assert short.exit_code == 1 and "8 characters" in short.output
    assert migrated.count(User) == 0


# --- worker ------------------------------------------------------------------------------------


def test_worker_once_runs_every_job(demo_db: tuple[Cli, Result]) -> None:
    cli, _ = demo_db
    result = cli.run("worker", "--once")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert set(report) == {
        "outbox",
        "sla_sweep",
        "surge_sweep",
        "search_index",
        "intake_windows",
        "intake_sensors",
        "intake_retention",
        "evaluation",
        "indicators",
        "deadline_risk",
        "risk_scores",
        "cockpit_hot_issues",
    }
    assert "failed" not in report.values()


def test_worker_once_fails_on_an_unmigrated_database(cli: Cli) -> None:
    result = cli.run("worker", "--once")
    assert result.exit_code == 1
    report = json.loads(result.output.strip().splitlines()[-1])
    assert set(report.values()) == {"failed"}


# --- serve -------------------------------------------------------------------------------------


def test_serve_refuses_the_default_secret_outside_demo_mode(migrated: Cli) -> None:
    result = migrated.run("serve", "--port", "1")
    assert result.exit_code == 2
    assert "CITYOPS_SECRET_KEY" in result.output
    short = migrated.run("serve", "--port", "1", CITYOPS_SECRET_KEY="too-short")
    assert short.exit_code == 2 and "CITYOPS_SECRET_KEY" in short.output


def test_serve_refuses_demo_accounts_outside_demo_mode(demo_db: tuple[Cli, Result]) -> None:
    cli, _ = demo_db
    result = cli.run("serve", "--port", "1", CITYOPS_SECRET_KEY=GOOD_SECRET)
    assert result.exit_code == 2
    assert "demo account" in result.output and "CITYOPS_DEMO_MODE" in result.output


def test_serve_accepts_deactivated_demo_accounts(migrated: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # With a real secret and no active demo account the checks pass and uvicorn is started.
    migrated.run(
        "create-user", "demo-like", "--role", "operator", CITYOPS_NEW_USER_PASSWORD="a-long-password"
    )
    engine = migrated.engine()
    with engine.begin() as conn:
        conn.execute(update(User).values(is_demo=True, active=False))
    started: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.run", lambda target, **kw: started.update(target=target, **kw))
    result = migrated.run("serve", "--port", "8123", CITYOPS_SECRET_KEY=GOOD_SECRET)
    assert result.exit_code == 0, result.output
    assert started["target"] == "cityops.web.app:create_app" and started["factory"] is True
    assert started["port"] == 8123


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_as_a_real_process_in_demo_mode(demo_db: tuple[Cli, Result], tmp_path: Path) -> None:
    cli, _ = demo_db
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "serve", "--port", str(port)],
        env=_serve_env(cli, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        # Generous: on a busy two-core machine starting the server has taken over 30 s.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                time.sleep(0.2)
        assert body is not None, proc.stdout.read() if proc.poll() is not None else "not ready in 180 s"
        ready = {k: body.get(k) for k in ("status", "database")}
        assert ready == {"status": "ready", "database": "sqlite"}, proc.stdout.read() if proc.poll() else body
        assert isinstance(body["warnings"], list)  # calendar years not known (issue 8 item 20)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve_env(cli: Cli, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
    env.update(
        CITYOPS_DATABASE_URL=cli.url,
        CITYOPS_DEMO_MODE="true",
        CITYOPS_WORKER_IN_PROCESS="false",
        CITYOPS_STORAGE_DIR=str(tmp_path / "files"),
        CITYOPS_LOG_LEVEL="WARNING",
    )
    return env


@pytest.mark.parametrize("how", ["SIGTERM to the parent", "Ctrl-C to the process group"])
def test_serve_with_workers_runs_a_process_per_socket_and_stops_on_a_signal(
    demo_db: tuple[Cli, Result], tmp_path: Path, how: str
) -> None:
    """`--workers 2`: two server processes share the port (SO_REUSEPORT); a signal stops them all."""
    import signal

    cli, _ = demo_db
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "serve", "--port", str(port), "--workers", "2"],
        env=_serve_env(cli, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a shell job
    )
    try:
        answers = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and answers < 20 and proc.poll() is None:
            try:  # a new connection each time, so the kernel may pick either process
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    answers += response.status == 200
            except OSError:
                time.sleep(0.2)
        assert answers == 20, proc.stdout.read() if proc.poll() is not None else answers
        pgrep = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        children = pgrep.stdout.split()
        listening = [pid for pid in children if _listens(int(pid), port)]
        assert len(listening) == 2, (children, listening)
    finally:
        if how.startswith("SIGTERM"):
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0
    for pid in listening:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on ``port`` (from /proc, Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                return True
    return False


def test_serve_with_workers_refuses_a_busy_port(demo_db: tuple[Cli, Result], tmp_path: Path) -> None:
    cli, _ = demo_db
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "cityops.cli", "serve", "--port", str(port), "--workers", "2"],
            env=_serve_env(cli, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr + done.stdout


def test_list_departments_names_the_demo_handler_accounts(demo_db: tuple[Cli, Result]) -> None:
    runner, loaded = demo_db
    assert loaded.exit_code == 0, loaded.output
    result = runner.run("list-departments", CITYOPS_DEMO_MODE="true")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) >= 40
    _code, kind, name, *_ = lines[0].split("\t")
    assert kind in ("department", "street", "utility") and name
    assert all(line.rstrip().endswith(f"handler-{line.split(chr(9))[0]}") for line in lines)
    assert any(line.startswith("GS-CGJ\t") for line in lines)
    plain = runner.run("list-departments")  # outside demo mode: no demo accounts to name
    assert plain.exit_code == 0 and "handler-" not in plain.output

"""A small demo load (500 cases) on a fresh, migrated SQLite database, checked end to end."""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tests.conftest import BACKENDS, new_database

from cityops.accounts import service as accounts
from cityops.accounts.models import Department, User
from cityops.areas import service as areas
from cityops.cases import clock
from cityops.cases.calendar import working_calendar
from cityops.cases.codes import next_code
from cityops.cases.models import Case, CaseLog
from cityops.catalog import service as catalog
from cityops.config import Settings
from cityops.db import make_sessionmaker
from cityops.demo import departments as depts
from cityops.demo.loader import load_demo
from cityops.errors import Unauthorized
from cityops.kit.workcal import LOCAL_TZ

NOW = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
N = 500
DEMO = Settings(demo_mode=True)
CODE = re.compile(r"^GS(\d{8})-(\d{5})$")


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A fresh migrated database per backend (SQLite; PostgreSQL too when configured)."""
    eng, cleanup = new_database(request.param, tmp_path_factory.mktemp("demo"), "demo")
    yield eng
    areas.invalidate_index(eng)
    cleanup()


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> dict[str, Any]:
    return load_demo(engine, DEMO, n_cases=N, seed=7, progress=False, now=NOW)


@pytest.fixture()
def session(engine: Engine, loaded: dict[str, Any]) -> Iterator[Session]:
    s = make_sessionmaker(engine)()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


def test_summary(loaded: dict[str, Any]) -> None:
    assert loaded["status"] == "loaded"
    assert loaded["cases"] == N
    assert loaded["streets"] == 18
    assert loaded["grids"] >= 1000
    assert loaded["categories"] == 403


def test_departments_and_street_offices(session: Session) -> None:
    rows = catalog.list_departments(session)
    district = [d for d in rows if d.code.startswith(depts.PREFIX) and d.kind != "street"]
    offices = [d for d in rows if d.kind == "street"]
    assert 38 <= len(district) <= 45
    assert len(offices) == 18
    streets = {a.code for a in areas.list_areas(session, level="street")}
    assert {d.area_code for d in offices} == streets
    assert all(d.name.endswith("街道办事处") for d in offices)


def test_every_category_has_a_district_department(session: Session) -> None:
    cats, total = catalog.list_categories(session, limit=1000)
    assert total == 403
    known = {d.code for d in catalog.list_departments(session)}
    for c in cats:
        dept = catalog.responsible_department(session, c.code, ["330105"])
        assert dept in known, c.code


def test_street_matters_go_to_the_street_office(session: Session) -> None:
    grid = areas.list_areas(session, level="grid")[0]
    community = areas.get_area(session, grid.parent_code or "")
    street = community.parent_code or ""
    chain = [grid.code, community.code, street, "330105"]
    office = depts.street_office_code(street)
    assert catalog.responsible_department(session, "09006", chain) == office  # 占道经营
    assert catalog.responsible_department(session, "06013", chain) == "GS-SZZX"  # 道路破损


@pytest.mark.parametrize(
    "username",
    [
        "operator",
        "dispatcher",
        "inspector",
        "leader",
        "admin",
        "handler-GS-CGJ",
        "handler-GS-JD005",
        "citizen1",
        "street-330105005",
    ],
)
def test_demo_accounts_sign_in_with_demo(session: Session, username: str) -> None:
    user = accounts.authenticate(session, username, "demo", DEMO)
    assert user.is_demo
    with pytest.raises(Unauthorized) as info:
        accounts.authenticate(session, username, "demo", Settings(demo_mode=False))
    assert info.value.code == "demo_account_disabled"


def test_every_department_has_a_handler(session: Session) -> None:
    codes = set(session.scalars(select(Department.code)))
    handlers = set(session.scalars(select(User.department_code).where(User.role == "handler")))
    assert codes <= handlers


def _cases(session: Session) -> list[Case]:
    return list(session.scalars(select(Case).order_by(Case.code)))


def test_codes_unique_well_formed_and_daily(session: Session) -> None:
    cases = _cases(session)
    assert len({c.code for c in cases}) == len(cases) == N
    by_day: dict[str, list[int]] = defaultdict(list)
    for c in cases:
        m = CODE.match(c.code)
        assert m, c.code
        assert m.group(1) == c.created_at.astimezone(LOCAL_TZ).strftime("%Y%m%d")
        by_day[m.group(1)].append(int(m.group(2)))
    for numbers in by_day.values():
        assert sorted(numbers) == list(range(1, len(numbers) + 1))
    # Live creation continues after the generated numbers of the day.
    last_day = max(by_day)
    live = next_code(session, datetime.strptime(last_day + "12", "%Y%m%d%H").replace(tzinfo=LOCAL_TZ))
    assert int(live.split("-")[1]) == len(by_day[last_day]) + 1


def test_state_is_the_projection_of_the_log(session: Session) -> None:
    logs: dict[Any, list[CaseLog]] = defaultdict(list)
    for row in session.scalars(select(CaseLog).order_by(CaseLog.case_id, CaseLog.seq)):
        logs[row.case_id].append(row)
    for c in _cases(session):
        rows = logs[c.id]
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1)) and c.last_seq == len(rows)
        assert rows[0].action == "create" and rows[0].from_state is None and rows[0].at == c.created_at
        assert rows[-1].to_state == c.state, c.code
        for a, b in itertools.pairwise(rows):
            assert b.from_state == a.to_state and b.at >= a.at, c.code
        assert all(r.at <= NOW for r in rows)
        if c.state == "closed":
            assert c.closed_at and c.verified_at and c.handled_at and c.dispatched_at and c.filed_at


def test_points_locate_to_their_grid(session: Session) -> None:
    for c in _cases(session):
        loc = areas.locate(session, c.lon, c.lat)
        assert (loc.grid_code, loc.community_code, loc.street_code, loc.grade) == (
            c.grid_code,
            c.community_code,
            c.street_code,
            c.grade,
        ), c.code


def test_departments_and_deadlines_follow_catalog_and_clock(session: Session) -> None:
    cal = working_calendar(session)
    checked = 0
    for c in _cases(session):
        # A rework has a deadline of its own, from the failed verification (issue 8 item 15).
        skip = c.returned_count or c.extensions_granted or c.paused_seconds or c.rework_count
        if c.dispatched_at is None or skip:
            continue
        chain = [c.grid_code or "", c.community_code or "", c.street_code or "", "330105"]
        assert c.department_code == catalog.responsible_department(session, c.category_code, chain)
        kind, value = catalog.time_limit_for(session, c.category_code, c.grade)
        if c.state != "parked":
            limit = clock.TimeLimit(kind, value)  # type: ignore[arg-type]
            assert c.deadline == clock.deadline(c.dispatched_at, limit, cal), c.code
        checked += 1
    assert checked > N * 0.8


def test_a_realistic_mix(session: Session) -> None:
    cases = _cases(session)
    sources = Counter(c.source for c in cases)
    assert sources["inspector"] > 0.45 * N and sources["hotline"] > 0.15 * N
    old = [c for c in cases if c.created_at < NOW - timedelta(days=60)]
    assert sum(c.state == "closed" for c in old) / len(old) > 0.8
    handled = [c for c in cases if c.handled_at and c.deadline]
    on_time = sum(c.handled_at <= c.deadline for c in handled) / len(handled)  # type: ignore[operator]
    assert 0.8 < on_time < 0.97
    assert all(c.description and c.address for c in cases)
    phones = [c.reporter_phone for c in cases if c.reporter_phone]
    assert phones and all(re.fullmatch(r"1380000\d{4}", p) for p in phones)


def test_second_load_is_a_quick_no_op(engine: Engine, loaded: dict[str, Any]) -> None:
    from sqlalchemy import event

    writes: list[str] = []

    def count_writes(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement[:60])

    event.listen(engine, "before_cursor_execute", count_writes)
    try:
        again = load_demo(engine, DEMO, n_cases=N, seed=7, progress=False, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count_writes)
    assert again["status"] == "already loaded"
    assert writes == []  # a no-op: nothing is written a second time (not a timing check)
    assert again["cases"] == N and again["demo_accounts"] == loaded["demo_accounts"]


def test_reset_reloads_the_same_demo(engine: Engine, loaded: dict[str, Any]) -> None:
    with make_sessionmaker(engine)() as s:
        before = {(c.code, c.description, c.state) for c in _cases(s)}
    again = load_demo(engine, DEMO, reset=True, n_cases=N, seed=7, progress=False, now=NOW)
    assert again["status"] == "reloaded"
    assert again["removed_cases"] == N and again["cases"] == N
    with make_sessionmaker(engine)() as s:
        assert {(c.code, c.description, c.state) for c in _cases(s)} == before
        assert (
            s.scalar(select(func.count()).select_from(User).where(User.is_demo.is_(True)))
            == (loaded["demo_accounts"])
        )

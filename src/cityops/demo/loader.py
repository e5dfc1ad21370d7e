"""Load the Gongshu demo: areas, catalog, departments, responsibility list, accounts, a year of cases.

Each step is its own transaction and skips what is already there, so an interrupted load can
simply be run again. A database that already holds the demo (its accounts and its generated
cases) returns at once; ``reset=True`` first deletes the demo rows (generated cases and cases
made by demo accounts, demo accounts, demo departments and their responsibility rows) and then
loads again. Areas and the category directory are reference data and stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from cityops.accounts import passwords
from cityops.accounts import service as accounts
from cityops.accounts.models import Department, User
from cityops.areas import service as areas
from cityops.areas.models import Area
from cityops.cases.models import Case, CaseLog, CaseSearchDoc, CaseSearchTerm, CaseTask, Supervision
from cityops.catalog import service as catalog
from cityops.catalog.models import Category, Responsibility
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.demo import departments as depts
from cityops.demo import people
from cityops.demo.casedata import generate_cases
from cityops.demo.timeline import KEY_PREFIX

Summary = dict[str, int | float | str]
Tick = Callable[..., None]  # tick(done) or tick(done, total)
Step = Callable[[str, int], Tick]


@contextmanager
def _progress(enabled: bool) -> Iterator[Step]:
    """A rich progress bar with one line per step (or a silent stand-in)."""
    if not enabled:
        yield lambda _label, _total: lambda *_args: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    ) as bar:

        def step(label: str, total: int) -> Tick:
            task = bar.add_task(label, total=max(total, 1))

            def tick(done: int, new_total: int | None = None) -> None:
                bar.update(task, completed=done, total=new_total or None)

            return tick

        yield step


def _is_loaded(session: Session, n_cases: int) -> bool:
    has_accounts = session.scalar(
        select(func.count()).select_from(User).where(User.is_demo.is_(True), User.username == "admin")
    )
    if not has_accounts:
        return False
    if n_cases == 0:
        return True
    return _has_demo_cases(session)


def _has_demo_cases(session: Session) -> bool:
    first = select(Case.id).where(Case.idempotency_key.like(f"{KEY_PREFIX}%")).limit(1)
    return session.scalar(first) is not None


def _streets(session: Session) -> list[tuple[str, str]]:
    return [(a.code, a.name) for a in areas.list_areas(session, level="street")]


def _district(session: Session, settings: Settings) -> str:
    found = areas.list_areas(session, level="district")
    codes = [a.code for a in found]
    return settings.district_code if settings.district_code in codes or not codes else codes[0]


def load_areas(session: Session, tick: Tick) -> int:
    """The shipped Gongshu tree, unless grids are already there (an administrator's import)."""
    if session.scalar(select(func.count()).select_from(Area).where(Area.level == "grid")):
        return 0
    return areas.load_demo_areas(session, progress=tick)


def load_departments(session: Session, settings: Settings) -> tuple[int, int]:
    """Missing demo departments and responsibility rows; returns (departments, rows) added."""
    streets = _streets(session)
    existing = {d.code for d in catalog.list_departments(session)}
    added = 0
    for dept in depts.all_departments(streets):
        if dept.code not in existing:
            street = next((c for c, _ in streets if depts.street_office_code(c) == dept.code), None)
            catalog.create_department(
                session, code=dept.code, name=dept.name, kind=dept.kind, area_code=street, phone=dept.phone
            )
            added += 1
    cats, _ = catalog.list_categories(session, limit=100_000)
    wanted = depts.responsibility_rows(
        [(c.code, c.kind, c.major_code, c.name) for c in cats],
        _district(session, settings),
        [c for c, _ in streets],
    )
    rows, _ = catalog.list_responsibilities(session, limit=1_000_000)
    have = {(r.category_code, r.area_code) for r in rows}
    missing = [row for row in wanted if (row[0], row[1]) not in have]
    if missing:
        catalog.upsert_responsibilities(session, missing)
    return added, len(missing)


def load_accounts(session: Session) -> int:
    """The demo accounts that are missing, all with the password "demo" hashed once."""
    departments = [
        (d.code, d.name) for d in catalog.list_departments(session) if d.code.startswith(depts.PREFIX)
    ]
    rows = people.account_rows(departments, _streets(session))
    names = [r["username"] for r in rows]
    have = set(session.scalars(select(User.username).where(User.username.in_(names))))
    missing = [r for r in rows if r["username"] not in have]
    if missing:
        accounts.create_users_bulk(session, missing, passwords.hash_password(people.DEMO_PASSWORD))
    return len(missing)


def _demo_case_ids(session: Session) -> list[Any]:
    demo_users = select(User.id).where(User.is_demo.is_(True))
    return list(
        session.scalars(
            select(Case.id).where(
                or_(Case.idempotency_key.like(f"{KEY_PREFIX}%"), Case.created_by_id.in_(demo_users))
            )
        )
    )


def delete_demo(session: Session) -> dict[str, int]:
    """Delete the demo rows (see the module docstring); returns what was removed."""
    ids = _demo_case_ids(session)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for table in (CaseLog, CaseTask, Supervision, CaseSearchTerm, CaseSearchDoc):
            session.execute(delete(table).where(table.case_id.in_(chunk)))
        session.execute(delete(Case).where(Case.id.in_(chunk)))
    codes = [c for c in session.scalars(select(Department.code)) if c.startswith(depts.PREFIX)]
    session.execute(delete(Responsibility).where(Responsibility.department_code.in_(codes)))
    users = len(session.scalars(select(User.id).where(User.is_demo.is_(True))).all())
    session.execute(delete(User).where(User.is_demo.is_(True)))
    still_used = set(session.scalars(select(User.department_code).where(User.department_code.in_(codes))))
    removable = [c for c in codes if c not in still_used]
    session.execute(delete(Department).where(Department.code.in_(removable)))
    # A department a real account still belongs to stays, switched off.
    session.execute(update(Department).where(Department.code.in_(still_used)).values(active=False))
    session.flush()
    return {"cases": len(ids), "users": users, "departments": len(removable)}


def _counts(session: Session) -> dict[str, int]:
    def count(model: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    return {
        "streets": count(Area, Area.level == "street"),
        "grids": count(Area, Area.level == "grid"),
        "categories": count(Category),
        "departments": count(Department, Department.code.like(f"{depts.PREFIX}%")),
        "responsibility_rows": count(Responsibility),
        "demo_accounts": count(User, User.is_demo.is_(True)),
        "cases": count(Case, Case.idempotency_key.like(f"{KEY_PREFIX}%")),
    }


def load_evaluation_and_indicators(
    session: Session, settings: Settings, now: datetime, seed: int, n_cases: int = 20_000
) -> Summary:
    """The evaluation summary of the generated cases, the indicator catalog and a year of history."""
    from cityops.demo import indicators
    from cityops.evaluation.tasks import rebuild_evaluation

    built = rebuild_evaluation(session, now)
    made = indicators.load(session, _district(session, settings), now, seed, n_cases)
    return {"evaluation_facts": int(built.get("facts", 0)), **{f"{k}_added": v for k, v in made.items()}}


def load_demo(
    engine: Engine,
    settings: Settings,
    *,
    reset: bool = False,
    n_cases: int = 20000,
    seed: int = 20261126,
    progress: bool = True,
    now: datetime | None = None,
) -> Summary:
    """Load the Gongshu demo into ``engine``'s database (already migrated); returns a summary.

    Deterministic for a given ``seed`` and ``now`` (default: the current time; the cases cover
    the twelve months before it).
    """
    started = time.perf_counter()
    factory = make_sessionmaker(engine)
    now = now or utcnow()
    summary: Summary = {}
    if reset:
        with unit_of_work(factory) as session:
            removed = delete_demo(session)
        summary.update({f"removed_{k}": v for k, v in removed.items()})
    else:
        with unit_of_work(factory) as session:
            if _is_loaded(session, n_cases):
                return {
                    "status": "already loaded",
                    **_counts(session),
                    "seconds": round(time.perf_counter() - started, 2),
                }
    with _progress(progress) as step:
        with unit_of_work(factory) as session:
            summary["areas_added"] = load_areas(session, step("区域 areas", 1600))
        with unit_of_work(factory) as session:
            tick = step("类别目录 catalog", 1)
            summary["categories_added"] = catalog.load_directory(session)
            tick(1)
        with unit_of_work(factory) as session:
            tick = step("处置单位 departments", 1)
            added, rows = load_departments(session, settings)
            summary.update(departments_added=added, responsibility_added=rows)
            tick(1)
        with unit_of_work(factory) as session:
            from cityops.intake.demo import load_demo_intake

            tick = step("城市眼与感知设备 intake", 1)
            summary.update({f"intake_{k}": v for k, v in load_demo_intake(session).items()})
            tick(1)
        with unit_of_work(factory) as session:
            tick = step("演示账号 accounts", 1)
            summary["accounts_added"] = load_accounts(session)
            tick(1)
        with unit_of_work(factory) as session:
            if n_cases > 0 and not _has_demo_cases(session):
                district = _district(session, settings)
                made = generate_cases(
                    session,
                    n=n_cases,
                    seed=seed,
                    now=now,
                    district=district,
                    prefix=settings.case_code_prefix,
                    tick=step("历史案件 cases", n_cases),
                )
                summary.update({f"{k}_added": v for k, v in made.items()})
        with unit_of_work(factory) as session:
            # The full-text index of the generated descriptions (the worker keeps it current).
            from cityops.cases.search import index_pending

            summary["search_indexed"] = index_pending(session, max_batches=10_000)
        if n_cases > 0:
            with unit_of_work(factory) as session:
                tick = step("考核与指标 evaluation", 1)
                summary.update(load_evaluation_and_indicators(session, settings, now, seed, n_cases))
                tick(1)
    with unit_of_work(factory) as session:
        summary.update(_counts(session))
    summary["status"] = "reloaded" if reset else "loaded"
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary

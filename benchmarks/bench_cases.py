"""Case creation and full-lifecycle throughput through the service layer, SQLite and PostgreSQL.

Baseline (same run, same engine): one transaction that inserts one row with SQLAlchemy Core,
the floor under any operation that writes.

    .venv/bin/python benchmarks/bench_cases.py [--n 2000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import each_backend, emit, fresh_database
from sqlalchemy import insert, select
from world import CATEGORY, build_world

from cityops.accounts.models import User
from cityops.accounts.principal import Principal
from cityops.accounts.service import principal_for
from cityops.cases import service
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.outbox.models import OutboxMessage

STEPS = [
    ("file", "dispatcher", {}),
    ("dispatch", "dispatcher", {}),
    ("accept", "handler", {}),
    ("handle", "handler", {"note": "已清理完毕"}),
    ("verify", "inspector", {"passed": True}),
    ("close", "dispatcher", {}),
]


def principals(factory) -> dict[str, Principal]:  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as session:
        users = {u.username: u for u in session.scalars(select(User))}

    out = {name: principal_for(users[name]) for name in ("dispatcher", "inspector")}
    handlers = (u for name, u in users.items() if name.startswith("handler-"))
    out.update({f"handler-{u.department_code}": principal_for(u) for u in handlers})
    return out


def run(backend: str, n: int) -> None:
    with fresh_database(backend) as url:
        world = build_world(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        people = principals(factory)
        dispatcher = people["dispatcher"]

        start = time.perf_counter()
        for i in range(n):
            with unit_of_work(factory) as session:
                session.execute(
                    insert(OutboxMessage),
                    [{"id": uuid.uuid4(), "topic": "bench", "payload": {"i": i}, "recipients": []}],
                )
        baseline = n / (time.perf_counter() - start)

        ids = []
        start = time.perf_counter()
        for i in range(n):
            lon, lat = world.points[i % len(world.points)]
            with unit_of_work(factory) as session:
                case = service.create_case(
                    session,
                    dispatcher,
                    CaseCreate(
                        description=f"小区门口垃圾堆放 {i}",
                        lon=lon,
                        lat=lat,
                        category_code=CATEGORY,
                        source="inspector",
                    ),
                )
                ids.append((case.id, case.department_code))
        created = n / (time.perf_counter() - start)
        emit(
            f"service_case_create_per_s[{backend}]",
            created,
            "cases/s",
            baseline="one-row insert transactions/s",
            baseline_value=baseline,
            n=n,
        )

        m = max(50, n // 5)
        start = time.perf_counter()
        for case_id, department in ids[:m]:
            for action, role, body in STEPS:
                actor = people[f"handler-{department}"] if role == "handler" else people[role]
                with unit_of_work(factory) as session:
                    service.perform_action(session, actor, case_id, action, ActionInput(**body))
        lifecycles = m / (time.perf_counter() - start)
        emit(
            f"service_full_lifecycle_per_s[{backend}]",
            lifecycles,
            "cases/s (6 transitions each)",
            baseline="one-row insert transactions/s / 6",
            baseline_value=baseline / 6,
            n=m,
        )
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in each_backend(args.backends):
        run(backend, args.n)


if __name__ == "__main__":
    main()

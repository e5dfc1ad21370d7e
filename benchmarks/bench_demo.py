"""How long does the Gongshu demo take to load? One JSON line per figure.

    .venv/bin/python benchmarks/bench_demo.py [n_cases]

Loads the demo (default 20,000 cases) into a fresh, migrated SQLite file. The baseline, measured
in the same run on the same database, plays closed cases through the cases service one by one
(create, file, dispatch, accept, handle, verify, close: what a loader calling the service would
do) and is extrapolated to the same number of cases.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import emit
from sqlalchemy import select

from cityops.accounts.models import User
from cityops.accounts.service import principal_for
from cityops.cases import service as cases
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.migrate import upgrade

BASELINE_CASES = 200


def _service_rate(engine, n: int) -> float:  # type: ignore[no-untyped-def]
    """Closed cases per second through the cases service, one transaction per case."""
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as s:
        users = {u.username: principal_for(u) for u in s.scalars(select(User).where(User.is_demo.is_(True)))}
        sample = s.execute(
            select(cases.Case.lon, cases.Case.lat, cases.Case.category_code, cases.Case.department_code)
            .where(cases.Case.department_code.is_not(None))
            .limit(n)
        ).all()
    started = time.perf_counter()
    for lon, lat, category, department in sample:
        with unit_of_work(factory) as s:
            case = cases.create_case(
                s,
                users["inspector"],
                CaseCreate(
                    description="基准测试案件", lon=lon, lat=lat, category_code=category, source="inspector"
                ),
            )
            steps = [
                ("operator", "file", ActionInput()),
                ("dispatcher", "dispatch", ActionInput(department_code=department)),
                (f"handler-{department}", "accept", ActionInput()),
                (f"handler-{department}", "handle", ActionInput(note="已处置")),
                ("inspector", "verify", ActionInput(passed=True)),
                ("dispatcher", "close", ActionInput()),
            ]
            for who, action, body in steps:
                cases.perform_action(s, users[who], case.id, action, body)
    return len(sample) / (time.perf_counter() - started)


def main(n_cases: int = 20_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'demo.db'}")
        upgrade(engine)
        started = time.perf_counter()
        summary = load_demo(engine, Settings(demo_mode=True), n_cases=n_cases, progress=False)
        seconds = time.perf_counter() - started
        rate = _service_rate(engine, BASELINE_CASES)
        baseline = f"the same cases through cases.service ({rate:.0f}/s)"
        emit(
            "demo load, SQLite",
            seconds,
            "s",
            baseline=baseline,
            baseline_value=n_cases / rate,
            cases=n_cases,
            case_logs=summary.get("case_logs_added"),
        )
        engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)

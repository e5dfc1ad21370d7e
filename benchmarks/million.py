"""A PostgreSQL database of a million cases, built once and kept between benchmark runs.

    .venv/bin/python benchmarks/million.py [--cases 1000000] [--name cityops_bench_million]
    .venv/bin/python benchmarks/million.py --drop            # remove it when done

The demo's areas, catalog, departments and accounts, ``--cases`` generated cases of the year
before the build with their logs and their full-text index (bulk_cases.py, COPY), then the
worker's jobs once: the evaluation summary, the indicator catalog with a year of history, the
indicators, the risk model and the scores. Every step prints one JSON line with its time.
bench_pages.py and bench_cockpit.py take ``--million`` to run against it (building it first when
it is missing); a build that did not finish is detected (no ``bench_built`` marker) and redone.
The build takes 20–40 minutes on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulk_cases import write_cases
from common import PG_URL, emit
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.migrate import upgrade

DEFAULT_NAME = "cityops_bench_million"
STORAGE = Path("/tmp/cityops-bench-million")


def url_of(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, demo_mode=True, worker_in_process=False, storage_dir=STORAGE)


def _admin() -> Any:
    return make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)


def built_at(name: str) -> tuple[datetime, int] | None:
    """When the kept database was built and with how many cases (None: missing or unfinished)."""
    admin = _admin()
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    admin.dispose()
    if not exists:
        return None
    engine = make_engine(url_of(name), pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT built_at, cases FROM bench_built")).first()
    except Exception:
        row = None
    finally:
        engine.dispose()
    return (row[0], int(row[1])) if row else None


def vacuum(name: str) -> None:
    engine = make_engine(url_of(name), isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    engine.dispose()


def drop(name: str) -> None:
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def build(name: str, n: int) -> None:
    from cityops.demo import indicators as demo_indicators
    from cityops.demo.loader import load_demo
    from cityops.evaluation import risk_tasks, tasks
    from cityops.indicators.tasks import compute_indicators

    drop(name)
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = url_of(name)
    engine = make_engine(url, pool_size=4, max_overflow=2)
    upgrade(engine)
    settings = settings_for(url)
    now = datetime.now(UTC)
    load_demo(engine, settings, n_cases=0, progress=False)
    made = write_cases(engine, n, now, search_index=True)
    emit(
        "bulk load (generate + COPY + indexes)",
        made["seconds"],
        "s",
        baseline="cases written",
        baseline_value=made["cases"],
        case_logs=made["case_logs"],
        search_terms=made["search_terms"],
        copy_seconds=made["copy_seconds"],
    )
    factory = make_sessionmaker(engine)
    jobs: list[tuple[str, Any]] = [
        ("evaluation rebuild", tasks.refresh_evaluation),
        ("indicator catalog", lambda s, t: demo_indicators.load(s, settings.district_code, t, 1)),
        ("indicators (district + streets)", compute_indicators),
        ("risk model training", risk_tasks.train_risk_model),
        ("risk scoring of running cases", risk_tasks.score_running_cases),
    ]
    for job_name, job in jobs:
        t = time.perf_counter()
        with unit_of_work(factory) as s:
            result = job(s, now)
        emit(
            f"worker: {job_name}",
            time.perf_counter() - t,
            "s",
            baseline="cases",
            baseline_value=n,
            result={k: v for k, v in (result or {}).items() if isinstance(v, int | float | str | bool)},
        )
    # The steady state autovacuum reaches on a live database: visibility maps set (index-only
    # scans, e.g. of the search terms) and statistics current. COPY leaves neither.
    t = time.perf_counter()
    vacuum(name)
    emit("VACUUM ANALYZE after the load", time.perf_counter() - t, "s", baseline="cases", baseline_value=n)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_built (built_at timestamptz NOT NULL, cases integer NOT NULL)"))
        conn.execute(text("INSERT INTO bench_built VALUES (:t, :n)"), {"t": now, "n": n})
    engine.dispose()


def ensure(name: str = DEFAULT_NAME, n: int = 1_000_000) -> tuple[str, datetime]:
    """The URL of the kept database (built first when missing, unfinished or of another size)."""
    found = built_at(name)
    if found is None or found[1] != n:
        print(f"# building {name} with {n:,} cases (20–40 min)", file=sys.stderr)
        build(name, n)
        found = built_at(name)
        assert found is not None
    else:
        print(f"# reusing {name}: {found[1]:,} cases built {found[0]:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    return url_of(name), found[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--name", default=DEFAULT_NAME)
    parser.add_argument("--drop", action="store_true", help="drop the kept database and exit")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if args.drop:
        drop(args.name)
        return 0
    if args.rebuild:
        drop(args.name)
    ensure(args.name, args.cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cockpit and evaluation speed at a million cases in PostgreSQL. One JSON line per figure.

    .venv/bin/python benchmarks/bench_cockpit.py [--cases 1000000] [--repeat 15]
    .venv/bin/python benchmarks/bench_cockpit.py --million     # the kept database (million.py)

Builds a throw-away PostgreSQL database with the demo's areas, catalog, departments and accounts,
COPYs ``--cases`` generated cases of the past year with their logs in (bulk_cases.py), runs the
worker's jobs once (evaluation summary, indicators, risk model and scores), then measures every
data request behind the cockpit through the real app in-process (median and worst of
``--repeat`` calls after one warm-up) against ``/healthz`` in the same run, and a whole year's
evaluation against a plain aggregate over the raw cases and case_logs tables. With ``--million``
the load and the worker's first runs are skipped: the kept database of benchmarks/million.py is
used (built first when missing) and stays. Evaluation figures are given twice: computed from the
summary (the kept rankings dropped before every call) and as served again while the summary is
unchanged. Not part of ``make test``: it takes minutes and a PostgreSQL server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bulk_cases import write_cases
from common import emit, fresh_database, pg_available
from sqlalchemy import text

from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.demo import indicators as demo_indicators
from cityops.demo.loader import load_demo

# The plain aggregate over the raw tables that a year's evaluation replaces (same figures).
RAW_YEAR = """
SELECT c.{col} AS code,
       count(*) FILTER (WHERE c.filed_at >= :start AND c.filed_at < :end) AS filed,
       count(*) FILTER (WHERE c.deadline >= :start AND c.deadline < :end
                        AND (c.state = 'closed' OR c.deadline <= now())) AS due,
       count(*) FILTER (WHERE c.deadline >= :start AND c.deadline < :end AND c.state = 'closed') AS closed,
       count(*) FILTER (WHERE c.deadline >= :start AND c.deadline < :end AND c.state = 'closed'
                        AND c.handled_at <= c.deadline) AS closed_on_time,
       count(*) FILTER (WHERE c.deadline >= :start AND c.deadline < :end
                        AND c.deadline < coalesce(c.handled_at, now())) AS overdue,
       count(*) FILTER (WHERE c.deadline >= :start AND c.deadline < :end AND EXISTS (
           SELECT 1 FROM case_logs l
           WHERE l.case_id = c.id AND l.action = 'verify' AND l.to_state = 'rework'))
           AS reworked
FROM cases c
WHERE (c.filed_at >= :start AND c.filed_at < :end) OR (c.deadline >= :start AND c.deadline < :end)
GROUP BY c.{col}
"""


def _timed(fn: Any, repeat: int) -> tuple[float, float]:
    fn()  # warm-up (caches, prepared plans)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def run(n: int, repeat: int, kept: bool = False, name: str = "cityops_bench_million") -> None:
    if kept:
        import million

        url, _built = million.ensure(name, n)
        measure(url, million.settings_for(url), n, repeat, fresh=False)
        return
    with fresh_database("postgresql") as url:
        settings = Settings(
            database_url=url,
            demo_mode=True,
            worker_in_process=False,
            storage_dir=Path("/tmp/cityops-bench-cockpit"),
        )
        measure(url, settings, n, repeat, fresh=True)


def measure(url: str, settings: Settings, n: int, repeat: int, *, fresh: bool) -> None:
    from fastapi.testclient import TestClient

    from cityops.evaluation import risk_tasks, tasks
    from cityops.evaluation import service as evaluation_service
    from cityops.indicators.tasks import compute_indicators
    from cityops.web.app import create_app

    now = datetime.now(UTC)
    engine = make_engine(url, pool_size=4, max_overflow=2)
    factory = make_sessionmaker(engine)
    if fresh:
        load_demo(engine, settings, n_cases=0, progress=False)
        made = write_cases(engine, n, now)
        emit(
            "bulk load (generate + COPY + indexes)",
            made["seconds"],
            "s",
            baseline="cases written",
            baseline_value=made["cases"],
            case_logs=made["case_logs"],
            copy_seconds=made["copy_seconds"],
        )
        jobs: list[tuple[str, Any]] = [
            ("evaluation rebuild", tasks.refresh_evaluation),
            ("indicator catalog", lambda s, t: demo_indicators.load(s, settings.district_code, t, 1)),
            ("indicators (district + streets)", compute_indicators),
            ("risk model training", risk_tasks.train_risk_model),
            ("risk scoring of running cases", risk_tasks.score_running_cases),
        ]
        for name, job in jobs:
            t = time.perf_counter()
            with unit_of_work(factory) as s:
                result = job(s, now)
            emit(
                f"worker: {name}",
                time.perf_counter() - t,
                "s",
                baseline="cases",
                baseline_value=n,
                result={k: v for k, v in (result or {}).items() if isinstance(v, int | float | str | bool)},
            )
    # Catch up first (a kept database: the deadlines that passed since its last refresh).
    t = time.perf_counter()
    with unit_of_work(factory) as s:
        caught = tasks.refresh_evaluation(s, datetime.now(UTC))
    emit(
        "worker: catch-up evaluation refresh (deadlines passed since the last run)",
        (time.perf_counter() - t) * 1000,
        "ms",
        baseline="cases",
        baseline_value=n,
        result=caught,
    )
    # An incremental refresh after a few changes: what the worker pays every five seconds.
    # (an escalation of 50 accepted cases: the case and its log row, as the service writes them)
    with engine.begin() as conn:
        conn.execute(
            text(
                "WITH picked AS (UPDATE cases SET last_seq = last_seq + 1, version = version + 1, "
                "updated_at = now() WHERE id IN (SELECT id FROM cases WHERE state = 'accepted' LIMIT 50) "
                "RETURNING id, last_seq, state) "
                "INSERT INTO case_logs (case_id, seq, at, actor_name, actor_role, action, from_state, "
                "to_state, attachments, data) SELECT id, last_seq, now(), 'bench', 'system', "
                "'escalate', state, state, '[]', '{}' FROM picked"
            )
        )
    t = time.perf_counter()
    with unit_of_work(factory) as s:
        refreshed = tasks.refresh_evaluation(s, datetime.now(UTC))
    emit(
        "worker: incremental evaluation refresh (50 changed cases)",
        (time.perf_counter() - t) * 1000,
        "ms",
        baseline="full rebuild s",
        baseline_value=0.0,
        result=refreshed,
    )
    # An idle run (nothing changed since): what most five-second runs cost.
    t = time.perf_counter()
    with unit_of_work(factory) as s:
        idle = tasks.refresh_evaluation(s, datetime.now(UTC))
    emit(
        "worker: idle evaluation refresh (nothing changed)",
        (time.perf_counter() - t) * 1000,
        "ms",
        baseline="incremental refresh ms",
        baseline_value=0.0,
        result=idle,
    )

    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        tok = client.post("/api/v1/auth/token", data={"username": "leader", "password": "demo"}).json()
        h = {"Authorization": f"Bearer {tok['access_token']}"}
        base_med, _ = _timed(lambda: client.get("/healthz"), repeat)
        # Hot issues cluster the last three days' reports once per five minutes (then cached):
        # the first, uncached call is measured on its own.
        with engine.connect() as conn:
            recent = conn.scalar(
                text("SELECT count(*) FROM cases WHERE created_at >= now() - interval '3 days'")
            )
        t = time.perf_counter()
        assert client.get("/api/v1/cockpit/hot-issues", headers=h).status_code == 200
        hot_ms = (time.perf_counter() - t) * 1000
        emit(
            "cockpit GET /api/v1/cockpit/hot-issues, uncached (once per 5 min)",
            hot_ms,
            "ms",
            baseline="GET /healthz ms",
            baseline_value=base_med,
            reports_clustered=recent,
            limit_ms=300,
            within=hot_ms <= 300,
        )
        # Where that time goes: reading the reports vs triage's clustering of them.
        from datetime import timedelta

        from cityops.cases import service as cases_service
        from cityops.triage.hotspots import HotMessage, find_hot_issues

        with unit_of_work(factory) as s:
            t = time.perf_counter()
            reports = cases_service.recent_reports(s, datetime.now(UTC) - timedelta(days=3))
            read_ms = (time.perf_counter() - t) * 1000
        msgs = [
            HotMessage(
                r.code, r.description, r.created_at, r.reporter, 0, r.description[:40], r.community_code
            )
            for r in reports
        ]
        t = time.perf_counter()
        find_hot_issues(msgs, limit=50, now=datetime.now(UTC))
        emit(
            "hot issues: triage clustering of the last 3 days' reports (one core)",
            (time.perf_counter() - t) * 1000,
            "ms",
            baseline="reading those reports from cases ms",
            baseline_value=read_ms,
            reports=len(msgs),
        )
        year = str(now.year - 1) if now.month < 12 else str(now.year)
        urls = [
            "/api/v1/cockpit/overview",
            "/api/v1/cockpit/cards",
            "/api/v1/cockpit/heat",
            "/api/v1/cockpit/geo?level=street",
            "/api/v1/cockpit/map?indicator=GOV.closure_rate&level=street",
            "/api/v1/cockpit/warnings",
            "/api/v1/cockpit/rankings",
            "/api/v1/cockpit/at-risk",
            "/api/v1/cockpit/hot-issues",
            "/api/v1/indicators",
            "/api/v1/indicators/GOV.closure_rate/history?area=330105",
            "/api/v1/cases/at-risk?limit=50",
        ]
        for url in urls:

            def call(url: str = url) -> None:
                r = client.get(url, headers=h)
                assert r.status_code == 200, (url, r.status_code, r.text[:200])

            med, worst = _timed(call, repeat)
            emit(
                f"cockpit GET {url}",
                med,
                "ms",
                baseline="GET /healthz ms",
                baseline_value=base_med,
                worst_ms=round(worst, 1),
                limit_ms=300,
                within=worst <= 300,
            )
        evaluations = [("grid", "grid_code", now.strftime("%Y-%m"), 300, repeat)]
        evaluations += [
            (by, col, year, 1000, max(3, repeat // 3))
            for by, col in (
                ("department", "department_code"),
                ("street", "street_code"),
                ("grid", "grid_code"),
            )
        ]
        for by, col, period, limit, runs in evaluations:
            url = f"/api/v1/evaluation?by={by}&period={period}"
            rows = len(client.get(url, headers=h).json()["rows"])

            def call_eval(url: str = url) -> None:
                r = client.get(url, headers=h)
                assert r.status_code == 200, r.text[:200]

            def computed(url: str = url) -> None:
                evaluation_service.forget_rankings()
                call_eval(url)

            med_c, worst_c = _timed(computed, runs)
            med, worst = _timed(call_eval, runs)
            if len(period) == 4:
                start = datetime(int(period), 1, 1, tzinfo=UTC)
                end = datetime(int(period) + 1, 1, 1, tzinfo=UTC)

                def raw(col: str = col, start: datetime = start, end: datetime = end) -> None:
                    with engine.connect() as conn:
                        conn.execute(text(RAW_YEAR.format(col=col)), {"start": start, "end": end}).all()

                raw_med, _ = _timed(raw, 1)
                baseline, baseline_value = "plain aggregate over cases + case_logs ms", raw_med
            else:
                baseline, baseline_value = "GET /healthz ms", base_med
            for kind, m, w in (("computed from the summary", med_c, worst_c), ("kept ranking", med, worst)):
                emit(
                    f"evaluation GET {url} ({kind})",
                    m,
                    "ms",
                    baseline=baseline,
                    baseline_value=baseline_value,
                    worst_ms=round(w, 1),
                    rows=rows,
                    limit_ms=limit,
                    within=w <= limit,
                )
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--million", action="store_true", help="the kept database of million.py")
    parser.add_argument("--name", default="cityops_bench_million", help="with --million: the kept database")
    args = parser.parse_args()
    if not pg_available():
        print("# skipping bench_cockpit: PostgreSQL not reachable", file=sys.stderr)
        return 0
    run(args.cases, args.repeat, kept=args.million, name=args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

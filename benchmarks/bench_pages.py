"""Server time and size of every main page on the demo data, each against its JSON API call.

    .venv/bin/python benchmarks/bench_pages.py [n_cases]     (default: the demo's 20,000 cases)
    .venv/bin/python benchmarks/bench_pages.py --million [--cases 1000000] [--runs 10]

Loads the Gongshu demo into a fresh SQLite file and calls the app in-process. With
``--million`` the same pages run against the kept PostgreSQL database of a million cases with
their logs and full-text index (benchmarks/million.py builds it once, 20–40 min); the target
there is 300 ms. "Server time" is
measured by an ASGI wrapper from the request's arrival to the last byte of the response (no
network, no client), median of 30 calls after 3 warm-ups. Every page is compared in the same run
with the JSON API call that lists the same cases (the baseline); the target is at most 100 ms
for every list page. Also: the full-text search (bigram index) against a plain LIKE over the
descriptions, and the bytes of HTML plus the page's own CSS/JS (a browser caches them).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import emit
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops.accounts.models import User
from cityops.cases.models import Case
from cityops.cases.search import matches
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.migrate import upgrade
from cityops.web.app import create_app
from cityops.web.templating import STATIC_DIR

RUNS = 30
WARMUP = 3
ONLY = ""


class ServerClock:
    """ASGI wrapper remembering how long the last request took inside the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last_ms = (time.perf_counter() - started) * 1000

        await self.app(scope, receive, timed_send)


def _sign_in(client: TestClient, username: str) -> dict[str, str]:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    client.post("/login", data={"username": username, "password": "demo", "csrf_token": token.group(1)})
    bearer = client.post("/api/v1/auth/token", data={"username": username, "password": "demo"}).json()
    return {"Authorization": f"Bearer {bearer['access_token']}"}


def _median_ms(
    client: TestClient, clock: ServerClock, url: str, headers: dict[str, str] | None = None
) -> tuple[float, int, str]:
    times = []
    body = b""
    for i in range(WARMUP + RUNS):
        response = client.get(url, headers=headers or {})
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
        if i >= WARMUP:
            times.append(clock.last_ms)
        body = response.content
    return statistics.median(times), len(body), body.decode("utf-8", "replace")


def _asset_bytes(html: str) -> int:
    """The page's own CSS and JS (including vendor files) that a first visit downloads."""
    total = 0
    for path in set(re.findall(r'(?:src|href)="/static/([^"]+)"', html)):
        file = STATIC_DIR / path
        if file.is_file():
            total += file.stat().st_size
    return total


def main(n_cases: int = 20_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        engine = make_engine(url)
        upgrade(engine)
        settings = Settings(
            demo_mode=True, worker_in_process=False, storage_dir=Path(tmp) / "files", database_url=url
        )
        started = time.perf_counter()
        load_demo(engine, settings, n_cases=n_cases, progress=False)
        print(f"# demo loaded: {n_cases} cases in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        measure(engine, settings, n_cases, target_ms=100)


def main_million(n_cases: int, name: str) -> None:
    import million

    url, _built = million.ensure(name, n_cases)
    engine = make_engine(url, pool_size=4, max_overflow=2)
    measure(engine, million.settings_for(url), n_cases, target_ms=300, backend="postgresql")
    engine.dispose()


def measure(
    engine: Any, settings: Settings, n_cases: int, *, target_ms: int, backend: str = "sqlite"
) -> None:
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        handlers = select(User.username).where(User.role == "handler")
        if backend != "sqlite":  # at a million: the handler of the department with most open cases
            busiest = (
                select(Case.department_code)
                .where(Case.state.in_(("dispatched", "accepted", "rework")))
                .group_by(Case.department_code)
                .order_by(func.count().desc())
                .limit(1)
                .scalar_subquery()
            )
            handlers = handlers.where(User.department_code == busiest)
        handler = session.scalar(handlers.order_by(User.username))
        code = session.scalar(select(Case.code).where(Case.state == "accepted").limit(1))

    app = create_app(settings, engine=engine)
    clock = ServerClock(app)
    people: dict[str, tuple[TestClient, dict[str, str]]] = {}
    with TestClient(clock, raise_server_exceptions=True) as anonymous:
        for user in ("operator", "dispatcher", "inspector", "leader", str(handler)):
            client = TestClient(clock, raise_server_exceptions=True)
            people[user] = (client, _sign_in(client, user))
        cases = "/api/v1/cases"
        month = datetime.now(UTC).strftime("%Y-%m")
        # (who, page, matching API call)
        pairs: list[tuple[str, str, str]] = [
            ("operator", "/home", "/api/v1/auth/me"),
            ("operator", "/operator", f"{cases}?state=reported&limit=20"),
            ("dispatcher", "/dispatch", f"{cases}?state=filed,returned&limit=50"),
            (
                "dispatcher",
                "/approvals",
                f"{cases}?state=dispatched,accepted,rework,returned,parked&sort=deadline&limit=50",
            ),
            (
                "dispatcher",
                "/supervision",
                f"{cases}?state=dispatched,accepted,rework,returned,parked&overdue=true&sort=deadline&limit=50",
            ),
            ("dispatcher", "/cases", f"{cases}?limit=50&with_total=true"),
            ("dispatcher", "/cases?q=垃圾", f"{cases}?q=垃圾&limit=50&with_total=true"),
            ("dispatcher", "/cases?q=井盖", f"{cases}?q=井盖&limit=50&with_total=true"),
            (
                "dispatcher",
                "/cases?sort=deadline&state=dispatched,accepted",
                f"{cases}?state=dispatched,accepted&sort=deadline&limit=50",
            ),
            ("dispatcher", f"/cases/{code}", f"{cases}/{code}"),
            (str(handler), "/tasks", f"{cases}?state=dispatched,accepted,rework&sort=deadline&limit=50"),
            ("inspector", "/verify", f"{cases}?state=handled&sort=deadline&limit=50"),
            # The leader's pages: the cockpit and its fragments (htmx), rankings, an indicator.
            ("leader", "/cockpit", "/api/v1/cockpit/overview"),
            ("leader", "/cockpit/panels/overview", "/api/v1/cockpit/overview"),
            ("leader", "/cockpit/panels/cards", "/api/v1/cockpit/cards"),
            ("leader", "/cockpit/panels/warnings", "/api/v1/cockpit/warnings"),
            ("leader", "/cockpit/panels/hot", "/api/v1/cockpit/hot-issues"),
            ("leader", "/cockpit/panels/rankings", "/api/v1/cockpit/rankings"),
            ("leader", "/cockpit/panels/risk", "/api/v1/cockpit/at-risk"),
            ("leader", "/cockpit/panels/trend", "/api/v1/indicators/GOV.filed/history?area=330105"),
            ("leader", f"/evaluation?by=grid&period={month}", f"/api/v1/evaluation?by=grid&period={month}"),
            ("leader", "/cockpit/indicators/GOV.closure_rate", "/api/v1/indicators/GOV.closure_rate/history"),
        ]
        for who, page, api in pairs:
            if ONLY and ONLY not in page:
                continue
            client, bearer = people[who]
            page_ms, page_bytes, html = _median_ms(client, clock, page)
            api_ms, api_bytes, _ = _median_ms(anonymous, clock, api, bearer)
            emit(
                f"page {page} server time (median)",
                page_ms,
                "ms",
                baseline=f"GET {api} (JSON, same run)",
                baseline_value=api_ms,
                html_bytes=page_bytes,
                api_bytes=api_bytes,
                asset_bytes=_asset_bytes(html),
                role=who,
                cases=n_cases,
                backend=backend,
                target_ms=target_ms,
                within=page_ms <= target_ms,
            )
        for page in ("/login", "/report") if not ONLY else ():
            page_ms, page_bytes, html = _median_ms(anonymous, clock, page)
            health_ms, _, _ = _median_ms(anonymous, clock, "/healthz")
            emit(
                f"page {page} server time (median)",
                page_ms,
                "ms",
                baseline="GET /healthz (same run)",
                baseline_value=health_ms,
                html_bytes=page_bytes,
                asset_bytes=_asset_bytes(html),
                cases=n_cases,
                backend=backend,
            )
        for client, _ in people.values():
            client.close()

    # The full-text search itself: bigram index vs a plain LIKE, counting every match.
    runs = 15 if backend == "sqlite" else 3
    with unit_of_work(factory) as session:
        for word in ("垃圾", "占道经营", "井盖"):
            stmt_index = select(func.count()).select_from(Case).where(matches(word))
            stmt_like = select(func.count()).select_from(Case).where(Case.description.like(f"%{word}%"))
            found = session.scalar(stmt_index)
            assert found == session.scalar(stmt_like)
            index_ms = _best_ms(lambda s=stmt_index: session.scalar(s), runs)
            like_ms = _best_ms(lambda s=stmt_like: session.scalar(s), runs)
            emit(
                f"full-text count of {word!r}",
                index_ms,
                "ms",
                baseline="LIKE '%word%' over every description (same run)",
                baseline_value=like_ms,
                matches=found,
                cases=n_cases,
                backend=backend,
            )


def _best_ms(call: Any, runs: int = 15) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("n_cases", nargs="?", type=int, default=20_000)
    parser.add_argument("--million", action="store_true", help="the kept PostgreSQL database (million.py)")
    parser.add_argument("--cases", type=int, default=1_000_000, help="with --million")
    parser.add_argument("--name", default="cityops_bench_million", help="with --million: the kept database")
    parser.add_argument("--runs", type=int, default=RUNS, help="calls per figure after the warm-ups")
    parser.add_argument("--only", default="", help="measure only pages whose path contains this")
    args = parser.parse_args()
    RUNS = args.runs
    ONLY = args.only
    if args.million:
        main_million(args.cases, args.name)
    else:
        main(args.n_cases)

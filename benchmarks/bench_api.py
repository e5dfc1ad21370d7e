"""HTTP API throughput and latency, against `cityops serve` (2 processes) on SQLite and PostgreSQL.

Figures (each with a baseline from the same server in the same run, GET /healthz):
- case creations/s (closed loop, wrk) and p99 at a fixed 500 requests/s (open loop);
- reads of one case/s (wrk) — target: at least half the trivial endpoint's throughput;
- full lifecycles/s over HTTP (create + 6 transitions, 16 concurrent clients).

Needs Debian's `wrk`.    .venv/bin/python benchmarks/bench_api.py [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import each_backend, emit, fresh_database, open_loop, served, wrk
from sqlalchemy import select
from world import CATEGORY, build_world

from cityops.catalog.models import Responsibility
from cityops.db import make_engine, make_sessionmaker, unit_of_work

LUA_CREATE = """
local points = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  i = i + 1
  local p = points[(i %% #points) + 1]
  local body = string.format('{"description":"路边垃圾堆放 %%d","lon":%%s,"lat":%%s,' ..
    '"category_code":"%s","source":"inspector"}', i, p[1], p[2])
  return wrk.format(nil, "/api/v1/cases", nil, body)
end
"""
LUA_GET = 'wrk.headers["Authorization"] = "Bearer %s"\n'


def token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": "demo"}, timeout=30)
    r.raise_for_status()
    return str(r.json()["access_token"])


def raw_post(path: str, body: dict, tok: str) -> bytes:
    data = json.dumps(body, ensure_ascii=False).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {tok}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode() + data


async def lifecycles(base: str, tokens: dict[str, str], points: list, n: int, concurrency: int = 16) -> float:
    steps = [
        ("file", "dispatcher", {}),
        ("dispatch", "dispatcher", {}),
        ("accept", "handler", {}),
        ("handle", "handler", {"note": "已处理"}),
        ("verify", "inspector", {"passed": True}),
        ("close", "dispatcher", {}),
    ]
    sem = asyncio.Semaphore(concurrency)

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(i: int) -> None:
            async with sem:
                lon, lat = points[i % len(points)]
                h = {"Authorization": f"Bearer {tokens['dispatcher']}"}
                r = await client.post(
                    "/api/v1/cases",
                    headers=h,
                    json={"description": f"井盖缺失 {i}", "lon": lon, "lat": lat, "category_code": CATEGORY},
                )
                r.raise_for_status()
                case = r.json()
                handler = tokens.setdefault(f"handler-{case['department']['code']}", "")
                for action, role, body in steps:
                    tok = handler if role == "handler" else tokens[role]
                    r = await client.post(
                        f"/api/v1/cases/{case['id']}/{action}",
                        json=body,
                        headers={"Authorization": f"Bearer {tok}"},
                    )
                    if r.status_code != 200:
                        raise RuntimeError(f"{action} answered {r.status_code}: {r.text}")

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - start)


def emit_wrk(figure: str, result: dict, unit: str, trivial: dict) -> None:
    """One wrk figure against the trivial endpoint's rate from the same run."""
    emit(
        figure,
        result["rps"],
        unit,
        baseline="GET /healthz",
        baseline_value=trivial["rps"],
        p99_ms=result["p99_ms"],
        errors=result["errors"],
    )


def run(backend: str, seconds: int) -> None:
    with fresh_database(backend) as url:
        world = build_world(url)
        with served(url, workers=2) as base:
            tokens = {u: token(base, u) for u in ("dispatcher", "inspector")}
            points = world.points
            first = httpx.post(
                f"{base}/api/v1/cases",
                headers={"Authorization": f"Bearer {tokens['dispatcher']}"},
                json={
                    "description": "预热",
                    "lon": points[0][0],
                    "lat": points[0][1],
                    "category_code": CATEGORY,
                },
                timeout=30,
            ).json()
            # every department a benchmark case may land in needs its handler's token
            with unit_of_work(make_sessionmaker(make_engine(url))) as s:
                departments = set(
                    s.scalars(
                        select(Responsibility.department_code).where(Responsibility.category_code == CATEGORY)
                    )
                )
            for d in departments:
                tokens[f"handler-{d}"] = token(base, f"handler-{d}")

            # Warm both server processes (lazy imports, caches, prepared statements) before measuring.
            wrk(f"{base}/healthz", seconds=3)
            wrk(f"{base}/api/v1/cases/{first['id']}", seconds=3, script=LUA_GET % tokens["dispatcher"])
            trivial = wrk(f"{base}/healthz", seconds=seconds)
            emit(
                f"http_trivial_rps[{backend}]",
                trivial["rps"],
                "requests/s",
                baseline="GET /healthz",
                baseline_value=trivial["rps"],
            )
            read = wrk(
                f"{base}/api/v1/cases/{first['id']}", seconds=seconds, script=LUA_GET % tokens["dispatcher"]
            )
            emit_wrk(f"http_read_case_rps[{backend}]", read, "requests/s", trivial)
            lua_points = ",".join(f"{{{lon},{lat}}}" for lon, lat in points)
            create = wrk(
                f"{base}/api/v1/cases",
                seconds=seconds,
                script=LUA_CREATE % (lua_points, tokens["dispatcher"], CATEGORY),
            )
            emit_wrk(f"http_create_case_rps[{backend}]", create, "cases/s", trivial)
            rate, duration = 500, seconds
            requests = [
                raw_post(
                    "/api/v1/cases",
                    {
                        "description": f"占道经营 {i}",
                        "lon": points[i % len(points)][0],
                        "lat": points[i % len(points)][1],
                        "category_code": CATEGORY,
                    },
                    tokens["dispatcher"],
                )
                for i in range(rate * duration)
            ]
            fixed = open_loop(base, requests, rate)
            healthz = [b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"] * (rate * duration)
            fixed_base = open_loop(base, healthz, rate)
            emit(
                f"http_create_case_p99_ms_at_500rps[{backend}]",
                fixed["p99_ms"],
                "ms",
                baseline="GET /healthz p99 at 500 rps",
                baseline_value=fixed_base["p99_ms"],
                p50_ms=fixed["p50_ms"],
                max_ms=fixed["max_ms"],
                n=fixed["n"],
            )
            per_s = asyncio.run(lifecycles(base, tokens, points, n=300))
            emit(
                f"http_full_lifecycle_per_s[{backend}]",
                per_s,
                "cases/s (create + 6 transitions)",
                baseline="GET /healthz rps / 7",
                baseline_value=trivial["rps"] / 7,
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    for backend in each_backend(args.backends):
        run(backend, args.seconds)


if __name__ == "__main__":
    main()

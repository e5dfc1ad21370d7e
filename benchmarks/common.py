"""Shared benchmark plumbing: JSON output, fresh databases, a served app, load generators.

Every figure is printed as one JSON line together with a baseline measured in the same run, so
a reader can judge the figure on the machine it came from.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cityops.db import make_engine
from cityops.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("CITYOPS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def emit(figure: str, value: float, unit: str, *, baseline: str, baseline_value: float, **extra: Any) -> None:
    row = {
        "figure": figure,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 4),
        "ratio_to_baseline": round(value / baseline_value, 4) if baseline_value else None,
        **extra,
    }
    print(json.dumps(row, ensure_ascii=False), flush=True)


def pg_available() -> bool:
    try:
        eng = make_engine(PG_URL, pool_size=1, max_overflow=0)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def each_backend(names: str) -> Iterator[str]:
    """The comma-separated backends to run, skipping PostgreSQL (with a note) when it is down."""
    for backend in names.split(","):
        if backend == "postgresql" and not pg_available():
            print(f"# skipping {backend}: server not reachable", file=sys.stderr)
            continue
        yield backend


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """An empty, migrated database; yields its URL and drops it afterwards."""
    if backend == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="cityops-bench-"))
        url = f"sqlite:///{tmp / 'bench.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        try:
            yield url
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    name = f"cityops_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(database_url: str, workers: int = 2, log_path: Path | None = None) -> Iterator[str]:
    """Run `cityops serve` in a subprocess (in-process worker off) and yield its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "CITYOPS_DATABASE_URL": database_url,
        "CITYOPS_DEMO_MODE": "true",
        "CITYOPS_WORKER_IN_PROCESS": "false",
    }
    log = open(log_path or os.devnull, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "cityops.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}") from None
                time.sleep(0.2)
        time.sleep(1.0)  # let every worker process finish importing
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def wrk(
    url: str, *, seconds: int = 10, connections: int = 32, threads: int = 1, script: str | None = None
) -> dict[str, float]:
    """Closed-loop maximum throughput with wrk (Debian package `wrk`)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if script:
        path = Path(tempfile.mkstemp(suffix=".lua")[1])
        path.write_text(script)
        cmd += ["-s", str(path)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = 0.0
    if p99:
        value, unit = float(p99.group(1)), p99.group(2)
        p99_ms = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    return {"rps": rps, "p99_ms": p99_ms, "errors": float(non2xx.group(1)) if non2xx else 0.0}


async def _open_loop(
    host: str, port: int, requests: list[bytes], rate: float, connections: int
) -> list[float]:
    """Send requests at a fixed rate; latency counts from the scheduled time (no coordinated omission)."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    latencies: list[float] = []
    statuses: list[int] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while True:
            item = await queue.get()
            if item is None:  # type: ignore[comparison-overlap]
                break
            scheduled, raw = item
            writer.write(raw)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            statuses.append(int(head.split(b" ", 2)[1]))
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - scheduled)
            queue.task_done()
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    start = time.perf_counter()
    for i, raw in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((scheduled, raw))
    await queue.join()
    for _ in workers:
        queue.put_nowait(None)  # type: ignore[arg-type]
    await asyncio.gather(*workers)
    bad = sum(1 for s in statuses if s >= 400)
    if bad:
        raise RuntimeError(f"{bad} requests failed during the open-loop run")
    return latencies


def open_loop(base: str, requests: list[bytes], rate: float, connections: int = 64) -> dict[str, float]:
    host, port = base.removeprefix("http://").split(":")
    lat = np.array(asyncio.run(_open_loop(host, int(port), requests, rate, connections))) * 1000
    return {
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "n": float(len(lat)),
    }

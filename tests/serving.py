"""The app under a real uvicorn server in a background thread, and Debian's Chromium, for the
tests that need real HTTP (browser journeys, the OpenAPI fuzz run, streaming bodies).

One place for the start-up dance (a free port, wait until uvicorn listens, stop it afterwards)
and for how Chromium is found and launched on these machines (no browser download, no network).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine
from tests.conftest import new_database

from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.triage import versions
from cityops.web.app import create_app

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)
NO_CHROMIUM = "Chromium is not installed (Debian: apt-get install chromium; .ci/run does this)"
# Without the background-networking flags Chromium keeps calling hosts this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any, *, name: str = "uvicorn-test", lifespan: str = "on") -> Iterator[str]:
    """Serve ``app`` on a free local port until the block ends; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def warm_routing_model(engine: Engine) -> None:
    """Build the knowledge-base routing model now, as `cityops demo` does: its first build takes
    tens of seconds of CPU, which a page's first report must not wait for (kept per process)."""
    with unit_of_work(make_sessionmaker(engine)) as session:
        versions.kb_only_model(session)


def demo_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, n_cases: int, **settings: Any
) -> Iterator[tuple[str, Engine]]:
    """A fixture body: a fresh SQLite demo with ``n_cases`` historical cases, served by uvicorn."""
    tmp = tmp_path_factory.mktemp(name)
    engine, cleanup = new_database("sqlite", tmp, name)
    app_settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=tmp / "files", **settings)
    load_demo(engine, app_settings, n_cases=n_cases, progress=False)
    app = create_app(app_settings, engine=engine)
    warm_routing_model(engine)
    try:
        with serving(app, name=f"uvicorn-{name}") as base:
            yield base, engine
    finally:
        cleanup()

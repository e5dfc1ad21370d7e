"""`cityops serve --workers N`: N server processes, each with its own listening socket.

uvicorn's own ``--workers`` shares one listening socket between its processes, and the kernel
then hands most keep-alive connections to whichever process happens to be awake: measured here,
30 of 32 client connections landed on one of two processes. A Python process uses one core (the
GIL), so one process did nearly all the work while the other idled. With one ``SO_REUSEPORT``
socket per process the kernel spreads connections over the processes by address hash.

The parent only supervises: it starts the processes, restarts one that dies, and stops them all on
SIGINT/SIGTERM. Where ``SO_REUSEPORT`` is missing, ``cityops serve`` uses uvicorn's workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("cityops.web")

APP = "cityops.web.app:create_app"
_RESTART_PAUSE_SECONDS = 1.0
_EARLY_EXIT_SECONDS = 5.0  # a process that dies this soon after starting is not restarted


def supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def check_port_free(host: str, port: int) -> None:
    """Raise OSError if ``host:port`` cannot be bound (another program listens there)."""
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Without SO_REUSEPORT: a listener of any kind (even a reuse-port group) makes this fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    finally:
        probe.close()


def _serve_one(host: str, port: int, uvicorn_options: dict[str, Any]) -> None:
    import uvicorn

    from cityops.config import get_settings
    from cityops.web.middleware import configure_logging

    configure_logging(get_settings().log_level)
    sock = _listening_socket(host, port)
    config = uvicorn.Config(APP, factory=True, **uvicorn_options)
    uvicorn.Server(config).run(sockets=[sock])


def serve_processes(host: str, port: int, workers: int, uvicorn_options: dict[str, Any]) -> int:
    """Run ``workers`` server processes until SIGINT/SIGTERM; returns an exit code."""
    check_port_free(host, port)
    ctx = multiprocessing.get_context("spawn")
    stopping = False
    interrupted = False  # Ctrl-C reaches the whole foreground process group, children included

    def start() -> tuple[BaseProcess, float]:
        process = ctx.Process(target=_serve_one, args=(host, port, uvicorn_options), daemon=False)
        process.start()
        return process, time.monotonic()

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping, interrupted
        stopping = True
        interrupted = interrupted or signum == signal.SIGINT

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    code = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, (process, started) in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < _EARLY_EXIT_SECONDS:
                    log.error("server process %s exited with %s on start", process.pid, process.exitcode)
                    stopping, code = True, 1
                    break
                log.warning("server process %s exited with %s; restarting", process.pid, process.exitcode)
                time.sleep(_RESTART_PAUSE_SECONDS)
                processes[i] = start()
    finally:
        # After Ctrl-C the children are already shutting down gracefully; a second signal would
        # make uvicorn drop the requests in flight, so give them time first.
        if interrupted:
            for process, _ in processes:
                process.join(timeout=10)
        for process, _ in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process, _ in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code

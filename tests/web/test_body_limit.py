"""The body-size limit holds while streaming, for chunked bodies too, through a real uvicorn.

Before the limit was counted while reading, a chunked body without Content-Length was read in
full (a 400 MB upload grew the server by 1.2 GB) before the request was refused with 401.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.serving import serving

from cityops.config import Settings
from cityops.web.app import create_app

LIMIT = 64 * 1024  # max_upload_bytes; the guard allows 64 KiB more for form overhead
CHUNK = 64 * 1024
TOTAL = 64 * 1024 * 1024  # what the client would send if nobody stopped it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    from tests.conftest import new_database

    engine: Engine
    engine, cleanup = new_database("sqlite", tmp_path_factory.mktemp("limit"))
    settings = Settings(
        demo_mode=True,
        worker_in_process=False,
        max_upload_bytes=LIMIT,
        storage_dir=Path(tmp_path_factory.mktemp("files")),
    )
    app = create_app(settings, engine=engine)
    with serving(app, name="uvicorn-limit", lifespan="auto") as base:
        yield int(base.rsplit(":", 1)[1])
    cleanup()


def _complete(answer: bytes) -> bool:
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def _stream_chunked(port: int, path: str, content_type: str, prefix: bytes = b"") -> tuple[bytes, int]:
    """Send a chunked body until the server answers; return (answer, body bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = f"{CHUNK:x}\r\n".encode() + b" " * CHUNK + b"\r\n"
    sent = 0  # body bytes handed to the kernel
    pending = f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n" if prefix else b""
    ended = False
    answer = b""
    sock.setblocking(False)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not pending and sent < TOTAL:
                pending, sent = chunk, sent + CHUNK
            elif not pending and not ended:
                pending, ended = b"0\r\n\r\n", True
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 1.0)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
                if _complete(answer):
                    break
            elif writable:
                try:
                    pending = pending[sock.send(pending) :]
                except (BlockingIOError, InterruptedError):
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    pending = b""
    finally:
        sock.close()
    return answer, sent


FILE_PART = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n"
)


@pytest.mark.parametrize(
    ("path", "content_type", "prefix"),
    [
        ("/api/v1/cases", "application/json", b""),  # no sign-in: the 413 comes before the 401
        ("/api/v1/attachments", "multipart/form-data; boundary=xyz", FILE_PART),
        ("/api/v1/auth/token", "application/x-www-form-urlencoded", b"username="),
    ],
)
def test_a_chunked_body_is_refused_at_the_limit_without_reading_it_all(
    server: int, path: str, content_type: str, prefix: bytes
) -> None:
    answer, sent = _stream_chunked(server, path, content_type, prefix)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"too_large" in answer
    # Kernel buffers on both ends hold a few MiB at most; the server stopped long before 64 MiB.
    assert sent < 16 * 1024 * 1024, sent

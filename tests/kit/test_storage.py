"""Both storage backends, against real stores: a directory and an S3-compatible HTTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityops.config import Settings
from cityops.kit.storage import LocalStorage, S3Storage, Storage, storage_from_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_settings() -> Iterator[Settings]:
    """A real S3-compatible server (moto's) on loopback, not an in-process mock."""
    server_mod = pytest.importorskip("moto.server")
    import boto3

    port = _free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = Settings(
        storage_backend="s3",
        s3_endpoint_url=f"http://127.0.0.1:{port}",
        s3_bucket="cityops-test",
        s3_access_key="test",
        s3_secret_key="test",
    )
    boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket="cityops-test")
    yield settings
    server.stop()


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return storage_from_settings(Settings(storage_dir=tmp_path / "files"))
    return storage_from_settings(request.getfixturevalue("s3_settings"))


def test_put_get_delete_round_trip(storage: Storage) -> None:
    storage.put("ab/photo-1", b"\xff\xd8\xffjpeg-bytes", "image/jpeg")
    assert storage.exists("ab/photo-1")
    assert storage.get("ab/photo-1") == b"\xff\xd8\xffjpeg-bytes"
    storage.delete("ab/photo-1")
    assert not storage.exists("ab/photo-1")


def test_backend_is_chosen_by_settings(tmp_path: Path, s3_settings: Settings) -> None:
    assert isinstance(storage_from_settings(Settings(storage_dir=tmp_path)), LocalStorage)
    assert isinstance(storage_from_settings(s3_settings), S3Storage)


def test_local_keys_cannot_escape_the_directory(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    with pytest.raises(ValueError, match="escapes"):
        storage.put("../outside", b"x", "image/png")
    assert not (tmp_path / "outside").exists()


def test_local_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put("k/one", b"%PDF-1.4", "application/pdf")
    assert [p.name for p in (tmp_path / "k").iterdir()] == ["one"]

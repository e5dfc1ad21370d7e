"""Attachments (issue 8 item 8): only uploads the caller may read can be attached, files are
served as downloads that browsers will not sniff, and the bytes decide the type, not the name."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.attachments.service import sniff

from .conftest import GARBAGE, IN_B, as_header

MakePrincipal = Callable[..., Principal]

JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xdb\x00\x03\x00"
    + b"\xff\xd9"
)


def _png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    raw = zlib.compress(b"\x00\x00")
    idat = b"IDAT" + raw
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(raw))
        + idat
        + struct.pack(">I", zlib.crc32(idat))
        + struct.pack(">I", 0)
        + b"IEND"
        + struct.pack(">I", zlib.crc32(b"IEND"))
    )


PNG = _png()
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
WEBP = (
    b"RIFF"
    + struct.pack("<I", 4 + 8 + 10)
    + b"WEBP"
    + b"VP8L"
    + struct.pack("<I", 10)
    + b"\x2f"
    + b"\x00" * 9
)
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (PDF, "application/pdf"),
    ],
)
def test_real_files_are_recognised(data: bytes, kind: str) -> None:
    assert sniff(data) == kind


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>",  # HTML as a PDF
        b"%PDF-1.7\n<!DOCTYPE html><svg onload=alert(1)>",
        b"%PDF-",  # a header and nothing else
        b"\xff\xd8\xff\xe0tiny-jpg",  # a JPEG segment longer than the file
        b"\xff\xd8\xff<html>",
        PNG[:20],  # a PNG cut inside its header chunk
        PNG[:16] + b"\x00" * 13 + PNG[29:],  # a PNG whose header chunk fails its checksum
        b"GIF89a<script>",
        b"RIFF\x10\x00\x00\x00WEBPJUNK",
        b"<html><script>alert(1)</script></html>",
    ],
)
def test_files_that_only_pretend_are_refused(data: bytes) -> None:
    assert sniff(data) is None


def _upload(client: TestClient, who: dict[str, str], data: bytes, name: str, declared: str) -> object:
    return client.post("/api/v1/attachments", headers=who, files={"file": (name, data, declared)})


def test_the_bytes_decide_not_the_name_or_the_claimed_type(
    client: TestClient, make_principal: MakePrincipal
) -> None:
    who = as_header(make_principal("inspector"))
    html_pdf = b"%PDF-1.4\n<html><script>alert(1)</script></html>"
    r = _upload(client, who, html_pdf, "report.pdf", "application/pdf")
    assert r.status_code == 415, r.text  # type: ignore[attr-defined]
    r = _upload(client, who, PNG, "photo.pdf", "application/pdf")  # a PNG named .pdf is a PNG
    assert r.status_code == 201 and r.json()["content_type"] == "image/png"  # type: ignore[attr-defined]


def test_downloads_are_attachments_with_nosniff(client: TestClient, make_principal: MakePrincipal) -> None:
    who = as_header(make_principal("inspector"))
    r = _upload(client, who, PDF, "整改报告.pdf", "application/pdf")
    file_id = r.json()["id"]  # type: ignore[attr-defined]
    got = client.get(f"/api/v1/attachments/{file_id}", headers=who)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert "%E6%95%B4%E6%94%B9" in disposition  # the Chinese name, percent-encoded


def test_only_uploads_the_caller_may_read_can_be_attached(
    client: TestClient, session: Session, make_principal: MakePrincipal
) -> None:
    citizen = make_principal("citizen")
    case = client.post(
        "/api/v1/cases",
        json={"description": "路边垃圾", "lon": IN_B[0], "lat": IN_B[1], "category_code": GARBAGE},
        headers=as_header(citizen),
    ).json()
    # Somebody else's private upload (another citizen's photo of their own matter).
    stranger = as_header(make_principal("citizen"))
    theirs = _upload(client, stranger, JPEG, "mine.jpg", "image/jpeg").json()["id"]  # type: ignore[attr-defined]
    operator = as_header(make_principal("operator"))
    assert client.post(f"/api/v1/cases/{case['id']}/file", json={}, headers=operator).status_code == 200
    dispatcher = as_header(make_principal("dispatcher"))
    assert client.post(f"/api/v1/cases/{case['id']}/dispatch", json={}, headers=dispatcher).status_code == 200
    handler = as_header(make_principal("handler", department_code="CGJ"))
    assert client.post(f"/api/v1/cases/{case['id']}/accept", json={}, headers=handler).status_code == 200
    r = client.post(
        f"/api/v1/cases/{case['id']}/handle",
        json={"note": "已清理", "attachments": [theirs]},
        headers=handler,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_attachment", r.text
    # The stranger's file stays unreadable through the case it could otherwise have joined.
    assert client.get(f"/api/v1/attachments/{theirs}", headers=as_header(citizen)).status_code == 404
    own = _upload(client, handler, JPEG, "after.jpg", "image/jpeg").json()["id"]  # type: ignore[attr-defined]
    r = client.post(
        f"/api/v1/cases/{case['id']}/handle", json={"note": "已清理", "attachments": [own]}, headers=handler
    )
    assert r.status_code == 200, r.text

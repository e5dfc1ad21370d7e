"""What an uploaded file really is, from its bytes: JPEG, PNG, WebP, GIF or PDF, or nothing.

The name and the type the client claims are ignored. Beyond the magic number each format's
header must hold together (a JPEG's first segment fits in the file, a PNG's header chunk passes
its CRC, a WebP's RIFF size matches, a GIF has its screen descriptor), so a few magic bytes in
front of something else are refused. A "PDF" whose start is HTML or script is refused too: a
browser that sniffs it would run it. No image library is needed for this, and no file is decoded.
"""

from __future__ import annotations

import re
import struct
import zlib

# Markup that makes a browser render a document as a page, looked for where a sniffing browser
# looks: the start of the file.
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|object|embed|meta|img|a\s)", re.I)
_SNIFF_WINDOW = 1024


def _jpeg(data: bytes) -> bool:
    # SOI, then a marker segment (APPn, DQT, SOF, DHT, COM, ...) whose length fits in the file.
    if not data.startswith(b"\xff\xd8\xff") or len(data) < 6 or not 0xC0 <= data[3] <= 0xFE:
        return False
    (length,) = struct.unpack(">H", data[4:6])
    return length >= 2 and 4 + length <= len(data)


def _png(data: bytes) -> bool:
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 33:
        return False
    length, kind = struct.unpack(">I4s", data[8:16])
    if length != 13 or kind != b"IHDR":
        return False
    (crc,) = struct.unpack(">I", data[29:33])
    width, height = struct.unpack(">II", data[16:24])
    return zlib.crc32(data[12:29]) == crc and width > 0 and height > 0


def _webp(data: bytes) -> bool:
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return False
    (size,) = struct.unpack("<I", data[4:8])
    return data[12:16] in (b"VP8 ", b"VP8L", b"VP8X") and size + 8 <= len(data) + 1


def _gif(data: bytes) -> bool:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 14:
        return False
    width, height = struct.unpack("<HH", data[6:10])
    return width > 0 and height > 0 and data.rstrip(b"\x00").endswith(b";")


def _pdf(data: bytes) -> bool:
    if not data.startswith(b"%PDF-") or _MARKUP.search(data[:_SNIFF_WINDOW]):
        return False
    # A document has at least one object and ends with %%EOF (allowing trailing whitespace).
    return b" obj" in data and b"%%EOF" in data[-1024:]


CHECKS = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/webp": _webp,
    "image/gif": _gif,
    "application/pdf": _pdf,
}


def detect(data: bytes) -> str | None:
    """The content type ``data`` really has, or None when it is none of the accepted kinds."""
    for content_type, check in CHECKS.items():
        if check(data):
            return content_type
    return None

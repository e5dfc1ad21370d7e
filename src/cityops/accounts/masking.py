"""Masking of personal data (names, phone numbers, ID numbers) for views that do not need it.

Views call ``personal_fields``: it returns masked values unless the caller's role needs the
real ones *and* the view asked to reveal them, and then it writes the read to the audit trail.

People also type phone and ID numbers into descriptions and notes ("联系我 139…"). ``mask_text``
finds them in free text (``find_personal``) and masks them the same way, so every view that
masks the structured fields masks the text too; the reveal path shows both, audited once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cityops.accounts import audit
from cityops.accounts.principal import SEES_PERSONAL_DATA, Principal


def mask_name(name: str | None) -> str:
    """Keep the first character (the family name): ``"张三丰" -> "张**"``, ``"张三" -> "张*"``."""
    if not name:
        return ""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    # Spaces stay so that "John Smith" keeps its shape; every other character is hidden.
    return name[0] + "".join(" " if ch == " " else "*" for ch in name[1:])


def _mask_digits(value: str, keep_head: int, keep_tail: int) -> str:
    """Replace digits (and the ID check letter X) outside head/tail with ``*``, keep separators."""
    positions = [i for i, ch in enumerate(value) if ch.isdigit() or ch in "xX"]
    hidden = set(positions[keep_head : len(positions) - keep_tail if keep_tail else None])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def mask_phone(phone: str | None) -> str:
    """``"13812345678" -> "138****5678"``; landlines keep only their last four digits."""
    if not phone:
        return ""
    phone = phone.strip()
    digits = sum(ch.isdigit() for ch in phone)
    if digits == 11 or (digits == 13 and phone.startswith(("+86", "86"))):
        # Mainland mobile numbers (optionally with +86): the operator prefix and the last four
        # digits are what people use to recognise a number, the middle identifies the person.
        head = 3 if digits == 11 else 5
        return _mask_digits(phone, head, 4)
    if digits <= 4:
        return "*" * len(phone)
    return _mask_digits(phone, 0, 4)


def mask_id_number(id_number: str | None) -> str:
    """Resident ID (18 characters): keep the first 3 and last 4 — ``"330***********123X"``.

    The birth date (characters 7–14) is always hidden; other documents keep their last four.
    """
    if not id_number:
        return ""
    id_number = id_number.strip()
    if len(id_number) <= 4:
        return "*" * len(id_number)
    head = 3 if len(id_number) in (15, 18) else 0
    return id_number[:head] + "*" * (len(id_number) - head - 4) + id_number[-4:]


# --- personal numbers in free text -------------------------------------------------------------
# Digits only count as a number's edge when no other digit touches them, so a longer order
# number, a case code (GS20261201-00005) or a decimal never yields a shorter "phone" inside it;
# nor does a hex run joined by hyphens (a UUID such as 03669443-2520-4946-…, an internal id).
_EDGE_L = r"(?<![0-9A-Fa-f.])(?<![0-9A-Fa-f]-)"
_EDGE_R = r"(?![0-9]|\.[0-9]|-[0-9A-Fa-f])"
_SEP = r"[- ]?"
# Mainland mobile: 1[3-9]x xxxx xxxx, optionally +86 / 86, separators between the groups.
_MOBILE = rf"(?:\+?86{_SEP})?1[3-9][0-9]{_SEP}[0-9]{{4}}{_SEP}[0-9]{{4}}"
# Landline with an area code: 010 / 02x (three digits) or 0[3-9]xx (four), then a local number
# of 7–8 digits that never starts with 0 or 1; "(0571)" and separators allowed.
_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = rf"(?:\({_AREA}\)|{_AREA}){_SEP}[2-9][0-9]{{2,3}}{_SEP}[0-9]{{4}}"
# GB 11643 resident ID: region (6), birth date (8), sequence (3), check character; the date and
# the check character are verified in code, which rules out nearly every other 18-digit number.
_ID18 = r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
_PERSONAL = re.compile(
    rf"{_EDGE_L}(?:(?P<id>{_ID18})|(?P<mobile>{_MOBILE})|(?P<landline>{_LANDLINE})){_EDGE_R}",
    re.ASCII,
)
_THREE_DIGITS = re.compile(r"[0-9]{3}", re.ASCII)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_checksum_ok(value: str) -> bool:
    """Whether an 18-character resident ID has a real birth date and the right check character
    (GB 11643, ISO 7064 MOD 11-2)."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == value[17].upper()


def find_personal(text: str | None) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every phone ("mobile", "landline") or ID number ("id") in ``text``."""
    if not text or not _THREE_DIGITS.search(text):
        return []  # every number looked for has a run of three digits: most texts stop here
    found = []
    for m in _PERSONAL.finditer(text):
        kind = m.lastgroup or ""
        if kind == "id" and not id_checksum_ok(m.group(0)):
            # Not an ID after all; a mobile cannot hide in 18 digits either (edges), so skip it.
            continue
        found.append((m.start(), m.end(), kind))
    return found


def contains_personal(text: str | None) -> bool:
    """Whether ``text`` holds a phone or ID number (see :func:`find_personal`)."""
    return bool(find_personal(text))


def mask_text(text: str | None) -> str | None:
    """``text`` with every phone and ID number in it masked like the structured fields."""
    spans = find_personal(text)
    if not spans or text is None:
        return text
    out, last = [], 0
    for start, end, kind in spans:
        value = text[start:end]
        out += [text[last:start], mask_id_number(value) if kind == "id" else mask_phone(value)]
        last = end
    out.append(text[last:])
    return "".join(out)


def mask_texts(value: Any) -> Any:
    """:func:`mask_text` applied to every string inside a JSON-like value (notes, log data)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_texts(v) for v in value]
    return value


def reveal_allowed(principal: Principal | None) -> bool:
    """Whether the caller's role needs unmasked personal data (``principal.SEES_PERSONAL_DATA``)."""
    return principal is not None and principal.role in SEES_PERSONAL_DATA


def personal_fields(
    session: Session,
    principal: Principal | None,
    *,
    subject_type: str,
    subject_id: str,
    name: str | None = None,
    phone: str | None = None,
    id_number: str | None = None,
    reveal: bool = True,
    request_id: str | None = None,
) -> dict[str, str | None]:
    """Return ``{"name", "phone", "id_number"}`` masked, or unmasked with an audit event.

    Unmasked only when ``reveal`` is true and the role may see personal data; the audit event
    ("personal_data.read") lists which fields were shown, never their values.
    """
    values: dict[str, str | None] = {"name": name, "phone": phone, "id_number": id_number}
    present = [key for key, value in values.items() if value]
    if reveal and present and reveal_allowed(principal):
        audit.record(
            session,
            principal,
            "personal_data.read",
            subject_type,
            subject_id,
            {"fields": present},
            request_id,
        )
        return values
    masked: dict[str, Any] = {
        "name": mask_name(name) if name else name,
        "phone": mask_phone(phone) if phone else phone,
        "id_number": mask_id_number(id_number) if id_number else id_number,
    }
    return masked

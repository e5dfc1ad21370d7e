"""Masking of personal data (names, phone numbers, ID numbers) for views that do not need it.

Views call ``personal_fields``: it returns masked values unless the caller's role needs the
real ones *and* the view asked to reveal them, and then it writes the read to the audit trail.
"""

from __future__ import annotations

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

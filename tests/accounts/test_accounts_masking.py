"""Masking of names, phone and ID numbers, and the audited reveal."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.masking import (
    mask_id_number,
    mask_name,
    mask_phone,
    personal_fields,
    reveal_allowed,
)
from cityops.accounts.models import AuditEvent
from cityops.accounts.principal import Principal


def _p(role: str) -> Principal:
    return Principal(id=uuid.uuid4(), username=f"u-{role}", role=role)


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三丰", "张**"), ("张三", "张*"), ("欧阳娜娜", "欧***"), ("张", "*"), ("", ""), (None, "")],
)
def test_mask_name(name: str | None, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("0571-87654321", "****-****4321"),
        ("110", "***"),
        (None, ""),
    ],
)
def test_mask_phone(phone: str | None, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_mask_id_number_hides_birth_date() -> None:
    masked = mask_id_number("33010519900101123X")
    assert masked == "330***********123X"
    assert "19900101" not in masked
    assert mask_id_number("A1234567") == "****4567"
    assert mask_id_number("") == ""


def test_reveal_allowed_by_role() -> None:
    assert reveal_allowed(_p("operator"))
    assert reveal_allowed(_p("dispatcher"))
    assert reveal_allowed(_p("admin"))
    for role in ("citizen", "inspector", "handler", "leader"):
        assert not reveal_allowed(_p(role))
    assert not reveal_allowed(None)


def test_personal_fields_masks_for_handler_without_audit(session: Session) -> None:
    shown = personal_fields(
        session, _p("handler"), subject_type="case", subject_id="C1", name="张三丰", phone="13812345678"
    )
    assert shown == {"name": "张**", "phone": "138****5678", "id_number": None}
    session.flush()
    assert session.scalars(select(AuditEvent)).all() == []


def test_personal_fields_reveal_is_audited(session: Session) -> None:
    operator = _p("operator")
    shown = personal_fields(
        session,
        operator,
        subject_type="case",
        subject_id="C1",
        name="张三丰",
        phone="13812345678",
        request_id="req-1",
    )
    assert shown["name"] == "张三丰"
    session.flush()
    (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.action, event.subject_type, event.subject_id) == ("personal_data.read", "case", "C1")
    assert event.actor_name == operator.username
    assert event.details == {"fields": ["name", "phone"]}  # field names only, never the values
    assert event.request_id == "req-1"

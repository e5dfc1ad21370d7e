"""Operations on warnings: raise (idempotent by ``dedup_key``), list, acknowledge and close."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.db import utcnow
from cityops.errors import Invalid, NotFound
from cityops.safety.models import LEVELS, STATUSES, Warning


def raise_warning(
    session: Session,
    *,
    source: str,
    kind: str,
    level: int,
    title: str,
    dedup_key: str,
    category_code: str | None = None,
    area_code: str | None = None,
    observed: float | None = None,
    expected: float | None = None,
    evidence: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[Warning, bool]:
    """Create a warning, or refresh the one with the same ``dedup_key``; returns (warning, created).

    A repeat keeps the original ``raised_at`` and status (an acknowledged warning stays
    acknowledged) but takes the newer figures, and the level only ever goes up: a sweep that
    sees the surge fading must not silently downgrade what a leader was already told.
    """
    if level not in LEVELS:
        raise Invalid("预警级别必须为 1–4", "level must be 1–4", details={"field": "level"})
    if not dedup_key:
        raise Invalid("缺少去重键", "dedup_key is required", details={"field": "dedup_key"})
    now = now or utcnow()
    existing = session.scalar(select(Warning).where(Warning.dedup_key == dedup_key))
    if existing is not None:
        existing.level = max(existing.level, level)
        existing.observed = observed
        existing.expected = expected
        existing.evidence = dict(evidence or {})
        existing.title = title
        existing.updated_at = now
        return existing, False
    warning = Warning(
        source=source,
        kind=kind,
        level=level,
        title=title,
        dedup_key=dedup_key,
        category_code=category_code,
        area_code=area_code,
        observed=observed,
        expected=expected,
        evidence=dict(evidence or {}),
        raised_at=now,
        updated_at=now,
        status="open",
    )
    session.add(warning)
    session.flush()
    return warning, True


def list_warnings(
    session: Session,
    *,
    status: str | None = None,
    source: str | None = None,
    area_code: str | None = None,
    min_level: int = 1,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Warning], int]:
    """One page of warnings, highest level and newest first, and the total matching."""
    if status is not None and status not in STATUSES:
        raise Invalid(
            f"状态必须是 {'、'.join(STATUSES)} 之一",
            f"status must be one of {', '.join(STATUSES)}",
            details={"field": "status"},
        )
    stmt = select(Warning).where(Warning.level >= min_level)
    if status is not None:
        stmt = stmt.where(Warning.status == status)
    if source is not None:
        stmt = stmt.where(Warning.source == source)
    if area_code is not None:
        # An area sees its own warnings and those of every area below it (codes are prefixes).
        stmt = stmt.where(Warning.area_code.like(f"{area_code}%"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Warning.level.desc(), Warning.raised_at.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)


def set_status(session: Session, warning_id: uuid.UUID, status: str, note: str | None = None) -> Warning:
    """Acknowledge or close a warning (the monitor → warn → dispose → feedback loop)."""
    if status not in STATUSES:
        raise Invalid(
            f"状态必须是 {'、'.join(STATUSES)} 之一",
            f"status must be one of {', '.join(STATUSES)}",
            details={"field": "status"},
        )
    warning = session.get(Warning, warning_id)
    if warning is None:
        raise NotFound("预警不存在", "No such warning", details={"id": str(warning_id)})
    warning.status = status
    warning.updated_at = utcnow()
    if note:
        warning.note = note
    return warning


def warning_dict(w: Warning) -> dict[str, Any]:
    """The JSON shape of a warning for APIs and the cockpit."""
    return {
        "id": str(w.id),
        "source": w.source,
        "kind": w.kind,
        "level": w.level,
        "level_name": LEVELS[w.level],
        "category_code": w.category_code,
        "area_code": w.area_code,
        "title": w.title,
        "observed": w.observed,
        "expected": w.expected,
        "evidence": w.evidence,
        "raised_at": w.raised_at.isoformat(),
        "status": w.status,
    }

"""The shared warning record: surge detection, sensors and risk sources all raise ``Warning`` rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime, new_id, utcnow

# Four warning levels as Chinese emergency plans name them: 1 蓝 (blue) … 4 红 (red).
LEVELS: dict[int, str] = {1: "蓝色 / blue", 2: "黄色 / yellow", 3: "橙色 / orange", 4: "红色 / red"}
STATUSES = ("open", "acknowledged", "closed")


class Warning(Base):  # shadows the builtin Warning inside this module only; import it as a name
    """One early warning. ``dedup_key`` is unique so a repeated sweep updates instead of duplicating."""

    __tablename__ = "safety_warnings"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 4", name="level"),
        CheckConstraint("status IN ('open', 'acknowledged', 'closed')", name="status"),
        Index("ix_safety_warnings_status_raised", "status", "raised_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # Who raised it: "surge" (triage), "sensor" (IoT), "risk" (risk sources), "indicator" …
    source: Mapped[str] = mapped_column(String(20), index=True)
    # What kind within the source, e.g. "case_surge_24h".
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[int] = mapped_column(Integer)
    category_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    area_code: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(200))
    observed: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected: Mapped[float | None] = mapped_column(Float, nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

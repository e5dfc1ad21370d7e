"""Tables of indicators: the catalog (domain → theme → indicator), computed values, imported figures."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime, utcnow

LEVELS = ("normal", "blue", "yellow", "orange", "red")
PERIODS = ("day", "week", "month")
DIRECTIONS = ("higher_better", "lower_better")
KINDS = ("expression", "aggregate")


class Indicator(Base):
    """One indicator of the catalog with its definition and thresholds."""

    __tablename__ = "indicators"
    __table_args__ = (
        CheckConstraint("period IN ('day', 'week', 'month')", name="period"),
        CheckConstraint("direction IN ('higher_better', 'lower_better')", name="direction"),
        CheckConstraint("kind IN ('expression', 'aggregate')", name="kind"),
        Index("ix_indicators_domain_theme", "domain", "theme"),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    domain: Mapped[str] = mapped_column(String(40))  # 市容环境, 交通出行, 公共安全 …
    theme: Mapped[str] = mapped_column(String(60))
    unit: Mapped[str] = mapped_column(String(20), default="")
    period: Mapped[str] = mapped_column(String(8), default="month")
    owner: Mapped[str] = mapped_column(String(60), default="")
    direction: Mapped[str] = mapped_column(String(14), default="higher_better")
    # "expression": arithmetic over named aggregates (indicators.expr); "aggregate": one named
    # aggregate of indicators.sources.
    kind: Mapped[str] = mapped_column(String(12), default="expression")
    definition: Mapped[str] = mapped_column(Text)
    # {"blue": x, "yellow": y, "orange": z, "red": w}: where each level begins (see levels.py).
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndicatorValue(Base):
    """The value of an indicator for one area and one period (its history)."""

    __tablename__ = "indicator_values"
    __table_args__ = (
        UniqueConstraint("indicator_code", "area_code", "period_start", name="uq_indicator_values"),
        Index("ix_indicator_values_area", "area_code", "indicator_code", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    indicator_code: Mapped[str] = mapped_column(String(40))
    area_code: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date] = mapped_column(Date)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: no data
    level: Mapped[str] = mapped_column(String(8), default="normal")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndicatorFigure(Base):
    """An imported figure (statistics office, environment monitoring, telemetry roll-up) per area and day."""

    __tablename__ = "indicator_figures"
    __table_args__ = (
        UniqueConstraint("name", "area_code", "day", name="uq_indicator_figures"),
        Index("ix_indicator_figures_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40))
    area_code: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(40), default="import")

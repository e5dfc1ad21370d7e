"""Tables of evaluation: one fact row per case, the daily summary built from them, settings, key tasks.

The facts and the summary are derived data kept by the worker (:mod:`cityops.evaluation.tasks`)
from the case log's change feed; they can be rebuilt from the cases at any time
(``cityops evaluation rebuild``). Requests read only the summary, never the cases.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime, new_id, utcnow

# The dimensions a case is counted under (inspector: the account that reported it on patrol).
DIMENSIONS = ("district", "street", "community", "grid", "department", "inspector")
# Also kept, for the indicators: per category (district-wide) and per "street|category".
SUMMARY_DIMENSIONS = (*DIMENSIONS, "category", "street_category")
# The counted measures, in the order of the summary's columns (see docs/evaluation.md).
MEASURES = (
    "filed",
    "public_reports",
    "dispatched",
    "accurate",
    "due",
    "closed",
    "closed_on_time",
    "handled",
    "handled_on_time",
    "reworked",
    "overdue",
    "handle_hours",
    "handle_n",
)


class EvaluationFact(Base):
    """One case's contribution: the day it was filed, the day its deadline falls, and 0/1 flags."""

    __tablename__ = "evaluation_facts"
    __table_args__ = (
        Index("ix_evaluation_facts_filed_day", "filed_day"),
        Index("ix_evaluation_facts_due_day", "due_day"),
        Index("ix_evaluation_facts_deadline", "deadline"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    filed_day: Mapped[date | None] = mapped_column(Date, nullable=True)  # local (Asia/Shanghai)
    due_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    district_code: Mapped[str] = mapped_column(String(20))
    street_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    community_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    grid_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    department_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    inspector_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    category_code: Mapped[str] = mapped_column(String(20), default="")
    public_reports: Mapped[int] = mapped_column(Integer, default=0)
    dispatched: Mapped[int] = mapped_column(Integer, default=0)
    accurate: Mapped[int] = mapped_column(Integer, default=0)
    due: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    closed_on_time: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handled_on_time: Mapped[int] = mapped_column(Integer, default=0)
    reworked: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    handle_hours: Mapped[float] = mapped_column(Float, default=0.0)
    handle_n: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class _Summary:
    """The columns of both summary tables: a unit (dimension, code), a day and the measures."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    dim: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(6))
    filed: Mapped[int] = mapped_column(Integer, default=0)
    public_reports: Mapped[int] = mapped_column(Integer, default=0)
    dispatched: Mapped[int] = mapped_column(Integer, default=0)
    accurate: Mapped[int] = mapped_column(Integer, default=0)
    due: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    closed_on_time: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handled_on_time: Mapped[int] = mapped_column(Integer, default=0)
    reworked: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    handle_hours: Mapped[float] = mapped_column(Float, default=0.0)
    handle_n: Mapped[int] = mapped_column(Integer, default=0)


class EvaluationDaily(_Summary, Base):
    """Sums of the facts per (local day, dimension, code) — one row for what was filed that day
    (``kind = "filed"``) and one for what fell due that day (``kind = "due"``)."""

    __tablename__ = "evaluation_daily"
    __table_args__ = (Index("ix_evaluation_daily_dim_day", "dim", "day", "code"),)


class EvaluationMonthly(_Summary, Base):
    """The daily rows summed per calendar month (``day`` is the month's first day): a year is 12 rows
    per unit instead of 365."""

    __tablename__ = "evaluation_monthly"
    __table_args__ = (Index("ix_evaluation_monthly_dim_day", "dim", "day", "code"),)


class EvaluationSetting(Base):
    """Small named settings: the change-feed watermark, the score weights."""

    __tablename__ = "evaluation_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyTask(Base):
    """A key task (揭榜挂帅): posted by a leader with a goal and a deadline, taken on by one unit."""

    __tablename__ = "key_tasks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    posted_by: Mapped[uuid.UUID] = mapped_column()
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The poster's area (a street leader posts for the street); None: a district-wide task.
    area_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # "open" (待揭榜) → "taken" (已揭榜) → "done" (已完成); "cancelled" by the poster.
    state: Mapped[str] = mapped_column(String(12), default="open")
    taken_by_unit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    taken_by_user: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class KeyTaskMilestone(Base):
    """One milestone of a key task with its weight and progress report."""

    __tablename__ = "key_task_milestones"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("key_tasks.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    due: Mapped[date] = mapped_column(Date)
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)


class RiskModelRecord(Base):
    """The newest trained deadline-risk model (pickled scikit-learn objects written by our own worker)."""

    __tablename__ = "risk_models"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    n_train: Mapped[int] = mapped_column(Integer)
    base_rate: Mapped[float] = mapped_column(Float)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class RiskScore(Base):
    """The newest risk score of one running case, written by the worker (requests only read them)."""

    __tablename__ = "risk_scores"
    __table_args__ = (Index("ix_risk_scores_risk", "risk"),)

    case_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(20))
    category_code: Mapped[str] = mapped_column(String(20))
    department_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    street_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    grid_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    remaining_hours: Mapped[float] = mapped_column(Float)
    risk: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

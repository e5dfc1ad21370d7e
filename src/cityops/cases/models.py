"""Tables of the cases capability: the case, its append-only log, co-handling tasks,
supervision items (督办), the working-calendar overrides and imported years, satisfaction
ratings and callbacks (回访·评价), and the daily code counter.

The case row is a projection of its log: every change to it is made together with one new
``CaseLog`` row by :mod:`cityops.cases.lifecycle`, never on its own.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime, new_id, utcnow
from cityops.kit import caches

SOURCES = ("web", "hotline", "inspector", "camera", "iot", "open311", "enterprise", "api")


class Case(Base):
    """One case (案卷) from report to close."""

    __tablename__ = "cases"
    # Columns that are NULL on every new case are indexed only where set (partial indexes):
    # creation is the hot path, and each index a new row enters costs every INSERT.
    __table_args__ = (
        # A retried create with the same Idempotency-Key from the same user finds the first case.
        Index(
            "uq_cases_idempotency",
            "created_by_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
        Index("ix_cases_state_created", "state", "created_at"),
        Index("ix_cases_created_id", "created_at", "id"),
        Index("ix_cases_category", "category_code", "created_at"),
        Index("ix_cases_street", "street_code", "created_at"),
        Index("ix_cases_grid", "grid_code"),
        Index("ix_cases_department", "department_code", "state"),
        # The SLA sweep scans running cases by deadline / warn_at (both set from dispatch on).
        Index(
            "ix_cases_deadline",
            "state",
            "overdue",
            "deadline",
            postgresql_where=text("deadline IS NOT NULL"),
            sqlite_where=text("deadline IS NOT NULL"),
        ),
        Index(
            "ix_cases_warn_at",
            "state",
            "warned",
            "warn_at",
            postgresql_where=text("warn_at IS NOT NULL"),
            sqlite_where=text("warn_at IS NOT NULL"),
        ),
        Index(
            "ix_cases_verify_deadline",
            "verify_overdue",
            "verify_deadline",
            postgresql_where=text("verify_deadline IS NOT NULL"),
            sqlite_where=text("verify_deadline IS NOT NULL"),
        ),
        Index(
            "ix_cases_reporter",
            "reporter_user_id",
            postgresql_where=text("reporter_user_id IS NOT NULL"),
            sqlite_where=text("reporter_user_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="reported")

    category_code: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    lon: Mapped[float] = mapped_column(Float)  # WGS-84
    lat: Mapped[float] = mapped_column(Float)
    # True when the point is an area's representative point (a report placed from its text, e.g.
    # a hotline call naming only a community), not where someone stood.
    location_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    grid_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    community_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    grade: Mapped[str | None] = mapped_column(String(4), nullable=True)
    # The lead department (主办); assisting departments are CaseTask rows.
    department_code: Mapped[str | None] = mapped_column(String(32), nullable=True)

    source: Mapped[str] = mapped_column(String(20), default="web")
    reporter_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    reporter_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reporter_phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # The SLA clock: the limit is copied at dispatch so later catalog edits do not move it.
    limit_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    limit_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)

    # Parking (挂账): requested by the handler, approved by a dispatcher; the clock pauses.
    park_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    park_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    parked_from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Counted (working, or wall for emergency limits) seconds spent parked, summed over parks.
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)

    # Extension (延期): one pending request at a time.
    extension_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    extension_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    extensions_granted: Mapped[int] = mapped_column(Integer, default=0)
    # Hours granted in total over the case's life, and on the clock that runs now (the
    # per-category ceiling applies to each clock: the handling one, then each rework one).
    extended_hours: Mapped[float] = mapped_column(Float, default=0.0)
    clock_extended_hours: Mapped[float] = mapped_column(Float, default=0.0)

    # Verification (核查) has a clock of its own from `handle`: the department's clock stops
    # when it reports back, and the wait for the verifier is not the department's time.
    verify_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verify_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    rework_count: Mapped[int] = mapped_column(Integer, default=0)

    # Satisfaction (满意度) of the latest closing: satisfied | basically_satisfied | dissatisfied,
    # how it was given (sms/web link, app, phone callback) and when. Per round in CaseSatisfaction.
    satisfaction: Mapped[str | None] = mapped_column(String(24), nullable=True)
    satisfaction_channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    satisfaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Reply quality (0–1) of the department's last handling note; sub-scores are in the log row.
    reply_score: Mapped[float | None] = mapped_column(Float, nullable=True)

    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    returned_count: Mapped[int] = mapped_column(Integer, default=0)
    # The highest CaseLog.seq of this case, so appending needs no max() query.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Optimistic locking: an UPDATE whose version no longer matches changes nothing and fails.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declarative idiom


class CaseLog(Base):
    """One row per transition; append-only."""

    __tablename__ = "case_logs"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_logs_case_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    actor_name: Mapped[str] = mapped_column(String(64), default="")
    actor_role: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CaseTask(Base):
    """A department's share of a co-handled case (lead 主办 or assist 协办)."""

    __tablename__ = "case_tasks"
    __table_args__ = (Index("ix_case_tasks_department", "department_code", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_code: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(10))  # "lead" | "assist"
    # "dispatched" → "accepted" → "handled"; "cancelled" when the case is re-dispatched.
    state: Mapped[str] = mapped_column(String(20), default="dispatched")
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Supervision(Base):
    """A supervision item (督办): raised on overdue, on warning or by hand."""

    __tablename__ = "case_supervisions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # "overdue" | "warning" | "manual"
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raised_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CalendarOverride(Base):
    """An admin's correction of the working calendar for one day."""

    __tablename__ = "calendar_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class CalendarYear(Base):
    """A year whose official schedule (国务院办公厅 holiday notice) an admin imported as overrides.

    The working calendar trusts ``chinese_calendar`` for the years it ships and these years;
    any other year falls back to Monday–Friday, and readiness warns when a deadline may land there.
    """

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str | None] = mapped_column(String(200), nullable=True)
    days: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class CaseSatisfaction(Base):
    """The reporter's rating (评价) of one closing of a case, asked for when it was closed.

    One row per case and round (``round`` = the case's ``reopened_count`` at closing). The rating
    link's token is stored only as its SHA-256. Department, street and category are copied at
    closing so evaluation counts a rating under who handled the case then.
    """

    __tablename__ = "case_satisfaction"
    __table_args__ = (
        UniqueConstraint("case_id", "round", name="uq_case_satisfaction_case_round"),
        Index("ix_case_satisfaction_rated", "rated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    # None for a round opened by a callback or an app rating without a link (closed before links).
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    department_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    street_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    category_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    result: Mapped[str | None] = mapped_column(String(24), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class CaseCallback(Base):
    """One phone callback (回访) to the reporter, reached or not, recorded by an operator."""

    __tablename__ = "case_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    reached: Mapped[bool] = mapped_column(Boolean, default=True)
    result: Mapped[str | None] = mapped_column(String(24), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class CaseCodeCounter(Base):
    """Daily case-code counter, used where the engine has no sequences (SQLite)."""

    __tablename__ = "case_code_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD, Asia/Shanghai
    last: Mapped[int] = mapped_column(Integer, default=0)


class CaseSearchTerm(Base):
    """Full-text index of case descriptions: one row per (character bigram, case).

    Chinese has no spaces, so words are approximated by overlapping pairs of characters; a
    query's bigrams narrow the cases down through the primary key, and a substring check on
    those few confirms the hit (see :mod:`cityops.cases.search`). The same on SQLite and
    PostgreSQL, no extension needed.
    """

    __tablename__ = "case_search_terms"
    __table_args__ = (Index("ix_case_search_terms_case", "case_id"),)

    term: Mapped[str] = mapped_column(String(8), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)


class CaseSearchDoc(Base):
    """A case whose description is in the search index (descriptions never change)."""

    __tablename__ = "case_search_docs"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# Cached in memory by the lookups (kit/caches.py): every edit of these bumps the cache generation.
caches.watch(CalendarOverride, CalendarYear)

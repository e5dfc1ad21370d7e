"""Tables of triage: the gazetteer, routing thresholds, the operator queue and training corrections."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime, new_id, utcnow

GAZETTEER_KINDS = ("road", "community", "compound", "building", "landmark")
CORRECTION_SOURCES = ("operator_queue", "recategorized", "misrouted_return", "history_import")
MODEL_STATUSES = ("candidate", "active", "rejected", "retired")
DEFAULT_THRESHOLD = 0.8


class GazetteerEntry(Base):
    """A named place an administrator can edit: a road, compound, building or landmark."""

    __tablename__ = "triage_gazetteer"
    __table_args__ = (
        CheckConstraint("kind IN ('road', 'community', 'compound', 'building', 'landmark')", name="kind"),
        Index("ix_triage_gazetteer_name", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A street, community or grid code (the most specific one known).
    area_code: Mapped[str] = mapped_column(String(20))
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)  # WGS-84
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Roads: a list of polylines [[[lon, lat], ...], ...] so two roads can be intersected.
    line: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RoutingThreshold(Base):
    """The probability above which a category's reports are filed and dispatched without an operator."""

    __tablename__ = "triage_thresholds"
    __table_args__ = (CheckConstraint("threshold >= 0 AND threshold <= 1", name="range"),)

    category_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    threshold: Mapped[float] = mapped_column(Float, default=DEFAULT_THRESHOLD)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TriageQueueItem(Base):
    """A report the classifier was unsure about, waiting for an intake operator."""

    __tablename__ = "triage_queue"
    __table_args__ = (Index("ix_triage_queue_open", "resolved_at", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    text: Mapped[str] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    # [{"category_code", "probability", "department_code"}], best first.
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    driving_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    place: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # What the case needs when the operator resolves the item (intake reports only).
    source: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reporter_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reporter_phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    resolved_category: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # The case created from the item (intake reports), by its id in the cases capability.
    case_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)


class TrainingCorrection(Base):
    """A human-confirmed (text, category) pair for the next model version."""

    __tablename__ = "triage_corrections"
    __table_args__ = (
        CheckConstraint(
            "source IN ('operator_queue', 'recategorized', 'misrouted_return', 'history_import')",
            name="source",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KnowledgeEdit(Base):
    """An administrator's version of one knowledge-base row (overrides the shipped row with the
    same code, or adds a local category's row); ``removed`` hides a row."""

    __tablename__ = "triage_kb_edits"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    # The row as KnowledgeRow.as_dict() (terms as lists).
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The revision that last changed this row.
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class KnowledgeRevision(Base):
    """One change of the knowledge base; the highest id is the knowledge base's version."""

    __tablename__ = "triage_kb_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), index=True)
    # "update", "remove" or "import" (one revision per row of an Excel import)
    action: Mapped[str] = mapped_column(String(10))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoutingModelVersion(Base):
    """One trained routing model: what it learned from, how it compared, whether it is live."""

    __tablename__ = "triage_model_versions"
    __table_args__ = (
        CheckConstraint("status IN ('candidate', 'active', 'rejected', 'retired')", name="status"),
        Index("ix_triage_model_versions_status", "status"),
    )

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(10), default="candidate")
    # "schedule", "on_demand", "demo", "cold_start", "rollback" …
    trigger: Mapped[str] = mapped_column(String(20), default="on_demand")
    kb_revision: Mapped[int] = mapped_column(Integer, default=0)
    corrections: Mapped[int] = mapped_column(Integer, default=0)
    history_rows: Mapped[int] = mapped_column(Integer, default=0)
    # The model file, relative to the models directory.
    path: Mapped[str] = mapped_column(String(200))
    # Calibration, thresholds summary and the comparison with the version live before it.
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

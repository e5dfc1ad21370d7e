"""The area tree table: district → streets (街道) → communities (社区) → unit grids (单元网格)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime, utcnow
from cityops.kit import caches

LEVELS = ("district", "street", "community", "grid")
GRADES = ("A", "B", "C")
# Code length per level: 6-digit district, +3 per level below (grid codes are 15 characters).
CODE_LENGTH = {"district": 6, "street": 9, "community": 12, "grid": 15}
PARENT_LEVEL = {"district": None, "street": "district", "community": "street", "grid": "community"}


class Area(Base):
    """One node of the area tree with its polygon (GeoJSON text, WGS-84)."""

    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint("level IN ('district', 'street', 'community', 'grid')", name="level"),
        CheckConstraint("grade IS NULL OR grade IN ('A', 'B', 'C')", name="grade"),
        Index("ix_areas_level_parent", "level", "parent_code"),
    )

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("areas.code"), nullable=True, index=True)
    # Only unit grids carry a grade; time limits may differ per grade (A = dense core).
    grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    # GeoJSON geometry (Polygon or MultiPolygon) in WGS-84; None for an area without a polygon.
    geometry: Mapped[str | None] = mapped_column(Text, nullable=True)
    centroid_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    centroid_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    population: Mapped[int | None] = mapped_column(Integer, nullable=True)
    area_km2: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Area({self.code!r}, {self.name!r}, {self.level!r})"


# Cached in memory by the lookups (kit/caches.py): every edit of these bumps the cache generation.
caches.watch(Area)

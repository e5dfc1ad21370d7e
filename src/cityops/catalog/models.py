"""Tables of the catalog capability: categories, their time limits and the responsibility list.

GB/T 47678.5 numbers components (部件) and matters (事件) in the same 5-digit space (01001 is both
供水井盖 and 供水井盖异常), so one primary key cannot hold both bare codes. Matters, which are what
cases are filed against, keep the bare code (``06010`` 暴露垃圾); components are stored as
``C`` + code (``C01001`` 供水井盖). ``std_code`` keeps the code as printed in the standard.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base
from cityops.kit import caches

CATEGORY_KINDS = ("component", "event")
LIMIT_KINDS = ("emergency", "working_hours", "working_days")
GRADES = ("A", "B", "C")


class Category(Base):
    """One category of the directory: a standard code or a local one."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # "component" (管理部件) or "event" (管理事项/事件)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    major_code: Mapped[str] = mapped_column(String(8), default="")
    major_name: Mapped[str] = mapped_column(String(50), default="")
    # The 5-digit code as printed in GB/T 47678.5; None for local categories.
    std_code: Mapped[str | None] = mapped_column(String(8), nullable=True)
    filing_criterion: Mapped[str] = mapped_column(Text, default="")
    closing_criterion: Mapped[str] = mapped_column(Text, default="")
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Safety-critical categories (a missing manhole cover) that run on a continuous clock.
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    # Stage limits beside the handling limit; None = the default of cases/stages.py (docs/cases.md).
    # Verification (核查) in hours on the category's clock (wall hours for emergencies, else
    # working hours); rework (返工) in the unit of the category's limit; the most extension
    # hours one clock may be given in total.
    verify_limit_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    rework_limit_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_extension_hours: Mapped[float | None] = mapped_column(Float, nullable=True)


class CategoryTimeLimit(Base):
    """A time limit of a category: ``grade`` None is the default, A/B/C override it."""

    __tablename__ = "category_time_limits"
    __table_args__ = (UniqueConstraint("category_code", "grade", name="uq_category_time_limits_code_grade"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code", ondelete="CASCADE"), index=True)
    grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)


class Responsibility(Base):
    """One row of the responsibility list (权责清单): category × area → department."""

    __tablename__ = "category_responsibilities"
    __table_args__ = (
        UniqueConstraint("category_code", "area_code", name="uq_category_responsibilities_code_area"),
        Index("ix_category_responsibilities_department", "department_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code", ondelete="CASCADE"))
    # A district, street, community or grid code.
    area_code: Mapped[str] = mapped_column(String(20))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))


# Cached in memory by the lookups (kit/caches.py): every edit of these bumps the cache generation.
caches.watch(Category, CategoryTimeLimit, Responsibility)

"""Request and response shapes of the catalog and department endpoints."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

LimitKind = Literal["emergency", "working_hours", "working_days"]
CategoryKind = Literal["component", "event"]
Grade = Literal["A", "B", "C"]
DepartmentKind = Literal["department", "street", "utility"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class TimeLimit(BaseModel):
    """A time limit: continuous hours (emergency), working hours or working days."""

    kind: LimitKind
    value: float = Field(gt=0, le=10_000)


class TimeLimits(BaseModel):
    """The default limit and the per-grade overrides of one category."""

    time_limit: TimeLimit
    grade_limits: dict[Grade, TimeLimit] = Field(default_factory=dict)


class TimeLimitsOut(BaseModel):
    """The limits of a category as stored (``time_limit`` is null only if none was ever set)."""

    time_limit: TimeLimit | None
    grade_limits: dict[str, TimeLimit]


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: CategoryKind
    major_code: str
    major_name: str
    std_code: str | None
    filing_criterion: str
    closing_criterion: str
    local: bool
    active: bool
    emergency: bool
    # Stage settings; null = the default described in docs/cases.md ("The clock").
    verify_limit_hours: float | None = None
    rework_limit_value: float | None = None
    max_extension_hours: float | None = None


class CategoryDetail(CategoryOut):
    time_limit: TimeLimit | None
    grade_limits: dict[str, TimeLimit]


class CategoryCreate(BaseModel):
    """A local category (codes of the standard are loaded from the directory, not created)."""

    code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=100)
    kind: CategoryKind = "event"
    major_code: str = Field(default="", max_length=8)
    major_name: str = Field(default="", max_length=50)
    filing_criterion: str = Field(default="", max_length=2000)
    closing_criterion: str = Field(default="", max_length=2000)
    active: bool = True
    emergency: bool = False
    time_limit: TimeLimit
    grade_limits: dict[Grade, TimeLimit] = Field(default_factory=dict)


class CategoryPatch(BaseModel):
    """Fields to change; absent fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    filing_criterion: str | None = Field(default=None, max_length=2000)
    closing_criterion: str | None = Field(default=None, max_length=2000)
    active: bool | None = None
    emergency: bool | None = None
    time_limit: TimeLimit | None = None
    # A grade mapped to null removes that override.
    grade_limits: dict[Grade, TimeLimit | None] | None = None
    # Verification limit (hours on the category's clock), rework limit (in the unit of the
    # category's limit) and the ceiling of extension hours per clock; null = the default.
    verify_limit_hours: float | None = Field(default=None, gt=0, le=10_000)
    rework_limit_value: float | None = Field(default=None, gt=0, le=10_000)
    max_extension_hours: float | None = Field(default=None, gt=0, le=10_000)


class ResponsibilityIn(BaseModel):
    category_code: str = Field(min_length=1, max_length=16)
    area_code: str = Field(min_length=1, max_length=20)
    department_code: str = Field(min_length=1, max_length=32)


class ResponsibilityOut(ResponsibilityIn):
    model_config = ConfigDict(from_attributes=True)

    id: int


class DepartmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    kind: str
    area_code: str | None
    phone: str | None = None
    active: bool = True


class DepartmentCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]*$")
    name: str = Field(min_length=1, max_length=100)
    kind: DepartmentKind = "department"
    area_code: str | None = Field(default=None, max_length=20)
    phone: str | None = Field(default=None, max_length=30)
    active: bool = True


class DepartmentPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    kind: DepartmentKind | None = None
    area_code: str | None = Field(default=None, max_length=20)
    phone: str | None = Field(default=None, max_length=30)
    active: bool | None = None


class ImportResult(BaseModel):
    categories: int
    time_limits: int
    responsibilities: int

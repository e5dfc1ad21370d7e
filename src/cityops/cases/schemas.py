"""Request and response shapes of the cases API.

Length limits that come from settings (description, note) are checked in the service, so they
follow the configuration and answer 422 with the field named; the shapes here only cap sizes
generously so a request cannot carry megabytes of text.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Satisfaction = Literal["satisfied", "basically_satisfied", "dissatisfied"]
Source = Literal["web", "hotline", "inspector", "camera", "iot", "open311", "enterprise", "api"]
_BIG = 100_000


class CaseCreate(BaseModel):
    """A new report."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(max_length=_BIG)
    lon: float = Field(allow_inf_nan=False)
    lat: float = Field(allow_inf_nan=False)
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    category_code: str = Field(min_length=1, max_length=20)
    source: Source = "web"
    address: str | None = Field(default=None, max_length=300)
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=30)
    # Set by intake from text (triage): the point stands for a named area, not an exact spot.
    location_approximate: bool = False


class ActionInput(BaseModel):
    """The body of ``POST /cases/{id}/{action}``; each action reads the fields it needs."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=_BIG)
    reason: str | None = Field(default=None, max_length=_BIG)
    passed: bool | None = None
    misrouted: bool = False
    department_code: str | None = Field(default=None, max_length=32)
    # recategorize: the new category; return (misrouted): the handler's suggestion, logged only.
    category_code: str | None = Field(default=None, max_length=20)
    assist_department_codes: list[str] = Field(default_factory=list, max_length=20)
    extra_hours: float | None = Field(default=None, gt=0, le=24 * 365, allow_inf_nan=False)
    # Ids of files uploaded first with POST /api/v1/attachments (photos of the result, …).
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    # rate / callback: the reporter's satisfaction (满意 / 基本满意 / 不满意); the comment is `note`.
    satisfaction: Satisfaction | None = None
    # callback: whether the reporter was reached on the phone.
    reached: bool = True
    # Optional optimistic lock from the client: the version it last saw.
    version: int | None = None


class DepartmentRef(BaseModel):
    code: str
    name: str | None = None


class TaskOut(BaseModel):
    department: DepartmentRef
    role: str
    state: str
    deadline: datetime | None
    accepted_at: datetime | None
    done_at: datetime | None
    note: str | None


class SatisfactionOut(BaseModel):
    """A rating: satisfied / basically_satisfied / dissatisfied, how and when it was given."""

    result: Satisfaction
    result_name: str  # 满意 / 基本满意 / 不满意
    channel: str | None  # link (SMS or public page), app, phone
    rated_at: datetime | None


class SatisfactionRound(BaseModel):
    """One closing of the case and what the reporter said about it."""

    round: int
    requested_at: datetime
    expires_at: datetime
    department_code: str | None
    result: Satisfaction | None
    result_name: str | None
    comment: str | None
    channel: str | None
    rated_at: datetime | None


class CallbackOut(BaseModel):
    round: int
    at: datetime
    reached: bool
    result: Satisfaction | None
    comment: str | None


class SatisfactionDetail(BaseModel):
    rounds: list[SatisfactionRound]
    callbacks: list[CallbackOut]


class RatingIn(BaseModel):
    """A rating given through the link (token) sent at closing."""

    model_config = ConfigDict(extra="forbid")

    satisfaction: Satisfaction
    comment: str | None = Field(default=None, max_length=_BIG)


class RatingView(BaseModel):
    """What the rating link shows: the case's code and state and whether it is rated yet."""

    code: str
    state: str
    state_name: str
    category_name: str | None
    closed_at: datetime | None
    expires_at: datetime
    satisfaction: Satisfaction | None
    satisfaction_name: str | None
    reopened: bool = False


class CaseOut(BaseModel):
    """A case as staff and its reporter see it (reporter contact masked unless allowed)."""

    id: uuid.UUID
    code: str
    state: str
    allowed_actions: list[str]
    category_code: str
    category_name: str | None
    description: str
    address: str | None
    lon: float
    lat: float
    location_approximate: bool
    grid_code: str | None
    community_code: str | None
    street_code: str | None
    grade: str | None
    department: DepartmentRef | None
    source: str
    reporter_name: str | None
    reporter_phone: str | None
    created_at: datetime
    filed_at: datetime | None
    dispatched_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    deadline: datetime | None
    warn_at: datetime | None
    warned: bool
    overdue: bool
    escalated: bool
    extension_requested: bool
    # While a request is pending: the hours asked for; after an approval: the hours granted.
    extension_hours: float | None
    extended_hours: float  # granted in total
    extensions_granted: int
    # Verification (核查) deadline, set when the department reports back.
    verify_deadline: datetime | None
    verify_overdue: bool
    rework_count: int
    park_requested: bool
    parked_at: datetime | None
    paused_seconds: float
    reopened_count: int
    # Reply quality (0–1) of the handling note, scored at `handle`; sub-scores in the log row.
    reply_score: float | None
    # The reporter's rating of the latest closing (null until rated), per round in the API.
    satisfaction: SatisfactionOut | None
    tasks: list[TaskOut]
    version: int


class LogOut(BaseModel):
    seq: int
    at: datetime
    actor_name: str
    actor_role: str
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    attachments: list[Any]
    data: dict[str, Any]


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None
    # All matching cases (sort=deadline, or with_total=true); None when not counted.
    total: int | None = None


class PublicLogOut(BaseModel):
    at: datetime
    action: str
    action_name: str
    to_state: str
    state_name: str


class PublicCaseOut(BaseModel):
    """The public view: no reporter data, no notes, ever.

    With the code alone, only that the case exists and its state (``details`` false, the other
    fields empty); with the QR link's token (``?t=``) also category, street, dates and history.
    """

    code: str
    state: str
    state_name: str
    details: bool = Field(description="true when the token was given and the details are shown")
    category_code: str | None = None
    category_name: str | None = None
    street_code: str | None = None
    created_at: datetime | None = None
    dispatched_at: datetime | None = None
    deadline: datetime | None = None
    closed_at: datetime | None = None
    # The reporter's rating of the latest closing (满意 / 基本满意 / 不满意), null until rated.
    satisfaction: Satisfaction | None = None
    satisfaction_name: str | None = None
    history: list[PublicLogOut] = Field(default_factory=list)
    url: str | None = Field(default=None, description="the QR link (with its token), when details are shown")


class PublicLinkOut(BaseModel):
    url: str = Field(description="the public page's link with its access token, as in the QR code")


class CalendarOverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_workday: bool
    note: str | None = Field(default=None, max_length=200)


class CalendarOverrideOut(BaseModel):
    day: date
    is_workday: bool
    note: str | None
    updated_at: datetime


class CalendarDayIn(BaseModel):
    """One day of an official schedule; checked by ``calendar.parse_schedule`` (422 names the row)."""

    model_config = ConfigDict(extra="forbid")

    date: str = Field(max_length=10, description="YYYY-MM-DD")
    kind: str = Field(max_length=10, description="holiday (放假) | workday (调休上班)")
    name: str | None = Field(default=None, max_length=200)


class CalendarImportIn(BaseModel):
    """A year's official schedule (国务院办公厅 notice on holiday arrangements)."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(default=None, max_length=200, description="e.g. 国办发明电〔2026〕x号")
    days: list[CalendarDayIn] = Field(max_length=400)


class CalendarImportOut(BaseModel):
    days: int
    years: list[int]


class CalendarYearOut(BaseModel):
    year: int
    source: str | None
    days: int


class CalendarWarning(BaseModel):
    code: str
    year: int
    message: str


class CalendarStatus(BaseModel):
    """Which years the working calendar knows, and warnings for deadlines beyond them."""

    package_last_year: int
    imported_years: list[CalendarYearOut]
    warnings: list[CalendarWarning]

"""Request and response shapes of intake (the one Report shape every channel fills in)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["web", "open311", "hotline", "inspector", "api"]
_BIG = 100_000


class ReportIn(BaseModel):
    """A report as every channel hands it over.

    ``channel_ref`` is the channel's own id (a hotline work-order number, an Open311 token, a
    patrol report's device id); ``idempotency_key`` defaults to it, so a report sent twice is
    found again instead of making a second case.
    """

    model_config = ConfigDict(extra="forbid")

    channel: Channel = "web"
    channel_ref: str | None = Field(default=None, max_length=128)
    idempotency_key: str | None = Field(default=None, max_length=128)
    kind: Literal["report", "patrol", "verification"] = "report"
    text: str = Field(max_length=_BIG)
    category_code: str | None = Field(default=None, max_length=20)
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    address: str | None = Field(default=None, max_length=300)
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=30)
    # "Me too": join this open case instead of making a new one (from the duplicate suggestions).
    join_case: str | None = Field(default=None, max_length=64)
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    payload: dict[str, Any] = Field(default_factory=dict)


class ReportOut(BaseModel):
    id: uuid.UUID
    channel: str
    channel_ref: str | None
    kind: str
    outcome: str
    case_id: uuid.UUID | None
    case_code: str | None
    queue_item_id: str | None
    category_code: str | None
    street_code: str | None
    received_at: Any
    replay: bool = False


class SignalOut(BaseModel):
    id: uuid.UUID
    source: str
    device_or_camera: str
    rule_or_label: str
    zone: str
    category_code: str | None
    count: int
    first_seen: Any
    last_seen: Any
    state: str
    present: bool
    window_ends_at: Any
    snapshot_url: str | None
    value: float | None
    lon: float | None
    lat: float | None
    street_code: str | None
    merchant_id: str | None
    case_id: uuid.UUID | None
    case_code: str | None

"""Request shapes of the evaluation API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Weights(BaseModel):
    """The composite score's four parts in per cent (default 10 / 20 / 30 / 40)."""

    supervision_report_rate: float = Field(ge=0, le=100)
    filed: float = Field(ge=0, le=100)
    closure_rate: float = Field(ge=0, le=100)
    on_time_closure_rate: float = Field(ge=0, le=100)

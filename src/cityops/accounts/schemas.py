"""Request and response shapes of the accounts API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenOut(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1) plus what a client needs to pick its screens."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    role: str
    department_code: str | None = None


class SessionOut(BaseModel):
    """Answer to a page sign-in; the token itself travels only in the HttpOnly cookie."""

    username: str
    role: str
    department_code: str | None = None
    area_code: str | None = None
    expires_in: int


class UserOut(BaseModel):
    """A user as the admin pages see it; ``display_name`` and ``phone`` may be masked."""

    id: uuid.UUID
    username: str
    display_name: str
    role: str
    department_code: str | None = None
    area_code: str | None = None
    phone: str | None = None
    active: bool
    is_demo: bool
    created_at: datetime
    last_login_at: datetime | None = None
    masked: bool = Field(description="true when name and phone are masked")


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: str
    display_name: str = Field(default="", max_length=100)
    department_code: str | None = Field(default=None, max_length=32)
    area_code: str | None = Field(default=None, max_length=20)
    phone: str | None = Field(default=None, max_length=30)


class UserUpdate(BaseModel):
    """PATCH body: only the fields present change; ``password`` resets the password."""

    model_config = ConfigDict(extra="forbid")

    role: str | None = None
    department_code: str | None = Field(default=None, max_length=32)
    area_code: str | None = Field(default=None, max_length=20)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)
    display_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: uuid.UUID | None = None
    actor_name: str
    action: str
    subject_type: str
    subject_id: str
    details: dict[str, Any]
    request_id: str | None = None


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    total: int
    limit: int
    offset: int

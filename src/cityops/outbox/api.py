"""In-app notifications of the signed-in user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from cityops.accounts.principal import Principal
from cityops.outbox import service
from cityops.web.deps import SessionDep, current_principal

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    id: int
    topic: str
    title: str
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class MarkRead(BaseModel):
    ids: list[int]


@router.get("", response_model=list[NotificationOut])
def my_notifications(
    session: SessionDep,
    unread_only: bool = False,
    limit: int = Query(50, ge=1, le=200),
    principal: Principal = Depends(current_principal),
) -> list[Any]:
    return list(
        service.list_notifications(session, principal, unread_only=unread_only, limit=limit)
    )


@router.post("/read")
def mark_read(
    body: MarkRead,
    session: SessionDep,
    principal: Principal = Depends(current_principal),
) -> dict[str, int]:
    return {"marked": service.mark_read(session, principal, body.ids)}

"""In-app notifications of the signed-in user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from cityops.accounts.masking import mask_text, mask_texts
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
    """The caller's notifications, newest first; phone and ID numbers in them are masked (a
    return reason may quote the reporter's number; the case itself has the audited reveal)."""
    rows = service.list_notifications(session, principal, unread_only=unread_only, limit=limit)
    return [
        NotificationOut(
            id=n.id,
            topic=n.topic,
            title=mask_text(n.title) or "",
            payload=mask_texts(dict(n.payload or {})),
            created_at=n.created_at,
            read_at=n.read_at,
        )
        for n in rows
    ]


@router.post("/read")
def mark_read(
    body: MarkRead,
    session: SessionDep,
    principal: Principal = Depends(current_principal),
) -> dict[str, int]:
    return {"marked": service.mark_read(session, principal, body.ids)}

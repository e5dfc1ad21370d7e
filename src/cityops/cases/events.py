"""What cases tells the capabilities above it (triage, evaluation, intake) — see cityops.events.

Plain values only: a subscriber gets what it needs to know, never the case row to change. One
that must write back into cases calls :mod:`cityops.cases.service` like anyone else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CaseRecategorised:
    """A person (dispatcher, or a handler's misrouted return confirmed) changed a case's category."""

    case_id: uuid.UUID
    code: str
    text: str
    from_category_code: str
    to_category_code: str
    source: str  # "recategorized" | "misrouted_return"


@dataclass(frozen=True)
class CaseHandled:
    """A department reported a case as handled, with its reply (handling note) to the citizen."""

    case_id: uuid.UUID
    code: str
    log_seq: int
    message: str
    reply: str
    dispatched_at: datetime | None
    handled_at: datetime

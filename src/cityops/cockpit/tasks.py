"""Worker job of the cockpit: keep the district's hot issues clustered in this process.

Clustering three days of reports takes close to a second at a million cases
(docs/benchmarks.md). The cockpit caches it per process and scope and refreshes an expired answer
in the background; this job makes the district leader's very first look a cached read too, in
the process that runs the worker (the web process itself in the embedded default).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cockpit import service
from cityops.config import get_settings

# The district-wide scope a leader without an area sees (cases.scope_key: "district").
DISTRICT_LEADER = Principal(id=uuid.UUID(int=0), username="cockpit-warm", role="leader")


def warm_hot_issues(session: Session, now: datetime) -> dict[str, Any]:
    issues = service.hot_issues(session, DISTRICT_LEADER, get_settings().district_code)
    return {"hot_issues": len(issues)}

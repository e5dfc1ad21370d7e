"""The account intake acts as when no person does (camera and sensor cases, re-checks).

A dispatcher-role principal: the case log names "intake" as the one who filed, dispatched,
verified or closed, and it sees the whole district like the dispatchers do.
"""

from __future__ import annotations

import uuid

from cityops.accounts.principal import Principal

INTAKE = Principal(id=uuid.UUID("00000000-0000-0000-0000-00000000a001"), username="intake", role="dispatcher")

"""The signed-in caller as every service sees it, and the scoping rules in one place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# Roles that may see every case of the district.
DISTRICT_WIDE = frozenset({"operator", "dispatcher", "leader", "admin", "inspector"})
# Roles that need unmasked reporter contact details for their work.
SEES_PERSONAL_DATA = frozenset({"operator", "dispatcher", "admin"})


@dataclass(frozen=True)
class Principal:
    id: uuid.UUID
    username: str
    role: str
    department_code: str | None = None
    area_code: str | None = None

    @property
    def is_district_wide(self) -> bool:
        return self.role in DISTRICT_WIDE and self.area_code is None

    def has_role(self, *roles: str) -> bool:
        return self.role in roles


# A principal for jobs run by the worker (SLA sweep, outbox) so the log names who acted.
SYSTEM = Principal(id=uuid.UUID(int=0), username="system", role="admin")

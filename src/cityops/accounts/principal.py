"""The signed-in caller as every service sees it, and the scoping rules in one place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

# Roles that may see every case of the district.
DISTRICT_WIDE = frozenset({"operator", "dispatcher", "leader", "admin", "inspector"})
# Roles that need unmasked reporter contact details for their work.
SEES_PERSONAL_DATA = frozenset({"operator", "dispatcher", "admin"})
# Roles whose users must belong to a department (处置单位).
NEEDS_DEPARTMENT = frozenset({"handler"})

# Bilingual role names for pages and error messages.
ROLE_LABELS: dict[str, str] = {
    "citizen": "市民 / citizen",
    "inspector": "监督员 / inspector",
    "operator": "受理员 / operator",
    "dispatcher": "派遣员 / dispatcher",
    "handler": "处置人员 / handler",
    "leader": "领导 / leader",
    "admin": "管理员 / administrator",
}


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

    @property
    def sees_personal_data(self) -> bool:
        """Whether this role may see unmasked names, phone and ID numbers (each read is audited)."""
        return self.role in SEES_PERSONAL_DATA


# Synthetic principals act for programs, not people (the worker, triage's automatic dispatch, the
# command line). Each has its own stable id, derived from its name, so the log and the audit trail
# tell them apart; ids of real users are random (UUID version 4) and can never equal one.
SYNTHETIC_NAMESPACE = uuid.UUID("5b0e7c2a-3d1f-4c8e-9a61-0c17c0a5e001")


def synthetic_principal(username: str, role: str) -> Principal:
    """The principal of a program named ``username`` (the same id on every call and machine)."""
    return Principal(id=uuid.uuid5(SYNTHETIC_NAMESPACE, username), username=username, role=role)


def is_synthetic(principal_id: uuid.UUID | None) -> bool:
    """Whether an actor id belongs to a synthetic principal (not a user account)."""
    return principal_id is not None and principal_id.version == 5


# A principal for jobs run by the worker (SLA sweep, outbox) so the log names who acted.
SYSTEM = synthetic_principal("system", "admin")

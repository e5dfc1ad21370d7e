"""Time limits of the stages after the handling one: verification, rework and extensions.

Following GB/T 30428 / GB/T 47678 practice each stage has a clock of its own:

* **verification (核查)** starts when the department reports the case handled; the department's
  clock stops then, so the wait for the verifier never counts against the department.
  Default: 1 hour for emergency categories (continuous clock), else 2 working hours.
* **rework (返工)** gets a fresh deadline when verification fails, with extension and parking
  allowed as in the first handling. Default: the case's own handling limit again.
* **extensions (延期)** may add at most a ceiling of hours to one clock in total.
  Default: the case's handling limit in hours (one extension can at most double it).

Each default can be changed per category (``catalog`` columns ``verify_limit_hours``,
``rework_limit_value``, ``max_extension_hours``).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy.orm import Session

from cityops.cases import clock
from cityops.cases.models import Case
from cityops.catalog import service as catalog
from cityops.errors import NotFound
from cityops.kit.workcal import WORKING_DAY_SECONDS

DEFAULT_VERIFY_HOURS = {"emergency": 1.0, "working_hours": 2.0, "working_days": 2.0}


def _settings(session: Session, category_code: str) -> dict[str, float | None]:
    try:
        return catalog.stage_limits(session, category_code)
    except NotFound:  # a category deleted after the case was made: the defaults apply
        return dict.fromkeys(catalog.STAGE_FIELDS)


def _kind(case: Case) -> clock.LimitKind:
    return cast(clock.LimitKind, case.limit_kind or "working_hours")


def hours_kind(case: Case) -> clock.LimitKind:
    """Hours on the case's own clock: wall hours for emergencies, else working hours."""
    return "emergency" if case.limit_kind == "emergency" else "working_hours"


def verify_limit(session: Session, case: Case) -> clock.TimeLimit:
    """How long verification may take after ``handle``."""
    hours = _settings(session, case.category_code)["verify_limit_hours"] or DEFAULT_VERIFY_HOURS[_kind(case)]
    return clock.TimeLimit(hours_kind(case), float(hours))


def rework_limit(session: Session, case: Case) -> clock.TimeLimit:
    """The time limit of a rework, in the unit of the case's handling limit."""
    value = _settings(session, case.category_code)["rework_limit_value"] or case.limit_value or 4.0
    return clock.TimeLimit(_kind(case), float(value))


def limit_hours(case: Case) -> float:
    """The case's handling limit in hours on its own clock (working days × 8)."""
    value = float(case.limit_value or 0.0)
    return value * WORKING_DAY_SECONDS / 3600 if case.limit_kind == "working_days" else value


def max_extension_hours(session: Session, case: Case) -> float:
    """The most extension hours one clock of ``case`` may be given in total."""
    configured = _settings(session, case.category_code)["max_extension_hours"]
    return float(configured) if configured else limit_hours(case)

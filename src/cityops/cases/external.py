"""The few services of other capabilities that cases calls, in one place.

Imports are done on first use so that the cases package imports even while a neighbouring
capability is being rebuilt, and so the dependency surface is visible at a glance. Lookups that
creation needs on every request (category, responsibility, department names) are cached for a
short time because they change rarely and creation must stay at a handful of statements.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal

_TTL_SECONDS = 60.0
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
T = TypeVar("T")


def _mod(name: str) -> ModuleType:
    return importlib.import_module(name)


def clear_cache() -> None:
    """Forget every cached lookup (tests; after catalog edits in this process)."""
    _cache.clear()


def _cached(session: Session, key: tuple[Any, ...], load: Callable[[], T]) -> T:
    # Keyed by the engine too, so two databases in one process never share entries.
    full = (id(session.get_bind()), *key)
    hit = _cache.get(full)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return,unused-ignore]
    value = load()
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[full] = (now + _TTL_SECONDS, value)
    return value


# -- areas -------------------------------------------------------------------------------------


def validate_lonlat(lon: Any, lat: Any) -> tuple[float, float]:
    """Check a coordinate pair (raises Invalid) and return it as floats."""
    result = _mod("cityops.kit.coords").validate_lonlat(lon, lat)
    if isinstance(result, tuple) and len(result) == 2:
        return float(result[0]), float(result[1])
    return float(lon), float(lat)


def locate(session: Session, lon: float, lat: float, crs: str) -> Any:
    """The grid/community/street of a point (WGS-84 result); Invalid outside the district."""
    return _mod("cityops.areas.service").locate(session, lon, lat, crs=crs)


# -- catalog -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRef:
    """What cases need of a category: its code and name (a plain value, safe to cache)."""

    code: str
    name: str


def get_category(session: Session, code: str) -> CategoryRef:
    """The category (NotFound for an unknown code); cached."""

    def load() -> CategoryRef:
        row = _mod("cityops.catalog.service").get_category(session, code)
        return CategoryRef(code=str(row.code), name=str(row.name))

    return _cached(session, ("category", code), load)


def unknown_category(code: str) -> Exception:
    """The 422 for a request body naming a category that does not exist."""
    return _mod("cityops.catalog.service").unknown_category(code)


def category_name(session: Session, code: str) -> str:
    try:
        return get_category(session, code).name
    except Exception:  # a category deleted after the case was made still shows its code
        return code


def time_limit_for(session: Session, category_code: str, grade: str | None) -> tuple[str, float]:
    """(kind, value) of the category's time limit for an area grade; cached."""
    return _cached(
        session,
        ("limit", category_code, grade),
        lambda: tuple(_mod("cityops.catalog.service").time_limit_for(session, category_code, grade)),
    )


def responsible_department(session: Session, category_code: str, area_codes: Sequence[str]) -> str:
    """The department responsible for a category in the most specific area; cached.

    The cache holds the category's whole area → department map (a few dozen rows), so every
    grid of the district is answered from memory after the first case of that category.
    """
    codes = tuple(c for c in area_codes if c)
    by_area = _cached(
        session, ("resp-map", category_code), lambda: _responsibility_map(session, category_code)
    )
    for area in codes:
        if area in by_area:
            return by_area[area]
    # Not in the map: let the catalog raise its own precise error (unknown category / no row).
    return str(_mod("cityops.catalog.service").responsible_department(session, category_code, codes))


def _responsibility_map(session: Session, category_code: str) -> dict[str, str]:
    return dict(_mod("cityops.catalog.service").responsibility_map(session, category_code))


# -- accounts ----------------------------------------------------------------------------------


def department(session: Session, code: str) -> dict[str, Any] | None:
    """``{"code", "name", "active"}`` of a department, or None; cached."""
    from cityops.accounts.models import Department

    def load() -> dict[str, Any] | None:
        row = session.get(Department, code)
        return None if row is None else {"code": row.code, "name": row.name, "active": row.active}

    return _cached(session, ("dept", code), load)


def department_name(session: Session, code: str | None) -> str | None:
    """The department's name, or its code when it is unknown."""
    if code is None:
        return None
    row = department(session, code)
    return str(row["name"]) if row is not None else code


def audit(
    session: Session,
    principal: Principal,
    action: str,
    subject_id: str,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    subject_type: str = "case",
) -> None:
    """One audit-trail record (about a case unless ``subject_type`` says otherwise)."""
    _mod("cityops.accounts.audit").record(
        session, principal, action, subject_type, subject_id, details=details, request_id=request_id
    )


def reveal_allowed(principal: Principal) -> bool:
    return bool(_mod("cityops.accounts.masking").reveal_allowed(principal))


def mask_name(value: str | None) -> str | None:
    return None if value is None else str(_mod("cityops.accounts.masking").mask_name(value))


def mask_phone(value: str | None) -> str | None:
    return None if value is None else str(_mod("cityops.accounts.masking").mask_phone(value))


# -- triage -----------------------------------------------------------------------------------


def record_correction(session: Session, text: str, category_code: str, source: str) -> None:
    """Hand a human-confirmed (text, category) pair to triage as training data.

    A plain call into triage's service in the same transaction (so the correction exists exactly
    when the recategorisation does), imported lazily so cases never imports triage internals and
    still works where triage is absent.
    """
    try:
        module = _mod("cityops.triage.service")
    except ImportError:  # triage not installed: nothing to learn from
        return
    module.record_correction(session, text, category_code, source)


def score_reply(
    message: str, reply: str, asked_at: datetime | None, replied_at: datetime | None
) -> dict[str, Any] | None:
    """Triage's reply-quality score of a handling note ({overall, relevance, …}), or None."""
    try:
        module = _mod("cityops.triage.service")
    except ImportError:
        return None
    return dict(module.score_reply(message, reply, asked_at, replied_at))


# -- outbox ------------------------------------------------------------------------------------


def notify(session: Session, topic: str, payload: dict[str, Any], recipients: list[str]) -> None:
    """Queue a notification in the same transaction (nothing is sent if it rolls back)."""
    if recipients:
        _mod("cityops.outbox.service").enqueue(session, topic, payload, recipients)

"""What cases asks of the capabilities below it (areas, catalog, accounts, outbox), in one place.

Plain imports of their ``service.py`` modules: cases sits above areas, catalog, accounts and
outbox and may call them directly. Cases never imports the capabilities above it (triage,
evaluation, intake): it tells them what happened through :mod:`cityops.cases.events` (see
``cityops.events``), and the import-linter contracts in ``pyproject.toml`` keep it so.

Lookups that creation needs on every request (category, responsibility, department names) are
cached because they change rarely and creation must stay at a handful of statements. The cache is
one of the registry's (``kit/caches.py``): an admin edit in any process reaches it within a second.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from cityops.accounts import service as accounts
from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.catalog import service as catalog
from cityops.errors import NotFound
from cityops.kit import caches, coords
from cityops.outbox import service as outbox

_LOOKUPS: caches.GenerationalCache[Any] = caches.GenerationalCache("cases.lookups")
T = TypeVar("T")


def clear_cache() -> None:
    """Forget every cached lookup (tests)."""
    _LOOKUPS.clear()


def _cached(session: Session, key: tuple[Any, ...], load: Callable[[], T]) -> T:
    return _LOOKUPS.get(session, key, load)


# -- areas -------------------------------------------------------------------------------------


def validate_lonlat(lon: Any, lat: Any) -> tuple[float, float]:
    """Check a coordinate pair (raises Invalid) and return it as floats."""
    return coords.validate_lonlat(lon, lat)


def locate(session: Session, lon: float, lat: float, crs: str) -> areas.Location:
    """The grid/community/street of a point (WGS-84 result); Invalid outside the district."""
    return areas.locate(session, lon, lat, crs=crs)


# -- catalog -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRef:
    """What cases need of a category: its code and name (a plain value, safe to cache)."""

    code: str
    name: str


def get_category(session: Session, code: str) -> CategoryRef:
    """The category (NotFound for an unknown code); cached."""

    def load() -> CategoryRef:
        row = catalog.get_category(session, code)
        return CategoryRef(code=str(row.code), name=str(row.name))

    return _cached(session, ("category", code), load)


def unknown_category(code: str) -> Exception:
    """The 422 for a request body naming a category that does not exist."""
    return catalog.unknown_category(code)


def category_name(session: Session, code: str) -> str:
    try:
        return get_category(session, code).name
    except NotFound:  # a category deleted after the case was made still shows its code
        return code


def time_limit_for(session: Session, category_code: str, grade: str | None) -> tuple[str, float]:
    """(kind, value) of the category's time limit for an area grade; cached."""
    return _cached(
        session,
        ("limit", category_code, grade),
        lambda: tuple(catalog.time_limit_for(session, category_code, grade)),  # type: ignore[return-value]
    )


def responsible_department(session: Session, category_code: str, area_codes: Sequence[str]) -> str:
    """The department responsible for a category in the most specific area; cached.

    The cache holds the category's whole area → department map (a few dozen rows), so every
    grid of the district is answered from memory after the first case of that category.
    """
    codes = tuple(c for c in area_codes if c)
    by_area = _cached(
        session, ("resp-map", category_code), lambda: dict(catalog.responsibility_map(session, category_code))
    )
    for area in codes:
        if area in by_area:
            return by_area[area]
    # Not in the map: let the catalog raise its own precise error (unknown category / no row).
    return str(catalog.responsible_department(session, category_code, codes))


# -- departments (catalog) and accounts ----------------------------------------------------------


def department(session: Session, code: str) -> dict[str, Any] | None:
    """``{"code", "name", "active"}`` of a department, or None; cached."""

    def load() -> dict[str, Any] | None:
        try:
            row = catalog.get_department(session, code)
        except NotFound:
            return None
        return {"code": row.code, "name": row.name, "active": row.active}

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
    accounts.record_audit(
        session, principal, action, subject_type, subject_id, details=details, request_id=request_id
    )


def reveal_allowed(principal: Principal) -> bool:
    return accounts.reveal_allowed(principal)


def mask_name(value: str | None) -> str | None:
    return None if value is None else accounts.mask_name(value)


def mask_phone(value: str | None) -> str | None:
    return None if value is None else accounts.mask_phone(value)


# -- outbox ------------------------------------------------------------------------------------


def notify(session: Session, topic: str, payload: dict[str, Any], recipients: list[str]) -> None:
    """Queue a notification in the same transaction (nothing is sent if it rolls back)."""
    if recipients:
        outbox.enqueue(session, topic, payload, recipients)

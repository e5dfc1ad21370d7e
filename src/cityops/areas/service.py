"""Area operations: import/export GeoJSON, the area tree queries and point → grid location.

Domain code never commits: imports add rows and flush; the caller's unit of work commits or
rolls back. Validation of a whole file happens before the first row is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import shapely
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from cityops.areas.geojson_io import (
    AreaRecord,
    check_feature_collection,
    check_parents,
    geometry_to_text,
    parent_errors,
    parse_feature_collection,
    to_feature_collection,
)
from cityops.areas.lookup import GridIndex
from cityops.areas.models import LEVELS, Area
from cityops.errors import Invalid, NotFound
from cityops.kit import caches
from cityops.kit.coords import check_crs, to_wgs84, validate_lonlat

Progress = Callable[[int, int], None]  # (done, total)
DEMO_FILE = "gongshu_demo_areas.geojson"
_BATCH = 500


@dataclass(frozen=True)
class Location:
    """Where a point lies in the area tree (coordinates in WGS-84)."""

    grid_code: str
    community_code: str | None
    street_code: str | None
    district_code: str | None
    grade: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int

    @property
    def total(self) -> int:
        return self.created + self.updated


@dataclass(frozen=True)
class ImportChange:
    """What importing one feature would do to the area with its code."""

    code: str
    name: str
    level: str
    action: str  # "create" | "update" | "same"
    changed: tuple[str, ...] = ()  # the fields an update changes (name, grade, geometry, …)


@dataclass(frozen=True)
class ImportPreview:
    """A GeoJSON file checked against the database: the change per feature, the error per bad feature."""

    changes: list[ImportChange]
    errors: list[Invalid]

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


# -- the grid index cache --------------------------------------------------------------------

# One index per engine (the engine's identity: two in-memory SQLite engines share the URL
# "sqlite://" but not their data), rebuilt when the cache generation moves (kit/caches.py): an
# import in another process (`cityops import-areas`) reaches this one within a second.
_INDEX: caches.GenerationalValue[GridIndex] = caches.GenerationalValue("areas.grid_index")


def invalidate_index(session_or_engine: Session | Engine | None = None) -> None:
    """Forget the cached grid index of one database (or of all when None)."""
    if isinstance(session_or_engine, Session):
        bind = session_or_engine.get_bind()
        _INDEX.forget(bind if isinstance(bind, Engine) else bind.engine)
    else:
        _INDEX.forget(session_or_engine)


def build_index(session: Session) -> GridIndex:
    """Build a GridIndex from the grids in the database; each payload is (community, street,
    district, grade) so locating needs no further query."""
    parent = dict(session.execute(select(Area.code, Area.parent_code).where(Area.level != "grid")).all())
    rows = session.execute(
        select(Area.code, Area.geometry, Area.parent_code, Area.grade)
        .where(Area.level == "grid", Area.geometry.is_not(None))
        .order_by(Area.code)
    ).all()
    geoms = shapely.from_geojson([r.geometry for r in rows]) if rows else []
    payload = []
    for r in rows:
        street = parent.get(r.parent_code) if r.parent_code else None
        district = parent.get(street) if street else None
        payload.append((r.parent_code, street, district, r.grade))
    return GridIndex.build([(r.code, g) for r, g in zip(rows, geoms, strict=True)], payload=payload)


def get_index(session: Session) -> GridIndex:
    """The cached grid index of the session's database, built on first use and after edits."""
    return _INDEX.get(session, lambda: build_index(session))


def locate(session_or_index: Session | GridIndex, lon: Any, lat: Any, crs: str = "wgs84") -> Location:
    """The grid (and its community, street, district, grade) containing the point.

    Raises Invalid for bad coordinates, and Invalid with code ``outside_district`` when the
    point lies outside every grid.
    """
    crs = check_crs(crs)
    x, y = validate_lonlat(lon, lat)
    x, y = to_wgs84(x, y, crs)
    index = session_or_index if isinstance(session_or_index, GridIndex) else get_index(session_or_index)
    g = index.locate_index(x, y)
    if g < 0:
        raise Invalid(
            "该位置不在本区任何网格内，请检查坐标及坐标系（wgs84 / gcj02）",
            "The point lies outside the district's grids; check the coordinates and their crs "
            "(wgs84 / gcj02)",
            code="outside_district",
            details={"lon": x, "lat": y, "crs": crs},
        )
    code = index.codes[g]
    info = index.payload[g]
    if info is None:  # an index built without payload: the code itself carries the tree
        info = (code[:12], code[:9], code[:6], None)
    community, street, district, grade = info
    return Location(code, community, street, district, grade, x, y)


def try_locate(
    session_or_index: Session | GridIndex, lon: Any, lat: Any, crs: str = "wgs84"
) -> Location | None:
    """Like :func:`locate` but None for a point outside every grid (bad input still raises)."""
    try:
        return locate(session_or_index, lon, lat, crs)
    except Invalid as err:
        if err.code == "outside_district":
            return None
        raise


# -- import and export -------------------------------------------------------------------------


def import_geojson(
    session: Session,
    feature_collection: dict[str, Any],
    *,
    level: str | None = None,
    crs: str = "wgs84",
    code_property: str = "code",
    name_property: str = "name",
    parent_code_property: str | None = "parent_code",
    grade_property: str | None = "grade",
    progress: Progress | None = None,
) -> ImportResult:
    """Validate a FeatureCollection and insert or update its areas (upsert by code).

    GCJ-02 input is converted to WGS-84. Every feature and every parent is checked before the
    first row is written, so an error leaves the database untouched. Invalidates the index.
    """
    records = parse_feature_collection(
        feature_collection,
        level=level,
        crs=crs,
        code_property=code_property,
        name_property=name_property,
        parent_code_property=parent_code_property,
        grade_property=grade_property,
    )
    wanted = {r.parent_code for r in records if r.parent_code} | {r.code for r in records}
    existing: dict[str, str] = {}
    codes = sorted(wanted)
    for s in range(0, len(codes), _BATCH):  # IN lists stay small enough for every engine
        chunk = codes[s : s + _BATCH]
        existing.update(session.execute(select(Area.code, Area.level).where(Area.code.in_(chunk))).all())
    check_parents(records, existing)
    for r in records:
        if r.code in existing and existing[r.code] != r.level:
            raise Invalid(
                f"编码 {r.code} 已作为 {existing[r.code]} 存在，不能改为 {r.level}",
                f"code {r.code} already exists as a {existing[r.code]}, not a {r.level}",
                code="level_mismatch",
                details={"code": r.code},
            )
    # The writes bump the cache generation (areas.models watches Area): every process rebuilds
    # its index once this transaction commits.
    return _write(session, records, existing, progress)


def preview_geojson(
    session: Session,
    feature_collection: Any,
    *,
    level: str | None = None,
    crs: str = "wgs84",
    code_property: str = "code",
    name_property: str = "name",
    parent_code_property: str | None = "parent_code",
    grade_property: str | None = "grade",
) -> ImportPreview:
    """What :func:`import_geojson` would do with this file, writing nothing: every feature's
    change (create, update with the fields it changes, or no change) and every bad feature's
    error (not just the first). Raises Invalid only for a file that is no FeatureCollection."""
    records, errors = check_feature_collection(
        feature_collection,
        level=level,
        crs=crs,
        code_property=code_property,
        name_property=name_property,
        parent_code_property=parent_code_property,
        grade_property=grade_property,
    )
    wanted = sorted({r.parent_code for r in records if r.parent_code} | {r.code for r in records})
    existing: dict[str, Any] = {}
    for s in range(0, len(wanted), _BATCH):
        chunk = wanted[s : s + _BATCH]
        rows = session.execute(
            select(Area.code, Area.level, Area.name, Area.grade, Area.geometry, Area.population).where(
                Area.code.in_(chunk)
            )
        ).all()
        existing.update({r.code: r for r in rows})
    errors += parent_errors(records, {code: row.level for code, row in existing.items()})
    changes = []
    for r in records:
        old = existing.get(r.code)
        if old is None:
            changes.append(ImportChange(r.code, r.name, r.level, "create"))
            continue
        if old.level != r.level:
            errors.append(
                Invalid(
                    f"第 {(r.index or 0) + 1} 个要素（code={r.code}）："
                    f"编码已作为 {old.level} 存在，不能改为 {r.level}",
                    f"feature #{(r.index or 0) + 1} (code={r.code}): the code exists as a {old.level}, "
                    f"not a {r.level}",
                    code="level_mismatch",
                    details={"feature_index": r.index, "code": r.code},
                )
            )
            continue
        changed = tuple(
            name
            for name, before, after in (
                ("name", old.name, r.name),
                ("grade", old.grade, r.grade),
                ("population", old.population, r.population),
                ("geometry", old.geometry, geometry_to_text(r.geometry)),
            )
            if before != after
        )
        changes.append(ImportChange(r.code, r.name, r.level, "update" if changed else "same", changed))
    errors.sort(key=lambda e: (e.details or {}).get("feature_index") or 0)
    return ImportPreview(changes, errors)


def _write(
    session: Session, records: list[AreaRecord], existing: dict[str, str], progress: Progress | None
) -> ImportResult:
    # Parents before children so the foreign key holds at every insert.
    ordered = sorted(records, key=lambda r: LEVELS.index(r.level))
    total, done, created = len(ordered), 0, 0
    for s in range(0, total, _BATCH):
        rows = [r.to_row() for r in ordered[s : s + _BATCH]]
        new = [row for row in rows if row["code"] not in existing]
        old = [row for row in rows if row["code"] in existing]
        if new:
            session.execute(insert(Area), new)
        if old:
            session.execute(update(Area), old)
        created += len(new)
        done += len(rows)
        if progress:
            progress(done, total)
    session.flush()
    return ImportResult(created=created, updated=total - created)


def load_demo_areas(session: Session, progress: Progress | None = None) -> int:
    """Import the shipped demo tree of Gongshu (district, 18 streets, communities, ~1,500
    grids); returns the number of areas written. Safe to run again (updates in place)."""
    text = resources.files("cityops.areas").joinpath("data", DEMO_FILE).read_text(encoding="utf-8")
    return import_geojson(session, json.loads(text), level=None, progress=progress).total


def export_geojson(
    session: Session, *, level: str | None = None, parent_code: str | None = None, geometry: bool = True
) -> dict[str, Any]:
    """Areas (optionally one level and/or one parent's children) as a FeatureCollection."""
    return to_feature_collection(list_areas(session, level=level, parent_code=parent_code), geometry=geometry)


# -- queries -------------------------------------------------------------------------------------


def _check_level(level: str | None) -> None:
    if level is not None and level not in LEVELS:
        raise Invalid(
            f"层级无效：{level!r}，应为 {'、'.join(LEVELS)}",
            f"invalid level {level!r}; use one of {', '.join(LEVELS)}",
            code="invalid_level",
            details={"field": "level", "allowed": list(LEVELS)},
        )


def list_areas(
    session: Session,
    *,
    level: str | None = None,
    parent_code: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    code_prefix: str | None = None,
) -> list[Area]:
    """Areas ordered by code, filtered by level, parent and/or code prefix (a street's grids)."""
    _check_level(level)
    stmt = select(Area).order_by(Area.code)
    if level:
        stmt = stmt.where(Area.level == level)
    if code_prefix:
        stmt = stmt.where(Area.code.startswith(code_prefix, autoescape=True))
    if parent_code:
        stmt = stmt.where(Area.parent_code == parent_code)
    if offset:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def get_area(session: Session, code: str) -> Area:
    area = session.get(Area, code)
    if area is None:
        raise NotFound(f"区域 {code} 不存在", f"area {code} not found", details={"code": code})
    return area


def children(session: Session, code: str) -> list[Area]:
    """The direct children of an area (NotFound if the area itself does not exist)."""
    get_area(session, code)
    return list_areas(session, parent_code=code)


def tree_rows(session: Session) -> list[tuple[str, str, str, str | None]]:
    """(code, name, level, parent_code) of every area, for other capabilities' place indexes."""
    stmt = select(Area.code, Area.name, Area.level, Area.parent_code)
    return [(r.code, r.name, r.level, r.parent_code) for r in session.execute(stmt)]


def tree_fingerprint(session: Session) -> tuple[int, str]:
    """(row count, latest edit) of the area tree: changes whenever an area is added or edited."""
    count, latest = session.execute(select(func.count(), func.max(Area.updated_at))).one()
    return int(count), str(latest)


def tree_counts(session: Session, codes: list[str] | None = None) -> dict[str, dict[str, int]]:
    """``{area code: {level: number of areas of that level below it}}`` for the given areas (all
    when None), counted in SQL by code prefix (a code starts with its ancestors' codes)."""
    counts: dict[str, dict[str, int]] = {}
    for length, below in ((6, ("street", "community", "grid")), (9, ("community", "grid")), (12, ("grid",))):
        prefix = func.substr(Area.code, 1, length)
        stmt = (
            select(prefix, Area.level, func.count()).where(Area.level.in_(below)).group_by(prefix, Area.level)
        )
        if codes is not None:
            wanted = [c for c in codes if len(c) == length]
            if not wanted:
                continue
            stmt = stmt.where(prefix.in_(wanted))
        for code, lvl, n in session.execute(stmt):
            counts.setdefault(str(code), {})[str(lvl)] = int(n)
    return counts


def area_exists(session: Session, code: str) -> bool:
    return session.get(Area, code) is not None

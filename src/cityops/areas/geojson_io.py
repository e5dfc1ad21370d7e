"""GeoJSON in and out: parse and validate a FeatureCollection into area records, and back.

Everything here is pure (no database): the service validates a whole file first and only then
writes, so a bad feature never leaves half an import behind.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from cityops.areas.models import CODE_LENGTH, GRADES, LEVELS, PARENT_LEVEL, Area
from cityops.errors import Invalid
from cityops.kit.coords import check_crs, gcj02_to_wgs84

KM2_PER_DEG2_AT_EQUATOR = 111.32 * 110.57  # scaled by cos(latitude) below
DECIMALS = 7  # ~1 cm; stored GeoJSON stays compact without losing survey precision
MAX_NAME = 100


@dataclass
class AreaRecord:
    """One validated feature, geometry already in WGS-84."""

    code: str
    name: str
    level: str
    parent_code: str | None
    grade: str | None
    geometry: BaseGeometry
    population: int | None = None
    index: int | None = None  # the feature's position in its file (for error messages)

    def to_row(self) -> dict[str, Any]:
        """Column values for a bulk insert/update of the areas table."""
        c = self.geometry.centroid
        km2 = self.geometry.area * KM2_PER_DEG2_AT_EQUATOR * math.cos(math.radians(c.y))
        return {
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "parent_code": self.parent_code,
            "grade": self.grade,
            "geometry": geometry_to_text(self.geometry),
            "centroid_lon": round(c.x, 7),
            "centroid_lat": round(c.y, 7),
            "population": self.population,
            "area_km2": round(km2, 4),
        }


def geometry_to_text(geom: BaseGeometry) -> str:
    """Compact GeoJSON text, coordinates rounded to 7 decimals."""
    rounded = shapely.transform(geom, lambda xy: np.round(xy, DECIMALS))
    return json.dumps(mapping(rounded), separators=(",", ":"))


def _bad(index: int, code: Any, zh: str, en: str, **details: Any) -> Invalid:
    """An Invalid that names the feature (position and code) so the user can find it."""
    label = f"第 {index + 1} 个要素" + (f"（code={code}）" if code not in (None, "") else "")
    label_en = f"feature #{index + 1}" + (f" (code={code})" if code not in (None, "") else "")
    return Invalid(
        f"{label}：{zh}",
        f"{label_en}: {en}",
        code="invalid_feature",
        details={"feature_index": index, "code": code, **details},
    )


def _geometry(index: int, code: str, raw: Any, crs: str) -> BaseGeometry:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise _bad(
            index,
            code,
            f"几何类型必须是 Polygon 或 MultiPolygon（收到 {kind}）",
            f"geometry must be a Polygon or MultiPolygon (got {kind})",
        )
    try:
        geom = shape(raw)
        xy = shapely.get_coordinates(geom)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise _bad(
            index, code, f"几何坐标格式错误：{exc}", f"malformed geometry coordinates: {exc}"
        ) from None
    if geom.is_empty or xy.size == 0:
        raise _bad(index, code, "几何为空", "geometry is empty")
    if not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
        raise _bad(
            index,
            code,
            "坐标必须是有限数字，经度在 ±180、纬度在 ±90 之内（是否写反了经纬度？）",
            "coordinates must be finite with |lon|<=180 and |lat|<=90 (lon/lat swapped?)",
        )
    if crs == "gcj02":
        geom = shapely.transform(geom, lambda pts: np.column_stack(gcj02_to_wgs84(pts[:, 0], pts[:, 1])))
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        parts = [p for p in shapely.get_parts(fixed) if isinstance(p, Polygon) and p.area > 0]
        if not parts:
            raise _bad(
                index,
                code,
                f"几何无效且无法修复：{reason}",
                f"invalid geometry that cannot be fixed: {reason}",
            )
        geom = parts[0] if len(parts) == 1 else shapely.union_all(parts)
        if not isinstance(geom, Polygon | MultiPolygon):
            raise _bad(
                index,
                code,
                f"几何无效且无法修复：{reason}",
                f"invalid geometry that cannot be fixed: {reason}",
            )
    if geom.area <= 0:
        raise _bad(index, code, "多边形面积为零", "the polygon has zero area")
    return geom


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # codes sometimes arrive as JSON numbers
    return str(value).strip()


def check_feature_collection(
    collection: Any,
    *,
    level: str | None = None,
    crs: str = "wgs84",
    code_property: str = "code",
    name_property: str = "name",
    parent_code_property: str | None = "parent_code",
    grade_property: str | None = "grade",
    level_property: str = "level",
    collect: bool = True,
) -> tuple[list[AreaRecord], list[Invalid]]:
    """The valid areas of a FeatureCollection and an error per bad feature (``collect``; without
    it the first bad feature raises). A file that is no FeatureCollection at all always raises."""
    crs = check_crs(crs)
    if level is not None and level not in LEVELS:
        raise Invalid(
            f"层级无效：{level!r}，应为 {'、'.join(LEVELS)}",
            f"invalid level {level!r}; use one of {', '.join(LEVELS)}",
            code="invalid_level",
            details={"field": "level", "allowed": list(LEVELS)},
        )
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise Invalid(
            "请上传 GeoJSON FeatureCollection",
            "the body must be a GeoJSON FeatureCollection",
            code="invalid_geojson",
        )
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise Invalid(
            "FeatureCollection 中没有要素", "the FeatureCollection has no features", code="invalid_geojson"
        )
    records: list[AreaRecord] = []
    errors: list[Invalid] = []
    seen: set[str] = set()
    for i, feat in enumerate(features):
        try:
            records.append(
                _parse_feature(
                    i,
                    feat,
                    seen,
                    level,
                    crs,
                    code_property,
                    name_property,
                    parent_code_property,
                    grade_property,
                    level_property,
                )
            )
        except Invalid as exc:
            if not collect:
                raise
            errors.append(exc)
    return records, errors


def parse_feature_collection(collection: Any, **options: Any) -> list[AreaRecord]:
    """Validate a GeoJSON FeatureCollection and return its areas in WGS-84.

    ``level`` fixes the level of every feature; ``None`` reads it from ``level_property``.
    A missing parent code is derived from the code (the code minus its last three digits).
    Unit grids without a grade get "B". Raises Invalid naming the first bad feature.
    Options: those of :func:`check_feature_collection`.
    """
    records, _errors = check_feature_collection(collection, collect=False, **options)
    return records


def _parse_feature(
    i: int,
    feat: Any,
    seen: set[str],
    level: str | None,
    crs: str,
    code_property: str,
    name_property: str,
    parent_code_property: str | None,
    grade_property: str | None,
    level_property: str,
) -> AreaRecord:
    """One feature as an area record (``seen``: the codes of the file so far); Invalid naming it."""
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        raise _bad(i, None, "不是 GeoJSON Feature", "is not a GeoJSON Feature")
    props = feat.get("properties") or {}
    code = _text(props.get(code_property))
    lvl = level or _text(props.get(level_property))
    if lvl not in LEVELS:
        raise _bad(i, code, f"层级无效：{lvl!r}", f"invalid level {lvl!r}; use one of {', '.join(LEVELS)}")
    length = CODE_LENGTH[lvl]
    if not code.isdigit() or len(code) != length:
        raise _bad(
            i,
            code,
            f"{lvl} 层级的编码必须是 {length} 位数字（属性 {code_property}）",
            f"a {lvl} code must be {length} digits (property {code_property!r})",
            field=code_property,
        )
    if code in seen:
        raise _bad(i, code, "编码重复", "duplicate code in this file")
    seen.add(code)
    name = _text(props.get(name_property))
    if not name or len(name) > MAX_NAME:
        raise _bad(
            i,
            code,
            f"名称不能为空且不超过 {MAX_NAME} 字（属性 {name_property}）",
            f"name must be 1–{MAX_NAME} characters (property {name_property!r})",
            field=name_property,
        )
    parent = _text(props.get(parent_code_property)) if parent_code_property else ""
    derived = code[: length - 3] if lvl != "district" else ""
    if lvl == "district":
        parent = ""
    elif not parent:
        parent = derived
    elif parent != derived:
        raise _bad(
            i,
            code,
            f"上级编码 {parent} 与编码前缀 {derived} 不一致",
            f"parent code {parent} does not match the code's prefix {derived}",
            field="parent_code",
        )
    grade = _text(props.get(grade_property)).upper() if grade_property else ""
    if lvl == "grid":
        grade = grade or "B"
        if grade not in GRADES:
            raise _bad(
                i,
                code,
                f"网格等级必须是 A、B 或 C（收到 {grade!r}）",
                f"grid grade must be A, B or C (got {grade!r})",
                field=grade_property,
            )
    population = props.get("population")
    return AreaRecord(
        code=code,
        name=name,
        level=lvl,
        parent_code=parent or None,
        grade=grade if lvl == "grid" else None,
        geometry=_geometry(i, code, feat.get("geometry"), crs),
        population=int(population) if isinstance(population, int | float) and population >= 0 else None,
        index=i,
    )


def parent_errors(records: list[AreaRecord], existing_levels: dict[str, str]) -> list[Invalid]:
    """An error per record whose parent is missing (in the file and the database) or not at the
    level just above."""
    in_file = {r.code: r.level for r in records}
    errors = []
    for i, r in enumerate(records):
        want = PARENT_LEVEL[r.level]
        if want is None or r.parent_code is None:
            continue
        at = r.index if r.index is not None else i
        found = in_file.get(r.parent_code) or existing_levels.get(r.parent_code)
        if found is None:
            errors.append(
                _bad(
                    at,
                    r.code,
                    f"上级区域 {r.parent_code} 不存在，请先导入上级层级",
                    f"parent area {r.parent_code} does not exist; import the level above first",
                    field="parent_code",
                )
            )
        elif found != want:
            errors.append(
                _bad(
                    at,
                    r.code,
                    f"上级区域 {r.parent_code} 的层级是 {found}，应为 {want}",
                    f"parent area {r.parent_code} is a {found}, expected a {want}",
                    field="parent_code",
                )
            )
    return errors


def check_parents(records: list[AreaRecord], existing_levels: dict[str, str]) -> None:
    """Every parent must exist (in the file or the database) at the level just above."""
    errors = parent_errors(records, existing_levels)
    if errors:
        raise errors[0]


def to_feature(area: Area, *, geometry: bool = True) -> dict[str, Any]:
    """One area as a GeoJSON Feature (WGS-84)."""
    props = {
        "code": area.code,
        "name": area.name,
        "level": area.level,
        "parent_code": area.parent_code,
        "grade": area.grade,
        "centroid_lon": area.centroid_lon,
        "centroid_lat": area.centroid_lat,
        "population": area.population,
        "area_km2": area.area_km2,
    }
    geom = json.loads(area.geometry) if geometry and area.geometry else None
    return {"type": "Feature", "id": area.code, "properties": props, "geometry": geom}


def to_feature_collection(areas: Iterable[Area], *, geometry: bool = True) -> dict[str, Any]:
    """Areas as a GeoJSON FeatureCollection; re-importable with parse_feature_collection."""
    return {"type": "FeatureCollection", "features": [to_feature(a, geometry=geometry) for a in areas]}

"""HTTP handlers of the areas capability (thin: every operation is in the service)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query

from cityops.accounts.principal import Principal
from cityops.areas import service
from cityops.areas.schemas import AreaOut, ImportResultOut, LocationOut
from cityops.web.deps import SessionDep, require_roles

router = APIRouter(prefix="/api/v1/areas", tags=["areas"])

# One dependency object so an app (or a test) can override it in one place.
admin_only = require_roles("admin")


@router.get("", response_model=list[AreaOut], summary="列出区域 / List areas")
def list_areas(
    session: SessionDep,
    level: str | None = Query(None, description="district | street | community | grid"),
    parent_code: str | None = Query(None, description="只列出该区域的下级 / children of this area"),
    limit: int = Query(2000, ge=1, le=5000),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> list[AreaOut]:
    areas = service.list_areas(session, level=level, parent_code=parent_code, limit=limit, offset=offset)
    return [AreaOut.of(a) for a in areas]


# Declared before "/{code}" so "locate" is not taken for an area code.
@router.get("/locate", response_model=LocationOut, summary="坐标定位网格 / Locate a point")
def locate(
    # Strings on purpose: the service's validation gives the bilingual error body for bad input.
    session: SessionDep,
    lon: str = Query(..., description="经度 / longitude", examples=["120.1348"]),
    lat: str = Query(..., description="纬度 / latitude", examples=["30.3208"]),
    crs: str = Query("wgs84", description="wgs84 | gcj02"),
) -> LocationOut:
    return LocationOut.of(service.locate(session, lon, lat, crs=crs))


@router.get("/{code}", response_model=AreaOut, summary="区域详情 / One area")
def get_area(
    code: str,
    session: SessionDep,
    geometry: bool = Query(False, description="附带 GeoJSON 几何 / include the polygon"),
) -> AreaOut:
    return AreaOut.of(service.get_area(session, code), geometry=geometry)


@router.get("/{code}/children", response_model=list[AreaOut], summary="下级区域 / Children")
def children(code: str, session: SessionDep) -> list[AreaOut]:
    return [AreaOut.of(a) for a in service.children(session, code)]


@router.post("/import", response_model=ImportResultOut, summary="导入 GeoJSON（管理员）/ Import GeoJSON")
def import_areas(
    session: SessionDep,
    feature_collection: dict[str, Any] = Body(..., description="GeoJSON FeatureCollection"),
    level: str | None = Query(None, description="固定层级；为空时读取要素的 level 属性"),
    crs: str = Query("wgs84", description="wgs84 | gcj02"),
    code_property: str = Query("code"),
    name_property: str = Query("name"),
    parent_code_property: str = Query("parent_code"),
    grade_property: str = Query("grade"),
    _admin: Principal = Depends(admin_only),
) -> ImportResultOut:
    result = service.import_geojson(
        session,
        feature_collection,
        level=level,
        crs=crs,
        code_property=code_property,
        name_property=name_property,
        parent_code_property=parent_code_property,
        grade_property=grade_property,
    )
    return ImportResultOut.of(result)

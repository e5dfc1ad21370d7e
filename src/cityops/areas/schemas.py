"""Request and response shapes of the areas API."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from cityops.areas.models import Area
from cityops.areas.service import ImportResult, Location


class AreaOut(BaseModel):
    code: str = Field(description="区域编码 / area code (6, 9, 12 or 15 digits)")
    name: str
    level: str = Field(description="district | street | community | grid")
    parent_code: str | None = None
    grade: str | None = Field(None, description="网格等级 A/B/C（仅单元网格）/ grid grade")
    centroid_lon: float | None = None
    centroid_lat: float | None = None
    population: int | None = None
    area_km2: float | None = None
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON, WGS-84 (only with ?geometry=true)")

    @classmethod
    def of(cls, area: Area, *, geometry: bool = False) -> AreaOut:
        return cls(
            code=area.code,
            name=area.name,
            level=area.level,
            parent_code=area.parent_code,
            grade=area.grade,
            centroid_lon=area.centroid_lon,
            centroid_lat=area.centroid_lat,
            population=area.population,
            area_km2=area.area_km2,
            geometry=json.loads(area.geometry) if geometry and area.geometry else None,
        )


class LocationOut(BaseModel):
    grid_code: str
    community_code: str | None
    street_code: str | None
    district_code: str | None
    grade: str | None
    lon: float = Field(description="WGS-84")
    lat: float = Field(description="WGS-84")

    @classmethod
    def of(cls, loc: Location) -> LocationOut:
        return cls(**loc.__dict__)


class ImportResultOut(BaseModel):
    created: int
    updated: int
    total: int

    @classmethod
    def of(cls, result: ImportResult) -> ImportResultOut:
        return cls(created=result.created, updated=result.updated, total=result.total)
